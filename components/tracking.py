"""Tracker: logs a pipeline run to MLflow, the last task of a tracked run.

What a run trained is one MLflow run: the parameters it trained with (train
steps, the model's hyperparameters, tuned or not, the data location and a
digest of the schema), the Evaluator's overall metrics and blessing, and the
pushed model as an MLflow model of the TensorFlow flavor. The MLflow run is
keyed by the Trainer's model artifact, so a cached re-run, which trains
nothing new, updates the MLflow run of the model it reuses (its latest
kubetfx run id, blessing and serving version) rather than adding a duplicate.

Tracking never fails the pipeline: when MLflow cannot be reached or refuses
the run, the task succeeds, and its output artifact carries a one-line note
that the runners print at the end.

The model is logged as the SavedModel the Pusher published, byte for byte,
with MLflow's own model metadata (``Model.log`` with a flavor that copies the
folder): ``mlflow.tensorflow.log_model`` would load it into TensorFlow and
save it again, which takes time and need not give back the same files.
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from kubetfx.components import extras
from kubetfx.components.kfp_contract import TRACKED_RUN, TRACKER_NODE  # noqa: F401
from kubetfx.components.kfp_contract import TRACKING_NOTE as NOTE

# Properties of the output besides the note.
TRACKED = "tracked"  # 1 when MLflow holds the run
MLFLOW_RUN_ID = "mlflow_run_id"
TRACKING_URI = "tracking_uri"

# Tags on the MLflow run: the model it is keyed by, the kubetfx run that
# first tracked it (the one that trained it, unless tracking began later) and
# the latest that used it.
MODEL_KEY_TAG = "kubetfx.model_key"
MODEL_URI_TAG = "kubetfx.model_uri"
RUN_ID_TAG = "kubetfx.run_id"
LAST_RUN_ID_TAG = "kubetfx.last_run_id"
PROJECT_TAG = "kubetfx.project"
BLESSED_TAG = "kubetfx.blessed"
SERVING_VERSION_TAG = "kubetfx.serving_version"
MODEL_LOGGED_TAG = "kubetfx.model_logged"
MODEL_NAME = "model"  # the logged model's name in the MLflow run

# A tracking server that does not answer within this many seconds is down.
REACHABLE_TIMEOUT_S = 10
# MLflow's HTTP client retries seven times with backoff by default (minutes
# against a server that is down); a run waits for two retries at most.
_HTTP_ENVIRONMENT = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}


class TrackedRun(types.Artifact):
    """Where a run was tracked in MLflow, or why it was not (custom properties)."""

    TYPE_NAME = "kubetfx.TrackedRun"


def model_key(model_uri: str) -> str:
    """The tag value that identifies a Trainer's model among MLflow runs."""
    return hashlib.sha256(model_uri.encode()).hexdigest()[:24]


def metric_key(name: str) -> str:
    """A metric's name as MLflow accepts it: ``precision (setosa)`` -> ``precision setosa``."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\-. /]", " ", name)).strip()


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with fileio.open(path, "rb") as f:
        digest.update(f.read())
    return digest.hexdigest()[:16]


def trained_values(settings: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """The algorithm, its settings and (a network's) train steps the Trainer trained with.

    The tuned values take the place of the project's.
    """
    from kubetfx.components.model import hidden_units_text, with_hyperparameters
    from kubetfx.components.project import Network, model_settings

    model, steps = with_hyperparameters(
        tuned, model_settings(settings["model"]), int(settings["train_steps"])
    )
    values: dict[str, Any] = model.model_dump()
    if "hidden_units" in values:
        values["hidden_units"] = hidden_units_text(values["hidden_units"])
    if isinstance(model, Network):
        values["train_steps"] = steps
    return values


def choice_params(choice) -> dict[str, Any]:
    """What MLflow logs of an ``algorithm: auto`` run's choice: each candidate's score."""
    params: dict[str, Any] = {
        "chosen_from": ",".join(c.algorithm for c in choice.candidates),
        "choice_reason": choice.reason,
    }
    for candidate in choice.candidates:
        params[f"candidate.{candidate.algorithm}.{choice.metric}"] = round(candidate.value, 6)
    return params


def collect(input_dict: dict[str, list[types.Artifact]], settings: dict[str, Any]) -> dict:
    """What to log of a run: params, metrics, tags and the folder of the pushed model, if any."""
    from kubetfx.components.batch_predictions import model_dir
    from kubetfx.components.candidates import read_choice
    from kubetfx.components.pusher import SERVING_VERSION_KEY
    from kubetfx.components.visualizations import model_class_names, overall_metrics, tuned_values

    model = artifact_utils.get_single_instance(input_dict["model"])
    tuned = {}
    if input_dict.get("hyperparameters"):
        tuned = tuned_values(artifact_utils.get_single_instance(input_dict["hyperparameters"]).uri)
    schema = artifact_utils.get_single_instance(input_dict["schema"])
    choice = read_choice(model)
    if choice is not None:  # algorithm: auto; the chosen candidate is the model
        settings = {**settings, "model": choice.chosen.settings}
    params = {
        **trained_values(settings, tuned),
        **(choice_params(choice) if choice else {}),
        "eval_steps": settings["eval_steps"],
        "batch_size": settings["batch_size"],
        "tuned": bool(tuned),
        "data": settings["data"],
        "label": settings["label"],
        "task": settings["task"],
        "schema_digest": file_digest(os.path.join(schema.uri, "schema.pbtxt")),
    }
    blessing = artifact_utils.get_single_instance(input_dict["blessing"])
    blessed = bool(blessing.get_int_custom_property("blessed"))
    metrics: dict[str, float] = {}
    if input_dict.get("evaluation"):
        evaluation = artifact_utils.get_single_instance(input_dict["evaluation"])
        names = model_class_names(model.uri) if settings["task"] == "multiclass" else []
        metrics = {metric_key(k): v for k, v in overall_metrics(evaluation.uri, names).items()}
    pushed = artifact_utils.get_single_instance(input_dict["pushed_model"])
    tags = {
        MODEL_KEY_TAG: model_key(model.uri),
        MODEL_URI_TAG: model.uri,
        PROJECT_TAG: settings["project"],
        BLESSED_TAG: str(blessed).lower(),
    }
    serving_version = ""
    if pushed.has_custom_property("pushed") and pushed.get_int_custom_property("pushed"):
        serving_version = os.path.basename(
            pushed.get_string_custom_property("pushed_destination").rstrip("/")
        )
    elif pushed.has_custom_property(SERVING_VERSION_KEY):
        serving_version = pushed.get_string_custom_property(SERVING_VERSION_KEY)
    if serving_version:
        tags[SERVING_VERSION_TAG] = serving_version
    return {
        "params": params,
        "metrics": metrics,
        "tags": tags,
        # Logged once per MLflow run: the model serves, so it is the pushed one.
        "model_dir": model_dir(model) if serving_version else None,
    }


def check_reachable(uri: str) -> None:
    """Raises ConnectionError when an HTTP tracking server does not answer at all."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=REACHABLE_TIMEOUT_S):
            pass
    except urllib.error.HTTPError:
        pass  # it answered; the calls that follow say what it refuses
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(f"MLflow at {uri} is unreachable ({reason})") from None


@contextlib.contextmanager
def _environment(values: dict[str, str], override: bool = True) -> Iterator[None]:
    """Environment variables set for the duration of a block (kept if set and not ``override``)."""
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if override or name not in os.environ:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _mlflow_at(uri: str) -> Iterator[None]:
    """MLflow's global tracking URI and HTTP settings for the duration of a block."""
    import mlflow

    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(uri)
    try:
        with _environment(_HTTP_ENVIRONMENT, override=False):  # a user's own settings win
            yield
    finally:
        mlflow.set_tracking_uri(previous)


class _SavedModelFlavor:
    """The ``flavor`` MLflow's ``Model.log`` saves with: the SavedModel folder as it is."""

    __name__ = "tensorflow"

    @staticmethod
    def save_model(path: str, mlflow_model, saved_model_dir: str) -> None:
        import tensorflow as tf
        import yaml
        from mlflow import pyfunc
        from mlflow.models.model import MLMODEL_FILE_NAME
        from mlflow.utils.environment import _mlflow_conda_env, _PythonEnv

        os.makedirs(path)
        shutil.copytree(saved_model_dir, os.path.join(path, "tf2model"))
        mlflow_model.add_flavor(
            "tensorflow", saved_model_dir="tf2model", model_type="tf2-module", code=None
        )
        pyfunc.add_to_model(
            mlflow_model,
            loader_module="mlflow.tensorflow",
            conda_env="conda.yaml",
            python_env="python_env.yaml",
        )
        # The module the model was saved with (the image has tensorflow-cpu's build of it).
        requirements = [f"tensorflow=={tf.__version__}"]
        with open(os.path.join(path, "requirements.txt"), "w") as f:
            f.write("\n".join(requirements) + "\n")
        _PythonEnv.current().to_yaml(os.path.join(path, "python_env.yaml"))
        with open(os.path.join(path, "conda.yaml"), "w") as f:
            yaml.safe_dump(_mlflow_conda_env(additional_pip_deps=requirements), f)
        mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))


def log_run(
    record: dict,
    uri: str,
    experiment: str,
    run_id: str,
    artifact_location: str | None = None,
) -> tuple[str, str]:
    """Creates or updates the MLflow run of ``record``'s model; ``(MLflow run id, experiment id)``.

    ``artifact_location``, for a new experiment in a database store, is where
    its artifacts go (a server chooses its own otherwise).
    """
    if problem := extras.missing_mlflow(uri):
        raise ModuleNotFoundError(problem)
    check_reachable(uri)
    with _mlflow_at(uri):
        import mlflow

        client = mlflow.MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            experiment_id = client.create_experiment(experiment, artifact_location)
        else:
            experiment_id = found.experiment_id
        key = record["tags"][MODEL_KEY_TAG]
        existing = client.search_runs(
            [experiment_id], filter_string=f"tags.`{MODEL_KEY_TAG}` = '{key}'", max_results=1
        )
        if existing:
            mlflow_run = existing[0]
            client.update_run(mlflow_run.info.run_id, status="RUNNING")
        else:
            mlflow_run = client.create_run(
                experiment_id, run_name=run_id, tags={RUN_ID_TAG: run_id}
            )
        mlflow_run_id = mlflow_run.info.run_id
        try:
            _update(client, mlflow_run, record, run_id)
        except BaseException:
            with contextlib.suppress(Exception):
                client.set_terminated(mlflow_run_id, "FAILED")
            raise
        client.set_terminated(mlflow_run_id, "FINISHED")
        return mlflow_run_id, experiment_id


def _update(client, mlflow_run, record: dict, run_id: str) -> None:
    """Logs ``record``: params once, metrics and tags each time, the model once."""
    import time

    from mlflow.entities import Metric, Param, RunTag
    from mlflow.models import Model

    mlflow_run_id = mlflow_run.info.run_id
    logged = mlflow_run.data.params
    # Params cannot change once logged; a model keeps the ones it was trained with.
    params = [Param(k, _text(v)) for k, v in record["params"].items() if k not in logged]
    tags = [RunTag(k, v) for k, v in {**record["tags"], LAST_RUN_ID_TAG: run_id}.items()]
    now = int(time.time() * 1000)
    metrics = [Metric(k, v, now, 0) for k, v in record["metrics"].items()]
    client.log_batch(mlflow_run_id, metrics=metrics, params=params, tags=tags)
    if record["model_dir"] and MODEL_LOGGED_TAG not in mlflow_run.data.tags:
        # Model.log files the model under the active experiment, not its run's.
        with _environment({"MLFLOW_EXPERIMENT_ID": mlflow_run.info.experiment_id}):
            Model.log(
                artifact_path=None,
                name=MODEL_NAME,
                flavor=_SavedModelFlavor,
                run_id=mlflow_run_id,
                saved_model_dir=record["model_dir"],
            )
        client.set_tag(mlflow_run_id, MODEL_LOGGED_TAG, "true")


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def one_line(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return first if len(first) <= 300 else first[:297] + "..."


class Executor(base_executor.BaseExecutor):
    """Logs the run; records on ``tracked_run`` what happened, never raising."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        record_artifact = artifact_utils.get_single_instance(output_dict[TRACKED_RUN])
        uri = exec_properties["tracking_uri"]
        experiment = exec_properties["experiment"]
        record_artifact.set_string_custom_property(TRACKING_URI, uri)
        try:
            settings = {
                **json.loads(exec_properties["settings"]),
                "data": exec_properties["data"],
                "train_steps": exec_properties["train_steps"],
            }
            record = collect(input_dict, settings)
            mlflow_run_id, experiment_id = log_run(
                record,
                uri,
                experiment,
                exec_properties["run_id"],
                exec_properties.get("artifact_location") or None,
            )
        except Exception as error:  # noqa: BLE001 - tracking never fails the run
            logging.exception("Tracking in MLflow failed.")
            note = f"run not tracked in MLflow: {one_line(error)}"
            record_artifact.set_int_custom_property(TRACKED, 0)
        else:
            note = f"tracked in MLflow at {uri}: experiment {experiment}, run {mlflow_run_id}"
            record_artifact.set_int_custom_property(TRACKED, 1)
            record_artifact.set_string_custom_property(MLFLOW_RUN_ID, mlflow_run_id)
            record_artifact.set_string_custom_property("experiment_id", experiment_id)
        record_artifact.set_string_custom_property(NOTE, note)
        print(f"Tracker: {note}", flush=True)


class TrackerSpec(types.ComponentSpec):
    PARAMETERS = {
        "tracking_uri": ExecutionParameter(type=str),
        "experiment": ExecutionParameter(type=str),
        # Where a new experiment keeps its artifacts, for a database store.
        "artifact_location": ExecutionParameter(type=str, optional=True),
        # The kubetfx run id: a new one each run, so the task is never cached.
        "run_id": ExecutionParameter(type=str),
        # Run parameters on Kubeflow, hence apart from the other settings.
        "data": ExecutionParameter(type=str),
        "train_steps": ExecutionParameter(type=int),
        # JSON: project, label, task, model, eval_steps, batch_size.
        "settings": ExecutionParameter(type=str),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        "pushed_model": ChannelParameter(type=standard_artifacts.PushedModel),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
        "hyperparameters": ChannelParameter(type=standard_artifacts.HyperParameters, optional=True),
    }
    OUTPUTS = {TRACKED_RUN: ChannelParameter(type=TrackedRun)}


class Tracker(base_component.BaseComponent):
    """Logs what a run trained to MLflow; see the module's docstring."""

    SPEC_CLASS = TrackerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        model: types.BaseChannel,
        evaluation: types.BaseChannel,
        blessing: types.BaseChannel,
        pushed_model: types.BaseChannel,
        schema: types.BaseChannel,
        hyperparameters: types.BaseChannel | None,
        tracking_uri: str,
        experiment: str,
        run_id: str,
        data: str,
        train_steps: int,
        settings: dict[str, Any],
        artifact_location: str | None = None,
    ):
        super().__init__(
            spec=TrackerSpec(
                model=model,
                evaluation=evaluation,
                blessing=blessing,
                pushed_model=pushed_model,
                schema=schema,
                hyperparameters=hyperparameters,
                tracking_uri=tracking_uri,
                experiment=experiment,
                artifact_location=artifact_location,
                run_id=run_id,
                data=data,
                train_steps=train_steps,
                settings=json.dumps(settings, sort_keys=True),
                tracked_run=types.Channel(type=TrackedRun),
            )
        )
