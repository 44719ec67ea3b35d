"""The Keras networks: their inputs match Transform's outputs, their head the task."""

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components import model
from kubetfx.components.networks import build_keras_model
from kubetfx.components.project import (
    NETWORK_ALGORITHMS,
    Preparation,
    model_settings,
    transformed_name,
)
from tests.conftest import TAXI


def small(algorithm: str = "wide_and_deep"):
    extra = {} if algorithm == "linear" else {"hidden_units": [16, 8]}
    return model_settings({"algorithm": algorithm, "learning_rate": 0.01, **extra})


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


@pytest.mark.parametrize("algorithm", NETWORK_ALGORITHMS)
def test_each_network_reads_every_transformed_feature_of_the_taxi_project(algorithm):
    preparation = TAXI.project.preparation()
    built = build_keras_model(preparation, small(algorithm), model.category_sizes(preparation))
    assert set(built.input_names) == {transformed_name(c) for c in preparation.features}
    assert built.output_shape == (None, 1)


@pytest.mark.parametrize("algorithm", NETWORK_ALGORITHMS)
def test_binary_predicts_probabilities_and_learns_a_simple_rule(algorithm):
    rng = np.random.default_rng(0)
    batch = _batch(512, rng)
    labels = (batch["size_xf"] > 0).astype("float32")
    preparation = _preparation("binary", positive=1)
    built = build_keras_model(preparation, small(algorithm), model.category_sizes(preparation))
    before = built.evaluate(batch, labels, verbose=0)[0]
    built.fit(batch, labels, epochs=30, batch_size=64, verbose=0)
    loss, accuracy = built.evaluate(batch, labels, verbose=0)
    predictions = built.predict(batch, verbose=0)
    assert predictions.shape == (512, 1)
    assert ((predictions >= 0) & (predictions <= 1)).all()
    assert loss < before
    assert accuracy > 0.9


def test_the_linear_model_is_one_weighted_sum_of_numbers_and_one_hot_categories():
    preparation = _preparation("binary", positive=1)
    built = build_keras_model(preparation, small("linear"), model.category_sizes(preparation))
    (dense,) = (layer for layer in built.layers if isinstance(layer, tf.keras.layers.Dense))
    assert dense.units == 1
    assert dense.kernel.shape == (2 + 4, 1)  # two numbers, four codes of kind (3 and missing)


def test_the_dnn_answers_from_its_last_hidden_layer_alone():
    preparation = _preparation("binary", positive=1)
    built = build_keras_model(preparation, small("dnn"), model.category_sizes(preparation))
    dense = [layer for layer in built.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 8, 1]
    assert dense[0].kernel.shape[0] == 2 + 4  # the hidden layers see the categories too
    assert dense[-1].kernel.shape[0] == 8  # no wide part beside them


def test_wide_and_deep_puts_the_categories_beside_the_dense_layers_over_the_numbers():
    preparation = _preparation("binary", positive=1)
    built = build_keras_model(preparation, small(), model.category_sizes(preparation))
    dense = [layer for layer in built.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert dense[0].kernel.shape[0] == 2  # the deep part: the numbers
    assert dense[-1].kernel.shape[0] == 8 + 4  # the last hidden layer and the one-hot codes


def test_multiclass_has_a_probability_per_class():
    rng = np.random.default_rng(1)
    batch = _batch(600, rng)
    labels = (batch["size_xf"][:, 0] > 0).astype("int64") + (batch["weight_xf"][:, 0] > 0)
    preparation = _preparation("multiclass", classes=["low", "mid", "high"])
    built = build_keras_model(preparation, small(), model.category_sizes(preparation))
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
    built = build_keras_model(
        preparation, small(), model.category_sizes(preparation), label_scale=(150.0, 40.0)
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
    built = build_keras_model(preparation, small(), {"colour_xf": 12, "kind_xf": 4})
    dense = [layer for layer in built.layers if isinstance(layer, tf.keras.layers.Dense)]
    assert [layer.units for layer in dense] == [16, 8, 1]


def test_rows_of_weight_zero_do_not_train_the_model():
    rng = np.random.default_rng(3)
    batch = _batch(256, rng)
    labels = (batch["size_xf"][:, 0] > 0).astype("int64")
    weights = np.ones(256)
    wrong = labels.copy()
    wrong[:128] = 2 - 2 * labels[:128]  # half the rows carry a wrong class, weighted 0
    weights[:128] = 0.0
    preparation = _preparation("multiclass", classes=["a", "b", "c"])
    built = build_keras_model(preparation, small(), model.category_sizes(preparation))
    built.fit(batch, wrong, sample_weight=weights, epochs=40, batch_size=64, verbose=0)
    predicted = built.predict(batch, verbose=0).argmax(axis=1)
    assert (predicted[:128] == labels[:128]).mean() > 0.85  # learnt from the weighted half
