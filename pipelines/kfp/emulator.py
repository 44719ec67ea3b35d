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


def check_spec(pipeline_spec: dict[str, Any]) -> None:
    """Refuses what the backend refuses, with the backend's own message."""
    version = pipeline_spec.get("schemaVersion", "")
    if version != SUPPORTED_SCHEMA_VERSION:
        # apiserver/template/v2_template.go: NewV2SpecTemplate.
        raise UserError(
            f"KFP only supports schema version {SUPPORTED_SCHEMA_VERSION}, "
            f"but the pipeline spec has version {version}"
        )
    executors = pipeline_spec.get("deploymentSpec", {}).get("executors", {})
    for name, task in pipeline_spec["root"]["dag"]["tasks"].items():
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
    return values


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
        check_spec(self.pipeline_spec)
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
                executor_input, container, self._running_image(container)
            )
            cached = store.find_cached(self.pipeline_name, fingerprint)
            if cached is not None:
                # driver/container.go: reuseCachedOutputs; the execution is CACHED.
                store.record_cached(run_id, name, fingerprint, cached, executor_input)
                outputs_by_task[name] = store.outputs_of(cached)
                return TaskResult(name, "cached", time.monotonic() - started)

        log_path = task_log_path(self.log_dir, run_id, name)
        execution = store.start_execution(run_id, name, fingerprint, executor_input)
        ok, outputs = False, {}
        try:
            ok, outputs = self._launch(name, executor_input, component, container, log_path)
        except BaseException:
            with open(log_path, "a") as log:  # where `kubetfx status` looks for the error
                log.write("\nThe emulator failed to run the task:\n" + traceback.format_exc())
            raise
        finally:
            store.publish_execution(run_id, execution, outputs, ok, self._artifact_type)
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
                if source in self.params:
                    parameters[key] = self.params[source]
            elif "runtimeValue" in spec:
                parameters[key] = self._substitute(spec["runtimeValue"]["constant"], run_id, name)
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
                "artifacts": outputs,
                "outputFile": local_path_for_uri(task_root, "/") + "/output_metadata.json",
            },
        }

    def _substitute(self, value: Any, run_id: str, task_name: str) -> Any:
        """resolve.go: the {{$.pipeline_*}} placeholders allowed in constants."""
        if not isinstance(value, str):
            return value
        replacements = {
            "{{$.pipeline_job_name}}": self.pipeline_name,
            "{{$.pipeline_job_resource_name}}": run_id,
            "{{$.pipeline_job_uuid}}": run_id,
            "{{$.pipeline_task_name}}": task_name,
            "{{$.pipeline_task_uuid}}": str(uuid.uuid4()),
        }
        for placeholder, replacement in replacements.items():
            value = value.replace(placeholder, replacement)
        return value

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
            # Launchers built for local debugging root local paths at $ARTIFACT_LOCAL_PATH.
            executor_input["outputs"]["outputFile"] = os.path.join(
                pod, executor_input["outputs"]["outputFile"].lstrip("/")
            )

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
            return False, {}

        # launcher_v2.go: getExecutorOutputFile; a missing file is an empty output.
        executor_output = {}
        if os.path.exists(host_output_file):
            with open(host_output_file) as f:
                executor_output = json.load(f)
        outputs = executor_input["outputs"]["artifacts"]
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
            if key == "executor-logs":
                self._upload_file(log_path, artifact["uri"])
                continue
            if not artifact["uri"].startswith(OBJECT_STORE_SCHEMES):
                with open(log_path, "a") as log:
                    log.write(
                        f"\nfailed to upload output {key}: {artifact['uri']} is not a URI in "
                        f"the pipeline root {self.pipeline_root} (a local path written back)\n"
                    )
                return False, {}
            self._upload(local_path_for_uri(artifact["uri"], pod), artifact["uri"])
        shutil.rmtree(pod, ignore_errors=True)
        return True, outputs

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
        for folder in ("minio", "s3", "gcs"):
            os.makedirs(os.path.join(pod, folder), exist_ok=True)
            volumes += ["-v", f"{os.path.join(pod, folder)}:/{folder}"]
        for mount_path, host in mounts.items():
            volumes += ["-v", f"{host}:{mount_path}"]
        user = []
        if os.getuid() == 0:
            # As on a cluster, the folders belong to the image's own (non-root) user.
            owner = self._image_user()
            for folder in [pod, *mounts.values()]:
                _chown_tree(folder, *owner)
        else:
            user = ["--user", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
        # driver.go applies the limits to the pod; docker applies them to the container.
        limits = []
        if resources.get("cpuLimit"):
            limits += ["--cpus", str(resources["cpuLimit"])]
        if resources.get("memoryLimit"):
            limits += ["--memory", f"{int(resources['memoryLimit'] * 1024)}m"]
        docker = [
            self.docker, "run", "--rm", "--network", "none",
            *user, *volumes, *limits, "--entrypoint", command[0], self.docker_image, *command[1:],
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

    def _upload(self, local_path: str, uri: str) -> None:
        target = self._object_path(uri)
        if os.path.islink(local_path):
            return  # never follow a link a task left into the host's files
        if os.path.isdir(local_path):
            shutil.copytree(local_path, target, symlinks=True, dirs_exist_ok=True)
        elif os.path.exists(local_path):
            self._upload_file(local_path, uri)
        # launcher_v2.go: a missing local path is only a warning.

    def _upload_file(self, local_path: str, uri: str) -> None:
        target = self._object_path(uri)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(local_path, target, follow_symlinks=False)

    def _import(self, store, run_id, name, importer, component) -> dict[str, Any]:
        """component/importer_launcher.go: the artifact is the URI, no task runs."""
        # importer_launcher.go: a runtimeParameter names one of the task's inputs.
        task_inputs = self._importer_inputs
        uri = importer["artifactUri"].get("constant") or task_inputs.get(
            importer["artifactUri"].get("runtimeParameter", "")
        )
        if not uri:
            raise UserError(f"task {name}: the importer has no artifact URI")
        (key,) = component["outputDefinitions"]["artifacts"]
        outputs = {
            key: {
                "artifacts": [
                    {
                        "name": key,
                        "uri": uri,
                        "type": importer["typeSchema"],
                        "metadata": importer.get("metadata", {}),
                    }
                ]
            }
        }
        execution = store.record_execution(
            run_id, name, None, {"inputs": {}}, outputs, True, self._artifact_type
        )
        return store.outputs_of(execution)

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


def cache_fingerprint(
    executor_input: dict[str, Any], container: dict[str, Any], image: str | None = None
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
        "outputParametersSpec": {},
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
    pipeline_spec, _ = load_package(package_path)
    check_spec(pipeline_spec)
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
