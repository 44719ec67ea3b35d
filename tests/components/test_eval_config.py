"""The evaluation config that decides whether a model is pushed."""

import pytest
import tensorflow_model_analysis as tfma

from kubetfx.components import eval_config, features


def test_blessing_needs_the_minimum_accuracy_and_no_regression():
    config = eval_config.make_eval_config(min_accuracy=0.7)
    thresholds = tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs)
    accuracy = {key.is_diff: thresholds[key] for key in thresholds if key.name == "binary_accuracy"}
    assert set(accuracy) == {False, True}
    (_, value_threshold) = accuracy[False][0]
    (_, change) = accuracy[True][0]
    assert value_threshold.lower_bound.value == 0.7
    assert change.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert -1e-9 < change.absolute.value <= 0


def test_evaluates_overall_and_per_slice_on_the_transformed_label():
    config = eval_config.make_eval_config()
    assert config.model_specs[0].label_key == features.TRANSFORMED_LABEL_KEY
    assert config.model_specs[0].preprocessing_function_names == ["transform_features"]
    slices = [list(spec.feature_keys) for spec in config.slicing_specs]
    assert [] in slices
    assert ["trip_start_hour"] in slices


@pytest.mark.parametrize("has_baseline", [False, True])
def test_tfma_accepts_the_config_with_and_without_a_baseline(has_baseline):
    config = tfma.utils.update_eval_config_with_defaults(
        eval_config.make_eval_config(), has_baseline=has_baseline, rubber_stamp=True
    )
    tfma.utils.verify_eval_config(config)
    assert len(config.model_specs) == (2 if has_baseline else 1)


@pytest.mark.parametrize("kwargs", [{"min_accuracy": 1.5}, {"max_accuracy_drop": -0.1}])
def test_rejects_impossible_thresholds(kwargs):
    with pytest.raises(ValueError):
        eval_config.make_eval_config(**kwargs)
