"""The evaluation views, read from TFMA output files written with TFMA's own protos."""

import html
import json
import math
import re
from pathlib import Path

import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from tensorflow_model_analysis.proto import config_pb2, metrics_for_slice_pb2, validation_result_pb2
from tfx.types import standard_artifacts

from kubetfx.components import eval_config, visualizations
from tests.conftest import TAXI


def _metric(
    per_slice, name: str, value: float, model: str = "", is_diff: bool = False, class_id=None
):
    entry = per_slice.metric_keys_and_values.add()
    entry.key.name = name
    entry.key.model_name = model
    entry.key.is_diff = is_diff
    if class_id is not None:
        entry.key.sub_key.class_id.value = class_id
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
        eval_config.make_eval_config(TAXI.project),
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
    assert (
        "| trip\\_start\\_hour=7 | binary\\_accuracy | 0.5500 | Metric value 0.55 is below" in text
    )
    assert "| binary\\_accuracy | at least 0.6 |" in text
    assert "| binary\\_accuracy | no lower than the pushed model's |" in text
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
    assert "| trip\\_start\\_hour=7 | 0.5500 |" in text
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


def _write_classifier(directory: Path, plot: metrics_for_slice_pb2.PlotData) -> str:
    """An Evaluator output folder with per-class metrics and one overall plot."""
    directory.mkdir(parents=True)
    overall = metrics_for_slice_pb2.MetricsForSlice()
    _metric(overall, "sparse_categorical_accuracy", 0.9)
    _metric(overall, "precision", 0.8, class_id=0)
    _metric(overall, "precision", 1.0, class_id=1)
    with tf.io.TFRecordWriter(str(directory / "metrics-00000-of-00001.tfrecord")) as writer:
        writer.write(overall.SerializeToString())
    plots = metrics_for_slice_pb2.PlotsForSlice()
    entry = plots.plot_keys_and_values.add()
    entry.key.name = "confusion_matrix_plot"
    entry.value.CopyFrom(plot)
    with tf.io.TFRecordWriter(str(directory / "plots-00000-of-00001.tfrecord")) as writer:
        writer.write(plots.SerializeToString())
    validation = validation_result_pb2.ValidationResult(validation_ok=True)
    with tf.io.TFRecordWriter(str(directory / "validations.tfrecord")) as writer:
        writer.write(validation.SerializeToString())
    run = config_pb2.EvalRun(eval_config=config_pb2.EvalConfig(), version=tfma.__version__)
    (directory / "eval_config.json").write_text(json_format.MessageToJson(run))
    return str(directory)


def test_per_class_metrics_are_named_by_class_and_class_names_stay_text(tmp_path):
    import markdown

    uri = _write_classifier(tmp_path / "evaluation", metrics_for_slice_pb2.PlotData())
    names = ["<script>alert(1)</script>", "![b](http://example.com/x.png)|c"]
    assert visualizations.overall_metrics(uri, names) == {
        "sparse_categorical_accuracy": 0.9,
        "precision (<script>alert(1)</script>)": 0.8,
        "precision (![b](http://example.com/x.png)|c)": 1.0,
    }
    assert visualizations.overall_metrics(uri)["precision (1)"] == 1.0  # no names: the id
    text = visualizations.evaluation_markdown(uri, _blessing(True), names)
    page = markdown.markdown(text, extensions=["tables"])  # as the report renders it
    assert "<script" not in page and "<img" not in page and "<a " not in page
    header = re.search(r"<thead>(.*?)</thead>", page, re.S).group(1)
    cells = [html.unescape(c) for c in re.findall(r"<th>(.*?)</th>", header)]
    assert {f"precision ({name})" for name in names} <= set(cells)


def _binary_plot(thresholds):
    plot = metrics_for_slice_pb2.PlotData()
    for threshold in thresholds:
        # 100 positives, 300 negatives; a higher threshold finds fewer of both.
        share = 1 - threshold if math.isfinite(threshold) else 0.5
        caught = round(100 * share)
        false_alarms = round(300 * share**3)
        plot.confusion_matrix_at_thresholds.matrices.add(
            threshold=threshold,
            true_positives=caught,
            false_negatives=100 - caught,
            false_positives=false_alarms,
            true_negatives=300 - false_alarms,
        )
    return plot


def test_a_binary_classifier_gives_the_dashboard_a_roc_curve_and_a_confusion_matrix(tmp_path):
    # As TFMA places 101 thresholds: just below 0, i / 100, just above 1; and a broken one.
    thresholds = [-1e-7] + [(i + 1) / 100 for i in range(99)] + [1 + 1e-7, float("nan")]
    uri = _write_classifier(tmp_path / "evaluation", _binary_plot(thresholds))
    metrics = visualizations.classification_metrics(uri, ["no", "yes"])

    curve = metrics["confidenceMetrics"]
    assert len(curve) == 101 <= visualizations.MAX_ROC_POINTS
    assert set(curve[0]) == {"confidenceThreshold", "falsePositiveRate", "recall"}
    for point in curve:  # finite numbers only: the dashboard shows an error otherwise
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in point.values()), point
    assert curve[0] == {"confidenceThreshold": 0.0, "falsePositiveRate": 1.0, "recall": 1.0}
    matrix = metrics["confusionMatrix"]
    assert matrix["annotationSpecs"] == [{"displayName": "no"}, {"displayName": "yes"}]
    # At threshold 0.5: rows are the actual class, columns the predicted one.
    assert matrix["rows"] == [{"row": [262.0, 38.0]}, {"row": [50.0, 50.0]}]
    json.dumps(metrics, allow_nan=False)  # what the entrypoint writes as metadata

    html = visualizations.classification_charts(metrics)
    assert html.count("<svg") == 2 and "ROC curve" in html and "Confusion matrix" in html


def test_a_multiclass_classifier_gives_an_n_by_n_confusion_matrix(tmp_path):
    plot = metrics_for_slice_pb2.PlotData()
    matrix = plot.multi_class_confusion_matrix_at_thresholds.matrices.add(threshold=0.0)
    for actual, predicted, count in [(0, 0, 16), (0, 1, 1), (1, 1, 22), (2, 1, 2), (2, -1, 5)]:
        matrix.entries.add(
            actual_class_id=actual, predicted_class_id=predicted, num_weighted_examples=count
        )
    uri = _write_classifier(tmp_path / "evaluation", plot)
    metrics = visualizations.classification_metrics(uri, ["a", "b", "c"])
    assert "confidenceMetrics" not in metrics
    assert metrics["confusionMatrix"]["rows"] == [
        {"row": [16.0, 1.0, 0.0]},
        {"row": [0.0, 22.0, 0.0]},
        {"row": [0.0, 2.0, 0.0]},  # a prediction of no class is left out
    ]


def test_a_regression_model_has_no_classification_metrics(tmp_path):
    uri = _write_classifier(tmp_path / "evaluation", metrics_for_slice_pb2.PlotData())
    assert visualizations.classification_metrics(uri, []) is None


def test_a_page_runs_no_script_and_fetches_nothing_even_if_markup_got_in(tmp_path):
    """The Content-Security-Policy, in the real browser: markup that escaping missed stays inert."""
    from tests.browser import render

    smuggled = (
        "<script>document.title = 'ran'; document.body.innerHTML = 'ran';</script>"
        '<img src="http://127.0.0.1:9/tracker.png">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/style.css">'
    )
    path = tmp_path / "page.html"
    path.write_text(visualizations.page("hostile", f"<p>kept</p>{smuggled}"))
    rendered = render(path, "csp-page.png", tmp_path)
    assert "<p>kept</p>" in rendered.dom
    assert "<title>hostile</title>" in rendered.dom  # the script did not run
    assert rendered.fetched == []
