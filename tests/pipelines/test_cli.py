"""The command line as users call it: help, and one-line errors for bad input."""

import pytest
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from tests.conftest import read_taxi_rows, run_kubetfx, taxi_header, write_csv


@pytest.mark.parametrize("command", [[], ["run"], ["schema"]])
def test_every_command_explains_itself(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    assert len(result.output.splitlines()) > 5


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("kubetfx, version ")


def _bad_data_folders(root):
    empty = root / "empty"
    empty.mkdir()
    no_label = root / "no_label"
    header = [c for c in taxi_header() if c != "tips"]
    write_csv(no_label / "d.csv", [{k: r[k] for k in header} for r in read_taxi_rows(3)], header)
    empty_csv = root / "empty_csv"
    empty_csv.mkdir()
    (empty_csv / "d.csv").write_text("")
    return {
        "missing": (root / "nope", "does not exist"),
        "empty": (empty, "has no .csv files"),
        "no_label": (no_label, "no 'tips' column"),
        "empty_csv": (empty_csv, "is empty"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "no_label", "empty_csv"])
def test_bad_data_is_one_line_and_exit_2(tmp_path, case):
    folder, expected = _bad_data_folders(tmp_path)[case]
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(folder), "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    (error_line,) = (line for line in result.output.splitlines() if "error" in line)
    assert error_line.startswith("kubetfx: error: ")
    assert expected in error_line
    assert not (out / "serving").exists()


def test_unwritable_output_dir(tmp_path):
    write_csv(tmp_path / "data" / "d.csv", read_taxi_rows(5), taxi_header())
    (tmp_path / "blocker").write_text("")
    result = CliRunner().invoke(
        cli, ["run", "--data", str(tmp_path / "data"), "--output-dir", str(tmp_path / "blocker")]
    )
    assert result.exit_code == 2
    assert "cannot write to" in result.output


def test_invalid_option_values_are_refused(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--train-steps", "0"])
    assert result.exit_code == 2
    assert "--train-steps" in result.output
    result = CliRunner().invoke(cli, ["run", "--beam-args", '"unclosed'])
    assert result.exit_code == 2
    assert "--beam-args" in result.output


def test_console_script_reports_without_a_traceback(tmp_path):
    result = run_kubetfx("run", "--data", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"kubetfx: error: data folder {tmp_path / 'nowhere'} does not exist; "
        "pass --data with a folder of CSV files"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_schema_infers_a_draft_and_never_overwrites(tmp_path):
    rows = read_taxi_rows(300)
    write_csv(tmp_path / "data" / "d.csv", rows, taxi_header())
    target = tmp_path / "draft.pbtxt"
    result = run_kubetfx("schema", "--data", str(tmp_path / "data"), "--output", str(target))
    assert result.returncode == 0, result.stderr
    assert "18 features from 300 rows" in result.stdout
    text = target.read_text()
    assert 'name: "company"' in text and "type: BYTES" in text
    before = target.read_bytes()
    again = run_kubetfx("schema", "--data", str(tmp_path / "data"), "--output", str(target))
    assert again.returncode == 2
    assert "already exists; pass --force" in again.stderr
    assert target.read_bytes() == before
