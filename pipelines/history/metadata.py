"""Reading pipeline runs back from ML Metadata.

Two layouts are read into the same records:

- TFX's (``kubetfx run``): a ``pipeline_run`` context per run, a ``node``
  context per component, and per execution its state and its input and output
  artifacts, with local URIs.
- The KFP 2.x backend's (``kubetfx emulate``, ``backend/src/v2/metadata/
  client.go``): ``system.PipelineRun`` contexts under a ``system.Pipeline``
  one, ``system.ContainerExecution`` executions named by their
  ``task_name``, artifact metadata as custom properties and object-store URIs,
  which map to files in the emulated object store next to the database.
"""

import dataclasses
import json
import os

from ml_metadata import errors as mlmd_errors
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines.definition.selection import SELECTION_PROPERTY, TAKEN_PROPERTY
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp.emulator import object_store as kfp_objects
from kubetfx.pipelines.kfp.emulator import store as kfp_layout

_STATE_NAMES = {value: name.lower() for name, value in metadata_store_pb2.Execution.State.items()}
# The execution states whose outputs a later run may take.
SUCCEEDED = ("complete", "cached")
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
    log: str = ""  # the task's own log, where the runner keeps one per task

    @property
    def seconds(self) -> float:
        return (self.updated_ms - self.started_ms) / 1000.0

    @property
    def blessed(self) -> bool | None:
        """The Evaluator's decision, from its blessing output; None where there is none."""
        blessing = self.outputs.get("blessing")
        return bool(blessing[0].custom_properties["blessed"].int_value) if blessing else None


class RunStore(metadata_store.MetadataStore):
    """A store that knows its layout and where its artifacts' files are."""

    def __init__(self, config: metadata_store_pb2.ConnectionConfig, path: str):
        super().__init__(config)
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        self.kfp = _has_context_type(self, kfp_layout.RUN_CONTEXT)
        self.object_store = os.path.join(folder, "object_store")
        self.log_dir = os.path.join(folder, "logs")


def _has_context_type(store: metadata_store.MetadataStore, name: str) -> bool:
    try:
        store.get_context_type(name)
    except mlmd_errors.NotFoundError:
        return False
    return True


def connect(metadata_path: str, read_only: bool = True) -> RunStore:
    """A store over the SQLite file at ``metadata_path``, read-only by default."""
    if read_only and not os.path.isfile(metadata_path):
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
    return RunStore(config, metadata_path)


def recorded_layout(metadata_path: str) -> str | None:
    """``"tfx"`` or ``"kfp"``: whose runs an existing store holds; None for no readable store."""
    if not os.path.isfile(metadata_path) or os.path.getsize(metadata_path) == 0:
        return None
    try:
        store = connect(metadata_path)
    except (mlmd_errors.StatusError, RuntimeError):
        return None  # the commands that read it say why
    if store.kfp:
        return "kfp"
    return "tfx" if _has_context_type(store, "pipeline_run") else None


def pipeline_names(store: RunStore) -> list[str]:
    """The pipelines whose runs the store holds."""
    context_type = kfp_layout.PIPELINE_CONTEXT if store.kfp else "pipeline"
    if not _has_context_type(store, context_type):
        return []
    return sorted(c.name for c in store.get_contexts_by_type(context_type))


def recorded_pipelines(metadata_path: str) -> list[str]:
    """The pipelines whose runs an existing store holds; [] for no readable store."""
    if not os.path.isfile(metadata_path) or os.path.getsize(metadata_path) == 0:
        return []
    try:
        return pipeline_names(connect(metadata_path))
    except (mlmd_errors.StatusError, RuntimeError):
        return []  # the commands that read it say why


def run_ids(store: RunStore, pipeline_name: str | None = None) -> list[str]:
    """Ids of the project's runs, train and predict (of every pipeline's, for None), newest first.

    ``pipeline_name`` is the project's name, which its train pipeline has.
    """
    return [run_id for run_id, _ in runs_by_pipeline(store, pipeline_name)]


def runs_by_pipeline(store: RunStore, pipeline_name: str | None = None) -> list[tuple[str, str]]:
    """``(run id, pipeline name)`` of the runs ``run_ids`` lists, in its order."""
    from kubetfx.pipelines.definition.settings import project_pipelines

    names = pipeline_names(store)
    if pipeline_name:
        names = [n for n in names if n in project_pipelines(pipeline_name)]
    runs = []
    for name in names:
        if store.kfp:
            contexts = _kfp_runs(store, name)
        else:
            contexts = [
                context
                for context in store.get_contexts_by_type("pipeline_run")
                if _belongs_to(store, context, name)
            ]
        runs += [(context, name) for context in contexts]
    runs.sort(key=lambda r: (r[0].create_time_since_epoch, r[0].id), reverse=True)
    return [(context.name, name) for context, name in runs]


def _kfp_runs(store: RunStore, pipeline_name: str) -> list[metadata_store_pb2.Context]:
    pipeline = store.get_context_by_type_and_name(kfp_layout.PIPELINE_CONTEXT, pipeline_name)
    if pipeline is None:
        return []
    run_type = store.get_context_type(kfp_layout.RUN_CONTEXT).id
    return [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type_id == run_type]


def recorded_run_state(store: RunStore, run_id: str) -> str | None:
    """The state the orchestrator recorded for the whole run, where it records one."""
    if not store.kfp:
        return None  # TFX records states per execution only
    run = store.get_context_by_type_and_name(kfp_layout.RUN_CONTEXT, run_id)
    if run is None or "state" not in run.custom_properties:
        return None
    return run.custom_properties["state"].string_value


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


def cancel_unfinished(
    metadata_path: str, run_id: str, failed_since_ms: int | None = None
) -> list[str]:
    """Marks a local run's executions that never finished as CANCELED; their node ids.

    For a run stopped by a signal: ML Metadata would show them running for
    ever, and TFX's cache never reuses a cancelled execution. With
    ``failed_since_ms`` (when the signal came, in ML Metadata's milliseconds),
    executions that failed since then count as stopped too: the signal's
    exception, raised inside TFX, is what failed them.
    """
    store = connect(metadata_path, read_only=False)
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        return []
    stopped = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)
    unfinished = [
        execution
        for execution in store.get_executions_by_context(run.id)
        if execution.last_known_state in stopped
        or (
            failed_since_ms is not None
            and execution.last_known_state == metadata_store_pb2.Execution.FAILED
            and execution.last_update_time_since_epoch >= failed_since_ms
        )
    ]
    for execution in unfinished:
        execution.last_known_state = metadata_store_pb2.Execution.CANCELED
    if unfinished:
        store.put_executions(unfinished)
    describe = _tfx_node(store)
    return [describe(store, run_id, execution)[0] for execution in unfinished]


# What ``kubetfx run`` records on a local run's ``pipeline_run`` context when it ends,
# besides a partial run's selection (pipelines/definition/selection.py).
WALL_SECONDS = "kubetfx_wall_seconds"  # the time ``kubetfx run`` printed


def record_run(metadata_path: str, run_id: str, properties: dict[str, str | float]) -> bool:
    """Adds ``properties`` to a local run's record; False if the run has none yet.

    TFX creates the record when the run's first component starts.
    """
    store = connect(metadata_path, read_only=False)
    run = store.get_context_by_type_and_name("pipeline_run", run_id)
    if run is None:
        return False
    for name, value in properties.items():
        if isinstance(value, str):
            run.custom_properties[name].string_value = value
        else:
            run.custom_properties[name].double_value = float(value)
    store.put_contexts([run])
    return True


@dataclasses.dataclass
class RunRecord:
    """What the orchestrator recorded about a whole run, beside its executions."""

    wall_seconds: float | None = None
    selection: str = ""
    reused: tuple[str, ...] = ()
    base_run: str | None = None  # the run a partial run took its reused outputs from


def run_record(store: RunStore, run_id: str) -> RunRecord:
    """The run's record; an emulated partial run takes its outputs from the cache, not a run."""
    run = store.get_context_by_type_and_name(
        kfp_layout.RUN_CONTEXT if store.kfp else "pipeline_run", run_id
    )
    if run is None:
        return RunRecord()
    found = run.custom_properties
    parents = [c for c in store.get_parent_contexts_by_context(run.id) if c.type_id == run.type_id]
    taken = found[TAKEN_PROPERTY].string_value if TAKEN_PROPERTY in found else ""
    return RunRecord(
        wall_seconds=found[WALL_SECONDS].double_value if WALL_SECONDS in found else None,
        selection=found[SELECTION_PROPERTY].string_value if SELECTION_PROPERTY in found else "",
        reused=tuple(name for name in taken.split(",") if name),
        base_run=parents[0].name if parents else None,
    )


def run_executions(store: RunStore, run_id: str) -> list[ExecutionRecord]:
    """The executions of one run, in the order they started."""
    run = store.get_context_by_type_and_name(
        kfp_layout.RUN_CONTEXT if store.kfp else "pipeline_run", run_id
    )
    if run is None:
        raise UserError(f"no run {run_id} in this metadata store; `kubetfx runs` lists the runs")
    describe = _kfp_task if store.kfp else _tfx_node(store)
    records = []
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
        node_id, outputs, log = describe(store, run_id, execution)
        records.append(
            ExecutionRecord(
                node_id=node_id,
                execution_id=execution.id,
                state=state_name(execution),
                started_ms=execution.create_time_since_epoch,
                updated_ms=execution.last_update_time_since_epoch,
                outputs=outputs,
                properties=dict(execution.custom_properties),
                log=log,
            )
        )
    return records


def state_name(execution: metadata_store_pb2.Execution) -> str:
    """The execution's state in lower case: complete, cached, failed, running, ..."""
    return _STATE_NAMES.get(execution.last_known_state, "unknown")


def tfx_node_id(store: metadata_store.MetadataStore, execution_id: int, node_type_id: int) -> str:
    """The TFX node an execution ran: its ``node`` context, named ``<pipeline>.<node id>``."""
    names = [
        c.name for c in store.get_contexts_by_execution(execution_id) if c.type_id == node_type_id
    ]
    return names[0].rpartition(".")[2] if names else str(execution_id)


def _tfx_node(store: RunStore):
    """TFX: the node is the execution's ``node`` context."""
    node_type_id = store.get_context_type("node").id

    def describe(store: RunStore, run_id: str, execution: metadata_store_pb2.Execution):
        node_id = tfx_node_id(store, execution.id, node_type_id)
        return node_id, _outputs(store, execution.id), ""  # one log per run, not per node

    return describe


def _kfp_task(store: RunStore, run_id: str, execution: metadata_store_pb2.Execution):
    """The backend: the task is a custom property; artifacts are in the object store."""
    task = execution.custom_properties["task_name"].string_value
    outputs = {
        key: [_as_local(store, artifact) for artifact in artifacts]
        for key, artifacts in _outputs(store, execution.id).items()
    }
    log = kfp_layout.task_log_path(store.log_dir, run_id, task)
    return task, outputs, log if os.path.isfile(log) else ""


def _as_local(store: RunStore, record: metadata_store_pb2.Artifact) -> metadata_store_pb2.Artifact:
    """A backend artifact as TFX records one: a local URI and plainly typed properties.

    The backend stores every number as a double and lists and structs wrapped
    (``StructValueToMLMDValue``); TFX reads integers such as ``blessed`` as ints.
    """
    artifact = metadata_store_pb2.Artifact()
    artifact.CopyFrom(record)
    if artifact.uri.startswith(kfp_objects.OBJECT_STORE_SCHEMES):
        artifact.uri = kfp_objects.object_path(store.object_store, record.uri)
    for value in artifact.custom_properties.values():
        number = value.double_value if value.HasField("double_value") else None
        if number is not None and number.is_integer() and abs(number) < 2**53:
            value.int_value = int(number)
    return artifact


def as_tfx_artifact(record: metadata_store_pb2.Artifact, artifact_class):
    """A TFX artifact of ``artifact_class`` over ``record``, from either layout.

    The backend keeps the properties a TFX type declares (``split_names``,
    ``span``) among the custom properties; they are moved back where TFX looks.
    """
    artifact = artifact_class()
    proto = metadata_store_pb2.Artifact()
    proto.CopyFrom(record)
    for name, kind in artifact.artifact_type.properties.items():
        if name in proto.properties or name not in proto.custom_properties:
            continue
        value = proto.custom_properties.pop(name)
        if kind == metadata_store_pb2.INT and value.HasField("int_value"):
            proto.properties[name].int_value = value.int_value
        elif kind == metadata_store_pb2.STRING and value.HasField("string_value"):
            proto.properties[name].string_value = value.string_value
        elif kind == metadata_store_pb2.DOUBLE and value.WhichOneof("value") in (
            "int_value",
            "double_value",
        ):
            proto.properties[name].double_value = float(getattr(value, value.WhichOneof("value")))
        else:
            proto.custom_properties[name].CopyFrom(value)
    artifact.set_mlmd_artifact(proto)
    return artifact


def _outputs(store: RunStore, execution_id: int) -> dict[str, list[metadata_store_pb2.Artifact]]:
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


def latest_run(store: RunStore, pipeline_name: str | None = None) -> str | None:
    ids = run_ids(store, pipeline_name)
    return ids[0] if ids else None


# The node that tunes, and its output the Trainer trains with.
TUNER_NODE = "Tuner"
BEST_HYPERPARAMETERS = "best_hyperparameters"


def latest_tuned(
    metadata_path: str, pipeline_name: str, algorithm: str | None = None
) -> str | None:
    """The URI of the best hyperparameters of the newest tuned run of a pipeline, if any.

    With ``algorithm``, the newest tuned run of that algorithm: another's values
    (a learning rate found for a deeper network) would not fit it.
    """
    if pipeline_name not in recorded_pipelines(metadata_path):
        return None
    store = connect(metadata_path)
    for run_id in run_ids(store, pipeline_name):
        for execution in run_executions(store, run_id):
            found = execution.outputs.get(BEST_HYPERPARAMETERS)
            if execution.node_id == TUNER_NODE and execution.state in SUCCEEDED and found:
                if algorithm is None or tuned_algorithm(execution) == algorithm:
                    return found[0].uri
    return None


def tuned_algorithm(tuner: ExecutionRecord) -> str:
    """The algorithm a Tuner's execution searched, from its custom_config."""
    from kubetfx.components.project import DEFAULT_ALGORITHM

    model = {}
    if "custom_config" in tuner.properties:
        try:
            model = json.loads(tuner.properties["custom_config"].string_value).get("model") or {}
        except ValueError:
            pass
    return model.get("algorithm", DEFAULT_ALGORITHM)  # tuned before there was a choice


def latest_choice(metadata_path: str, pipeline_name: str):
    """The choice of the newest run of a pipeline that chose its algorithm, if any."""
    from kubetfx.components.candidates import NODE, read_choice

    if pipeline_name not in recorded_pipelines(metadata_path):
        return None
    store = connect(metadata_path)
    for run_id in run_ids(store, pipeline_name):
        for execution in run_executions(store, run_id):
            found = execution.outputs.get("model")
            if execution.node_id == NODE and execution.state in SUCCEEDED and found:
                return read_choice(found[0])
    return None
