"""preprocessing_fn under real tf.Transform on a few taxi rows."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from kubetfx.components import features, preprocessing
from kubetfx.pipelines.definition.settings import bundled_schema
from tests.conftest import read_taxi_rows


def _raw_feature_spec():
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(bundled_schema())
    return schema_utils.schema_as_feature_spec(schema).feature_spec


def _to_instance(row, spec):
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
def transformed(tmp_path_factory):
    spec = _raw_feature_spec()
    rows = read_taxi_rows(40)
    instances = [_to_instance(row, spec) for row in rows]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tft_beam.Context(temp_dir=str(tmp_path_factory.mktemp("tft"))):
        (output, _), _ = (instances, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing.preprocessing_fn
        )
    return rows, output


def test_outputs_every_model_input_and_the_label(transformed):
    _, output = transformed
    expected = {features.transformed_name(k) for k in features.MODEL_INPUT_KEYS}
    expected.add(features.TRANSFORMED_LABEL_KEY)
    assert set(output[0]) == expected


def test_label_marks_tips_over_twenty_percent_of_fare(transformed):
    rows, output = transformed
    for row, out in zip(rows, output, strict=True):
        fare, tips = float(row["fare"]), float(row["tips"])
        assert out[features.TRANSFORMED_LABEL_KEY] == int(tips > 0.2 * fare), row


def test_dense_features_are_standardized(transformed):
    _, output = transformed
    for key in features.DENSE_FLOAT_FEATURE_KEYS:
        values = np.array([out[features.transformed_name(key)] for out in output])
        assert abs(values.mean()) < 1e-4, key
        assert math.isclose(values.std(), 1.0, rel_tol=1e-3) or values.std() == 0, key


def test_categories_stay_within_the_model_input_sizes(transformed):
    _, output = transformed
    vocab_limit = features.VOCAB_SIZE + features.OOV_SIZE
    for out in output:
        for key in features.VOCAB_FEATURE_KEYS:
            assert 0 <= out[features.transformed_name(key)] < vocab_limit
        for key in features.BUCKET_FEATURE_KEYS:
            assert 0 <= out[features.transformed_name(key)] < features.FEATURE_BUCKET_COUNT
        for key, size in features.CATEGORICAL_FEATURE_MAX_VALUES.items():
            assert 0 <= out[features.transformed_name(key)] < size


def test_missing_cells_become_zero_or_empty():
    sparse = tf.SparseTensor(indices=[[1, 0]], values=[7], dense_shape=[3, 1])
    assert preprocessing.fill_in_missing(sparse).numpy().tolist() == [0, 7, 0]
    text = tf.SparseTensor(indices=[[0, 0]], values=["a"], dense_shape=[2, 1])
    assert preprocessing.fill_in_missing(text).numpy().tolist() == [b"a", b""]


def test_no_fare_means_no_big_tip():
    label = preprocessing.big_tipper_label(
        tf.constant([float("nan"), 10.0, 10.0]), tf.constant([5.0, 3.0, 1.0])
    )
    assert label.numpy().tolist() == [0, 1, 0]
