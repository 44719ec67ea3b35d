"""Reading pipeline runs back from ML Metadata.

TFX records every run in MLMD: a ``pipeline_run`` context per run, a ``node``
context per component, and per execution its state and its input and output
artifacts. This module turns that into plain records.
"""

import dataclasses
import os

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines.errors import UserError

_STATE_NAMES = {value: name.lower() for name, value in metadata_store_pb2.Execution.State.items()}
_OUTPUT_EVENTS = (
    metadata_store_pb2.Event.OUTPUT,
    metadata_store_pb2.Event.DECLARED_OUTPUT,
)


@dataclasses.dataclass
class ExecutionRecord:
    """One component's execution within a run."""

    node_id: str
    execution_id: int
    state: str  # complete, cached, failed, running, ...
    started_ms: int
    updated_ms: int
    outputs: dict[str, list[metadata_store_pb2.Artifact]]
    properties: dict[str, metadata_store_pb2.Value]

    @property
    def seconds(self) -> float:
        return (self.updated_ms - self.started_ms) / 1000.0


def connect(metadata_path: str, read_only: bool = True) -> metadata_store.MetadataStore:
    """A store over the SQLite file at ``metadata_path``, read-only by default."""
    if not os.path.isfile(metadata_path):
        raise UserError(
            f"no metadata at {metadata_path}; run a pipeline first or pass the --output-dir it used"
        )
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        if read_only
        else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    return metadata_store.MetadataStore(config)


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> list[str]:
    """Ids of the pipeline's runs, newest first."""
    runs = [
        context
        for context in store.get_contexts_by_type("pipeline_run")
        if _belongs_to(store, context, pipeline_name)
    ]
    runs.sort(key=lambda c: (c.create_time_since_epoch, c.id), reverse=True)
    return [run.name for run in runs]


def _belongs_to(
    store: metadata_store.MetadataStore, run: metadata_store_pb2.Context, pipeline_name: str
) -> bool:
    pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline is None:
        return False
    parents = store.get_parent_contexts_by_context(run.id)
    if parents:
        return any(parent.id == pipeline.id for parent in parents)
    # TFX links a run to its pipeline through shared executions.
    run_executions = {e.id for e in store.get_executions_by_context(run.id)}
    pipeline_executions = {e.id for e in store.get_executions_by_context(pipeline.id)}
    return bool(run_executions & pipeline_executions)


def run_executions(
    store: metadata_store.MetadataStore, pipeline_name: str, run_id: str
) -> list[ExecutionRecord]:
    """The executions of one run, in the order they started."""
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        raise UserError(f"no run {run_id} in this metadata store; `kubetfx runs` lists the runs")
    executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
    prefix = f"{pipeline_name}."
    node_type_id = store.get_context_type("node").id
    records = []
    for execution in executions:
        node_contexts = [
            c.name
            for c in store.get_contexts_by_execution(execution.id)
            if c.type_id == node_type_id
        ]
        node_id = node_contexts[0][len(prefix) :] if node_contexts else str(execution.id)
        records.append(
            ExecutionRecord(
                node_id=node_id,
                execution_id=execution.id,
                state=_STATE_NAMES.get(execution.last_known_state, "unknown"),
                started_ms=execution.create_time_since_epoch,
                updated_ms=execution.last_update_time_since_epoch,
                outputs=_outputs(store, execution.id),
                properties=dict(execution.custom_properties),
            )
        )
    return records


def _outputs(
    store: metadata_store.MetadataStore, execution_id: int
) -> dict[str, list[metadata_store_pb2.Artifact]]:
    events = [
        e for e in store.get_events_by_execution_ids([execution_id]) if e.type in _OUTPUT_EVENTS
    ]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    outputs: dict[str, list[metadata_store_pb2.Artifact]] = {}
    for event in events:
        key = next((step.key for step in event.path.steps if step.HasField("key")), "")
        if event.artifact_id in artifacts:
            outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    return outputs


def latest_run(store: metadata_store.MetadataStore, pipeline_name: str) -> str | None:
    ids = run_ids(store, pipeline_name)
    return ids[0] if ids else None
