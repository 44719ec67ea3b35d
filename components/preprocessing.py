"""tf.Transform preprocessing for the taxi model, run by the Transform component.

The same graph is embedded in the trained model, so serving applies exactly the
transformations that training saw.
"""

import tensorflow as tf
import tensorflow_transform as tft

from kubetfx.components import features


def fill_in_missing(x: tf.Tensor) -> tf.Tensor:
    """Densifies a feature of at most one value per row.

    CSV columns with empty cells arrive as ``SparseTensor``s; a missing value
    becomes ``''`` for strings and ``0`` for numbers, and the result has rank 1.
    """
    if not isinstance(x, tf.sparse.SparseTensor):
        return x
    default_value = "" if x.dtype == tf.string else 0
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value
    )
    return tf.squeeze(dense, axis=1)


def preprocessing_fn(inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """Maps raw taxi features to the model's inputs and label."""
    outputs = {}
    for key in features.DENSE_FLOAT_FEATURE_KEYS:
        value = tf.cast(fill_in_missing(inputs[key]), tf.float32)
        outputs[features.transformed_name(key)] = tft.scale_to_z_score(value)

    for key in features.VOCAB_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
            fill_in_missing(inputs[key]),
            top_k=features.VOCAB_SIZE,
            num_oov_buckets=features.OOV_SIZE,
            vocab_filename=key,
        )

    for key in features.BUCKET_FEATURE_KEYS:
        value = tf.cast(fill_in_missing(inputs[key]), tf.float32)
        outputs[features.transformed_name(key)] = tft.bucketize(
            value, features.FEATURE_BUCKET_COUNT
        )

    for key in features.CATEGORICAL_FEATURE_KEYS:
        outputs[features.transformed_name(key)] = tf.cast(fill_in_missing(inputs[key]), tf.int64)

    outputs[features.TRANSFORMED_LABEL_KEY] = big_tipper_label(
        fill_in_missing(inputs[features.FARE_KEY]), fill_in_missing(inputs[features.LABEL_KEY])
    )
    return outputs


def big_tipper_label(fare: tf.Tensor, tips: tf.Tensor) -> tf.Tensor:
    """1 where the tip was more than 20% of the fare, else 0 (also for no fare)."""
    fare = tf.cast(fare, tf.float32)
    tips = tf.cast(tips, tf.float32)
    return tf.where(
        tf.math.is_nan(fare),
        tf.zeros_like(fare, dtype=tf.int64),
        tf.cast(tf.greater(tips, fare * 0.2), tf.int64),
    )
