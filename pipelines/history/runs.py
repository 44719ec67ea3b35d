"""Local run history from ML Metadata: what ran, what came from the cache, how it ended.

Reads the store in read-only mode; nothing here changes it.
"""

import dataclasses
import datetime
import json
import os
import re

from ml_metadata import errors as mlmd_errors

from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.history import metadata

STATE_COMPLETE = "complete"
STATE_FAILED = "failed"
STATE_DATA_GATE = "stopped by the data gate"
STATE_NOT_BLESSED = "model not blessed"
STATE_RUNNING = "running"
# Recorded as running, but no process holds the output folder: it was killed.
STATE_INTERRUPTED = "interrupted"
STATE_INCOMPLETE = "incomplete"


@dataclasses.dataclass
class RunSummary:
    run_id: str
    started: datetime.datetime | None
    seconds: float  # the wall time `kubetfx run` printed; else first start to last end
    state: str
    ran: int
    cached: int
    executions: list[metadata.ExecutionRecord]
    pipeline: str = ""
    selection: str = ""  # a partial run's --to/--from/--only
    reused: tuple[str, ...] = ()  # the components a partial run took from ``base_run``
    base_run: str | None = None
    short_id: str = ""  # see short_ids

    @property
    def outcome(self) -> str:
        """The state, with a partial run's selection: ``complete (--to StatisticsGen)``."""
        return f"{self.state} ({self.selection})" if self.selection else self.state


def open_store(metadata_path: str) -> metadata.RunStore:
    """The store, read-only, with any ML Metadata error turned into one line of advice."""
    try:
        return metadata.connect(metadata_path, read_only=True)
    except (mlmd_errors.StatusError, RuntimeError) as error:
        raise UserError(f"cannot read {metadata_path}: {_advice(str(error))}") from None


def _advice(error: str) -> str:
    version = re.search(
        r"database version (\d+) is (greater|older) than library version (\d+)", error
    )
    if version:
        theirs, relation, ours = version.groups()
        age = "a newer" if relation == "greater" else "an older"
        return (
            f"it was written by {age} ML Metadata (schema {theirs}; this kubetfx reads schema "
            f"{ours}) and is never migrated here: read it with the TFX version that wrote it"
        )
    if "readonly database" in error:
        return "it is empty; no run has been recorded in it"
    if "not a database" in error:
        return "it is not an ML Metadata SQLite database; pass the --output-dir of a run"
    return error.splitlines()[0]


def summarize(store, run_id: str) -> RunSummary:
    executions = metadata.run_executions(store, run_id)
    record = metadata.run_record(store, run_id)
    started = min((e.started_ms for e in executions), default=0)
    ended = max((e.updated_ms for e in executions), default=0)
    state = _state(metadata.recorded_run_state(store, run_id), executions, record.selection)
    if state == STATE_RUNNING:
        held = lock.holder(os.path.dirname(os.path.abspath(store.path)))
        if not held or held.get("run_id") != run_id:
            state = STATE_INTERRUPTED
    return RunSummary(
        run_id=run_id,
        started=datetime.datetime.fromtimestamp(started / 1000) if started else None,
        seconds=(ended - started) / 1000.0 if record.wall_seconds is None else record.wall_seconds,
        state=state,
        ran=sum(e.state == "complete" for e in executions),
        cached=sum(e.state == "cached" and e.node_id not in record.reused for e in executions),
        executions=executions,
        selection=record.selection,
        reused=record.reused,
        base_run=record.base_run,
    )


def _state(
    recorded: str | None, executions: list[metadata.ExecutionRecord], selection: str = ""
) -> str:
    """The run's state from its executions, and from the run record where there is one."""
    if recorded == "running":
        return STATE_RUNNING
    state = run_state(executions)
    if selection and state == STATE_INCOMPLETE:
        return STATE_COMPLETE  # a partial run ends where its selection does
    if recorded == "failed" and state not in (STATE_FAILED, STATE_DATA_GATE):
        return STATE_FAILED  # it failed outside any task, e.g. in the driver
    return state


def run_state(executions: list[metadata.ExecutionRecord]) -> str:
    by_node = {e.node_id: e for e in executions}
    failed = [e for e in executions if e.state == "failed"]
    if failed:
        return STATE_DATA_GATE if failed[0].node_id == "DataGate" else STATE_FAILED
    if any(e.state in ("running", "new") for e in executions):
        return STATE_RUNNING
    if any(e.state == "canceled" for e in executions):
        return STATE_INTERRUPTED
    evaluator = by_node.get("Evaluator")
    if evaluator is not None and evaluator.blessed is False:
        return STATE_NOT_BLESSED
    # A pipeline is complete once its last component ran: train's Pusher, predict's table.
    return STATE_COMPLETE if {"Pusher", "Predictions"} & set(by_node) else STATE_INCOMPLETE


def list_runs(metadata_path: str, pipeline_name: str | None = None) -> list[RunSummary]:
    """Every run of the project's pipelines (of every pipeline, for None), newest first."""
    store = open_store(metadata_path)
    short = short_ids(metadata.run_ids(store))  # unique among every pipeline's runs
    return [
        dataclasses.replace(summarize(store, run_id), pipeline=name, short_id=short[run_id])
        for run_id, name in metadata.runs_by_pipeline(store, pipeline_name)
    ]


_LATEST = re.compile(r"latest(?:~(\d+))?")
# Short ids are at least this long, so that they stay unique as runs are added.
SHORT_ID_LENGTH = 8


def resolve_run_id(store: metadata.RunStore, text: str, pipeline_name: str | None = None) -> str:
    """The full id of the run ``text`` names: an id, ``latest``, ``latest~N`` or a unique prefix.

    ``latest~1`` is the run before the newest. Raises UserError for no match
    or for a prefix several runs share (listing them).
    """
    ids = metadata.run_ids(store, pipeline_name)
    relative = _LATEST.fullmatch(text)
    if relative:
        back = int(relative.group(1) or 0)
        if back >= len(ids):
            raise UserError(
                f"{text}: {store.path} holds {len(ids)} run{'' if len(ids) == 1 else 's'}"
                + (f"; the oldest is latest~{len(ids) - 1}" if ids else "")
            )
        return ids[back]
    if text in ids:
        return text
    matches = [run_id for run_id in ids if run_id.startswith(text)] if text else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UserError(f"no run {text} in {store.path}; `kubetfx runs` lists the runs")
    shown = ", ".join(matches[:5]) + (f" and {len(matches) - 5} more" if len(matches) > 5 else "")
    raise UserError(f"{text} is the start of {len(matches)} runs' ids ({shown}); give more of it")


def short_ids(run_ids: list[str]) -> dict[str, str]:
    """Each id's shortest prefix that no other id starts with (at least SHORT_ID_LENGTH long)."""
    ordered = sorted(run_ids)
    found = {}
    for index, run_id in enumerate(ordered):
        neighbours = ordered[max(index - 1, 0) : index] + ordered[index + 1 : index + 2]
        shared = max((_common_prefix(run_id, other) for other in neighbours), default=0)
        found[run_id] = run_id[: max(SHORT_ID_LENGTH, shared + 1)]
    return found


def _common_prefix(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


def find_run(store: metadata.RunStore, run_id: str, pipeline_name: str | None = None) -> RunSummary:
    """One run of an open store, named as ``resolve_run_id`` takes it, or a UserError."""
    return summarize(store, resolve_run_id(store, run_id, pipeline_name))


def get_run(
    metadata_path: str, run_id: str, pipeline_name: str | None = None
) -> tuple[RunSummary, dict]:
    """One run, and the type name of each artifact type id its executions output."""
    store = open_store(metadata_path)
    summary = find_run(store, run_id, pipeline_name)
    type_ids = {a.type_id for e in summary.executions for v in e.outputs.values() for a in v}
    types = {t.id: t.name for t in store.get_artifact_types_by_id(list(type_ids))}
    return summary, types


def execution_error(execution: metadata.ExecutionRecord) -> str:
    """The error recorded for a failed execution: by TFX, or last in the task's own log."""
    value = execution.properties.get("__execution_result__")
    if value is None or not value.string_value:
        if execution.log:
            from kubetfx.pipelines.console import last_exception

            return last_exception(execution.log)
        return ""
    try:
        return json.loads(value.string_value).get("resultMessage", "")
    except ValueError:
        return value.string_value


def run_log(output_dir: str, run_id: str) -> str | None:
    """The log file `kubetfx run` kept for the run, if any."""
    from kubetfx.pipelines.definition.settings import run_log_path

    path = run_log_path(os.path.join(output_dir, "logs"), run_id)
    return path if os.path.isfile(path) else None


def logged_error(output_dir: str, run_id: str) -> str:
    """The last exception in the run's log (TFX does not store it in ML Metadata)."""
    from kubetfx.pipelines.console import last_exception

    log = run_log(output_dir, run_id)
    return last_exception(log) if log else "no error recorded; see the run's log"
