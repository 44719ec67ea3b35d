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
