"""The project model: defaults, bounds and the rules between settings."""

import pytest
from pydantic import ValidationError

from kubetfx.components.project import (
    TASK_METRICS,
    Preparation,
    Project,
    ProjectError,
    Threshold,
    Vocabulary,
)


def _project(**changes):
    data = {
        "name": "flowers",
        "data": "data",
        "schema": "schema.pbtxt",
        "label": {"column": "species", "task": "multiclass", "classes": ["a", "b"]},
        "features": {"petal": "standardize"},
        "evaluation": {"gate": {"metric": "sparse_categorical_accuracy", "threshold": 0.5}},
    }
    data.update(changes)
    return Project.model_validate(data)


def test_defaults_fill_what_a_project_leaves_out():
    project = _project()
    assert project.model.hidden_units == [100, 70, 50, 25]
    assert project.model.learning_rate == 0.001
    assert (project.training.train_steps, project.training.eval_steps) == (1000, 100)
    assert project.training.batch_size == 64
    assert project.evaluation.slices == []
    assert project.evaluation.gate.no_worse_than_serving is True
    assert project.code.preprocessing_fn is None


def test_a_feature_may_be_written_as_its_transform_alone():
    project = _project(features={"petal": "vocabulary", "leaf": {"transform": "bucketize"}})
    assert project.features["petal"] == Vocabulary(transform="vocabulary")
    assert project.features["leaf"].buckets == 10


@pytest.mark.parametrize(
    "changes, loc",
    [
        ({"features": {"species": "standardize"}}, ("features", "species")),
        ({"ignore": ["petal"]}, ("ignore", 0)),
        ({"label": {"column": "species", "task": "binary"}}, ("label", "task")),
        ({"label": {"column": "species", "task": "multiclass"}}, ("label", "task")),
        (
            {"label": {"column": "y", "task": "regression", "positive": 1}},
            ("label", "positive"),
        ),
        (
            {"label": {"column": "y", "task": "multiclass", "classes": ["a", "b", "a"]}},
            ("label", "classes"),
        ),
        (
            {"evaluation": {"gate": {"metric": "auc", "threshold": 0.5}}},
            ("evaluation", "gate", "metric"),
        ),
        (
            {"evaluation": {"gate": {"metric": "sparse_categorical_accuracy", "threshold": 2}}},
            ("evaluation", "gate", "threshold"),
        ),
    ],
)
def test_settings_that_contradict_each_other_name_the_one_at_fault(changes, loc):
    with pytest.raises(ProjectError) as raised:
        _project(**changes)
    assert raised.value.loc == loc


@pytest.mark.parametrize(
    "changes",
    [
        {"lable": {}},
        {"name": "Not A Name"},
        {"features": {}},
        {"features": {"petal": "standardise"}},
        {"features": {"petal": {"transform": "identity"}}},  # no size
        {"features": {"petal": {"transform": "bucketize", "buckets": 1}}},
        {"training": {"train_steps": 0}},
        {"model": {"hidden_units": []}},
        {"model": {"learning_rate": 0}},
        {"code": {"run_fn": "not a function"}},
    ],
)
def test_bad_values_are_refused(changes):
    with pytest.raises(ValidationError):
        _project(**changes)


def test_a_numeric_binary_label_may_come_from_a_threshold():
    project = _project(
        label={
            "column": "tips",
            "task": "binary",
            "positive": {"greater_than": 0.2, "times": "fare"},
        },
        evaluation={"slices": ["hour"], "gate": {"metric": "auc", "threshold": 0.7}},
    )
    assert project.label.positive == Threshold(greater_than=0.2, times="fare")
    assert project.label.columns() == ["tips", "fare"]
    assert project.columns() == ["tips", "fare", "petal", "hour"]
    assert project.gate_metric.higher_is_better


def test_class_names_follow_the_model_outputs():
    assert _project().label.class_names() == ["a", "b"]
    binary = _project(
        label={"column": "y", "task": "binary", "positive": "yes"},
        evaluation={"gate": {"metric": "binary_accuracy", "threshold": 0.5}},
    )
    assert binary.label.class_names() == ["not (y = yes)", "y = yes"]


def test_the_preparation_round_trips_through_json_as_tasks_receive_it():
    project = _project(
        label={"column": "tips", "task": "binary", "positive": {"greater_than": 0.2}},
        evaluation={"gate": {"metric": "recall", "threshold": 0.1}},
    )
    sent = project.preparation().model_dump(mode="json")
    assert Preparation.model_validate(sent) == project.preparation()
    integer = _project(
        label={"column": "y", "task": "binary", "positive": 1},
        evaluation={"gate": {"metric": "recall", "threshold": 0.1}},
    )
    assert (
        Preparation.model_validate(integer.preparation().model_dump(mode="json")).label.positive
        == 1
    )


def test_every_task_has_metrics_with_a_direction():
    assert set(TASK_METRICS) == {"binary", "multiclass", "regression"}
    assert not any(m.higher_is_better for m in TASK_METRICS["regression"])


def test_a_tuning_section_lists_values_or_ranges_of_the_settings_it_searches():
    tuning = _project(
        tuning={
            "objective": "sparse_categorical_accuracy",
            "learning_rate": {"min": 0.0001, "max": 0.1, "log": True},
            "hidden_units": [[64, 32], [16]],
            "dropout": [0.0, 0.25],
        }
    ).tuning
    assert tuning.searched == ["learning_rate", "hidden_units", "dropout"]
    assert tuning.max_trials == 10 and tuning.train_steps is None
    assert _project().tuning is None  # no tuning unless asked


@pytest.mark.parametrize(
    "tuning, message",
    [
        ({"learning_rate": {"min": 0.1, "max": 0.01}}, "max (0.01) must be above min (0.1)"),
        ({"learning_rate": {"min": 0.0, "max": 0.1}}, "learning_rate must lie above 0"),
        ({"dropout": {"min": 0.0, "max": 1.0}}, "dropout must lie from 0 up to"),
        ({"dropout": {"min": 0.0, "max": 0.5, "log": True}}, "a log range needs a min above 0"),
        ({"max_trials": 3}, "name at least one setting to search"),
        ({"train_steps": [0]}, "greater than or equal to 1"),
    ],
)
def test_a_search_that_cannot_run_is_refused(tuning, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _project(tuning=tuning)


def test_the_objective_is_the_loss_or_a_metric_of_the_task():
    assert _project(tuning={"dropout": [0.1]}).tuning.objective == "loss"
    with pytest.raises(ProjectError, match="auc is not a measure of a multiclass task") as error:
        _project(tuning={"objective": "auc", "dropout": [0.1]})
    assert error.value.loc == ("tuning", "objective")


@pytest.mark.parametrize(
    "uri",
    [
        "http://mlflow.kubeflow.svc.cluster.local:5000",
        "https://mlflow.example.com/",
        "sqlite:////data/runs/mlflow.db",
        "postgresql+psycopg2://mlflow@db/mlflow",
        "databricks",
    ],
)
def test_a_tracking_section_names_an_mlflow_server_or_database(uri):
    tracking = _project(tracking={"uri": uri, "experiment": "flowers-v2"}).tracking
    assert (tracking.uri, tracking.experiment) == (uri, "flowers-v2")
    assert _project(tracking={}).tracking.uri is None  # the default store, decided at run time
    assert _project().tracking is None  # no tracking unless asked


@pytest.mark.parametrize(
    "uri, message",
    [
        ("./mlruns", "./mlruns is a folder: MLflow's file store is deprecated"),
        ("file:///tmp/mlruns", "is a folder: MLflow's file store is deprecated"),
        ("ftp://host/x", "is not an MLflow tracking URI"),
    ],
)
def test_a_store_mlflow_cannot_use_is_refused(uri, message):
    with pytest.raises(ValidationError, match=message) as error:
        _project(tracking={"uri": uri})
    assert error.value.errors()[0]["loc"] == ("tracking", "uri")
