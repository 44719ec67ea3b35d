"""Reading run history from stores that cannot be read: one line each, and the store untouched."""

import sqlite3

import pytest
from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib
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


def _runs_of(folder, pipeline_name: str, run_ids: list[str]):
    """A TFX-layout store holding these runs of one pipeline, oldest first."""
    path = _tfx_layout_store(folder)
    store = metadata.connect(str(path), read_only=False)
    pipeline_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    run_type = store.get_context_type("pipeline_run").id
    (pipeline,) = store.put_contexts(
        [metadata_store_pb2.Context(type_id=pipeline_type, name=pipeline_name)]
    )
    for run_id in run_ids:
        (run,) = store.put_contexts([metadata_store_pb2.Context(type_id=run_type, name=run_id)])
        store.put_parent_contexts(
            [metadata_store_pb2.ParentContext(child_id=run, parent_id=pipeline)]
        )
    return metadata.connect(str(path))


RUN_IDS = [
    "2026-11-27T02:24:26.622420",
    "2026-11-30T15:22:32.064693",
    "2026-11-30T15:22:40.100000",
    "2026-11-30T16:01:02.000001",
]


def test_run_ids_can_be_latest_latest_n_or_a_unique_start(tmp_path):
    store = _runs_of(tmp_path, "taxi", RUN_IDS)
    resolve = runs_lib.resolve_run_id
    assert resolve(store, "latest") == RUN_IDS[-1]
    assert resolve(store, "latest~0") == RUN_IDS[-1]
    assert resolve(store, "latest~3") == RUN_IDS[0]
    assert resolve(store, RUN_IDS[1]) == RUN_IDS[1]
    assert resolve(store, "2026-11-27") == RUN_IDS[0]
    assert resolve(store, "2026-11-30T15:22:4", "taxi") == RUN_IDS[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latest~4", "latest~4: {path} holds 4 runs; the oldest is latest~3"),
        ("2026-12", "no run 2026-12 in {path}; `kubetfx runs` lists the runs"),
        (
            "2026-11-30T15:22",
            "2026-11-30T15:22 is the start of 2 runs' ids (2026-11-30T15:22:40.100000, "
            "2026-11-30T15:22:32.064693); give more of it",
        ),
        ("", "no run  in {path}; `kubetfx runs` lists the runs"),
    ],
)
def test_a_run_id_that_names_no_single_run_says_why(tmp_path, text, expected):
    store = _runs_of(tmp_path, "taxi", RUN_IDS)
    with pytest.raises(UserError) as raised:
        runs_lib.resolve_run_id(store, text)
    assert str(raised.value) == expected.format(path=store.path)


def test_short_ids_are_the_shortest_unique_starts_of_at_least_eight_characters():
    short = runs_lib.short_ids([*RUN_IDS, "5e67dfbd-f1a9-4619-b7a2-134bd6e140e0"])
    assert short == {
        "2026-11-27T02:24:26.622420": "2026-11-2",
        "2026-11-30T15:22:32.064693": "2026-11-30T15:22:3",
        "2026-11-30T15:22:40.100000": "2026-11-30T15:22:4",
        "2026-11-30T16:01:02.000001": "2026-11-30T16",
        "5e67dfbd-f1a9-4619-b7a2-134bd6e140e0": "5e67dfbd",
    }
    assert runs_lib.short_ids(["run-1"]) == {"run-1": "run-1"}


def test_runs_and_status_take_the_short_ids_they_show(tmp_path):
    _runs_of(tmp_path, "taxi", RUN_IDS)
    listed = run_kubetfx("runs", "--output-dir", str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split()[:3] == ["RUN", "ID", "SHORT"]
    assert [row.split()[:2] for row in rows] == [
        ["2026-11-30T16:01:02.000001", "2026-11-30T16"],
        ["2026-11-30T15:22:40.100000", "2026-11-30T15:22:4"],
        ["2026-11-30T15:22:32.064693", "2026-11-30T15:22:3"],
        ["2026-11-27T02:24:26.622420", "2026-11-2"],
    ]
    status = run_kubetfx("status", "2026-11-30T15:22:4", "--output-dir", str(tmp_path))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("run 2026-11-30T15:22:40.100000: ")
    ambiguous = _refused(["status", "2026-11-30T15:22"], tmp_path)
    assert "is the start of 2 runs' ids" in ambiguous


def test_a_recorded_wall_time_and_selection_are_what_the_run_shows(tmp_path):
    from kubetfx.pipelines.definition.selection import SELECTION_PROPERTY, TAKEN_PROPERTY

    _runs_of(tmp_path, "taxi", RUN_IDS[:2])
    path = str(tmp_path / "metadata.db")
    assert metadata.record_run(
        path,
        RUN_IDS[1],
        {
            metadata.WALL_SECONDS: 41.3,
            SELECTION_PROPERTY: "--from Trainer",
            TAKEN_PROPERTY: "CsvExampleGen,Transform",
        },
    )
    assert not metadata.record_run(path, "no-such-run", {metadata.WALL_SECONDS: 1.0})
    writable = metadata.connect(path, read_only=False)
    base = writable.get_context_by_type_and_name("pipeline_run", RUN_IDS[0])
    partial_run = writable.get_context_by_type_and_name("pipeline_run", RUN_IDS[1])
    writable.put_parent_contexts(
        [metadata_store_pb2.ParentContext(child_id=partial_run.id, parent_id=base.id)]
    )

    (newest, oldest) = runs_lib.list_runs(path)
    assert newest.run_id == RUN_IDS[1] and newest.seconds == 41.3
    assert newest.outcome == "complete (--from Trainer)"
    assert newest.reused == ("CsvExampleGen", "Transform") and newest.base_run == RUN_IDS[0]
    assert oldest.selection == "" and oldest.base_run is None and oldest.seconds == 0.0
