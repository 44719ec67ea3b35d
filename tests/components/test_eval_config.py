"""The evaluation config: the task's metrics, and the gate a model must pass to be pushed."""

import pytest
import tensorflow_model_analysis as tfma

from kubetfx.components import eval_config
from kubetfx.components.project import Project
from tests.conftest import TAXI


def _project(task: str, gate: dict, **label) -> Project:
    return Project.model_validate(
        {
            "name": "p",
            "data": "d",
            "schema": "s",
            "label": {"column": "y", "task": task, **label},
            "features": {"x": "standardize"},
            "evaluation": {"slices": ["x"], "gate": gate},
        }
    )


def _thresholds(config):
    return tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs)


def _names(config):
    return {m.class_name for spec in config.metrics_specs for m in spec.metrics}


def test_the_taxi_gate_needs_the_minimum_accuracy_and_no_regression():
    config = eval_config.make_eval_config(TAXI.project)
    thresholds = _thresholds(config)
    accuracy = {key.is_diff: thresholds[key] for key in thresholds if key.name == "binary_accuracy"}
    assert set(accuracy) == {False, True}
    (_, value_threshold) = accuracy[False][0]
    (_, change) = accuracy[True][0]
    assert value_threshold.lower_bound.value == 0.6
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert -1e-9 < change.absolute.value <= 0
    assert {"BinaryAccuracy", "AUC", "Precision", "Recall", "ConfusionMatrixPlot"} <= _names(config)


def test_evaluates_overall_and_per_slice_on_the_transformed_label():
    config = eval_config.make_eval_config(TAXI.project)
    assert config.model_specs[0].label_key == "tips_xf"
    assert config.model_specs[0].prediction_key == "outputs"
    assert config.model_specs[0].preprocessing_function_names == ["transform_features"]
    slices = [list(spec.feature_keys) for spec in config.slicing_specs]
    assert slices == [[], ["trip_start_hour"]]


def test_a_regression_gate_is_an_upper_bound_on_the_error():
    project = _project("regression", {"metric": "root_mean_squared_error", "threshold": 70})
    config = eval_config.make_eval_config(project)
    thresholds = _thresholds(config)
    rmse = {k.is_diff: thresholds[k][0][1] for k in thresholds}
    assert rmse[False].upper_bound.value == 70
    assert rmse[True].direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert 0 <= rmse[True].absolute.value < 1e-9
    assert {"MeanSquaredError", "RootMeanSquaredError", "MeanAbsoluteError"} <= _names(config)
    assert "ConfusionMatrixPlot" not in _names(config)


def test_multiclass_measures_each_class_and_the_confusion_matrix():
    project = _project(
        "multiclass",
        {"metric": "sparse_categorical_accuracy", "threshold": 0.5, "no_worse_than_serving": False},
        classes=["a", "b", "c"],
    )
    config = eval_config.make_eval_config(project)
    assert "MultiClassConfusionMatrixPlot" in _names(config)
    (per_class,) = (spec for spec in config.metrics_specs if spec.HasField("binarize"))
    assert list(per_class.binarize.class_ids.values) == [0, 1, 2]
    assert [key.is_diff for key in _thresholds(config)] == [False]  # no baseline comparison


@pytest.mark.parametrize("has_baseline", [False, True])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_tfma_accepts_the_config_with_and_without_a_baseline(task, has_baseline):
    gate = {
        "binary": ({"metric": "auc", "threshold": 0.7}, {"positive": 1}),
        "multiclass": (
            {"metric": "sparse_categorical_accuracy", "threshold": 0.5},
            {"classes": [1, 2]},
        ),
        "regression": ({"metric": "mean_absolute_error", "threshold": 3.0}, {}),
    }[task]
    config = tfma.utils.update_eval_config_with_defaults(
        eval_config.make_eval_config(_project(task, gate[0], **gate[1])),
        has_baseline=has_baseline,
        rubber_stamp=True,
    )
    tfma.utils.verify_eval_config(config)
    assert len(config.model_specs) == (2 if has_baseline else 1)
