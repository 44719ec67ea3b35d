"""The Keras model builder: its inputs match the preprocessing outputs, and it learns."""

import numpy as np
import tensorflow as tf

from kubetfx.components import features, model


def _batch(n, rng):
    """A batch of valid transformed inputs."""
    batch = {}
    for key in features.DENSE_FLOAT_FEATURE_KEYS:
        batch[features.transformed_name(key)] = rng.normal(size=(n, 1)).astype("float32")
    sizes = {k: features.VOCAB_SIZE + features.OOV_SIZE for k in features.VOCAB_FEATURE_KEYS}
    sizes.update({k: features.FEATURE_BUCKET_COUNT for k in features.BUCKET_FEATURE_KEYS})
    sizes.update(features.CATEGORICAL_FEATURE_MAX_VALUES)
    for key, size in sizes.items():
        batch[features.transformed_name(key)] = rng.integers(0, size, size=(n, 1))
    return batch


def test_keras_is_version_2():
    model.require_keras_2()
    assert tf.keras.__name__.startswith("tf_keras")


def test_inputs_are_the_transformed_features():
    built = model.build_keras_model()
    expected = {features.transformed_name(k) for k in features.MODEL_INPUT_KEYS}
    assert set(built.input_names) == expected
    assert built.output_shape == (None, 1)


def test_predicts_probabilities_and_learns_a_simple_rule():
    rng = np.random.default_rng(0)
    batch = _batch(512, rng)
    # Label: the standardized fare is positive.
    labels = (batch[features.transformed_name("fare")] > 0).astype("float32")
    built = model.build_keras_model(hidden_units=[16, 8])
    before = built.evaluate(batch, labels, verbose=0)[0]
    built.fit(batch, labels, epochs=30, batch_size=64, verbose=0)
    loss, accuracy = built.evaluate(batch, labels, verbose=0)
    predictions = built.predict(batch, verbose=0)
    assert predictions.shape == (512, 1)
    assert ((predictions >= 0) & (predictions <= 1)).all()
    assert loss < before
    assert accuracy > 0.9
