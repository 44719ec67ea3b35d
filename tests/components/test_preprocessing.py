"""The generic preprocessing_fn under real tf.Transform, on taxi rows and on made-up ones."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from kubetfx.components import preprocessing
from kubetfx.components.model import category_sizes
from kubetfx.components.project import Preparation, transformed_name
from tests.conftest import TAXI, TAXI_SCHEMA, read_taxi_rows


def _transform(tmp_path, preparation, spec, instances):
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (output, _), _ = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            lambda inputs: preprocessing.preprocessing_fn(
                inputs, {"preparation": preparation.model_dump(mode="json")}
            )
        )
    return output


def _taxi_instance(row, spec):
    """A CSV row as a tf.Transform instance dict; an empty cell is an empty list."""
    instance = {}
    for name, feature in spec.items():
        text = row[name]
        if feature.dtype == tf.string:
            value = text.encode()
        elif feature.dtype == tf.int64:
            value = int(float(text)) if text else None
        else:
            value = float(text) if text else None
        instance[name] = [] if value in (None, b"") else [value]
    return instance


@pytest.fixture(scope="module")
def taxi(tmp_path_factory):
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(TAXI_SCHEMA)
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    rows = read_taxi_rows(40)
    preparation = TAXI.project.preparation()
    output = _transform(
        tmp_path_factory.mktemp("tft"),
        preparation,
        spec,
        [_taxi_instance(row, spec) for row in rows],
    )
    return rows, preparation, output


def test_outputs_every_model_input_the_label_and_its_weight(taxi):
    _, preparation, output = taxi
    expected = {transformed_name(c) for c in preparation.features} | {"tips_xf", "tips_weight_xf"}
    assert set(output[0]) == expected
    assert {out["tips_weight_xf"] for out in output} == {1.0}


def test_a_threshold_label_marks_tips_over_twenty_percent_of_fare(taxi):
    rows, _, output = taxi
    for row, out in zip(rows, output, strict=True):
        fare, tips = float(row["fare"] or 0), float(row["tips"])
        assert out["tips_xf"] == int(tips > 0.2 * fare), row


def test_numbers_are_standardized(taxi):
    _, preparation, output = taxi
    for column, feature in preparation.features.items():
        if feature.transform != "standardize":
            continue
        values = np.array([out[transformed_name(column)] for out in output])
        assert abs(values.mean()) < 1e-4, column
        assert math.isclose(values.std(), 1.0, rel_tol=1e-3) or values.std() == 0, column


def test_categories_stay_within_the_model_input_sizes(taxi):
    _, preparation, output = taxi
    sizes = category_sizes(preparation)
    assert sizes  # vocabularies, buckets and codes
    for out in output:
        for name, size in sizes.items():
            assert 0 <= out[name] < size, name


ODD = "sepal length (cm)"  # a column name that is no TensorFlow name


@pytest.fixture(scope="module")
def flowers(tmp_path_factory):
    """A multiclass text label, an odd column name, empty cells and out-of-range codes."""
    preparation = Preparation.model_validate(
        {
            "label": {"column": "species", "task": "multiclass", "classes": ["a", "b", "c"]},
            "features": {
                ODD: "standardize",
                "colour": "vocabulary",
                "petals": {"transform": "identity", "size": 4},
            },
        }
    )
    spec = {
        ODD: tf.io.VarLenFeature(tf.float32),
        "colour": tf.io.VarLenFeature(tf.string),
        "petals": tf.io.VarLenFeature(tf.int64),
        "species": tf.io.VarLenFeature(tf.string),
    }
    instances = [
        {ODD: [1.0], "colour": [b"red"], "petals": [0], "species": [b"a"]},
        {ODD: [3.0], "colour": [b"red"], "petals": [3], "species": [b"c"]},
        {ODD: [], "colour": [], "petals": [9], "species": [b"b"]},
        {ODD: [2.0], "colour": [b"blue"], "petals": [], "species": [b"zebra"]},
    ]
    return preparation, _transform(tmp_path_factory.mktemp("tft"), preparation, spec, instances)


def test_a_text_label_becomes_its_class_index_and_an_unknown_one_weighs_nothing(flowers):
    _, output = flowers
    assert [out["species_xf"] for out in output] == [0, 2, 1, -1]
    assert [out["species_weight_xf"] for out in output] == [1.0, 1.0, 1.0, 0.0]


def test_odd_column_names_become_valid_tensor_names():
    name = transformed_name(ODD)
    assert name.startswith("sepal_length_cm_") and name.endswith("_xf")
    assert transformed_name("fare") == "fare_xf"
    assert transformed_name("2nd") != transformed_name("2nd ")  # unique, though alike


def test_a_missing_number_becomes_the_mean(flowers):
    _, output = flowers
    values = [out[transformed_name(ODD)] for out in output]
    assert values[2] == pytest.approx(0.0, abs=1e-6)  # the mean, standardized
    assert values[0] < values[3] < values[1]


def test_a_missing_or_unknown_code_gets_the_extra_code(flowers):
    _, output = flowers
    assert [out["petals_xf"] for out in output] == [0, 3, 4, 4]


def test_a_missing_category_is_a_value_of_its_own(flowers):
    _, output = flowers
    codes = [out["colour_xf"] for out in output]
    assert codes[0] == codes[1]
    # red, blue and the missing one: three entries of the vocabulary, none hashed
    assert sorted({codes[0], codes[2], codes[3]}) == [0, 1, 2]


def test_binary_and_regression_labels(tmp_path):
    spec = {"y": tf.io.VarLenFeature(tf.int64), "x": tf.io.VarLenFeature(tf.float32)}
    instances = [{"y": [1], "x": [1.0]}, {"y": [7], "x": [2.0]}, {"y": [], "x": [3.0]}]
    binary = Preparation.model_validate(
        {
            "label": {"column": "y", "task": "binary", "positive": 7},
            "features": {"x": "standardize"},
        }
    )
    output = _transform(tmp_path / "binary", binary, spec, instances)
    assert [out["y_xf"] for out in output] == [0, 1, 0]
    regression = Preparation.model_validate(
        {"label": {"column": "y", "task": "regression"}, "features": {"x": "standardize"}}
    )
    output = _transform(tmp_path / "regression", regression, spec, instances)
    assert [out["y_xf"] for out in output] == pytest.approx([1.0, 7.0, 4.0])  # mean fills in
    assert [out["y_weight_xf"] for out in output] == [1.0, 1.0, 0.0]  # and weighs nothing


def test_without_the_project_preprocessing_names_what_is_missing():
    with pytest.raises(ValueError, match="custom_config has no 'preparation'"):
        preprocessing.preprocessing_fn({}, {})
