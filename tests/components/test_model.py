"""The generic Keras model: its inputs match the preprocessing outputs, its head the task."""

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components import model, predictions
from kubetfx.components.project import ModelSettings, Preparation, transformed_name
from tests.conftest import TAXI

SMALL = ModelSettings(hidden_units=[16, 8], learning_rate=0.01)


def _preparation(task: str, **label) -> Preparation:
    return Preparation.model_validate(
        {
            "label": {"column": "y", "task": task, **label},
            "features": {
                "size": "standardize",
                "weight": "standardize",
                "kind": {"transform": "identity", "size": 3},
            },
        }
    )


def _batch(n, rng):
    return {
        "size_xf": rng.normal(size=(n, 1)).astype("float32"),
        "weight_xf": rng.normal(size=(n, 1)).astype("float32"),
        "kind_xf": rng.integers(0, 4, size=(n, 1)),
    }


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


def test_the_taxi_model_reads_every_transformed_feature():
    preparation = TAXI.project.preparation()
    built = model.build_keras_model(
        preparation, TAXI.project.model, model.category_sizes(preparation)
    )
    assert set(built.input_names) == {transformed_name(c) for c in preparation.features}
    assert built.output_shape == (None, 1)


def test_binary_predicts_probabilities_and_learns_a_simple_rule():
    rng = np.random.default_rng(0)
    batch = _batch(512, rng)
    labels = (batch["size_xf"] > 0).astype("float32")
    preparation = _preparation("binary", positive=1)
    built = model.build_keras_model(preparation, SMALL, model.category_sizes(preparation))
    before = built.evaluate(batch, labels, verbose=0)[0]
    built.fit(batch, labels, epochs=30, batch_size=64, verbose=0)
    loss, accuracy = built.evaluate(batch, labels, verbose=0)
    predictions = built.predict(batch, verbose=0)
    assert predictions.shape == (512, 1)
    assert ((predictions >= 0) & (predictions <= 1)).all()
    assert loss < before
    assert accuracy > 0.9


def test_multiclass_has_a_probability_per_class():
    rng = np.random.default_rng(1)
    batch = _batch(600, rng)
    labels = (batch["size_xf"][:, 0] > 0).astype("int64") + (batch["weight_xf"][:, 0] > 0)
    preparation = _preparation("multiclass", classes=["low", "mid", "high"])
    built = model.build_keras_model(preparation, SMALL, model.category_sizes(preparation))
    built.fit(batch, labels, epochs=30, batch_size=64, verbose=0)
    predictions = built.predict(batch, verbose=0)
    assert predictions.shape == (600, 3)
    assert np.allclose(predictions.sum(axis=1), 1.0, atol=1e-5)
    assert built.evaluate(batch, labels, verbose=0)[1] > 0.85


def test_regression_answers_in_the_label_units():
    rng = np.random.default_rng(2)
    batch = _batch(512, rng)
    labels = 150.0 + 40.0 * batch["size_xf"][:, 0]  # far from zero mean, unit spread
    preparation = _preparation("regression")
    built = model.build_keras_model(
        preparation, SMALL, model.category_sizes(preparation), label_scale=(150.0, 40.0)
    )
    built.fit(batch, labels, epochs=40, batch_size=64, verbose=0)
    _, rmse = built.evaluate(batch, labels, verbose=0)
    assert rmse < 10.0  # against a spread of 40
    assert built.predict(batch, verbose=0).mean() == pytest.approx(150.0, abs=10.0)


def test_a_project_without_numbers_still_has_a_deep_part():
    preparation = Preparation.model_validate(
        {
            "label": {"column": "y", "task": "binary", "positive": "yes"},
            "features": {"colour": "vocabulary", "kind": {"transform": "identity", "size": 3}},
        }
    )
    built = model.build_keras_model(preparation, SMALL, {"colour_xf": 12, "kind_xf": 4})
    dense = [layer for layer in built.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 8, 1]


def test_the_label_scale_is_read_from_the_rows_that_have_a_label():
    labels = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0])
    weights = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # the last row has no label
    dataset = tf.data.Dataset.from_tensor_slices(({"x": np.zeros((7, 1))}, labels, weights))
    mean, spread = model.label_scale(dataset.batch(2))
    assert mean == pytest.approx(3.5)
    assert spread == pytest.approx(np.std([1, 2, 3, 4, 5, 6]))
    constant = tf.data.Dataset.from_tensor_slices(({"x": np.zeros((2, 1))}, [3.0, 3.0], [1.0, 1.0]))
    assert model.label_scale(constant.batch(2)) == (3.0, 1.0)


def test_rows_of_weight_zero_do_not_train_the_model():
    rng = np.random.default_rng(3)
    batch = _batch(256, rng)
    labels = (batch["size_xf"][:, 0] > 0).astype("int64")
    weights = np.ones(256)
    wrong = labels.copy()
    wrong[:128] = 2 - 2 * labels[:128]  # half the rows carry a wrong class, weighted 0
    weights[:128] = 0.0
    preparation = _preparation("multiclass", classes=["a", "b", "c"])
    built = model.build_keras_model(preparation, SMALL, model.category_sizes(preparation))
    built.fit(batch, wrong, sample_weight=weights, epochs=40, batch_size=64, verbose=0)
    predicted = built.predict(batch, verbose=0).argmax(axis=1)
    assert (predicted[:128] == labels[:128]).mean() > 0.85  # learnt from the weighted half


def test_the_label_info_names_the_classes(tmp_path):
    info = model.label_info(_preparation("multiclass", classes=["low", "mid", "high"]))
    assert info == {"task": "multiclass", "label": "y", "class_names": ["low", "mid", "high"]}
    assert predictions.read_label_info(str(tmp_path)) is None
    taxi = model.label_info(TAXI.project.preparation())["class_names"]
    assert taxi == ["not (tips > 0.2 × fare)", "tips > 0.2 × fare"]


def test_eval_predictions_leave_out_the_rows_without_a_label():
    rng = np.random.default_rng(3)
    preparation = _preparation("multiclass", classes=["a", "b", "c"])
    built = model.build_keras_model(preparation, SMALL, model.category_sizes(preparation))
    batch = _batch(8, rng)
    weight = np.array([[1.0]] * 5 + [[0.0]] * 3, dtype="float32")
    dataset = tf.data.Dataset.from_tensors((batch, np.zeros([8, 1]), weight)).repeat()
    outputs = model.predict_batches(built, dataset, steps=2)
    assert outputs.shape == (10, 3)  # 5 labelled rows in each of 2 batches, 3 classes
    np.testing.assert_allclose(outputs[:5], built(batch).numpy()[:5], rtol=1e-5)
