"""The command line as users call it: help, and one-line errors for bad input."""

import pytest
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from tests.conftest import read_taxi_rows, run_kubetfx, taxi_header, write_csv


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["init"],
        ["schema"],
        ["predict"],
        ["compile"],
        ["emulate"],
        ["runs"],
        ["report"],
        ["rollout"],
        ["rollout", "start"],
    ],
)
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
        "a_file": (no_label / "d.csv", "--data must be a folder of CSV files, but"),
        "empty": (empty, "has no .csv files"),
        "no_label": (no_label, "label.column: the data in"),
        "empty_csv": (empty_csv, "is empty"),
    }


@pytest.mark.parametrize("case", ["missing", "a_file", "empty", "no_label", "empty_csv"])
def test_bad_data_is_one_line_and_exit_2(tmp_path, case):
    folder, expected = _bad_data_folders(tmp_path)[case]
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(folder), "--output-dir", str(out)])
    assert result.exit_code == 2, result.output
    (error_line,) = (line for line in result.output.splitlines() if "error" in line)
    assert error_line.startswith("kubetfx: error: ")
    assert expected in error_line
    assert not (out / "serving").exists()


def test_a_row_with_missing_fields_is_named_by_file_and_line(tmp_path):
    data = write_csv(tmp_path / "data" / "d.csv", read_taxi_rows(20), taxi_header())
    lines = data.read_text().splitlines()
    lines[5] = ",".join(lines[5].split(",")[:3])  # a row cut short
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", "--data", str(data.parent), "--output-dir", str(out)])
    assert result.exit_code == 1, result.output
    error = result.output.strip().splitlines()[-1]
    columns = len(taxi_header())
    assert error.startswith(
        f"kubetfx: error: CsvExampleGen failed: {data} line 6 has 3 fields but the header has "
        f"{columns} columns; fix or remove that row (a value with a comma needs double quotes), "
        "then re-run (full log: "
    ), error
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


def test_a_tracking_store_mlflow_cannot_use_is_one_line_naming_the_option(tmp_path):
    result = CliRunner().invoke(cli, ["run", "--track", str(tmp_path / "mlruns")])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line == (
        f"kubetfx: error: --track: {tmp_path / 'mlruns'} is a folder: MLflow's file store is "
        "deprecated; give sqlite:///PATH/mlflow.db or an http(s):// tracking server"
    )
    result = CliRunner().invoke(cli, ["compile", "--track", "sqlite:///tmp/mlflow.db"])
    assert result.exit_code == 2
    assert "tasks on a cluster log to an MLflow server; give its http(s):// address" in (
        result.output
    )


@pytest.mark.parametrize("command", ["run", "compile"])
def test_beam_args_are_checked_against_beams_own_options(command):
    # Beam itself only warns of a flag it does not know, and goes on without it.
    result = CliRunner().invoke(cli, [command, "--beam-args", "--runer=DirectRunner"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line == (
        "kubetfx: error: --beam-args: --runer is not a Beam pipeline option "
        "(did you mean --runner?)"
    )
    result = CliRunner().invoke(cli, [command, "--beam-args", "--direct_num_workers=many"])
    assert result.exit_code == 2
    assert "--beam-args: argument --direct_num_workers: invalid int value: 'many'" in (
        result.output
    )


@pytest.mark.parametrize("command", ["run", "compile", "predict"])
def test_engine_options_that_cannot_work_are_one_line_errors(command, tmp_path):
    given = ["--data", str(tmp_path), "--output", str(tmp_path / "p.csv")]
    base = [command, *(given if command == "predict" else [])]

    def refused(*args: str) -> str:
        result = CliRunner().invoke(cli, [*base, *args])
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        return line

    assert refused("--job-endpoint", "localhost:8099") == (
        "kubetfx: error: --job-endpoint applies to --beam-runner portable or flink or spark, "
        "not direct"
    )
    assert refused("--beam-runner", "portable", "--beam-args", "--runner=FlinkRunner") == (
        "kubetfx: error: --beam-args sets --runner, which --beam-runner portable sets from its "
        "options; give it once"
    )
    assert refused("--beam-runner", "dataflow", "--gcp-project", "p").startswith(
        "kubetfx: error: --beam-runner dataflow needs --region, --temp-location, --worker-image"
    )
    flonk = CliRunner().invoke(cli, [*base, "--beam-runner", "flonk"])
    assert flonk.exit_code == 2
    assert "'flonk' is not one of 'direct', 'portable', 'flink', 'spark', 'dataflow'" in (
        flonk.output
    )


def test_a_run_through_a_job_service_that_is_not_there_stops_before_it_starts(tmp_path):
    from tests.mlflow_server import free_port

    port = free_port()
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["run", "--output-dir", str(out), "--beam-runner", "portable"]
        + ["--job-endpoint", f"localhost:{port}"],
    )
    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[-1]
        .startswith(
            f"kubetfx: error: no Beam job service answers at localhost:{port} (--job-endpoint)"
        )
    )
    assert not (out / "metadata.db").exists()


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


def _project(tmp_path, text):
    (tmp_path / "p").mkdir(exist_ok=True)
    (tmp_path / "p" / "schema.pbtxt").write_text(
        'feature { name: "x" type: FLOAT }\nfeature { name: "y" type: FLOAT }\n'
    )
    (tmp_path / "p" / "kubetfx.yaml").write_text(text)
    return str(tmp_path / "p" / "kubetfx.yaml")


REGRESSION = """\
name: tiny
data: data
schema: schema.pbtxt
label: {column: y, task: regression}
features: {x: standardize}
evaluation: {gate: {metric: mean_absolute_error, threshold: 2}}
"""


def test_a_bad_project_file_is_one_line_and_exit_2(tmp_path):
    config = _project(tmp_path, REGRESSION.replace("task: regression", "task: regresion"))
    for command in (["run"], ["compile"], ["runs"]):
        result = CliRunner().invoke(cli, [*command, "--config", config])
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith(f"kubetfx: error: {config}:4: label.task: ")


def test_min_accuracy_is_for_projects_gated_on_accuracy(tmp_path):
    config = _project(tmp_path, REGRESSION)
    result = CliRunner().invoke(cli, ["run", "--config", config, "--min-accuracy", "0.9"])
    assert result.exit_code == 2
    assert "this project gates on mean_absolute_error; set evaluation.gate.threshold" in (
        result.output
    )


def test_a_project_keeps_its_runs_beside_its_file(tmp_path):
    config = _project(tmp_path, REGRESSION)
    result = CliRunner().invoke(cli, ["runs", "--config", config])
    assert result.exit_code == 2
    assert f"no metadata at {tmp_path / 'p' / 'kubetfx_output' / 'metadata.db'}" in result.output


def test_init_refuses_a_folder_without_csv_files(tmp_path):
    result = CliRunner().invoke(
        cli, ["init", str(tmp_path / "proj"), "--data", str(tmp_path), "--label", "y"]
    )
    assert result.exit_code == 2
    assert f"data folder {tmp_path} has no .csv files" in result.output
    assert not (tmp_path / "proj").exists()
