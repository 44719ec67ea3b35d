"""The generic Keras model: its inputs match the preprocessing outputs, its head the task."""

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components import model, predictions
from kubetfx.components.networks import build_keras_model
from kubetfx.components.project import model_settings
from tests.components.test_networks import _batch, _preparation
from tests.conftest import TAXI

SMALL = model_settings({"hidden_units": [16, 8], "learning_rate": 0.01})


def test_keras_is_version_2():
    model.require_keras_2()
    assert tf.keras.Model.__module__.startswith("tf_keras")


def test_autograph_leaves_tf_keras_code_as_written_and_converts_the_projects():
    from tensorflow.python.autograph.impl import conversion
    from tf_keras.src.engine import training

    assert conversion.is_allowlisted(training.Model.train_step)
    assert not conversion.is_allowlisted(_batch)
    model.leave_keras_to_run_as_written()  # a second call adds no second rule
    from tensorflow.python.autograph.core import config

    rules = [str(rule) for rule in config.CONVERSION_RULES]
    assert rules.count("DoNotConvert rule for tf_keras") == 1


def test_the_label_scale_is_read_from_the_rows_that_have_a_label():
    labels = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the last row has no label
    dataset = tf.data.Dataset.from_tensor_slices(({"x": np.zeros((7, 1))}, labels, weights))
    mean, spread = model.label_scale(dataset.batch(2))
    assert mean == pytest.approx(3.5)
    assert spread == pytest.approx(np.std([1, 2, 3, 4, 5, 6]))
    constant = tf.data.Dataset.from_tensor_slices(({"x": np.zeros((2, 1))}, [3.0, 3.0], [1.0, 1.0]))
    assert model.label_scale(constant.batch(2)) == (3.0, 1.0)


def test_the_label_info_names_the_classes(tmp_path):
    info = model.label_info(_preparation("multiclass", classes=["low", "mid", "high"]), SMALL)
    assert info == {
        "task": "multiclass",
        "label": "y",
        "class_names": ["low", "mid", "high"],
        "algorithm": "wide_and_deep",
    }
    assert predictions.read_label_info(str(tmp_path)) is None
    taxi = model.label_info(TAXI.project.preparation(), SMALL)["class_names"]
    assert taxi == ["not (tips > 0.2 × fare)", "tips > 0.2 × fare"]


def test_eval_predictions_leave_out_the_rows_without_a_label():
    rng = np.random.default_rng(3)
    preparation = _preparation("multiclass", classes=["a", "b", "c"])
    built = build_keras_model(preparation, SMALL, model.category_sizes(preparation))
    batch = _batch(8, rng)
    weight = np.array([[1.0]] * 5 + [[0.0]] * 3, dtype="float32")
    dataset = tf.data.Dataset.from_tensors((batch, np.zeros([8, 1]), weight)).repeat()
    outputs = model.predict_batches(built, dataset, steps=2)
    assert outputs.shape == (10, 3)  # 5 labelled rows in each of 2 batches, 3 classes
    np.testing.assert_allclose(outputs[:5], built(batch).numpy()[:5], rtol=1e-5)
