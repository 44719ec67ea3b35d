"""Compiles a project's pipelines into PipelineSpecs that open-source KFP 2.x runs.

Two pipelines per project: ``train`` (pipelines/definition/pipeline.py), from
CSV files to a pushed model, and ``predict`` (pipelines/definition/predict.py),
new CSV files scored by the model serving now.

TFX's KubeflowV2DagRunner targets Vertex AI. Its output is adjusted here for
the open-source backend (see docs/kfp.md for each reason):
- schemaVersion 2.1.0, the only version the API server accepts;
- every task runs kubetfx's entrypoint, which copes with the backend's
  artifact staging and empty input types, and runs the ExampleGen driver that
  the backend never calls (``lifecycle.preCacheCheck`` is dropped);
- pipeline parameters with defaults for what users change per run;
- extra outputs (system.HTML, system.Markdown, system.Metrics and, for
  classification, system.ClassificationMetrics) that the KFP dashboard renders;
- data from the object store: an importer of the ``data_root`` URI, whose
  artifact the launcher stages into the tasks, and a fingerprint of the files
  that keys CsvExampleGen's cache (a ``package://`` path inside the image is
  passed to CsvExampleGen as it is);
- CPU and memory requests and limits for every task;
- the serving volume mounted into the tasks that read and write pushed models,
  through a Kubernetes platform spec (second YAML document).
"""

import copy
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import yaml

from kubetfx.components.beam_workers import job_service, on_dataflow
from kubetfx.components.kfp_entrypoint import local_path_for_uri
from kubetfx.components.project import AUTO
from kubetfx.pipelines.definition.settings import RunSettings
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import parameters as run_parameters
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.project.loader import ProjectFile

if TYPE_CHECKING:
    from kubetfx.pipelines.definition.pipeline import Extend


def compile_pipeline(
    loaded: ProjectFile,
    output_path: str,
    image: str = contract.DEFAULT_IMAGE,
    custom_image: bool = False,
    pipeline_root: str = contract.DEFAULT_PIPELINE_ROOT,
    beam_args: Sequence[str] = (),
    data: str | None = None,
    serving_dir: str | None = None,
    target: str = "kfp",
    pipeline: str = "train",
    tune: bool = False,
    hyperparameters: str | None = None,
    track: str | None = None,
    track_secret: str | None = None,
    extend: "Extend | None" = None,
) -> dict[str, Any]:
    """Writes a project's pipeline package to ``output_path`` (.yaml); returns the spec.

    ``pipeline`` is one of ``spec.PIPELINES``. ``tune`` adds the Tuner before the
    Trainer; ``hyperparameters``, the object-store URI of a tuned run's
    best_hyperparameters, is imported for the Trainer instead. ``track`` (""
    for the default server) adds the Tracker, logging each run to the MLflow
    server at that URI, with the credentials in Secret ``track_secret``.

    The project's settings and schema are compiled into the tasks, so the stock
    image runs a project that has no code of its own; one that has needs
    ``image`` to hold it (``custom_image``). ``pipeline_root`` is recorded as
    the spec's default root; pass it again at submit time (``kubetfx submit``
    does), since KFP reads it from the run. ``data`` (default: the project's)
    is the data_root parameter's default; its kind, an object-store URI or a
    ``package://`` path inside the image, decides how the tasks read it.
    ``serving_dir`` is the serving_dir parameter's default.

    ``target`` "kfp" writes the spec and the Kubernetes platform spec that
    mounts the serving volume; "vertex" writes the spec alone (Vertex AI's
    PipelineJob loads one YAML document), whose tasks push to a gs:// folder.

    ``extend`` adds components of your own, as ``create_pipeline``'s does; their
    code must be in ``image`` (``custom_image``). TFX's KubeflowV2DagRunner
    compiles the pipeline; its spec is then adjusted for the open-source backend.
    """
    if not output_path.endswith((".yaml", ".yml")):
        raise UserError(
            f"--output must end in .yaml or .yml (KFP reads only those), got {output_path}"
        )
    from kubetfx.pipelines.definition.code import user_functions

    own = [f.file for f in user_functions(loaded) if not f.generic]
    if own and not custom_image:
        raise UserError(
            f"the project runs its own code ({', '.join(own)}), which the stock image "
            f"{image} does not hold: build an image with it (see docs/user-code.md) and "
            "pass --image"
        )
    data = data or loaded.project.data
    check_data_root(data, "--data" if data != loaded.project.data else "the project's data")
    if target == "vertex":
        check_vertex(pipeline_root, data, custom_image)
        serving_dir = serving_dir or f"{pipeline_root.rstrip('/')}/serving"
    if hyperparameters and not hyperparameters.startswith(contract.OBJECT_STORE_SCHEMES):
        raise UserError(
            f"--hyperparameters {hyperparameters} is not in the object store: give the URI of a "
            "tuned run's best_hyperparameters artifact (kubetfx status RUN lists it)"
        )
    if hyperparameters and tune:
        raise UserError("--hyperparameters gives tuned values; --tune searches anew: pick one")
    if hyperparameters and loaded.project.model.algorithm == AUTO:
        raise UserError(
            "--hyperparameters gives one algorithm tuned values; the package chooses among "
            "candidates, which train with their own settings: pick one"
        )
    settings = RunSettings(
        push_destination=serving_dir or contract.SERVING_MOUNT,
        beam_args=tuple(beam_args),
        tune=tune,
        hyperparameters=hyperparameters,
        tracking_uri=tracking_server(loaded, track, pipeline),
        run_id=contract.KFP_RUN_ID,
    )
    if track_secret and not settings.tracking_uri:
        raise UserError("--track-secret gives the tracking server's credentials; add --track")
    if track_secret and target == "vertex":
        raise UserError("--track-secret needs Kubernetes Secrets, which Vertex AI has not")
    if on_dataflow(beam_args) and not pipeline_root.startswith("gs://"):
        raise UserError(
            f"--beam-runner dataflow: Dataflow's workers read and write the artifacts in Cloud "
            f"Storage; give a gs:// --pipeline-root, got {pipeline_root}"
        )
    service = job_service(beam_args)
    if target == "vertex" and service:
        raise UserError(
            "--target vertex runs the Beam steps in its own tasks or on Dataflow "
            "(--beam-runner dataflow), not through a job service"
        )
    serving = run_parameters.SERVING_DIR_GCS if target == "vertex" else run_parameters.SERVING_DIR
    serving.validate(settings.serving_dir, {}, f"--serving-dir {settings.serving_dir}")
    pipeline_spec = _compile_with_tfx(loaded, settings, image, pipeline_root, pipeline, extend)
    adjust_for_open_source_kfp(pipeline_spec, loaded, settings, data, image, target)
    parent = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(parent, exist_ok=True)
    with open(output_path, "w") as f:
        if target == "vertex":
            pipeline_spec["defaultPipelineRoot"] = pipeline_root
            f.write(f"# Vertex AI pipeline of the kubetfx project {loaded.project.name}.\n")
            yaml.safe_dump(pipeline_spec, f, sort_keys=False)
        else:
            f.write(
                f"# Kubeflow Pipelines package of the kubetfx project {loaded.project.name}, "
                f"{pipeline} pipeline.\n"
            )
            platform = platform_spec(
                pipeline_spec["root"]["dag"]["tasks"],
                track_secret,
                beam_work=beam_work(pipeline_spec, pipeline_root) if service else {},
            )
            yaml.safe_dump_all([pipeline_spec, platform], f, sort_keys=False)
    return pipeline_spec


def pipeline_name(loaded: ProjectFile, pipeline: str = "train") -> str:
    """The name a project's pipeline has in KFP (and in the emulator's records)."""
    from kubetfx.pipelines.definition.settings import PREDICT_SUFFIX

    if pipeline not in contract.PIPELINES:
        raise UserError(
            f"--pipeline must be one of {', '.join(contract.PIPELINES)}, got {pipeline}"
        )
    return loaded.project.name + (PREDICT_SUFFIX if pipeline == "predict" else "")


def _compile_with_tfx(
    loaded: ProjectFile,
    settings: RunSettings,
    image: str,
    pipeline_root: str,
    pipeline: str,
    extend: "Extend | None" = None,
) -> dict[str, Any]:
    from tfx.orchestration import pipeline as tfx_pipeline
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    from kubetfx.pipelines.definition.pipeline import create_components, extended
    from kubetfx.pipelines.definition.predict import create_predict_components

    name = pipeline_name(loaded, pipeline)
    if pipeline == "predict":
        components = create_predict_components(loaded, settings)
    else:
        components = create_components(loaded, settings, pin_pushed_version=False)
    definition = tfx_pipeline.Pipeline(
        pipeline_name=name,
        pipeline_root=pipeline_root,
        components=extended(components, extend),
        enable_cache=True,
        beam_pipeline_args=list(settings.beam_args),
    )
    with tempfile.TemporaryDirectory() as tmp:
        runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
            config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
                default_image=image,
                default_commands=list(contract.ENTRYPOINT),
                use_pipeline_spec_2_1=True,
            ),
            output_dir=tmp,
            output_filename="pipeline.yaml",
        )
        runner.run(definition)
        with open(os.path.join(tmp, "pipeline.yaml")) as f:
            return yaml.safe_load(f)


def check_data_root(data: str, given_as: str) -> None:
    """Refuses a data location that tasks on a cluster cannot read."""
    if data.startswith(contract.OBJECT_STORE_SCHEMES + (contract.PACKAGE_SCHEME,)):
        return
    raise UserError(
        f"{given_as} {data} is not where a cluster's tasks can read it: copy the CSV folder "
        "into the object store (kubernetes/scripts/upload-data.sh DIR NAME) and compile with "
        "--data minio://mlpipeline/datasets/NAME/, or name a package:// path in the image"
    )


def check_vertex(pipeline_root: str, data: str, custom_image: bool) -> None:
    """Refuses what a Vertex AI pipeline cannot use: roots, data and images it cannot reach."""
    if not pipeline_root.startswith("gs://"):
        raise UserError(
            f"--target vertex needs a gs:// --pipeline-root (Vertex AI stores artifacts in "
            f"Cloud Storage), got {pipeline_root}"
        )
    if data.startswith(contract.OBJECT_STORE_SCHEMES) and not data.startswith("gs://"):
        raise UserError(f"--target vertex reads data from gs:// folders, got --data {data}")
    if not custom_image:
        raise UserError(
            "--target vertex needs --image: the kubetfx image pushed to a registry Vertex AI "
            "pulls from, e.g. REGION-docker.pkg.dev/PROJECT/REPO/kubetfx@sha256:..."
        )


def adjust_for_open_source_kfp(
    pipeline_spec: dict[str, Any],
    loaded: ProjectFile,
    settings: RunSettings,
    data: str,
    image: str,
    target: str = "kfp",
) -> None:
    """Applies every open-source-backend adjustment to a TFX-compiled spec, in place."""
    pipeline_spec["schemaVersion"] = "2.1.0"
    pipeline_spec.setdefault("sdkVersion", "kubetfx")
    executors = pipeline_spec["deploymentSpec"]["executors"]
    for executor in executors.values():
        container = executor.get("container")
        if container is None:
            continue
        container.pop("lifecycle", None)
        container["args"] = _without_repeated_beam_args(container.get("args", []))
    for name, task in pipeline_spec["root"]["dag"]["tasks"].items():
        label = pipeline_spec["components"][task["componentRef"]["name"]]["executorLabel"]
        if "container" not in executors[label]:
            continue  # an importer runs in the driver
        resources = (
            contract.HEAVY_RESOURCES if name in contract.HEAVY_TASKS else contract.LIGHT_RESOURCES
        )
        executors[label]["container"]["resources"] = dict(resources)
    serving = run_parameters.SERVING_DIR_GCS if target == "vertex" else run_parameters.SERVING_DIR
    parameters = [run_parameters.DATA_ROOT, run_parameters.TRAIN_STEPS, serving]
    if data.startswith(contract.OBJECT_STORE_SCHEMES):
        _add_data_tasks(pipeline_spec, image)
        parameters[0] = run_parameters.DATA_ROOT_FROM_STORE
    # A parameter belongs to the pipelines with a task it sets (train_steps: the Trainer's).
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    parameters = [p for p in parameters if any(task in tasks for task, _ in p.bindings)]
    defaults = {
        run_parameters.DATA_ROOT.name: data,
        run_parameters.TRAIN_STEPS.name: loaded.project.training.train_steps,
        serving.name: settings.serving_dir,
    }
    _add_parameters(pipeline_spec, parameters, defaults)
    _add_visualization_outputs(pipeline_spec, contract.visualization_outputs(loaded.project))
    digest = code_digest()
    for executor in executors.values():
        if "container" in executor:
            executor["container"]["args"] += [contract.CODE_DIGEST_ARG, digest]
    # The model serving now can change between runs without any input changing:
    # LatestPushedModel must look every time.
    pipeline_spec["root"]["dag"]["tasks"]["LatestPushedModel"]["cachingOptions"] = {
        "enableCache": False
    }


def code_digest() -> str:
    """sha256 of the kubetfx task code (the ``kubetfx.components`` sources) and its version.

    The compiling environment and the image are built from the same code; a
    digest-pinned image (``--image name@sha256:...``) also covers TFX itself.
    """
    import kubetfx.components

    digest = hashlib.sha256(kubetfx.__version__.encode())
    folder = os.path.dirname(kubetfx.components.__file__)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, folder).encode() + b"\0")
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def _without_repeated_beam_args(args: list[str]) -> list[str]:
    """TFX appends the pipeline's Beam args twice, as one repeated block; keeps one copy."""
    named, beam, index = [], [], 0
    while index < len(args):
        if args[index].startswith("--json_serialized") or args[index] == "--executor_class_path":
            named.extend(args[index : index + 2])
            index += 2
        else:
            beam.append(args[index])
            index += 1
    half = len(beam) // 2
    if beam and len(beam) % 2 == 0 and beam[:half] == beam[half:]:
        beam = beam[:half]
    return named + beam


def _add_data_tasks(pipeline_spec: dict[str, Any], image: str) -> None:
    """The importer of data_root and the fingerprint task, feeding CsvExampleGen."""
    components = pipeline_spec["components"]
    executors = pipeline_spec["deploymentSpec"]["executors"]
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    data_type = dict(contract.DATA_TYPE)
    components[f"{contract.DATA_TASK}"] = {
        "executorLabel": f"{contract.DATA_TASK}_executor",
        "inputDefinitions": {"parameters": {"uri": {"parameterType": "STRING"}}},
        "outputDefinitions": {"artifacts": {contract.DATA_OUTPUT: {"artifactType": data_type}}},
    }
    # importer_launcher.go: the URI comes from the task's input parameter "uri";
    # the same URI is the same artifact on every run (reimport off).
    executors[f"{contract.DATA_TASK}_executor"] = {
        "importer": {
            "artifactUri": {"runtimeParameter": "uri"},
            "typeSchema": dict(data_type),
        }
    }
    tasks[contract.DATA_TASK] = {
        "taskInfo": {"name": contract.DATA_TASK},
        "componentRef": {"name": contract.DATA_TASK},
        "inputs": {
            "parameters": {"uri": {"componentInputParameter": run_parameters.DATA_ROOT.name}}
        },
    }
    components[contract.FINGERPRINT_TASK] = {
        "executorLabel": f"{contract.FINGERPRINT_TASK}_executor",
        "inputDefinitions": {"artifacts": {contract.DATA_INPUT: {"artifactType": data_type}}},
        "outputDefinitions": {
            "parameters": {contract.FINGERPRINT_OUTPUT: {"parameterType": "STRING"}}
        },
    }
    executors[f"{contract.FINGERPRINT_TASK}_executor"] = {
        "container": {
            "image": image,
            "command": list(contract.FINGERPRINT_COMMAND),
            "args": ["--executor_input", "{{$}}"],
            "resources": dict(contract.LIGHT_RESOURCES),
        }
    }
    data_artifact = {
        "taskOutputArtifact": {
            "producerTask": contract.DATA_TASK,
            "outputArtifactKey": contract.DATA_OUTPUT,
        }
    }
    # No cachingOptions: the fingerprint is taken again on every run.
    tasks[contract.FINGERPRINT_TASK] = {
        "taskInfo": {"name": contract.FINGERPRINT_TASK},
        "componentRef": {"name": contract.FINGERPRINT_TASK},
        "dependentTasks": [contract.DATA_TASK],
        "inputs": {"artifacts": {contract.DATA_INPUT: copy.deepcopy(data_artifact)}},
    }
    example_gen = tasks[contract.EXAMPLE_GEN_TASK]
    example_gen["dependentTasks"] = sorted(
        {*example_gen.get("dependentTasks", []), contract.DATA_TASK, contract.FINGERPRINT_TASK}
    )
    inputs = example_gen.setdefault("inputs", {})
    inputs.setdefault("artifacts", {})[contract.DATA_INPUT] = data_artifact
    inputs.setdefault("parameters", {})[contract.DATA_FINGERPRINT_INPUT] = {
        "taskOutputParameter": {
            "producerTask": contract.FINGERPRINT_TASK,
            "outputParameterKey": contract.FINGERPRINT_OUTPUT,
        }
    }
    component = components[example_gen["componentRef"]["name"]]
    definitions = component.setdefault("inputDefinitions", {})
    definitions.setdefault("artifacts", {})[contract.DATA_INPUT] = {"artifactType": data_type}
    definitions.setdefault("parameters", {})[contract.DATA_FINGERPRINT_INPUT] = {
        "parameterType": "STRING"
    }
    _update_inputs_spec_arg(pipeline_spec, component, contract.DATA_FINGERPRINT_INPUT, "STRING")


def _add_parameters(
    pipeline_spec: dict[str, Any],
    parameters: list[run_parameters.RunParameter],
    defaults: dict[str, Any],
) -> None:
    """The run's parameters in the root DAG, each fed to the task inputs it binds to."""
    root_inputs = pipeline_spec["root"].setdefault("inputDefinitions", {})
    root_parameters = root_inputs.setdefault("parameters", {})
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for parameter in parameters:
        name, parameter_type = parameter.name, parameter.parameter_type
        parameter.validate(defaults[name], pipeline_spec, f"default {name}={defaults[name]}")
        root_parameters[name] = {
            "parameterType": parameter_type,
            "defaultValue": defaults[name],
            "description": parameter.description,
            "isOptional": True,
        }
        for task_name, input_name in parameter.bindings:
            if task_name not in tasks:
                continue  # a task of the other pipeline
            task = tasks[task_name]
            task.setdefault("inputs", {}).setdefault("parameters", {})[input_name] = {
                "componentInputParameter": name
            }
            component = pipeline_spec["components"][task["componentRef"]["name"]]
            component_parameters = component.setdefault("inputDefinitions", {}).setdefault(
                "parameters", {}
            )
            component_parameters[input_name] = {"parameterType": parameter_type}
            if (
                "container"
                in pipeline_spec["deploymentSpec"]["executors"][component["executorLabel"]]
            ):
                _update_inputs_spec_arg(pipeline_spec, component, input_name, parameter_type)


def _update_inputs_spec_arg(
    pipeline_spec: dict[str, Any], component: dict[str, Any], name: str, parameter_type: str
) -> None:
    """Keeps the executor's --json_serialized_inputs_spec_args in step with its inputs."""
    executor = pipeline_spec["deploymentSpec"]["executors"][component["executorLabel"]]
    args = executor["container"]["args"]
    index = args.index("--json_serialized_inputs_spec_args") + 1
    inputs_spec = json.loads(args[index])
    inputs_spec.setdefault("parameters", {})[name] = {"parameterType": parameter_type}
    args[index] = json.dumps(inputs_spec, sort_keys=True)


def _add_visualization_outputs(
    pipeline_spec: dict[str, Any], views: dict[str, dict[str, str]]
) -> None:
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for task_name, outputs in views.items():
        if task_name not in tasks:
            continue
        component = pipeline_spec["components"][tasks[task_name]["componentRef"]["name"]]
        artifacts = component.setdefault("outputDefinitions", {}).setdefault("artifacts", {})
        for output_name, schema_title in outputs.items():
            artifacts[output_name] = {
                "artifactType": {"schemaTitle": schema_title, "schemaVersion": "0.0.1"}
            }


def beam_work(pipeline_spec: dict[str, Any], pipeline_root: str) -> dict[str, Any]:
    """The Beam tasks of a package that sends its Beam work to a job service, with where
    the work volume goes; {} when it has no Beam task."""
    executors = pipeline_spec["deploymentSpec"]["executors"]
    tasks = []
    for task in pipeline_spec["root"]["dag"]["tasks"]:
        args = executors.get(f"{task}_executor", {}).get("container", {}).get("args", [])
        if _runs_beam(args):
            tasks.append(task)
    if not tasks:
        return {}
    staged = local_path_for_uri(pipeline_root, root="/")
    if staged == pipeline_root:
        raise UserError(
            f"--pipeline-root {pipeline_root}: a job service's workers share the tasks' "
            "artifacts through the object store's staging folder; give a minio://, s3:// or "
            "gs:// root"
        )
    mount_path = "/" + staged.strip("/").split("/")[0]
    return {"tasks": tasks, "mountPath": mount_path}


def _runs_beam(args: list[str]) -> bool:
    """Whether a task's executor (``--executor_class_path``) runs a Beam pipeline."""
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.utils import import_utils

    if "--executor_class_path" not in args:
        return False
    path = args[args.index("--executor_class_path") + 1]
    return issubclass(import_utils.import_class_by_path(path), BaseBeamExecutor)


def platform_spec(
    tasks: dict[str, Any], track_secret: str | None = None, beam_work: dict | None = None
) -> dict[str, Any]:
    """The Kubernetes platform spec: the serving PVC in those of ``tasks`` that use it.

    With ``track_secret``, the Tracker gets the MLflow credentials in that Secret;
    with ``beam_work`` (``beam_work()``), its tasks mount the Beam work volume.
    """
    mount = {"constant": contract.SERVING_PVC, "mountPath": contract.SERVING_MOUNT}
    executors: dict[str, Any] = {
        f"{task}_executor": {"pvcMount": [copy.deepcopy(mount)]}
        for task in contract.SERVING_TASKS
        if task in tasks
    }
    for task in (beam_work or {}).get("tasks", []):
        work = {"constant": contract.BEAM_WORK_PVC, "mountPath": beam_work["mountPath"]}
        executors.setdefault(f"{task}_executor", {}).setdefault("pvcMount", []).append(work)
    if track_secret and contract.TRACKER_NODE in tasks:
        keys = [{"secretKey": k, "envVar": k} for k in contract.MLFLOW_CREDENTIAL_KEYS]
        executors[f"{contract.TRACKER_NODE}_executor"] = {
            "secretAsEnv": [{"secretName": track_secret, "keyToEnv": keys}]
        }
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}


def tracking_server(loaded: ProjectFile, track: str | None, pipeline: str) -> str | None:
    """The MLflow server a compiled train pipeline logs to, or None when it is not tracked.

    ``track`` is the option's value ("" when given without a URI); without the
    option, a project whose tracking.uri is a server is tracked there.
    """
    section = loaded.project.tracking
    own = section.uri if section and section.uri else ""
    server = own.startswith(("http://", "https://"))
    if track is None and not server:
        return None
    if pipeline != "train":
        if track is None:
            return None
        raise UserError("--track applies to the train pipeline, which trains what is tracked")
    uri = track or (own if server else contract.MLFLOW_SERVICE_URI)
    if not uri.startswith(("http://", "https://")):
        raise UserError(
            f"--track {uri}: tasks on a cluster log to an MLflow server; give its http(s):// "
            f"address, e.g. {contract.MLFLOW_SERVICE_URI} (kubernetes/mlflow)"
        )
    return uri
