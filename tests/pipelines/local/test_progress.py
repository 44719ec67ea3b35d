"""The run's progress lines, read from a real ML Metadata store laid out as TFX writes one:
a ``pipeline_run`` context named by the run id, a ``node`` context per component
(``<pipeline>.<node id>``), and each component's execution moving from RUNNING to
COMPLETE, CACHED or FAILED."""

import io
import logging
import re
import time

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from kubetfx.components.progress import MESSAGE
from kubetfx.pipelines.local import progress
from kubetfx.pipelines.local.progress import ProgressReporter

RUN_ID = "2026-12-07T02:00:00.000000"
State = metadata_store_pb2.Execution.State
LINE = re.compile(r"^  (\S+) +(ran|cached|failed|stopped) +\d+\.\d s$")


class TfxLikeStore:
    """Writes a run's executions as TFX's launcher does, into a SQLite store."""

    def __init__(self, path: str):
        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = (
            metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        )
        self.store = metadata_store.MetadataStore(config)
        self.run_type = self.store.put_context_type(
            metadata_store_pb2.ContextType(name="pipeline_run")
        )
        self.node_type = self.store.put_context_type(metadata_store_pb2.ContextType(name="node"))
        self.execution_type = self.store.put_execution_type(
            metadata_store_pb2.ExecutionType(name="Component")
        )
        [self.run] = self.store.put_contexts(
            [metadata_store_pb2.Context(type_id=self.run_type, name=RUN_ID)]
        )

    def start(self, node_id: str) -> int:
        """Registers ``node_id``'s execution as RUNNING in the run; returns its id."""
        node = metadata_store_pb2.Context(type_id=self.node_type, name=f"taxi.{node_id}")
        [node_context] = self.store.put_contexts([node])
        running = metadata_store_pb2.Execution(
            type_id=self.execution_type, last_known_state=State.RUNNING
        )
        [execution] = self.store.put_executions([running])
        self.store.put_attributions_and_associations(
            [],
            [
                metadata_store_pb2.Association(context_id=self.run, execution_id=execution),
                metadata_store_pb2.Association(context_id=node_context, execution_id=execution),
            ],
        )
        return execution

    def end(self, execution: int, state: int) -> None:
        [record] = self.store.get_executions_by_id([execution])
        record.last_known_state = state
        self.store.put_executions([record])


@pytest.fixture
def run(tmp_path):
    return TfxLikeStore(str(tmp_path / "metadata.db")), str(tmp_path / "metadata.db")


def _lines(out: io.StringIO) -> list[str]:
    return [line for line in out.getvalue().splitlines() if line.strip()]


def test_a_line_as_each_component_ends_and_none_for_one_taken_from_an_earlier_run(run):
    store, path = run
    out = io.StringIO()
    nodes = ["CsvExampleGen", "StatisticsGen", "Trainer"]
    reporter = ProgressReporter(out, False, path, RUN_ID, nodes)
    reporter.poll()  # the run has recorded nothing yet
    assert _lines(out) == []

    reused = store.start("ImportSchemaGen")  # a partial run's snapshot records it
    store.end(reused, State.CACHED)
    examples = store.start("CsvExampleGen")
    reporter.poll()
    assert _lines(out) == []  # running: a terminal would show it, a log does not
    assert reporter.current.node_id == "CsvExampleGen"

    store.end(examples, State.COMPLETE)
    statistics = store.start("StatisticsGen")
    store.end(statistics, State.CACHED)
    reporter.poll()
    reporter.poll()  # a second look prints nothing twice
    lines = _lines(out)
    assert [LINE.match(line).groups() for line in lines] == [
        ("CsvExampleGen", "ran"),
        ("StatisticsGen", "cached"),
    ]
    assert lines[0].startswith("  CsvExampleGen        ran      ")
    assert [(c.node_id, c.outcome) for c in reporter.components] == [
        ("CsvExampleGen", "ran"),
        ("StatisticsGen", "cached"),
    ]


def test_the_failed_component_is_the_one_the_store_says_failed(run):
    store, path = run
    out = io.StringIO()
    reporter = ProgressReporter(out, False, path, RUN_ID, ["CsvExampleGen", "Transform"])
    store.end(store.start("CsvExampleGen"), State.COMPLETE)
    store.end(store.start("Transform"), State.FAILED)
    assert reporter.fail_current() == "Transform"
    assert [LINE.match(line).groups() for line in _lines(out)] == [
        ("CsvExampleGen", "ran"),
        ("Transform", "failed"),
    ]


def test_a_stopped_run_ends_the_running_component_and_names_it(run):
    store, path = run
    out = io.StringIO()
    reporter = ProgressReporter(out, False, path, RUN_ID, ["CsvExampleGen", "Trainer"])
    store.end(store.start("CsvExampleGen"), State.COMPLETE)
    store.start("Trainer")
    assert reporter.fail_current("stopped") == "Trainer"
    assert LINE.match(_lines(out)[-1]).groups() == ("Trainer", "stopped")


def test_a_component_that_failed_before_tfx_recorded_it_is_the_next_to_run(run):
    store, path = run
    out = io.StringIO()
    reporter = ProgressReporter(out, False, path, RUN_ID, ["CsvExampleGen", "Transform", "Trainer"])
    store.end(store.start("CsvExampleGen"), State.COMPLETE)
    assert reporter.fail_current() == "Transform"
    assert [LINE.match(line).groups()[0] for line in _lines(out)] == ["CsvExampleGen", "Transform"]
    every_component_ended = ProgressReporter(io.StringIO(), False, path, RUN_ID, ["CsvExampleGen"])
    assert every_component_ended.fail_current() is None


def test_the_thread_follows_the_run_and_a_terminal_shows_the_running_step_and_its_rows(
    run, monkeypatch
):
    monkeypatch.setattr(progress, "POLL_SECONDS", 0.05)
    store, path = run
    out = io.StringIO()
    reporter = ProgressReporter(out, True, path, RUN_ID, ["CsvExampleGen"])
    with reporter:
        examples = store.start("CsvExampleGen")
        deadline = time.monotonic() + 10
        while reporter.current is None and time.monotonic() < deadline:
            time.sleep(0.05)
        record = logging.LogRecord(
            "root", logging.INFO, __file__, 1, MESSAGE, ("data.csv: 10 rows",), None
        )
        reporter.emit(record)
        running = reporter._running_line().plain  # noqa: SLF001 - what the live area draws
        assert running.startswith("  CsvExampleGen        running…")
        assert running.endswith("s  data.csv: 10 rows")
        store.end(examples, State.COMPLETE)
    # The final look, on leaving, prints what ended since the thread's last.
    assert "  CsvExampleGen        ran" in out.getvalue()
    assert reporter._running_line().plain == ""  # noqa: SLF001
