"""Reading run history from stores that cannot be read: one line each, and the store untouched."""

import sqlite3

import pytest

from kubetfx.pipelines import metadata
from tests.conftest import run_kubetfx

COMMANDS = [
    ["runs"],
    ["status", "some-run"],
    ["report", "some-run"],
    ["compare", "run-a", "run-b"],
]


def _store(folder, schema_version=None):
    """A real ML Metadata SQLite store; ``schema_version`` as another MLMD would write it."""
    folder.mkdir(exist_ok=True)
    path = folder / "metadata.db"
    metadata.connect(str(path), read_only=False)
    if schema_version is not None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE MLMDEnv SET schema_version = ?", (schema_version,))
    return path


def _current_schema_version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT schema_version FROM MLMDEnv").fetchone()[0]


def _refused(command, folder) -> str:
    result = run_kubetfx(*command, "--output-dir", str(folder))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = (line for line in result.stderr.splitlines() if line.startswith("kubetfx: error:"))
    return line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("newer", [True, False], ids=["newer", "older"])
def test_a_store_of_another_ml_metadata_version_is_named_and_left_as_it_is(
    tmp_path, command, newer
):
    ours = _current_schema_version(_store(tmp_path / "probe"))
    theirs = ours + 3 if newer else ours - 2
    path = _store(tmp_path / "out", schema_version=theirs)
    before = path.read_bytes()

    line = _refused(command, tmp_path / "out")
    age = "a newer" if newer else "an older"
    assert f"written by {age} ML Metadata (schema {theirs}; this kubetfx reads schema {ours})" in (
        line
    )
    assert path.read_bytes() == before


def test_a_file_that_is_no_metadata_store_is_named(tmp_path):
    (tmp_path / "metadata.db").write_text("not a database\n" * 100)
    line = _refused(["runs"], tmp_path)
    assert "not an ML Metadata SQLite database" in line


def test_an_output_dir_without_metadata_says_to_run_first(tmp_path):
    line = _refused(["status", "some-run"], tmp_path)
    assert "no metadata at" in line and "run a pipeline first" in line


def test_an_empty_store_has_no_runs_and_no_run_of_that_id(tmp_path):
    _store(tmp_path)
    listed = run_kubetfx("runs", "--output-dir", str(tmp_path))
    assert listed.returncode == 0 and listed.stdout.startswith("no runs in")
    line = _refused(["report", "some-run"], tmp_path)
    assert "no run some-run" in line and "`kubetfx runs` lists the runs" in line
