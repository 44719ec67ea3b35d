"""Executes a compiled pipeline package locally, the way the KFP 2.x backend would.

A pre-flight check before submitting to a cluster, and the closest thing to a
cluster a single machine has. Each behaviour names the file of
kubeflow/pipelines (tag 2.17.0, ``backend/src/``) that it follows:

- the API server's checks of the spec (``apiserver/template/v2_template.go``,
  ``v2/compiler/visitor.go``);
- the driver: parameters resolved from the run and constants, input
  artifacts read back from ML Metadata with an empty type, output URIs under
  ``<root>/<pipeline>/<run>/<task>/<uuid>/``, the ExecutorInput
  (``v2/driver/driver.go``, ``resolve.go``, ``v2/metadata/client.go``);
- the cache, keyed as ``v2/cacheutils/cache.go`` keys it;
- the launcher: defaults filled in, ``{{$}}`` substituted, inputs downloaded
  from the object store to ``/minio/<bucket>/<key>``, the command run, the
  ExecutorOutput merged and outputs uploaded by the URI it names
  (``v2/component/launcher_v2.go``);
- failure: the task's dependants do not run and the run fails
  (``v2/compiler/argocompiler/dag.go``).

The object store is a folder (``object_store/<bucket>/...``) and ML Metadata a
SQLite file (``metadata.db``), both in the output folder. Tasks run as
subprocesses of this Python or, with ``docker_image``, in that image.
"""

import copy
import dataclasses
import datetime
import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from typing import IO, Any

import yaml

from kubetfx.components.kfp_contract import schema_title
from kubetfx.components.kfp_entrypoint import local_path_for_uri
from kubetfx.pipelines.console import last_exception
from kubetfx.pipelines.definition.settings import METADATA_FILE
from kubetfx.pipelines.errors import PipelineFailed, UserError
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.emulator_store import (
    OBJECT_STORE_SCHEMES,
    EmulatorStore,
    object_path,
    task_log_path,
)
from kubetfx.pipelines.preflight import check_metadata_layout, check_project_store

SUPPORTED_SCHEMA_VERSION = "2.1.0"
_NOBODY = (65534, 65534)
_PIPELINE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
# v2/config/env.go: the default pipeline root.
DEFAULT_PIPELINE_ROOT = contract.DEFAULT_PIPELINE_ROOT
_DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclasses.dataclass
class TaskResult:
    name: str
    state: str  # complete, cached, failed, not run
    seconds: float = 0.0
    log_path: str = ""


@dataclasses.dataclass
class EmulatedRun:
    run_id: str
    state: str  # succeeded or failed
    tasks: list[TaskResult]
    output_dir: str

    def task(self, name: str) -> TaskResult:
        return next(t for t in self.tasks if t.name == name)


def load_package(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The PipelineSpec and the optional platform spec of a .yaml package."""
    if not os.path.isfile(path):
        raise UserError(f"no pipeline package at {path}; create one with `kubetfx compile`")
    with open(path) as f:
        try:
            documents = [d for d in yaml.safe_load_all(f) if d]
        except yaml.YAMLError as e:
            raise UserError(f"{path} is not valid YAML ({e})") from None
    if not documents or "root" not in documents[0]:
        raise UserError(f"{path} holds no pipeline spec (no 'root' in its first document)")
    platform = documents[1] if len(documents) > 1 else {}
    return documents[0], platform


def check_spec(pipeline_spec: dict[str, Any], platform_spec: dict[str, Any] | None = None) -> None:
    """Refuses what the backend refuses, with the backend's own message."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    # apiserver/template/v2_template.go: both documents are unmarshalled with
    # protojson, which refuses unknown fields and wrong types.
    for document, message in (
        (pipeline_spec, pipeline_spec_pb2.PipelineSpec()),
        (platform_spec or {}, pipeline_spec_pb2.PlatformSpec()),
    ):
        try:
            json_format.ParseDict(document, message)
        except json_format.ParseError as e:
            kind = "platform spec" if document is platform_spec else "pipeline spec"
            raise UserError(f"invalid {kind}: {e}") from None
    version = pipeline_spec.get("schemaVersion", "")
    if version != SUPPORTED_SCHEMA_VERSION:
        # apiserver/template/v2_template.go: NewV2SpecTemplate.
        raise UserError(
            f"KFP only supports schema version {SUPPORTED_SCHEMA_VERSION}, "
            f"but the pipeline spec has version {version}"
        )
    # The pipeline and task names become object keys, folders and log names
    # here: the KFP SDK's pipeline name rule, and plain names for tasks.
    pipeline_name = pipeline_spec.get("pipelineInfo", {}).get("name", "")
    if not _PIPELINE_NAME.fullmatch(pipeline_name):
        raise UserError(
            f"pipeline name {pipeline_name!r} must be lower-case letters, digits and -, "
            "up to 128 characters"
        )
    executors = pipeline_spec.get("deploymentSpec", {}).get("executors", {})
    for name, task in pipeline_spec["root"]["dag"]["tasks"].items():
        if not _TASK_NAME.fullmatch(name):
            raise UserError(
                f"task name {name!r} must be letters, digits, -, _ and ., starting with a "
                "letter or digit"
            )
        if task.get("triggerPolicy", {}).get("condition") or "iteratorPolicy" in task:
            raise UserError(f"task {name}: conditions and loops are not supported by the emulator")
    for name, component in pipeline_spec.get("components", {}).items():
        if "dag" in component:
            raise UserError(f"component {name}: nested DAGs are not supported by the emulator")
        label = component.get("executorLabel")
        executor = executors.get(label, {})
        if label and "container" not in executor and "importer" not in executor:
            # v2/compiler/visitor.go: dfs.
            raise UserError(
                f'error processing component name="{name}": executor(label="{label}"): '
                "non-container and non-importer executor not implemented"
            )
        types = [
            (f"output {key}", d.get("artifactType", {}))
            for key, d in component.get("outputDefinitions", {}).get("artifacts", {}).items()
        ]
        if "importer" in executor:
            types.append(("importer", executor["importer"].get("typeSchema", {})))
        for where, artifact_type in types:
            if not schema_title(
                artifact_type.get("schemaTitle", ""), artifact_type.get("instanceSchema", "")
            ):
                # metadata/client.go: SchemaToArtifactType ends the launcher (glog.Fatal).
                raise UserError(f"component {name}, {where}: No title specified")


def parse_params(pairs: list[str], pipeline_spec: dict[str, Any]) -> dict[str, Any]:
    """``k=v`` pairs typed by the spec's root parameters; unknown names are refused."""
    definitions = pipeline_spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise UserError(f"--param takes name=value, got {pair!r}")
        if name not in definitions:
            known = ", ".join(sorted(definitions)) or "none"
            raise UserError(f"{name} is not a parameter of this pipeline (its parameters: {known})")
        kind = definitions[name]["parameterType"]
        try:
            if kind == "NUMBER_INTEGER":
                values[name] = int(text)
            elif kind == "NUMBER_DOUBLE":
                values[name] = float(text)
            elif kind == "BOOLEAN":
                values[name] = {"true": True, "false": False}[text.lower()]
            elif kind in ("LIST", "STRUCT"):
                values[name] = json.loads(text)
                if not isinstance(values[name], list if kind == "LIST" else dict):
                    raise ValueError(text)
            else:
                values[name] = text
        except (ValueError, KeyError):
            raise UserError(f"--param {name} needs a {kind} value, got {text!r}") from None
    check_data_root(pipeline_spec, values.get(contract.DATA_PARAMETER))
    check_serving_dir(values.get(contract.SERVING_PARAMETER))
    return values


def check_serving_dir(value: Any) -> None:
    """Refuses a serving_dir outside the mounted volume: a model pushed there would be lost."""
    if value is None:
        return
    mount = contract.SERVING_MOUNT
    normal = os.path.normpath(value)
    if not value.startswith("/") or (normal != mount and not normal.startswith(mount + "/")):
        raise UserError(
            f"--param serving_dir={value} is outside the serving volume mounted at {mount}: "
            f"a model pushed there is lost with the task's pod; use {mount} or a folder in it"
        )


def check_data_root(pipeline_spec: dict[str, Any], value: Any) -> None:
    """Refuses a data_root the package cannot read on a cluster."""
    if value is None:
        return
    from_store = contract.DATA_TASK in pipeline_spec["root"]["dag"]["tasks"]
    if from_store and not value.startswith(OBJECT_STORE_SCHEMES):
        raise UserError(
            f"--param data_root={value}: this package reads its data from the object store; "
            "give a minio://, s3:// or gs:// folder (kubernetes/scripts/upload-data.sh copies "
            "one there)"
        )
    if not from_store and value.startswith(OBJECT_STORE_SCHEMES):
        raise UserError(
            f"--param data_root={value}: this package reads its data inside the image; "
            f"compile it with --data {value} to read from the object store"
        )


def root_parameters(pipeline_spec: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters: given values over the spec's defaults.

    v2/compiler/argocompiler/argo.go: Compile fills defaults; the API server
    rejects a required parameter with no value (v2_template.go).
    """
    definitions = pipeline_spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {}
    for name, definition in definitions.items():
        if name in given:
            values[name] = given[name]
        elif "defaultValue" in definition:
            values[name] = definition["defaultValue"]
        elif not definition.get("isOptional"):
            raise UserError(
                f"parameter {name} is not optional, yet has neither default value "
                "nor user provided value"
            )
    return values


def topological_order(tasks: dict[str, Any]) -> list[str]:
    """Tasks ordered so that each comes after those it depends on (name order breaks ties)."""
    dependencies = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    for name, task in tasks.items():
        for spec in task.get("inputs", {}).get("artifacts", {}).values():
            producer = spec.get("taskOutputArtifact", {}).get("producerTask")
            if producer:
                dependencies[name].add(producer)
        for spec in task.get("inputs", {}).get("parameters", {}).values():
            producer = spec.get("taskOutputParameter", {}).get("producerTask")
            if producer:
                dependencies[name].add(producer)
    for name, deps in dependencies.items():
        unknown = sorted(deps - set(tasks))
        if unknown:
            raise UserError(f"task {name} depends on {', '.join(unknown)}, which is not a task")
    order: list[str] = []
    ready = sorted(n for n, deps in dependencies.items() if not deps)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for other, deps in dependencies.items():
            if name in deps:
                deps.discard(name)
                if not deps and other not in order and other not in ready:
                    ready.append(other)
        ready.sort()
    if len(order) != len(tasks):
        raise UserError("the pipeline's tasks depend on each other in a cycle")
    return order


class Emulator:
    """Runs one pipeline package; see the module docstring for what it mirrors."""

    def __init__(
        self,
        package_path: str,
        output_dir: str,
        params: Mapping[str, Any] | None = None,
        docker_image: str | None = None,
        enable_cache: bool = True,
        pipeline_root: str = DEFAULT_PIPELINE_ROOT,
        out: IO[str] = sys.stdout,
    ):
        self.pipeline_spec, self.platform_spec = load_package(package_path)
        check_spec(self.pipeline_spec, self.platform_spec)
        if not pipeline_root.startswith(OBJECT_STORE_SCHEMES):
            raise UserError(
                f"--pipeline-root must be an object-store URI (minio://, s3://, gs://), "
                f"got {pipeline_root}"
            )
        self.params = root_parameters(self.pipeline_spec, params or {})
        self.docker = os.environ.get("DOCKER", "docker")
        if docker_image and not shutil.which(self.docker):
            raise UserError(f"--docker needs the docker command ({self.docker} is not installed)")
        self.output_dir = os.path.abspath(output_dir)
        self.pipeline_name = self.pipeline_spec["pipelineInfo"]["name"]
        metadata_path = os.path.join(self.output_dir, METADATA_FILE)
        check_metadata_layout(metadata_path, "kfp")
        check_project_store(metadata_path, self.pipeline_name)
        self.docker_image = docker_image
        self.enable_cache = enable_cache
        self.pipeline_root = pipeline_root.rstrip("/")
        self.out = out
        self.object_store = os.path.join(self.output_dir, "object_store")
        self.log_dir = os.path.join(self.output_dir, "logs")
        for folder in (self.object_store, self.log_dir):
            os.makedirs(folder, exist_ok=True)

    # -- the run --------------------------------------------------------------

    def run(self) -> EmulatedRun:
        run_id = str(uuid.uuid4())
        created = datetime.datetime.now(datetime.timezone.utc)
        self.run_created_utc = created.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.run_display_name = f"{self.pipeline_name} {created:%Y-%m-%d %H-%M-%S}"
        tasks = self.pipeline_spec["root"]["dag"]["tasks"]
        order = topological_order(tasks)
        store = EmulatorStore(os.path.join(self.output_dir, METADATA_FILE))
        store.start_run(self.pipeline_name, run_id, self.params)
        self.out.write(f"emulating {self.pipeline_name}, run {run_id}\n")
        results: list[TaskResult] = []
        outputs_by_task: dict[str, dict[str, list[dict[str, Any]]]] = {}
        failed = False
        state = "failed"
        try:
            for name in order:
                if failed:
                    # argocompiler/dag.go: dependants require "<dep>.Succeeded".
                    results.append(TaskResult(name, "not run"))
                    self.out.write(f"  {name:<20} not run\n")
                    continue
                result = self._run_task(store, run_id, name, tasks[name], outputs_by_task)
                results.append(result)
                self.out.write(f"  {name:<20} {result.state:<9} {result.seconds:6.1f} s\n")
                self.out.flush()
                failed = result.state == "failed"
            state = "failed" if failed else "succeeded"
        finally:
            store.finish_run(run_id, state)
        return EmulatedRun(run_id, state, results, self.output_dir)

    def _run_task(self, store, run_id, name, task, outputs_by_task) -> TaskResult:
        started = time.monotonic()
        component = self.pipeline_spec["components"][task["componentRef"]["name"]]
        executor = self.pipeline_spec["deploymentSpec"]["executors"][component["executorLabel"]]
        executor_input = self._driver_executor_input(store, run_id, name, task, component)
        if "importer" in executor:
            self._importer_inputs = executor_input["inputs"]["parameterValues"]
            outputs = self._import(store, run_id, name, executor["importer"], component)
            outputs_by_task[name] = outputs
            return TaskResult(name, "complete", time.monotonic() - started)

        container = executor["container"]
        fingerprint = None
        if self.enable_cache and task.get("cachingOptions", {}).get("enableCache"):
            fingerprint = cache_fingerprint(
                executor_input, container, self._running_image(container), component
            )
            cached = store.find_cached(self.pipeline_name, fingerprint)
            if cached is not None:
                # driver/cache.go: reuseCachedOutputs fails the task when an output
                # of this task is not among the cached execution's.
                missing = sorted(set(executor_input["outputs"]["artifacts"]) - set(
                    store.outputs_of(cached)
                ))  # fmt: skip
                if missing:
                    log_path = task_log_path(self.log_dir, run_id, name)
                    with open(log_path, "w") as log:
                        log.write(
                            "failed collect output artifact metadata from cache: unable to "
                            f"find artifact with name {missing[0]} in mlmd output artifacts\n"
                        )
                    return TaskResult(name, "failed", time.monotonic() - started, log_path)
                # driver/container.go: reuseCachedOutputs; the execution is CACHED.
                store.record_cached(run_id, name, fingerprint, cached, executor_input)
                outputs_by_task[name] = store.outputs_of(cached)
                return TaskResult(name, "cached", time.monotonic() - started)

        log_path = task_log_path(self.log_dir, run_id, name)
        execution = store.start_execution(run_id, name, fingerprint, executor_input)
        ok, outputs, parameters = False, {}, {}
        try:
            ok, outputs, parameters = self._launch(
                name, executor_input, component, container, log_path
            )
        except BaseException:
            with open(log_path, "a") as log:  # where `kubetfx status` looks for the error
                log.write("\nThe emulator failed to run the task:\n" + traceback.format_exc())
            raise
        finally:
            store.publish_execution(run_id, execution, outputs, ok, self._artifact_type, parameters)
        if not ok:
            return TaskResult(name, "failed", time.monotonic() - started, log_path)
        outputs_by_task[name] = store.outputs_of(execution)
        return TaskResult(name, "complete", time.monotonic() - started, log_path)

    def _running_image(self, container: dict[str, Any]) -> str:
        """What really runs the task: the --docker image, or this Python environment."""
        return self.docker_image or f"local:{sys.executable}"

    # -- driver ---------------------------------------------------------------

    def _driver_executor_input(self, store, run_id, name, task, component) -> dict[str, Any]:
        """driver/driver.go: Container → resolveInputs and provisionOutputs."""
        parameters = {}
        for key, spec in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in spec:
                source = spec["componentInputParameter"]
                if source not in self.params:
                    # resolve.go: the root DAG's execution holds the run's parameters.
                    raise UserError(
                        f"task {name}: parent DAG does not have input parameter {source}"
                    )
                parameters[key] = self.params[source]
            elif "runtimeValue" in spec:
                parameters[key] = self._substitute(spec["runtimeValue"]["constant"], run_id, name)
            elif "taskOutputParameter" in spec:
                # resolve.go: the producer's published output parameter.
                producer = spec["taskOutputParameter"]["producerTask"]
                output_key = spec["taskOutputParameter"]["outputParameterKey"]
                produced = store.output_parameters(run_id, producer)
                if output_key not in produced:
                    raise UserError(
                        f"task {name}: input parameter {key}: task {producer} has no output "
                        f"parameter {output_key}"
                    )
                parameters[key] = produced[output_key]
            else:
                raise UserError(f"task {name}: input parameter {key} has an unsupported source")
        definitions = component.get("inputDefinitions", {}).get("parameters", {})
        for key, value in list(parameters.items()):
            # resolve.go: a STRING input that received another type becomes text.
            if definitions.get(key, {}).get("parameterType") == "STRING" and not isinstance(
                value, str
            ):
                parameters[key] = (
                    json.dumps(value) if isinstance(value, dict | list) else str(value)
                )

        artifacts = {}
        for key, spec in task.get("inputs", {}).get("artifacts", {}).items():
            producer = spec["taskOutputArtifact"]["producerTask"]
            output_key = spec["taskOutputArtifact"]["outputArtifactKey"]
            # metadata/client.go: GetOutputArtifactsByExecutionId returns no schema.
            artifacts[key] = {
                "artifacts": [
                    {**artifact, "type": {"instanceSchema": ""}}
                    for artifact in store.task_outputs(run_id, producer).get(output_key, [])
                ]
            }

        # driver.go: provisionOutputs; client.go: GenerateOutputURI.
        task_root = f"{self.pipeline_root}/{self.pipeline_name}/{run_id}/{name}/{uuid.uuid4()}"
        outputs = {}
        for key, definition in component.get("outputDefinitions", {}).get("artifacts", {}).items():
            outputs[key] = {
                "artifacts": [
                    {"name": key, "uri": f"{task_root}/{key}", "type": definition["artifactType"]}
                ]
            }
        # driver.go: provisionOutputs gives each output parameter a file to write.
        output_parameters = {
            key: {"outputFile": f"/tmp/kfp/outputs/{key}"}
            for key in component.get("outputDefinitions", {}).get("parameters", {})
        }
        # The apiserver sets PUBLISH_LOGS; the launcher uploads the task's log here.
        outputs["executor-logs"] = {
            "artifacts": [
                {
                    "name": "executor-logs",
                    "uri": f"{task_root}/executor-logs",
                    "type": {"schemaTitle": "system.Artifact"},
                }
            ]
        }
        return {
            "inputs": {"parameterValues": parameters, "artifacts": artifacts},
            "outputs": {
                **({"parameters": output_parameters} if output_parameters else {}),
                "artifacts": outputs,
                "outputFile": local_path_for_uri(task_root, "/") + "/output_metadata.json",
            },
        }

    def _substitute(self, value: Any, run_id: str, task_name: str) -> Any:
        """resolve.go: a constant that is one {{$.pipeline_*}} placeholder, whole.

        A placeholder inside a longer string stays as it is, as on the backend.
        """
        replacements = {
            "{{$.pipeline_job_name}}": self.run_display_name,
            "{{$.pipeline_job_resource_name}}": run_id,
            "{{$.pipeline_job_uuid}}": run_id,
            "{{$.pipeline_task_name}}": task_name,
            "{{$.pipeline_task_uuid}}": "1",  # the id of the root DAG's execution
            "{{$.pipeline_job_create_time_utc}}": self.run_created_utc,
            "{{$.pipeline_job_schedule_time_utc}}": "",
        }
        return replacements.get(value, value) if isinstance(value, str) else value

    # -- launcher -------------------------------------------------------------

    def _launch(self, name, executor_input, component, container, log_path):
        """component/launcher_v2.go: Execute, for one container task."""
        pod = os.path.join(self.output_dir, "pods", f"{name}-{uuid.uuid4().hex[:8]}")
        executor_input = copy.deepcopy(executor_input)
        # launcher_v2.go: addDefaultParams.
        params = executor_input["inputs"]["parameterValues"]
        definitions = component.get("inputDefinitions", {}).get("parameters", {})
        for key, definition in definitions.items():
            if key not in params and "defaultValue" in definition:
                params[key] = definition["defaultValue"]
        mounts = self._volume_mounts(component["executorLabel"])
        if self.docker_image is None:
            self._remap_mounted_paths(params, mounts)
            # A subprocess shares the host's filesystem: the files the driver
            # names go under the task's own folder.
            executor_input["outputs"]["outputFile"] = os.path.join(
                pod, executor_input["outputs"]["outputFile"].lstrip("/")
            )
            for parameter in executor_input["outputs"].get("parameters", {}).values():
                parameter["outputFile"] = os.path.join(pod, parameter["outputFile"].lstrip("/"))

        # launcher_v2.go: downloadArtifacts.
        for artifact_list in executor_input["inputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                self._download(artifact["uri"], local_path_for_uri(artifact["uri"], pod))
        # launcher_v2.go: prepareOutputFolders makes each output's parent folder.
        for artifact_list in executor_input["outputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                os.makedirs(
                    os.path.dirname(local_path_for_uri(artifact["uri"], pod)), exist_ok=True
                )
        output_file = executor_input["outputs"]["outputFile"]
        host_output_file = (
            output_file if self.docker_image is None else os.path.join(pod, output_file.lstrip("/"))
        )
        os.makedirs(os.path.dirname(host_output_file), exist_ok=True)

        # launcher_v2.go: compileCmdAndArgs replaces {{$}} with the ExecutorInput.
        executor_input_json = json.dumps(executor_input, separators=(",", ":"))
        command = [
            part.replace("{{$}}", executor_input_json)
            for part in container.get("command", []) + container.get("args", [])
        ]
        with open(log_path, "w") as log:
            code = self._execute(command, pod, mounts, container.get("resources", {}), log)
        if code != 0:
            return False, {}, {}

        try:
            outputs, parameters = self._collect_outputs(
                executor_input, component, host_output_file, pod, log_path
            )
        except LaunchFailed as e:
            with open(log_path, "a") as log:
                log.write(f"\n{e}\n")
            return False, {}, {}
        shutil.rmtree(pod, ignore_errors=True)
        return True, outputs, parameters

    def _collect_outputs(self, executor_input, component, host_output_file, pod, log_path):
        """launcher_v2.go after the command: read the output, merge, upload; raises LaunchFailed."""
        # launcher_v2.go: getExecutorOutputFile; a missing file is an empty output,
        # and protojson.Unmarshal refuses unknown fields.
        executor_output: dict[str, Any] = {}
        if os.path.exists(host_output_file):
            with open(host_output_file) as f:
                text = f.read()
            executor_output = parse_executor_output(text, host_output_file)
        outputs = executor_input["outputs"]["artifacts"]
        parameters = self._output_parameters(executor_input, executor_output, component, pod)
        # launcher_v2.go: mergeRuntimeArtifacts.
        for key, produced in executor_output.get("artifacts", {}).items():
            if key not in outputs or key == "executor-logs" or not produced.get("artifacts"):
                continue
            target = outputs[key]["artifacts"][0]
            source = produced["artifacts"][0]
            if source.get("uri"):
                target["uri"] = source["uri"]
            target.setdefault("metadata", {}).update(source.get("metadata", {}))
        # launcher_v2.go: uploadOutputArtifacts, keyed by KeyFromURI of each URI.
        for key, artifact_list in outputs.items():
            artifact = artifact_list["artifacts"][0]
            uri = artifact["uri"]
            if key == "executor-logs":
                self._upload_file(log_path, uri)
                continue
            if not uri.startswith(OBJECT_STORE_SCHEMES):
                # retrieveArtifactPath fails: a warning, no upload, and the URI is
                # recorded as it is, so the task succeeds and its consumer fails.
                with open(log_path, "a") as log:
                    log.write(
                        f'\nOutput Artifact "{key}" does not have a recognized storage URI '
                        f'"{uri}". Skipping uploading to remote storage.\n'
                    )
                continue
            key_error = key_from_uri(self.pipeline_root, uri)
            if key_error:
                raise LaunchFailed(f'failed to upload output artifact "{key}": {key_error}')
            self._upload(local_path_for_uri(uri, pod), uri, key)
        return outputs, parameters

    def _output_parameters(self, executor_input, executor_output, component, pod):
        """launcher_v2.go: collectOutputParameters, from the output or the parameter's file."""
        definitions = component.get("outputDefinitions", {}).get("parameters", {})
        given = executor_output.get("parameterValues", {})
        values = {}
        for key, spec in executor_input["outputs"].get("parameters", {}).items():
            if key in given:
                values[key] = given[key]
                continue
            path = spec["outputFile"]
            if self.docker_image is not None:
                path = os.path.join(pod, path.lstrip("/"))
            if not os.path.isfile(path):
                raise LaunchFailed(
                    f"failed to read output parameter {key}: the task wrote no {spec['outputFile']}"
                )
            with open(path) as f:
                text = f.read()
            kind = definitions.get(key, {}).get("parameterType", "STRING")
            values[key] = text if kind == "STRING" else json.loads(text)
        return values

    def _volume_mounts(self, executor_label: str) -> dict[str, str]:
        """Mount path → host folder for the PVCs the platform spec mounts in this executor."""
        executors = (
            self.platform_spec.get("platforms", {})
            .get("kubernetes", {})
            .get("deploymentSpec", {})
            .get("executors", {})
        )
        mounts = {}
        for mount in executors.get(executor_label, {}).get("pvcMount", []):
            claim = mount.get("constant") or mount.get("pvcNameParameter", {}).get(
                "runtimeValue", {}
            ).get("constant")
            if not isinstance(claim, str) or not _DNS_1123.fullmatch(claim):
                raise UserError(
                    f"{executor_label}: volume claim {claim!r} is not a valid claim name"
                )
            host = os.path.join(self.output_dir, "volumes", claim)
            os.makedirs(host, exist_ok=True)
            mounts[mount["mountPath"]] = host
        return mounts

    @staticmethod
    def _remap_mounted_paths(params: dict[str, Any], mounts: dict[str, str]) -> None:
        """A subprocess cannot mount a volume: paths under a mount point go to its folder."""
        for key, value in params.items():
            for mount_path, host in mounts.items():
                if isinstance(value, str) and (
                    value == mount_path or value.startswith(mount_path + "/")
                ):
                    params[key] = host + value[len(mount_path) :]

    def _execute(self, command, pod, mounts, resources, log) -> int:
        if self.docker_image is None:
            env = {
                **os.environ,
                "ARTIFACT_LOCAL_PATH": pod,
                # The image has python on PATH; here it is this environment's.
                "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
            }
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            return process.returncode
        volumes = []
        for folder in ("minio", "s3", "gcs", "tmp/kfp/outputs"):
            os.makedirs(os.path.join(pod, folder), exist_ok=True)
            volumes += ["-v", f"{os.path.join(pod, folder)}:/{folder}"]
        for mount_path, host in mounts.items():
            volumes += ["-v", f"{host}:{mount_path}"]
        if os.getuid() == 0:
            # As on a cluster, the folders belong to the task's non-root user: the
            # image's own, or nobody when the image would run as root.
            uid, gid = self._image_user()
            if uid == 0:
                uid, gid = _NOBODY
            for folder in [pod, *mounts.values()]:
                _chown_tree(folder, uid, gid)
            user = ["--user", f"{uid}:{gid}"]
        else:
            user = ["--user", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
        # The task gets no capabilities, cannot gain privileges and has no network.
        confinement = [
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--network",
            "none",
        ]
        # driver.go applies the limits to the pod; docker applies them to the container.
        limits = []
        if resources.get("cpuLimit"):
            limits += ["--cpus", str(resources["cpuLimit"])]
        if resources.get("memoryLimit"):
            limits += ["--memory", f"{int(resources['memoryLimit'] * 1024)}m"]
        docker = [
            self.docker, "run", "--rm", *confinement, *user, *volumes, *limits,
            "--entrypoint", command[0], self.docker_image, *command[1:],
        ]  # fmt: skip
        process = subprocess.run(docker, stdout=log, stderr=subprocess.STDOUT)
        return process.returncode

    def _image_user(self) -> tuple[int, int]:
        """The numeric user and group the image runs as (root when it names none)."""
        result = subprocess.run(
            [self.docker, "image", "inspect", self.docker_image, "--format", "{{.Config.User}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise UserError(f"no image {self.docker_image}: build it (make image) or pull it")
        user, _, group = result.stdout.strip().partition(":")
        if not user.isdigit():
            return (0, 0)
        return int(user), int(group) if group.isdigit() else int(user)

    def _object_path(self, uri: str) -> str:
        return object_path(self.object_store, uri)

    def _download(self, uri: str, local_path: str) -> None:
        if not uri.startswith(OBJECT_STORE_SCHEMES):
            return  # launcher_v2.go: URIs of other schemes are not downloaded.
        source = self._object_path(uri)
        if os.path.isdir(source):
            shutil.copytree(source, local_path, symlinks=True, dirs_exist_ok=True)
        elif os.path.exists(source):
            os.makedirs(os.path.dirname(local_path), exist_ok=True)
            shutil.copy2(source, local_path)

    def _upload(self, local_path: str, uri: str, key: str) -> None:
        """object_store.go: UploadBlob, file by file; raises LaunchFailed on a link.

        The object store keeps files, not folders, so empty folders vanish. A
        symbolic link fails the upload: the backend cannot upload a link to a
        folder, and following one here could copy a host file into the store.
        A missing local path is only a warning there (launcher_v2.go).
        """
        target = self._object_path(uri)
        if os.path.islink(local_path):
            raise LaunchFailed(
                f'failed to upload output artifact "{key}": {local_path} is a symbolic link'
            )
        if os.path.isfile(local_path):
            self._upload_file(local_path, uri)
            return
        for root, dirs, files in os.walk(local_path):
            for name in dirs + files:
                if os.path.islink(os.path.join(root, name)):
                    raise LaunchFailed(
                        f'failed to upload output artifact "{key}": '
                        f"{os.path.join(root, name)} is a symbolic link"
                    )
            for name in files:
                source = os.path.join(root, name)
                destination = os.path.join(target, os.path.relpath(source, local_path))
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                shutil.copyfile(source, destination, follow_symlinks=False)

    def _upload_file(self, local_path: str, uri: str) -> None:
        target = self._object_path(uri)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(local_path, target, follow_symlinks=False)

    def _import(self, store, run_id, name, importer, component) -> dict[str, Any]:
        """component/importer_launcher.go: the artifact is the URI, no task runs."""
        # importer_launcher.go: a runtimeParameter names one of the task's inputs.
        task_inputs = self._importer_inputs
        source = importer["artifactUri"]
        if "constant" in source:
            uri = source["constant"]
            if not uri:
                raise UserError(f"task {name}: empty Artifact URI constant value")
        else:
            parameter = source.get("runtimeParameter", "")
            uri = task_inputs.get(parameter)
            if not uri:
                raise UserError(
                    f"task {name}: empty artifact URI runtime value for parameter {parameter}"
                )
        # objectstore/config.go: ParseProviderFromPath accepts these schemes only.
        if not uri.startswith(OBJECT_STORE_SCHEMES):
            raise UserError(
                f"task {name}: failed to create MLMD artifact from ImporterSpec: no provider "
                f"scheme found in artifact URI: {uri} (use minio://, s3:// or gs://)"
            )
        object_path(self.object_store, uri)  # refuses keys that leave the store
        (key,) = component["outputDefinitions"]["artifacts"]
        return store.import_artifact(
            run_id,
            name,
            key,
            uri,
            self._artifact_type({"type": importer["typeSchema"]}),
            importer.get("metadata", {}),
            reimport=bool(importer.get("reimport")),
        )

    @staticmethod
    def _artifact_type(artifact: dict[str, Any]) -> str:
        """The MLMD type name: the schema title (driver's getArtifactSchema)."""
        artifact_type = artifact.get("type", {})
        title = schema_title(
            artifact_type.get("schemaTitle", ""), artifact_type.get("instanceSchema", "")
        )
        return title or "system.Artifact"


def _chown_tree(folder: str, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(folder):
        os.chown(root, uid, gid, follow_symlinks=False)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


class LaunchFailed(Exception):
    """The launcher's own failure after the command ran; the task fails with this message."""


def parse_executor_output(text: str, path: str) -> dict[str, Any]:
    """launcher_v2.go: getExecutorOutputFile parses with protojson.Unmarshal, strictly."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    try:
        json_format.Parse(text, pipeline_spec_pb2.ExecutorOutput())
        return json.loads(text)
    except (json_format.ParseError, ValueError) as e:
        raise LaunchFailed(f"failed to unmarshal executor output file {path}: {e}") from None


def key_from_uri(pipeline_root: str, uri: str) -> str | None:
    """objectstore/config.go: KeyFromURI against the pipeline root; the error, or None."""
    scheme, _, rest = pipeline_root.partition("://")
    prefixed = f"{scheme}://{posixpath.normpath(rest)}"  # PrefixedBucket: path.Join
    if not uri.startswith(prefixed):
        return f'URI "{uri}" does not have expected bucket prefix "{prefixed}"'
    if not uri[len(prefixed) :].lstrip("/"):
        return f'URI "{uri}" has empty key given prefixed bucket "{prefixed}"'
    return None


def cache_fingerprint(
    executor_input: dict[str, Any],
    container: dict[str, Any],
    image: str | None = None,
    component: dict[str, Any] | None = None,
) -> str:
    """cacheutils/cache.go: GenerateCacheKey and GenerateFingerPrint.

    Input artifacts count by MLMD id, output artifacts by name and type (not
    URI), the container by image and raw command and args.
    """
    outputs = {
        key: {
            "artifacts": [
                {k: v for k, v in a.items() if k != "uri"} for a in value["artifacts"][:1]
            ]
        }
        for key, value in executor_input["outputs"]["artifacts"].items()
    }
    key = {
        "inputArtifactNames": {
            k: {"artifactNames": [a["name"] for a in v["artifacts"]]}
            for k, v in executor_input["inputs"]["artifacts"].items()
        },
        "inputParameterValues": executor_input["inputs"]["parameterValues"],
        "outputArtifactsSpec": outputs,
        "outputParametersSpec": {
            key: spec["parameterType"]
            for key, spec in (component or {})
            .get("outputDefinitions", {})
            .get("parameters", {})
            .items()
        },
        "containerSpec": {
            "image": image or container.get("image", ""),
            "cmdArgs": container.get("command", []) + container.get("args", []),
        },
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def emulate(
    package_path: str,
    output_dir: str,
    params: list[str] | None = None,
    docker_image: str | None = None,
    enable_cache: bool = True,
    out: IO[str] = sys.stdout,
) -> EmulatedRun:
    """Emulates one run; raises PipelineFailed naming the failed task and its log."""
    pipeline_spec, platform_spec = load_package(package_path)
    check_spec(pipeline_spec, platform_spec)
    emulator = Emulator(
        package_path,
        output_dir,
        parse_params(params or [], pipeline_spec),
        docker_image=docker_image,
        enable_cache=enable_cache,
        out=out,
    )
    started = datetime.datetime.now()
    run = emulator.run()
    if run.state == "failed":
        failed = next(t for t in run.tasks if t.state == "failed")
        raise PipelineFailed(
            f"task {failed.name} failed: {last_exception(failed.log_path)} (log: {failed.log_path})"
        )
    elapsed = (datetime.datetime.now() - started).total_seconds()
    out.write(f"run {run.run_id} succeeded in {elapsed:.1f} s\n")
    return run
