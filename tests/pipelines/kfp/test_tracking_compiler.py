"""Tracking in the compiled pipeline: the Tracker's task, its inputs and credentials."""

import json

import pytest
import yaml

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.compiler import compile_pipeline
from tests.conftest import TAXI, TAXI_DATA_URI


def _compiled(tmp_path, **options):
    path = tmp_path / "tracked.yaml"
    compile_pipeline(TAXI, str(path), data=TAXI_DATA_URI, **options)
    with open(path) as f:
        documents = list(yaml.safe_load_all(f))
    kfp_package.check_spec(documents[0], documents[1])
    return documents


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracked")
    return _compiled(folder, track="", track_secret="kubetfx-mlflow-credentials")


def _parameters(spec):
    return spec["root"]["dag"]["tasks"][contract.TRACKER_NODE]["inputs"]["parameters"]


def test_the_tracker_runs_last_and_logs_to_the_cluster_server_by_default(tracked):
    spec, _ = tracked
    tasks = spec["root"]["dag"]["tasks"]
    tracker = tasks[contract.TRACKER_NODE]
    assert {"Pusher", "Evaluator", "Trainer"} <= set(tracker["dependentTasks"])
    artifacts = tracker["inputs"]["artifacts"]
    assert artifacts["pushed_model"]["taskOutputArtifact"]["producerTask"] == "Pusher"
    assert artifacts["model"]["taskOutputArtifact"]["producerTask"] == "Trainer"
    parameters = _parameters(spec)
    assert parameters["tracking_uri"]["runtimeValue"]["constant"] == contract.MLFLOW_SERVICE_URI
    assert parameters["experiment"]["runtimeValue"]["constant"] == TAXI.project.name
    settings = json.loads(parameters["settings"]["runtimeValue"]["constant"])
    assert settings["label"] == TAXI.project.label.column


def test_each_run_is_logged_under_its_kfp_run_id_with_its_run_parameters(tracked):
    spec, _ = tracked
    parameters = _parameters(spec)
    # The backend's driver replaces this whole constant with the run's id
    # (resolve.go), so the task's cache key is new on every run.
    assert parameters["run_id"]["runtimeValue"]["constant"] == "{{$.pipeline_job_uuid}}"
    assert parameters["data"] == {"componentInputParameter": "data_root"}
    assert parameters["train_steps"] == {"componentInputParameter": "train_steps"}
    args = spec["deploymentSpec"]["executors"]["Tracker_executor"]["container"]["args"]
    inputs_spec = json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])
    assert inputs_spec["parameters"]["train_steps"] == {"parameterType": "NUMBER_INTEGER"}
    assert inputs_spec["parameters"]["data"] == {"parameterType": "STRING"}
    assert spec["deploymentSpec"]["executors"]["Tracker_executor"]["container"]["resources"] == (
        contract.LIGHT_RESOURCES
    )


def test_the_credentials_come_from_the_secret_as_environment_variables(tracked):
    _, platform = tracked
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["Tracker_executor"] == {
        "secretAsEnv": [
            {
                "secretName": "kubetfx-mlflow-credentials",
                "keyToEnv": [
                    {"secretKey": "MLFLOW_TRACKING_USERNAME", "envVar": "MLFLOW_TRACKING_USERNAME"},
                    {"secretKey": "MLFLOW_TRACKING_PASSWORD", "envVar": "MLFLOW_TRACKING_PASSWORD"},
                ],
            }
        ]
    }
    assert "pvcMount" in executors["Pusher_executor"]


def test_without_track_there_is_no_tracker(tmp_path):
    spec, platform = _compiled(tmp_path)
    assert contract.TRACKER_NODE not in spec["root"]["dag"]["tasks"]
    assert (
        "Tracker_executor" not in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    )


def test_a_project_tracking_to_a_server_is_tracked_there(tmp_path):
    loaded = TAXI.with_overrides({"tracking": {"uri": "https://mlflow.example.com"}})
    path = tmp_path / "p.yaml"
    spec = compile_pipeline(loaded, str(path), data=TAXI_DATA_URI)
    assert _parameters(spec)["tracking_uri"]["runtimeValue"]["constant"] == (
        "https://mlflow.example.com"
    )
    # A local store is this machine's: the compiled pipeline is not tracked there.
    local = TAXI.with_overrides({"tracking": {"uri": "sqlite:///tmp/mlflow.db"}})
    spec = compile_pipeline(local, str(path), data=TAXI_DATA_URI)
    assert contract.TRACKER_NODE not in spec["root"]["dag"]["tasks"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"track": "sqlite:///tmp/mlflow.db"}, "tasks on a cluster log to an MLflow server"),
        ({"track": "", "pipeline": "predict"}, "--track applies to the train pipeline"),
        ({"track_secret": "creds"}, "--track-secret gives the tracking server's credentials"),
    ],
)
def test_tracking_a_cluster_cannot_do_is_refused(tmp_path, options, message):
    with pytest.raises(UserError, match=message):
        compile_pipeline(TAXI, str(tmp_path / "p.yaml"), data=TAXI_DATA_URI, **options)
