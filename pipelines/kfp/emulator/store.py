"""The emulated backend's ML Metadata: runs, executions and artifacts, as KFP records them.

KFP 2.x keeps its state in MLMD (``backend/src/v2/metadata/client.go``): one
execution per task with the cache fingerprint, one artifact per output with
its metadata as custom properties (``display_name`` added), and events that
link them. Downstream tasks read their inputs back from here.
"""

import json
import os
from typing import Any

from google.protobuf import json_format
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from kubetfx.pipelines.definition.selection import SELECTION_PROPERTY, TAKEN_PROPERTY

EXECUTION_TYPE = "system.ContainerExecution"
PIPELINE_CONTEXT = "system.Pipeline"
RUN_CONTEXT = "system.PipelineRun"

# config/env.go: getDefaultMinioSessionInfo, what the launcher records with
# every output artifact of the default pipeline root (KFP's own store).
DEFAULT_SESSION_INFO = json.dumps(
    {
        "Provider": "minio",
        "Params": {
            "accessKeyKey": "accesskey",
            "disableSSL": "true",
            "endpoint": "seaweedfs.kubeflow:9000",
            "fromEnv": "false",
            "maxRetries": "5",
            "region": "minio",
            "secretKeyKey": "secretkey",
            "secretName": "mlpipeline-minio-artifact",
        },
    },
    separators=(",", ":"),
)


def task_log_path(log_dir: str, run_id: str, task_name: str) -> str:
    """The emulator's log of one task of one run."""
    return os.path.join(log_dir, f"{run_id[:8]}-{task_name}.log")


def _to_mlmd_value(value: Any) -> mlmd.Value:
    """metadata/client.go: StructValueToMLMDValue (lists and structs keep a wrapper)."""
    result = mlmd.Value()
    if isinstance(value, bool):
        result.int_value = int(value)
    elif isinstance(value, int | float):
        result.double_value = float(value)
    elif isinstance(value, str):
        result.string_value = value
    elif isinstance(value, list):
        result.struct_value.update({"list": value})
    elif isinstance(value, dict):
        result.struct_value.update({"struct": value})
    else:
        raise ValueError(f"metadata value {value!r} cannot be stored")
    return result


def _from_mlmd_value(value: mlmd.Value) -> Any:
    kind = value.WhichOneof("value")
    if kind == "struct_value":
        return json_format.MessageToDict(value.struct_value)
    return getattr(value, kind) if kind else None


class EmulatorStore:
    def __init__(self, path: str):
        config = mlmd.ConnectionConfig()
        config.sqlite.filename_uri = path
        config.sqlite.connection_mode = mlmd.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        self.store = metadata_store.MetadataStore(config)
        self._execution_type = self._put_execution_type()
        self._context_types = {
            name: self.store.put_context_type(mlmd.ContextType(name=name))
            for name in (PIPELINE_CONTEXT, RUN_CONTEXT)
        }
        self._artifact_types: dict[str, int] = {}

    def _put_execution_type(self) -> int:
        return self.store.put_execution_type(mlmd.ExecutionType(name=EXECUTION_TYPE))

    def _artifact_type(self, name: str) -> int:
        if name not in self._artifact_types:
            self._artifact_types[name] = self.store.put_artifact_type(mlmd.ArtifactType(name=name))
        return self._artifact_types[name]

    def _context(self, kind: str, name: str) -> int:
        existing = self.store.get_context_by_type_and_name(kind, name)
        if existing is not None:
            return existing.id
        context = mlmd.Context(type_id=self._context_types[kind], name=name)
        return self.store.put_contexts([context])[0]

    # -- runs -----------------------------------------------------------------

    def start_run(self, pipeline_name: str, run_id: str, params: dict[str, Any]) -> None:
        pipeline = self._context(PIPELINE_CONTEXT, pipeline_name)
        run = mlmd.Context(type_id=self._context_types[RUN_CONTEXT], name=run_id)
        run.custom_properties["parameters"].string_value = json.dumps(params, sort_keys=True)
        run.custom_properties["state"].string_value = "running"
        run_id_db = self.store.put_contexts([run])[0]
        self.store.put_parent_contexts([mlmd.ParentContext(child_id=run_id_db, parent_id=pipeline)])
        self._pipeline_name = pipeline_name

    def record_selection(self, run_id: str, selection: str, taken: list[str]) -> None:
        """Marks a partial run with its selection and the tasks it takes from the cache."""
        run = self.store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
        run.custom_properties[SELECTION_PROPERTY].string_value = selection
        run.custom_properties[TAKEN_PROPERTY].string_value = ",".join(taken)
        self.store.put_contexts([run])

    def finish_run(self, run_id: str, state: str) -> None:
        run = self.store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
        run.custom_properties["state"].string_value = state
        self.store.put_contexts([run])

    # -- executions -----------------------------------------------------------

    def _new_execution(self, run_id, task_name, fingerprint, state, executor_input):
        execution = mlmd.Execution(type_id=self._execution_type, last_known_state=state)
        # client.go: CreateExecution sets display_name and task_name.
        execution.custom_properties["display_name"].string_value = task_name
        execution.custom_properties["task_name"].string_value = task_name
        execution.custom_properties["pipeline_name"].string_value = self._pipeline_name
        if fingerprint:
            execution.custom_properties["cache_fingerprint"].string_value = fingerprint
        for key, value in executor_input.get("inputs", {}).get("parameterValues", {}).items():
            execution.custom_properties[f"input:{key}"].CopyFrom(_to_mlmd_value(value))
        return execution

    def _contexts(self, run_id: str) -> list[mlmd.Context]:
        return [
            self.store.get_context_by_type_and_name(PIPELINE_CONTEXT, self._pipeline_name),
            self.store.get_context_by_type_and_name(RUN_CONTEXT, run_id),
        ]

    def _input_events(self, executor_input) -> list[tuple[int, mlmd.Event]]:
        events = []
        for key, artifact_list in executor_input.get("inputs", {}).get("artifacts", {}).items():
            for artifact in artifact_list["artifacts"]:
                event = mlmd.Event(type=mlmd.Event.INPUT)
                event.path.steps.add().key = key
                events.append((int(artifact["name"]), event))
        return events

    def start_execution(self, run_id, task_name, fingerprint, executor_input) -> int:
        """driver/container.go: createExecution, RUNNING, with its inputs linked."""
        execution = self._new_execution(
            run_id, task_name, fingerprint, mlmd.Execution.RUNNING, executor_input
        )
        execution_id, _, _ = self.store.put_execution(
            execution, [], self._contexts(run_id), reuse_context_if_already_exist=True
        )
        self._link_inputs(execution_id, self._input_events(executor_input))
        return execution_id

    def publish_execution(
        self, run_id, execution_id, outputs, succeeded, type_of, parameters=None
    ) -> None:
        """metadata/client.go: PublishExecution, the final state and the outputs.

        Output parameters go into the execution's ``outputs`` struct, as there.
        """
        (execution,) = self.store.get_executions_by_id([execution_id])
        execution.last_known_state = mlmd.Execution.COMPLETE if succeeded else mlmd.Execution.FAILED
        if parameters:
            execution.custom_properties["outputs"].struct_value.update(parameters)
        pairs = []
        for key, artifact_list in outputs.items():
            for artifact in artifact_list["artifacts"]:
                record = mlmd.Artifact(
                    type_id=self._artifact_type(type_of(artifact)),
                    uri=artifact["uri"],
                    state=mlmd.Artifact.LIVE,
                )
                # client.go: RecordArtifact adds display_name and store_session_info.
                metadata = {**artifact.get("metadata", {}), "display_name": key}
                metadata["store_session_info"] = DEFAULT_SESSION_INFO
                for name, value in metadata.items():
                    record.custom_properties[name].CopyFrom(_to_mlmd_value(value))
                event = mlmd.Event(type=mlmd.Event.OUTPUT)
                event.path.steps.add().key = key
                pairs.append((record, event))
        # The outputs are attributed to the pipeline and run contexts, as the backend does.
        self.store.put_execution(
            execution, pairs, self._contexts(run_id), reuse_context_if_already_exist=True
        )

    def record_execution(
        self, run_id, task_name, fingerprint, executor_input, outputs, succeeded, type_of
    ) -> int:
        """An execution that is started and published at once (the importer's)."""
        execution_id = self.start_execution(run_id, task_name, fingerprint, executor_input)
        self.publish_execution(run_id, execution_id, outputs, succeeded, type_of)
        return execution_id

    def record_cached(self, run_id, task_name, fingerprint, cached_id, executor_input) -> int:
        execution = self._new_execution(
            run_id, task_name, fingerprint, mlmd.Execution.CACHED, executor_input
        )
        execution.custom_properties["cached_from"].int_value = cached_id
        (cached,) = self.store.get_executions_by_id([cached_id])
        if "outputs" in cached.custom_properties:
            execution.custom_properties["outputs"].CopyFrom(cached.custom_properties["outputs"])
        pairs = []
        for event in self.store.get_events_by_execution_ids([cached_id]):
            if event.type == mlmd.Event.OUTPUT:
                artifact = self.store.get_artifacts_by_id([event.artifact_id])[0]
                new_event = mlmd.Event(type=mlmd.Event.OUTPUT)
                new_event.path.CopyFrom(event.path)
                pairs.append((artifact, new_event))
        execution_id, _, _ = self.store.put_execution(
            execution, pairs, self._contexts(run_id), reuse_context_if_already_exist=True
        )
        self._link_inputs(execution_id, self._input_events(executor_input))
        return execution_id

    def _link_inputs(self, execution_id: int, input_events) -> None:
        for artifact_id, event in input_events:
            event.artifact_id = artifact_id
            event.execution_id = execution_id
        if input_events:
            self.store.put_events([event for _, event in input_events])

    def find_cached(self, pipeline_name: str, fingerprint: str) -> int | None:
        """cacheutils/cache.go: GetExecutionCache, the newest completed match."""
        matches = [
            e
            for e in self.store.get_executions_by_type(EXECUTION_TYPE)
            if e.last_known_state == mlmd.Execution.COMPLETE
            and e.custom_properties["cache_fingerprint"].string_value == fingerprint
            and e.custom_properties["pipeline_name"].string_value == pipeline_name
        ]
        return max(matches, key=lambda e: e.id).id if matches else None

    # -- reading back ---------------------------------------------------------

    def outputs_of(self, execution_id: int) -> dict[str, list[dict[str, Any]]]:
        """client.go: OutputArtifact.ToRuntimeArtifact, by output key."""
        outputs: dict[str, list[dict[str, Any]]] = {}
        for event in self.store.get_events_by_execution_ids([execution_id]):
            if event.type != mlmd.Event.OUTPUT:
                continue
            artifact = self.store.get_artifacts_by_id([event.artifact_id])[0]
            outputs.setdefault(event.path.steps[0].key, []).append(
                {
                    "name": str(artifact.id),
                    "uri": artifact.uri,
                    "metadata": {
                        k: _from_mlmd_value(v) for k, v in artifact.custom_properties.items()
                    },
                }
            )
        return outputs

    def import_artifact(
        self, run_id, task_name, output_key, uri, type_name, metadata, reimport: bool
    ) -> dict[str, list[dict[str, Any]]]:
        """component/importer_launcher.go: an execution whose output is the URI.

        Without ``reimport``, an artifact of the pipeline with the same URI,
        type and metadata is reused (client.go: FindMatchedArtifact), so the
        same URI keeps one artifact id across runs.
        """
        record = mlmd.Artifact(
            type_id=self._artifact_type(type_name), uri=uri, state=mlmd.Artifact.LIVE
        )
        fields = {**metadata, "display_name": output_key, "store_session_info": json.dumps(
            {"Provider": uri.split("://", 1)[0], "Params": {"fromEnv": "true"}}
        )}  # fmt: skip
        for name, value in fields.items():
            record.custom_properties[name].CopyFrom(_to_mlmd_value(value))
        if not reimport:
            pipeline = self.store.get_context_by_type_and_name(
                PIPELINE_CONTEXT, self._pipeline_name
            )
            in_pipeline = {a.id for a in self.store.get_artifacts_by_context(pipeline.id)}
            for candidate in self.store.get_artifacts_by_uri(uri):
                if (
                    candidate.id in in_pipeline
                    and candidate.type_id == record.type_id
                    and candidate.state == record.state
                    and all(
                        k in candidate.custom_properties and candidate.custom_properties[k] == v
                        for k, v in record.custom_properties.items()
                    )
                ):
                    record = candidate
                    break
        execution = self._new_execution(
            run_id, task_name, None, mlmd.Execution.COMPLETE, {"inputs": {}}
        )
        event = mlmd.Event(type=mlmd.Event.OUTPUT)
        event.path.steps.add().key = output_key
        execution_id, _, _ = self.store.put_execution(
            execution, [(record, event)], self._contexts(run_id),
            reuse_context_if_already_exist=True,
        )  # fmt: skip
        return self.outputs_of(execution_id)

    def _task_execution(self, run_id: str, task_name: str) -> mlmd.Execution | None:
        """The execution of a task of the run, if it has one."""
        run = self.store.get_context_by_type_and_name(RUN_CONTEXT, run_id)
        for execution in self.store.get_executions_by_context(run.id):
            if execution.custom_properties["task_name"].string_value == task_name:
                return execution
        return None

    def output_parameters(self, run_id: str, task_name: str) -> dict[str, Any]:
        """The output parameters a task of the run published (its ``outputs`` struct)."""
        execution = self._task_execution(run_id, task_name)
        if execution is None or "outputs" not in execution.custom_properties:
            return {}
        return json_format.MessageToDict(execution.custom_properties["outputs"].struct_value)

    def input_parameters(self, run_id: str, task_name: str) -> dict[str, Any]:
        """The input parameters the driver resolved for a task of the run."""
        execution = self._task_execution(run_id, task_name)
        if execution is None:
            return {}
        return {
            key[len("input:") :]: _from_mlmd_value(value)
            for key, value in execution.custom_properties.items()
            if key.startswith("input:")
        }

    def task_outputs(self, run_id: str, task_name: str) -> dict[str, list[dict[str, Any]]]:
        execution = self._task_execution(run_id, task_name)
        return self.outputs_of(execution.id) if execution is not None else {}
