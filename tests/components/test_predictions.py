"""Rows to model inputs, model outputs to prediction columns."""

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
