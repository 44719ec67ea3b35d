"""Runs one TFX executor as a task of open-source Kubeflow Pipelines 2.x.

Invoked as ``python -m kubetfx.components.kfp_entrypoint`` with the arguments
TFX compiles (``--executor_class_path``, ``--json_serialized_invocation_args``
``{{$}}``, ``--json_serialized_inputs_spec_args`` and Beam args). It does what
TFX's own entrypoint (``tfx/orchestration/kubeflow/v2/container/
kubeflow_v2_run_executor.py``) does, adapted to the open-source backend
(``backend/src/v2`` of kubeflow/pipelines 2.17):

- Artifact URIs are object-store URIs (``minio://``, ``s3://``) that TensorFlow
  cannot open. The launcher downloads inputs to, and uploads outputs from, a
  local path (``LocalPathForURI`` in ``component/launcher_v2.go``); the
  executor works on those paths and the original URIs are written back, since
  the launcher derives the upload key from the URI it gets back.
- Input artifacts arrive with an empty type (``GetOutputArtifactsByExecutionId``
  in ``metadata/client.go``); their type is taken from the component's inputs
  spec. Metadata comes back wrapped as ``{"struct": ...}``/``{"list": ...}``
  (``StructValueToMLMDValue``) and is unwrapped.
- Data imported from the object store arrives as the input artifact ``data``,
  staged by the launcher; its local path becomes CsvExampleGen's
  ``input_base`` (the ``data_fingerprint`` parameter only keys the cache).
- ``lifecycle.preCacheCheck`` is never run, so the file-based ExampleGen
  driver (span, version, fingerprint) runs here before the executor.
- Outputs of type system.HTML, system.Markdown and system.Metrics are rendered
  from the TFX outputs for the KFP dashboard; other ``system.*`` outputs (the
  launcher's ``executor-logs``) are left to the launcher.
- Artifacts of kubetfx's own types are restored to their classes
  (``ARTIFACT_CLASSES``): TFX would import the type's title as a class path.
- Parameters named ``override__<property>__<field>`` set a field inside a
  proto-valued exec property; ``package://`` values resolve to files that ship
  in the image.
- The process ends with ``os._exit`` once the output is written: TensorFlow
  and Beam can crash at interpreter exit ("pure virtual method called").
"""

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from kubetfx.components import beam_workers
from kubetfx.components.kfp_contract import (
    ARTIFACT_CLASSES,
    CODE_DIGEST_ARG,
    DATA_FINGERPRINT_INPUT,
    DATA_INPUT,
    OVERRIDE_PREFIX,
    VISUALIZATION_TYPES,
    resolve_package_path,
    schema_title,
)

# component/launcher_v2.go: LocalPathForURI.
_LOCAL_PREFIXES = {"gs://": "gcs", "minio://": "minio", "s3://": "s3"}


def local_path_for_uri(uri: str, root: str | None = None) -> str:
    """Where the launcher stages an artifact URI inside the task's container.

    ``root`` (default ``$ARTIFACT_LOCAL_PATH``, else ``/``) prefixes the path.
    The 2.17 launcher reads no such variable: on a cluster the paths are
    ``/minio/...``, ``/s3/...`` and ``/gcs/...``; ``kubetfx emulate`` sets it to
    a task's own folder when tasks run as subprocesses. URIs without an
    object-store scheme are local already and returned unchanged.
    """
    root = root if root is not None else os.environ.get("ARTIFACT_LOCAL_PATH", "/")
    for prefix, folder in _LOCAL_PREFIXES.items():
        if uri.startswith(prefix):
            return os.path.join(root or "/", folder, uri[len(prefix) :])
    return uri


def apply_overrides(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Moves ``override__prop__a__b`` values into field ``a.b`` of JSON property ``prop``."""
    result = {k: v for k, v in exec_properties.items() if not k.startswith(OVERRIDE_PREFIX)}
    for key, value in sorted(exec_properties.items()):
        if not key.startswith(OVERRIDE_PREFIX):
            continue
        prop, *fields = key[len(OVERRIDE_PREFIX) :].split("__")
        if prop not in result or not fields:
            raise ValueError(f"parameter {key} overrides no exec property of this component")
        decoded = json.loads(result[prop])
        target = decoded
        for field in fields[:-1]:
            target = target.setdefault(_json_key(target, field), {})
        target[_json_key(target, fields[-1])] = value
        result[prop] = json.dumps(decoded, sort_keys=True)
    return result


def _json_key(message: dict[str, Any], field: str) -> str:
    """The key a proto field has in this JSON: as named, or in lowerCamelCase."""
    head, *rest = field.split("_")
    camel = head + "".join(part.title() for part in rest)
    return camel if camel in message and field not in message else field


def _unwrap(value: Any) -> Any:
    """Undoes the backend's {"struct": x} / {"list": x} wrapper of one metadata value."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("struct", "list"):
        return next(iter(value.values()))
    return value


def _schema_title(artifact_type) -> str:
    return schema_title(artifact_type.schema_title, artifact_type.instance_schema)


def run_task(
    executor_input,
    inputs_spec,
    executor_class_path: str,
    beam_args: Sequence[str],
) -> None:
    """Runs the executor on staged local paths and writes the ExecutorOutput."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2
    from tfx.dsl.components.base import base_beam_executor, base_executor
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_entrypoint_utils as utils
    from tfx.utils import import_utils

    # The staged data folder is CsvExampleGen's input_base, not a TFX artifact.
    staged_data = None
    if DATA_INPUT in executor_input.inputs.artifacts:
        (data,) = executor_input.inputs.artifacts[DATA_INPUT].artifacts
        staged_data = local_path_for_uri(data.uri)
        del executor_input.inputs.artifacts[DATA_INPUT]

    # Inputs: restore the type the backend dropped, unwrap metadata, stage locally.
    for name, artifact_list in executor_input.inputs.artifacts.items():
        for artifact in artifact_list.artifacts:
            if not _schema_title(artifact.type) and name in inputs_spec.artifacts:
                artifact.type.CopyFrom(inputs_spec.artifacts[name].artifact_type)
            metadata = {
                k: _unwrap(v) for k, v in json_format.MessageToDict(artifact.metadata).items()
            }
            artifact.metadata.Clear()
            artifact.metadata.update(metadata)
            artifact.uri = local_path_for_uri(artifact.uri)

    # Outputs: TFX artifacts go to the executor; dashboard views are rendered after.
    tfx_outputs = pipeline_spec_pb2.ExecutorInput.Outputs()
    views: dict[str, Any] = {}
    remote_uris: dict[str, str] = {}
    for name, artifact_list in executor_input.outputs.artifacts.items():
        title = _schema_title(artifact_list.artifacts[0].type)
        if title in VISUALIZATION_TYPES:
            views[name] = artifact_list.artifacts[0]
        elif not title.startswith("system."):
            remote_uris[name] = artifact_list.artifacts[0].uri
            staged = tfx_outputs.artifacts[name]
            staged.CopyFrom(artifact_list)
            staged.artifacts[0].uri = local_path_for_uri(staged.artifacts[0].uri)

    # TFX looks a custom type's class up by its title; kubetfx's titles are not class paths.
    from tfx.orchestration.kubeflow.v2 import compiler_utils

    compiler_utils.TITLE_TO_CLASS_PATH.update(ARTIFACT_CLASSES)
    name_from_id: dict[int, str] = {}
    inputs = utils.parse_raw_artifact_dict(executor_input.inputs.artifacts, name_from_id)
    outputs = utils.parse_raw_artifact_dict(tfx_outputs.artifacts, name_from_id)
    exec_properties = utils.parse_execution_properties(
        executor_input.inputs.parameter_values, executor_input.inputs.parameters, inputs_spec
    )
    exec_properties = {
        k: resolve_package_path(v) if isinstance(v, str) else v
        for k, v in apply_overrides(exec_properties).items()
    }
    exec_properties.pop(DATA_FINGERPRINT_INPUT, None)
    if staged_data is not None:
        exec_properties["input_base"] = staged_data

    executor_class = import_utils.import_class_by_path(executor_class_path)
    if "input_base" in exec_properties and "examples" in outputs:
        _run_example_gen_driver(exec_properties, outputs["examples"][0])

    output_file = executor_input.outputs.output_file
    task_dir = os.path.dirname(output_file)
    tmp_dir = os.path.join(task_dir, ".temp")
    unique_id = os.path.basename(task_dir)
    if issubclass(executor_class, base_beam_executor.BaseBeamExecutor):
        beam_workers.use_installed_tfx()  # the image holds TFX for every worker
        context = base_beam_executor.BaseBeamExecutor.Context(
            beam_pipeline_args=list(beam_args), unique_id=unique_id, tmp_dir=tmp_dir
        )
    else:
        context = base_executor.BaseExecutor.Context(
            extra_flags=list(beam_args), unique_id=unique_id, tmp_dir=tmp_dir
        )
    logging.info("Running %s", executor_class_path)
    executor_class(context).Do(inputs, outputs, exec_properties)

    from tfx.orchestration.portable import outputs_utils

    outputs_utils.tag_output_artifacts_with_version(outputs)
    executor_output = pipeline_spec_pb2.ExecutorOutput()
    for name, runtime_artifacts in utils.translate_executor_output(outputs, name_from_id).items():
        for artifact in runtime_artifacts.artifacts:
            artifact.uri = remote_uris[name]
        executor_output.artifacts[name].CopyFrom(runtime_artifacts)

    if views:
        from kubetfx.components import visualizations

        for name, view in views.items():
            rendered = visualizations.render(name, _schema_title(view.type), inputs, outputs)
            artifact = executor_output.artifacts[name].artifacts.add()
            artifact.uri = view.uri
            if isinstance(rendered, str):
                path = local_path_for_uri(view.uri)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(rendered)
            else:
                artifact.metadata.update(rendered)

    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    with open(output_file, "w") as f:
        f.write(json_format.MessageToJson(executor_output))


def _run_example_gen_driver(exec_properties: dict[str, Any], examples) -> None:
    """What tfx/orchestration/kubeflow/v2/file_based_example_gen/driver.py computes."""
    from tfx.components.example_gen import driver, input_processor, utils
    from tfx.proto import example_gen_pb2, range_config_pb2
    from tfx.utils import proto_utils

    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(exec_properties["input_config"], input_config)
    range_config = None
    if exec_properties.get("range_config"):
        range_config = range_config_pb2.RangeConfig()
        proto_utils.json_to_proto(exec_properties["range_config"], range_config)
    processor = input_processor.FileBasedInputProcessor(
        exec_properties["input_base"], input_config.splits, range_config
    )
    span, version = processor.resolve_span_and_version()
    exec_properties[utils.SPAN_PROPERTY_NAME] = span
    exec_properties[utils.VERSION_PROPERTY_NAME] = version
    exec_properties[utils.FINGERPRINT_PROPERTY_NAME] = processor.get_input_fingerprint(
        span, version
    )
    for split in input_config.splits:
        split.pattern = processor.get_pattern_for_span_version(split.pattern, span, version)
    exec_properties["input_config"] = proto_utils.proto_to_json(input_config)
    driver.update_output_artifact(exec_properties, examples.mlmd_artifact)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor_class_path", required=True)
    parser.add_argument("--json_serialized_invocation_args", required=True)
    parser.add_argument("--json_serialized_inputs_spec_args", default="{}")
    parser.add_argument(CODE_DIGEST_ARG, default="", help="only keys KFP's cache")
    return parser.parse_known_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    args, beam_args = parse_args(sys.argv[1:] if argv is None else argv)

    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    executor_input = pipeline_spec_pb2.ExecutorInput()
    json_format.Parse(
        args.json_serialized_invocation_args, executor_input, ignore_unknown_fields=True
    )
    inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
    json_format.Parse(
        args.json_serialized_inputs_spec_args, inputs_spec, ignore_unknown_fields=True
    )
    exit_code = 0
    try:
        run_task(executor_input, inputs_spec, args.executor_class_path, beam_args)
    except Exception as error:  # noqa: BLE001 - reported in the task log, then the task fails
        logging.exception("The task failed.")
        cause = beam_workers.explain(error, beam_args)
        if cause:
            logging.error("The task failed: %s", cause)
        exit_code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(exit_code)


if __name__ == "__main__":
    main()
