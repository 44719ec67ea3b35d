"""A compiled package as the KFP 2.x API server and the run see it: checks and parameters.

Shared by ``kubetfx emulate`` and ``kubetfx submit``, so that both refuse what
the backend would refuse (``backend/src/apiserver/template/v2_template.go``,
``v2/compiler/visitor.go``) before anything runs, and type the run's
parameters the same way.
"""

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from kubetfx.components.kfp_contract import schema_title
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import parameters as run_parameters

SUPPORTED_SCHEMA_VERSION = "2.1.0"
# The pipeline and task names become object keys, folders and log names in the
# emulator: the KFP SDK's pipeline name rule, and plain names for tasks.
_PIPELINE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
_TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


_GO_BOOLEANS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


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
                # strconv.ParseBool, as the backend reads a boolean from text.
                values[name] = _GO_BOOLEANS[text.strip()]
            elif kind in ("LIST", "STRUCT"):
                values[name] = json.loads(text)
                if not isinstance(values[name], list if kind == "LIST" else dict):
                    raise ValueError(text)
            else:
                values[name] = text
        except (ValueError, KeyError):
            raise UserError(f"--param {name} needs a {kind} value, got {text!r}") from None
    for name, value in values.items():
        if name in run_parameters.PARAMETERS:
            run_parameters.PARAMETERS[name].validate(value, pipeline_spec)
    return values


def root_parameters(pipeline_spec: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The run's parameters: given values over the spec's defaults.

    v2/compiler/argocompiler/argo.go: Compile fills defaults; the API server
    rejects a required parameter with no value (v2_template.go). A default of
    a kubetfx parameter passes the same checks as a given value, so a package
    compiled for Vertex AI (a gs:// serving_dir) is refused here.
    """
    definitions = pipeline_spec["root"].get("inputDefinitions", {}).get("parameters", {})
    values = {}
    for name, definition in definitions.items():
        if name in given:
            values[name] = given[name]
        elif "defaultValue" in definition:
            values[name] = definition["defaultValue"]
            if name == run_parameters.SERVING_DIR.name and str(values[name]).startswith("gs://"):
                raise UserError(
                    "this package was compiled for Vertex AI (compile --target vertex): run it "
                    "with google.cloud.aiplatform.PipelineJob, or compile it again for KFP"
                )
            if name in run_parameters.PARAMETERS:
                run_parameters.PARAMETERS[name].validate(
                    values[name], pipeline_spec, f"the package's default {name}={values[name]}"
                )
        elif not definition.get("isOptional"):
            raise UserError(
                f"parameter {name} is not optional, yet has neither default value "
                "nor user provided value"
            )
    return values


def dependencies(tasks: dict[str, Any]) -> dict[str, set[str]]:
    """Each task's upstream tasks: named in dependentTasks, or producing one of its inputs."""
    upstream = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
    for name, task in tasks.items():
        for spec in task.get("inputs", {}).get("artifacts", {}).values():
            producer = spec.get("taskOutputArtifact", {}).get("producerTask")
            if producer:
                upstream[name].add(producer)
        for spec in task.get("inputs", {}).get("parameters", {}).values():
            producer = spec.get("taskOutputParameter", {}).get("producerTask")
            if producer:
                upstream[name].add(producer)
    for name, deps in upstream.items():
        unknown = sorted(deps - set(tasks))
        if unknown:
            raise UserError(f"task {name} depends on {', '.join(unknown)}, which is not a task")
    return upstream


def topological_order(tasks: dict[str, Any]) -> list[str]:
    """Tasks ordered so that each comes after those it depends on (name order breaks ties)."""
    remaining = dependencies(tasks)
    order: list[str] = []
    ready = sorted(n for n, deps in remaining.items() if not deps)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for other, deps in remaining.items():
            if name in deps:
                deps.discard(name)
                if not deps and other not in order and other not in ready:
                    ready.append(other)
        ready.sort()
    if len(order) != len(tasks):
        raise UserError("the pipeline's tasks depend on each other in a cycle")
    return order
