"""The Tracker's executor against a real MLflow store (SQLite in a temp folder)."""

import json
import os

import mlflow
import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from kubetfx.components import tracking

SETTINGS = {
    "project": "churn",
    "label": "churned",
    "task": "binary",
    "model": {"hidden_units": [8, 4], "learning_rate": 0.001, "dropout": 0.0},
    "eval_steps": 10,
    "batch_size": 32,
}


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": 2.0 * x}


@pytest.fixture
def artifacts(tmp_path):
    """A trained and pushed model (a real SavedModel), its blessing and schema."""
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "Trainer" / "model" / "7")
    module = _Doubler()
    tf.saved_model.save(
        module,
        path_utils.serving_model_dir(model.uri),
        signatures={"serving_default": module.serve},
    )
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", 1)
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / "pushed")
    pushed.set_int_custom_property("pushed", 1)
    pushed.set_string_custom_property("pushed_destination", str(tmp_path / "serving" / "1700"))
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    os.makedirs(schema.uri)
    with open(os.path.join(schema.uri, "schema.pbtxt"), "w") as f:
        f.write('feature { name: "age" type: INT }\n')
    return {"model": [model], "blessing": [blessing], "pushed_model": [pushed], "schema": [schema]}


def _track(tmp_path, inputs, run_id, uri=None, **extra):
    record = tracking.TrackedRun()
    record.uri = str(tmp_path / f"tracked-{run_id}")
    uri = uri or f"sqlite:///{tmp_path / 'mlflow.db'}"
    properties = {
        "tracking_uri": uri,
        "experiment": "churn",
        "artifact_location": str(tmp_path / "mlflow-artifacts"),
        "run_id": run_id,
        "data": "/data/churn",
        "train_steps": 300,
        "settings": json.dumps(SETTINGS),
        **extra,
    }
    tracking.Executor().Do(inputs, {tracking.TRACKED_RUN: [record]}, properties)
    return record


def _runs(tmp_path):
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("churn")
    return client, experiment, client.search_runs([experiment.experiment_id])


def test_a_model_is_one_mlflow_run_that_later_runs_update(tmp_path, artifacts):
    first = _track(tmp_path, artifacts, "2026-11-30T10:00:00")
    again = _track(tmp_path, artifacts, "2026-11-30T11:00:00")

    client, experiment, runs = _runs(tmp_path)
    (run,) = runs  # the second kubetfx run reused the model: no duplicate
    assert first.get_int_custom_property(tracking.TRACKED) == 1
    assert again.get_string_custom_property(tracking.MLFLOW_RUN_ID) == run.info.run_id
    assert again.get_string_custom_property(tracking.NOTE) == (
        f"tracked in MLflow at sqlite:///{tmp_path / 'mlflow.db'}: experiment churn, "
        f"run {run.info.run_id}"
    )
    assert run.info.status == "FINISHED" and run.info.run_name == "2026-11-30T10:00:00"
    assert run.data.params == {
        "algorithm": "wide_and_deep",  # the algorithm and its own settings
        "train_steps": "300",
        "learning_rate": "0.001",
        "hidden_units": "8,4",
        "dropout": "0.0",
        "eval_steps": "10",
        "batch_size": "32",
        "tuned": "false",
        "data": "/data/churn",
        "label": "churned",
        "task": "binary",
        "schema_digest": tracking.file_digest(
            os.path.join(artifacts["schema"][0].uri, "schema.pbtxt")
        ),
    }
    tags = run.data.tags
    assert tags[tracking.RUN_ID_TAG] == "2026-11-30T10:00:00"
    assert tags[tracking.LAST_RUN_ID_TAG] == "2026-11-30T11:00:00"
    assert tags[tracking.BLESSED_TAG] == "true" and tags[tracking.SERVING_VERSION_TAG] == "1700"
    assert tags[tracking.MODEL_URI_TAG] == artifacts["model"][0].uri

    # The pushed model, logged once, in the experiment's artifact folder, as MLflow's
    # TensorFlow flavor loads it: the same SavedModel, answering as the original.
    (logged,) = client.search_logged_models([experiment.experiment_id])
    assert logged.source_run_id == run.info.run_id and str(logged.status) == "READY"
    assert logged.artifact_location.startswith(str(tmp_path / "mlflow-artifacts"))
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        loaded = mlflow.tensorflow.load_model(f"models:/{logged.model_id}")
    finally:
        mlflow.set_tracking_uri(None)
    answer = loaded.signatures["serving_default"](x=tf.constant([1.5, -2.0]))
    np.testing.assert_allclose(answer["y"].numpy(), [3.0, -4.0])
    assert not os.path.exists("mlruns")  # nothing written where the process happens to be


def test_tuned_values_are_the_logged_hyperparameters(tmp_path, artifacts):
    tuned = standard_artifacts.HyperParameters()
    tuned.uri = str(tmp_path / "best")
    os.makedirs(tuned.uri)
    with open(os.path.join(tuned.uri, "best_hyperparameters.txt"), "w") as f:
        json.dump({"values": {"learning_rate": 0.005, "train_steps": 50, "dropout": 0.1}}, f)

    _track(tmp_path, {**artifacts, "hyperparameters": [tuned]}, "2026-11-30T10:00:00")

    _, _, (run,) = _runs(tmp_path)
    params = run.data.params
    assert (params["learning_rate"], params["train_steps"], params["dropout"]) == (
        "0.005",
        "50",
        "0.1",
    )
    assert params["tuned"] == "true" and params["hidden_units"] == "8,4"


def test_an_unpushed_model_is_tracked_without_a_model(tmp_path, artifacts):
    artifacts["blessing"][0].set_int_custom_property("blessed", 0)
    artifacts["pushed_model"][0].set_int_custom_property("pushed", 0)

    _track(tmp_path, artifacts, "2026-11-30T10:00:00")

    client, experiment, (run,) = _runs(tmp_path)
    assert run.data.tags[tracking.BLESSED_TAG] == "false"
    assert tracking.SERVING_VERSION_TAG not in run.data.tags
    assert client.search_logged_models([experiment.experiment_id]) == []


def test_an_unreachable_server_is_a_note_and_not_a_failure(tmp_path, artifacts):
    record = _track(tmp_path, artifacts, "2026-11-30T10:00:00", uri="http://127.0.0.1:9")

    assert record.get_int_custom_property(tracking.TRACKED) == 0
    note = record.get_string_custom_property(tracking.NOTE)
    assert note.startswith(
        "run not tracked in MLflow: MLflow at http://127.0.0.1:9 is unreachable ("
    )
    assert "\n" not in note


def test_inputs_it_cannot_read_are_a_note_and_not_a_failure(tmp_path, artifacts):
    os.remove(os.path.join(artifacts["schema"][0].uri, "schema.pbtxt"))

    record = _track(tmp_path, artifacts, "2026-11-30T10:00:00")

    assert record.get_int_custom_property(tracking.TRACKED) == 0
    assert record.get_string_custom_property(tracking.NOTE).startswith("run not tracked in MLflow")


def test_metric_names_are_made_ones_mlflow_accepts():
    assert tracking.metric_key("precision (setosa)") == "precision setosa"
    assert tracking.metric_key("auc_change_vs_baseline") == "auc_change_vs_baseline"
    assert tracking.metric_key("recall (Red, dry)") == "recall Red dry"


def test_a_forest_logs_its_algorithm_and_its_own_settings_and_no_train_steps():
    settings = {"model": {"algorithm": "gradient_boosted_trees", "num_trees": 40}, "train_steps": 9}
    assert tracking.trained_values(settings, {"learning_rate": 0.1}) == {
        "algorithm": "gradient_boosted_trees",
        "num_trees": 40,
        "max_depth": 6,
        "shrinkage": 0.1,
        "min_examples": 5,
    }


def test_a_chosen_model_logs_the_chosen_algorithm_and_every_candidates_score(artifacts):
    from kubetfx.components.candidates import CHOICE_PROPERTY, Candidate, rank

    trees = {"algorithm": "gradient_boosted_trees", "num_trees": 40}
    choice = rank(
        [
            Candidate("linear", 0.71, 300, 2.0, 100, {"algorithm": "linear"}),
            Candidate("gradient_boosted_trees", 0.83, 300, 4.0, 200, trees),
        ],
        "binary_accuracy",
        True,
        "wide_and_deep",
    )
    (model,) = artifacts["model"]
    model.set_string_custom_property(CHOICE_PROPERTY, choice.to_json())
    auto = {**SETTINGS, "model": {"algorithm": "auto"}, "data": "/d", "train_steps": 9}
    params = tracking.collect(artifacts, auto)["params"]
    assert params["algorithm"] == "gradient_boosted_trees" and params["num_trees"] == 40
    assert "train_steps" not in params  # a forest's
    assert params["chosen_from"] == "gradient_boosted_trees,linear"
    assert params["candidate.linear.binary_accuracy"] == 0.71
    assert params["candidate.gradient_boosted_trees.binary_accuracy"] == 0.83
    assert params["choice_reason"] == choice.reason
