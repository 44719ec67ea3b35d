"""The evaluation views, read from TFMA output files written with TFMA's own protos."""

from pathlib import Path

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2
from tfx.types import standard_artifacts

from kubetfx.components import eval_config, visualizations


def _metric(per_slice, name: str, value: float, model: str = "", is_diff: bool = False):
    entry = per_slice.metric_keys_and_values.add()
    entry.key.name = name
    entry.key.model_name = model
    entry.key.is_diff = is_diff
    entry.value.double_value.value = value


def _write_evaluation(directory: Path, *, with_baseline: bool, failing: bool) -> str:
    """An Evaluator output folder: ``metrics*`` and ``validations*`` TFRecord files."""
    overall = metrics_for_slice_pb2.MetricsForSlice()
    _metric(overall, "binary_accuracy", 0.62, "candidate" if with_baseline else "")
    if with_baseline:
        _metric(overall, "binary_accuracy", 0.71, "baseline")
        _metric(overall, "binary_accuracy", -0.09, "candidate", is_diff=True)
    hour = metrics_for_slice_pb2.MetricsForSlice()
    hour.slice_key.single_slice_keys.add(column="trip_start_hour", int64_value=7)
    _metric(hour, "binary_accuracy", 0.55, "candidate" if with_baseline else "")
    validation = validation_result_pb2.ValidationResult(validation_ok=not failing)
    if failing:
        per_slice = validation.metric_validations_per_slice.add()
        per_slice.slice_key.single_slice_keys.add(column="trip_start_hour", int64_value=7)
        failure = per_slice.failures.add()
        failure.metric_key.name = "binary_accuracy"
        failure.metric_value.double_value.value = 0.55
        failure.message = "Metric value 0.55 is below the lower bound 0.6."
    directory.mkdir(parents=True)
    # The config TFMA saves next to its results, completed as TFX's Evaluator completes it.
    config = tfma.utils.update_eval_config_with_defaults(
        eval_config.make_eval_config(min_accuracy=0.6),
        has_baseline=with_baseline,
        rubber_stamp=True,
    )
    run = config_pb2.EvalRun(eval_config=config, version=tfma.__version__)
    (directory / "eval_config.json").write_text(json_format.MessageToJson(run))
    with tf.io.TFRecordWriter(str(directory / "metrics-00000-of-00001.tfrecord")) as writer:
        writer.write(overall.SerializeToString())
        writer.write(hour.SerializeToString())
    with tf.io.TFRecordWriter(str(directory / "validations.tfrecord")) as writer:
        writer.write(validation.SerializeToString())
    return str(directory)


def _blessing(blessed: bool):
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property("blessed", int(blessed))
    return blessing


def test_an_unblessed_model_names_the_threshold_it_missed(tmp_path):
    uri = _write_evaluation(tmp_path / "evaluation", with_baseline=True, failing=True)

    [failure] = visualizations.threshold_failures(uri)
    assert failure.slice == "trip_start_hour=7"
    assert failure.metric == "binary_accuracy"
    assert failure.value == 0.55

    text = visualizations.evaluation_markdown(uri, _blessing(False))
    assert "**Not blessed: not pushed.**" in text
    assert "Compared with the model currently pushed." in text
    assert "| trip_start_hour=7 | binary_accuracy | 0.5500 | Metric value 0.55 is below" in text
    assert "| binary_accuracy | at least 0.6 |" in text
    assert "| binary_accuracy | no lower than the pushed model's |" in text
    rows = [line for line in text.splitlines() if line.startswith("| overall")]
    assert rows == ["| overall | 0.6200 (baseline 0.7100) |"]


def test_a_first_model_is_judged_on_thresholds_alone(tmp_path):
    uri = _write_evaluation(tmp_path / "evaluation", with_baseline=False, failing=False)

    assert visualizations.threshold_failures(uri) == []
    text = visualizations.evaluation_markdown(uri, _blessing(True))
    assert "**Blessed: the model will be pushed.**" in text
    assert "No model was pushed before" in text
    assert "Failed thresholds" not in text
    assert visualizations.thresholds(uri) == [("binary_accuracy", "at least 0.6")]
    assert "| trip_start_hour=7 | 0.5500 |" in text
    assert visualizations.overall_metrics(uri) == {"binary_accuracy": 0.62}


def test_the_metrics_view_reports_the_change_against_the_baseline(tmp_path):
    uri = _write_evaluation(tmp_path / "evaluation", with_baseline=True, failing=True)

    assert visualizations.overall_metrics(uri) == {
        "binary_accuracy": 0.62,
        "binary_accuracy_change_vs_baseline": -0.09,
    }


@pytest.mark.parametrize(
    "direction, bound, words",
    [
        ("HIGHER_IS_BETTER", -1e-10, "no lower than the pushed model's"),
        ("HIGHER_IS_BETTER", -0.02, "at most 0.02 below the pushed model's"),
        ("HIGHER_IS_BETTER", 0.01, "at least 0.01 above the pushed model's"),
        ("LOWER_IS_BETTER", 0.0, "no higher than the pushed model's"),
        ("LOWER_IS_BETTER", 0.5, "at most 0.5 above the pushed model's"),
        ("LOWER_IS_BETTER", -0.5, "at least 0.5 below the pushed model's"),
    ],
)
def test_change_thresholds_read_the_way_tfma_applies_them(direction, bound, words):
    threshold = config_pb2.GenericChangeThreshold(
        direction=config_pb2.MetricDirection.Value(direction), absolute={"value": bound}
    )
    assert visualizations._describe(threshold, is_diff=True) == [words]
