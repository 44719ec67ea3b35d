"""Reading run history from stores that cannot be read: one line each, and the store untouched."""

import sqlite3

import pytest
from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore
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
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, nothing else
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


def _tfx_layout_store(folder):
    path = _store(folder)
    store = metadata.connect(str(path), read_only=False)
    store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    return path


def test_a_local_run_refuses_a_folder_of_emulated_runs(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    EmulatorStore(str(tmp_path / "metadata.db"))
    before = (tmp_path / "metadata.db").read_bytes()
    result = run_kubetfx("run", "--output-dir", str(tmp_path), "--train-steps", "1")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds the runs of `kubetfx emulate`; pass another --output-dir" in result.stderr
    assert (tmp_path / "metadata.db").read_bytes() == before


def test_an_emulation_refuses_a_folder_of_local_runs(tmp_path, compiled_package):
    path = _tfx_layout_store(tmp_path)
    before = path.read_bytes()
    result = run_kubetfx("emulate", str(compiled_package), "--output-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "holds the runs of `kubetfx run`; pass another --output-dir" in result.stderr
    assert path.read_bytes() == before


def test_a_run_in_progress_is_listed_as_running_and_not_reported(tmp_path):
    """A run as the emulator leaves it while its first task runs (driver done, no publish)."""
    store = EmulatorStore(str(tmp_path / "metadata.db"))
    store.start_run("kubetfx-taxi", "run-1", {"train_steps": 100})
    store.start_execution("run-1", "CsvExampleGen", None, {"inputs": {}})
    before = (tmp_path / "metadata.db").read_bytes()

    with lock.exclusive(str(tmp_path), "run-1"):  # as the running process holds it
        listed = run_kubetfx("runs", "--output-dir", str(tmp_path))
        assert listed.returncode == 0, listed.stderr
        (row,) = listed.stdout.splitlines()[1:]
        assert row.split()[0] == "run-1" and row.endswith("running")
        status = run_kubetfx("status", "run-1", "--output-dir", str(tmp_path))
        assert status.stdout.splitlines()[1].split()[:2] == ["CsvExampleGen", "running"]
        line = _refused(["report", "run-1"], tmp_path)
        assert "run run-1 is still in progress; report it once it has ended" in line
    assert (tmp_path / "metadata.db").read_bytes() == before

    # Its process gone (the OS released the lock), the run is interrupted, for good.
    listed = run_kubetfx("runs", "--output-dir", str(tmp_path))
    (row,) = listed.stdout.splitlines()[1:]
    assert row.split()[0] == "run-1" and row.endswith("interrupted")
    assert (tmp_path / "metadata.db").read_bytes() == before
