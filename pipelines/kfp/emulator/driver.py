"""The driver: what KFP's driver pod decides before a task's container starts.

``backend/src/v2/driver/driver.go`` (``Container``), ``resolve.go`` and
``metadata/client.go``: each input parameter resolved from the run's
parameters, a constant (with its ``{{$.pipeline_*}}`` placeholder) or a
producer's output parameter; input artifacts read back from ML Metadata with
an empty type; output URIs under ``<root>/<pipeline>/<run>/<task>/<uuid>/``;
the volumes of the Kubernetes platform spec. The result is the ExecutorInput.
"""

import dataclasses
import decimal
import json
import math
import os
import re
import uuid
from collections.abc import Callable
from typing import Any

from kubetfx.components.kfp_entrypoint import local_path_for_uri
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore

_DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@dataclasses.dataclass
class RunContext:
    """What the driver knows of the run it drives a task of."""

    pipeline_name: str
    pipeline_root: str
    run_id: str
    display_name: str
    created_utc: str
    parameters: dict[str, Any]


def go_number(value: float) -> str:
    """strconv.FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip, no exponent."""
    value = float(value)  # a protobuf Value holds every number as a double
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(decimal.Decimal(repr(value)).normalize(), "f")


def pb_value_to_text(value: Any) -> str:
    """metadata/converter.go: PbValueToText, how the backend turns a value into text.

    Numbers as Go formats them (100, not 100.0; 1e21 in full), booleans in lower
    case, null as the empty string. Lists and structs are JSON here; Go's
    encoding/json of the protobuf message differs, and no kubetfx task takes one.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    return json.dumps(value, separators=(",", ":"))


class Driver:
    def __init__(
        self,
        run: RunContext,
        store: EmulatorStore,
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ):
        self.run = run
        self.store = store
        self.new_uuid = new_uuid

    def executor_input(self, name: str, task: dict[str, Any], component: dict[str, Any]):
        """driver.go: Container → resolveInputs and provisionOutputs; the ExecutorInput."""
        parameters = {
            key: self._parameter(name, key, spec)
            for key, spec in task.get("inputs", {}).get("parameters", {}).items()
        }
        definitions = component.get("inputDefinitions", {}).get("parameters", {})
        for key, value in list(parameters.items()):
            # resolve.go: a STRING input that received another type becomes text.
            if definitions.get(key, {}).get("parameterType") == "STRING":
                parameters[key] = pb_value_to_text(value)

        artifacts = {}
        for key, spec in task.get("inputs", {}).get("artifacts", {}).items():
            producer = spec["taskOutputArtifact"]["producerTask"]
            output_key = spec["taskOutputArtifact"]["outputArtifactKey"]
            # metadata/client.go: GetOutputArtifactsByExecutionId returns no schema.
            produced = self.store.task_outputs(self.run.run_id, producer).get(output_key, [])
            artifacts[key] = {
                "artifacts": [{**artifact, "type": {"instanceSchema": ""}} for artifact in produced]
            }

        # driver.go: provisionOutputs; client.go: GenerateOutputURI.
        run = self.run
        task_root = f"{run.pipeline_root}/{run.pipeline_name}/{run.run_id}/{name}/{self.new_uuid()}"
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
        # The API server sets PUBLISH_LOGS; the launcher uploads the task's log here.
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

    def _parameter(self, name: str, key: str, spec: dict[str, Any]) -> Any:
        """resolve.go: resolveInputParameter, for the sources a flat DAG has."""
        if "componentInputParameter" in spec:
            source = spec["componentInputParameter"]
            if source not in self.run.parameters:
                # The root DAG's execution holds the run's parameters.
                raise UserError(f"task {name}: parent DAG does not have input parameter {source}")
            return self.run.parameters[source]
        if "runtimeValue" in spec:
            return self.substitute(spec["runtimeValue"]["constant"], name)
        if "taskOutputParameter" in spec:
            producer = spec["taskOutputParameter"]["producerTask"]
            output_key = spec["taskOutputParameter"]["outputParameterKey"]
            produced = self.store.output_parameters(self.run.run_id, producer)
            if output_key not in produced:
                raise UserError(
                    f"task {name}: input parameter {key}: task {producer} has no output "
                    f"parameter {output_key}"
                )
            return produced[output_key]
        raise UserError(f"task {name}: input parameter {key} has an unsupported source")

    def substitute(self, value: Any, task_name: str) -> Any:
        """resolve.go: a constant that is one {{$.pipeline_*}} placeholder, whole.

        A placeholder inside a longer string stays as it is, as on the backend.
        """
        replacements = {
            "{{$.pipeline_job_name}}": self.run.display_name,
            "{{$.pipeline_job_resource_name}}": self.run.run_id,
            "{{$.pipeline_job_uuid}}": self.run.run_id,
            "{{$.pipeline_task_name}}": task_name,
            "{{$.pipeline_task_uuid}}": "1",  # the id of the root DAG's execution
            "{{$.pipeline_job_create_time_utc}}": self.run.created_utc,
            "{{$.pipeline_job_schedule_time_utc}}": "",
        }
        return replacements.get(value, value) if isinstance(value, str) else value


def platform_executors(platform_spec: dict[str, Any]) -> dict[str, Any]:
    """The Kubernetes platform spec's settings of each executor, by executor label."""
    return (
        platform_spec.get("platforms", {})
        .get("kubernetes", {})
        .get("deploymentSpec", {})
        .get("executors", {})
    )


def volume_mounts(
    platform_spec: dict[str, Any], executor_label: str, volumes_dir: str
) -> dict[str, str]:
    """Mount path → host folder for the PVCs the platform spec mounts in this executor.

    driver.go applies the kubernetes platform config to the pod; a claim here
    is the folder ``volumes_dir/<claim>``.
    """
    mounts = {}
    for mount in platform_executors(platform_spec).get(executor_label, {}).get("pvcMount", []):
        claim = mount.get("constant") or mount.get("pvcNameParameter", {}).get(
            "runtimeValue", {}
        ).get("constant")
        if not isinstance(claim, str) or not _DNS_1123.fullmatch(claim):
            raise UserError(f"{executor_label}: volume claim {claim!r} is not a valid claim name")
        host = os.path.join(volumes_dir, claim)
        os.makedirs(host, exist_ok=True)
        mounts[mount["mountPath"]] = host
    return mounts
