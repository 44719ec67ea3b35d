"""Rows to model inputs, model outputs to prediction columns, and their distribution."""

import math

import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.components import predictions
from kubetfx.components.errors import TaskError
from kubetfx.components.predictions import Label


def test_a_binary_classifier_names_the_likelier_class_and_its_probability():
    label = Label("binary", "tips", ("small tip", "big tip"))
    assert label.columns == ("prediction", "probability")
    assert label.describe([0.8]) == ("big tip", 0.8)
    assert label.describe([0.5]) == ("big tip", 0.5)
    name, probability = label.describe([0.25])
    assert name == "small tip" and probability == pytest.approx(0.75)


def test_a_multiclass_classifier_names_the_top_class():
    label = Label("multiclass", "species", ("setosa", "versicolor", "virginica"))
    assert label.describe([0.1, 0.3, 0.6]) == ("virginica", 0.6)


def test_a_regression_gives_the_value():
    label = Label("regression", "price", ())
    assert label.columns == ("prediction",)
    assert label.describe([123.5]) == (123.5,)


def test_a_row_becomes_an_example_typed_by_the_schema_with_empty_cells_empty():
    types = {"n": schema_pb2.INT, "x": schema_pb2.FLOAT, "s": schema_pb2.BYTES}
    example = predictions.to_example({"n": " 3", "x": "", "s": " Oslo", "extra": "?"}, types)
    feature = example.features.feature
    assert set(feature) == {"n", "x", "s"}
    assert list(feature["n"].int64_list.value) == [3]
    assert list(feature["x"].float_list.value) == []
    assert list(feature["s"].bytes_list.value) == [b" Oslo"]  # as CsvExampleGen reads it


def test_a_value_of_the_wrong_type_names_its_column():
    with pytest.raises(TaskError, match=r"^column n holds '3.5 km', not a valid int value$"):
        predictions.to_example({"n": "3.5 km"}, {"n": schema_pb2.INT})


def test_a_model_without_label_info_is_refused(tmp_path):
    with pytest.raises(TaskError, match="was not trained by kubetfx"):
        predictions.model_label(str(tmp_path))


def test_a_classifier_reference_counts_each_predicted_class():
    label = Label("multiclass", "species", ("setosa", "versicolor", "virginica"))
    reference = predictions.reference_distribution(label, ["setosa"] * 6 + ["virginica"] * 4)
    assert reference.buckets == label.class_names
    assert reference.counts == (6, 0, 4)
    assert reference.shares == (0.6, 0.0, 0.4)


def test_a_regression_reference_is_counted_in_the_eval_deciles():
    label = Label("regression", "price", ())
    reference = predictions.reference_distribution(label, list(range(100)))
    assert len(reference.edges) == 9 and len(reference.buckets) == 10
    assert reference.counts == (10,) * 10
    assert reference.buckets[0] == "below 9.9" and reference.buckets[-1] == "89.1 and above"
    current = reference.empty().count([-5.0, 9.9, 1000.0])
    assert current.counts == (1, 1, 0, 0, 0, 0, 0, 0, 0, 1)


def test_a_constant_regression_gets_one_bucket_with_every_row():
    reference = predictions.reference_distribution(Label("regression", "y", ()), [2.0] * 5)
    assert reference.buckets == ("below 2", "2 and above") and reference.counts == (0, 5)


def test_without_eval_predictions_a_regression_counts_every_value_in_one_bucket():
    buckets = predictions.reference_distribution(Label("regression", "y", ()), [])
    assert buckets.buckets == ("all values",)
    assert buckets.count([-1.0, 1e9]).counts == (2,)


def test_the_stability_index_is_zero_for_the_same_shares_and_grows_with_the_shift():
    reference = predictions.Distribution(("a", "b"), (50, 50))
    assert predictions.stability_index(reference, reference.empty().count("ab" * 10)) == 0.0
    moderate = predictions.stability_index(
        reference, predictions.Distribution(("a", "b"), (60, 40))
    )
    assert moderate == pytest.approx(0.1 * math.log(1.5), rel=1e-9)  # (0.6-0.4)·ln(0.6/0.4)/2·2
    assert (
        predictions.Drift(predictions.Distribution(("a", "b"), (60, 40)), reference).drifted
        is False
    )
    shifted = predictions.Drift(predictions.Distribution(("a", "b"), (90, 10)), reference)
    assert shifted.index > predictions.DRIFT_THRESHOLD and shifted.drifted
    assert shifted.summary().startswith(f"PSI {shifted.index:.3f} against the eval split's")
    assert "drift: above 0.2" in shifted.summary()


def test_a_model_without_a_reference_says_so_and_never_warns(tmp_path):
    drift = predictions.Drift(predictions.Distribution(("a", "b"), (1, 2)), None)
    assert predictions.read_reference(str(tmp_path)) is None
    assert drift.index is None and not drift.drifted
    assert drift.summary().startswith("no drift check: the model records no eval-split")


def test_the_reference_round_trips_through_the_model_folder(tmp_path):
    reference = predictions.reference_distribution(Label("regression", "y", ()), [1.0, 2.0, 3.0])
    predictions.write_reference(str(tmp_path), reference)
    assert predictions.read_reference(str(tmp_path)) == reference


def test_too_few_new_rows_give_no_index_rather_than_a_false_alarm():
    label = Label("regression", "y", ())
    reference = predictions.reference_distribution(label, list(range(1000)))
    few = predictions.Drift(reference.empty().count([1.0] * 99), reference)
    assert few.index is None and not few.drifted
    assert few.summary() == (
        "no drift check: 99 rows, fewer than the 100 a stable index needs (10 per bucket)"
    )
    assert predictions.Drift(reference.empty().count(range(0, 1000, 10)), reference).index < 0.01


def test_nan_eval_predictions_are_left_out_of_the_deciles():
    reference = predictions.reference_distribution(
        Label("regression", "y", ()), [float("nan"), 1.0, 2.0, 3.0]
    )
    assert reference.rows == 3 and all(math.isfinite(e) for e in reference.edges)
