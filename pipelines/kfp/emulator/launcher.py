"""The launcher: what runs in a KFP task pod around the task's own command.

``backend/src/v2/component/launcher_v2.go`` (``Execute``): default parameters
added, input artifacts downloaded from the object store to the local mount,
``{{$}}`` replaced with the ExecutorInput, the command run, then the
ExecutorOutput read strictly, merged, and each output uploaded by the URI it
names. The importer (``importer_launcher.go``) runs no command: its artifact is
a URI.
"""

import copy
import json
import os
import posixpath
import shutil
import uuid
from typing import Any

from kubetfx.components.kfp_contract import OBJECT_STORE_SCHEMES
from kubetfx.components.kfp_entrypoint import local_path_for_uri
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp.emulator.object_store import ObjectStore, UploadFailed
from kubetfx.pipelines.kfp.emulator.runners import TaskRunner
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore


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


class Launcher:
    def __init__(
        self, object_store: ObjectStore, pipeline_root: str, runner: TaskRunner, pods_dir: str
    ):
        self.object_store = object_store
        self.pipeline_root = pipeline_root
        self.runner = runner
        self.pods_dir = pods_dir

    def launch(self, name, executor_input, component, container, mounts, log_path):
        """Execute, for one container task: (succeeded, output artifacts, output parameters)."""
        pod = os.path.join(self.pods_dir, f"{name}-{uuid.uuid4().hex[:8]}")
        executor_input = copy.deepcopy(executor_input)
        # launcher_v2.go: addDefaultParams.
        params = executor_input["inputs"]["parameterValues"]
        definitions = component.get("inputDefinitions", {}).get("parameters", {})
        for key, definition in definitions.items():
            if key not in params and "defaultValue" in definition:
                params[key] = definition["defaultValue"]
        self.runner.prepare(executor_input, pod, mounts)

        # launcher_v2.go: downloadArtifacts; URIs of other schemes are not downloaded.
        for artifact_list in executor_input["inputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                if artifact["uri"].startswith(OBJECT_STORE_SCHEMES):
                    local = local_path_for_uri(artifact["uri"], pod)
                    self.object_store.download(artifact["uri"], local)
        # launcher_v2.go: prepareOutputFolders makes each output's parent folder.
        for artifact_list in executor_input["outputs"]["artifacts"].values():
            for artifact in artifact_list["artifacts"]:
                local = local_path_for_uri(artifact["uri"], pod)
                os.makedirs(os.path.dirname(local), exist_ok=True)
        output_file = self.runner.host_path(executor_input["outputs"]["outputFile"], pod)
        os.makedirs(os.path.dirname(output_file), exist_ok=True)

        # launcher_v2.go: compileCmdAndArgs replaces {{$}} with the ExecutorInput.
        executor_input_json = json.dumps(executor_input, separators=(",", ":"))
        command = [
            part.replace("{{$}}", executor_input_json)
            for part in container.get("command", []) + container.get("args", [])
        ]
        with open(log_path, "w") as log:
            code = self.runner.run(command, pod, mounts, container.get("resources", {}), log)
        if code != 0:
            return False, {}, {}
        try:
            outputs, parameters = self._collect(executor_input, component, output_file, pod)
            self._upload(outputs, pod, log_path)
        except LaunchFailed as e:
            with open(log_path, "a") as log:
                log.write(f"\n{e}\n")
            return False, {}, {}
        shutil.rmtree(pod, ignore_errors=True)
        return True, outputs, parameters

    def _collect(self, executor_input, component, output_file, pod):
        """getExecutorOutputFile (strict; a missing file is an empty output), then merge."""
        executor_output: dict[str, Any] = {}
        if os.path.exists(output_file):
            with open(output_file) as f:
                executor_output = parse_executor_output(f.read(), output_file)
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
        return outputs, parameters

    def _upload(self, outputs, pod, log_path) -> None:
        """uploadOutputArtifacts, keyed by KeyFromURI of each (merged) URI."""
        for key, artifact_list in outputs.items():
            uri = artifact_list["artifacts"][0]["uri"]
            if key == "executor-logs":
                self.object_store.upload_file(log_path, uri)
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
            try:
                self.object_store.upload(local_path_for_uri(uri, pod), uri)
            except UploadFailed as e:
                raise LaunchFailed(f'failed to upload output artifact "{key}": {e}') from None

    def _output_parameters(self, executor_input, executor_output, component, pod):
        """collectOutputParameters: from the ExecutorOutput, else the parameter's file."""
        definitions = component.get("outputDefinitions", {}).get("parameters", {})
        given = executor_output.get("parameterValues", {})
        values = {}
        for key, spec in executor_input["outputs"].get("parameters", {}).items():
            if key in given:
                values[key] = given[key]
                continue
            path = self.runner.host_path(spec["outputFile"], pod)
            if not os.path.isfile(path):
                raise LaunchFailed(
                    f"failed to read output parameter {key}: the task wrote no {spec['outputFile']}"
                )
            with open(path) as f:
                text = f.read()
            kind = definitions.get(key, {}).get("parameterType", "STRING")
            values[key] = text if kind == "STRING" else json.loads(text)
        return values


def import_artifact(
    store: EmulatorStore,
    object_store: ObjectStore,
    run_id: str,
    name: str,
    importer: dict[str, Any],
    component: dict[str, Any],
    task_parameters: dict[str, Any],
    type_name: str,
) -> dict[str, Any]:
    """importer_launcher.go: the task's output is the URI, recorded in ML Metadata."""
    source = importer["artifactUri"]
    if "constant" in source:
        uri = source["constant"]
        if not uri:
            raise UserError(f"task {name}: empty Artifact URI constant value")
    else:
        # GetRuntimeParameter: the URI is one of the task's input parameters.
        parameter = source.get("runtimeParameter", "")
        uri = task_parameters.get(parameter)
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
    object_store.path(uri)  # refuses keys that leave the store
    (key,) = component["outputDefinitions"]["artifacts"]
    return store.import_artifact(
        run_id,
        name,
        key,
        uri,
        type_name,
        importer.get("metadata", {}),
        reimport=bool(importer.get("reimport")),
    )
