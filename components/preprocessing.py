"""The generic tf.Transform ``preprocessing_fn``: a project's features, prepared as it says.

The Transform task passes the project's preparation (label and features) as
``custom_config``. The same graph is embedded in the trained model, so serving
applies exactly the transformations that training saw. Each feature becomes
one model input named by ``project.transformed_name``:

- ``standardize``: a float with zero mean and unit variance; a missing value
  is first replaced by the mean.
- ``bucketize``: the quantile range the value falls in, ``0 .. buckets - 1``.
- ``vocabulary``: the index of the value among the ``top_k`` most frequent,
  or one of ``oov_buckets`` hashed indices after them; a missing value is a
  value of its own.
- ``identity``: the integer code itself, ``0 .. size - 1``; a missing or
  out-of-range code becomes ``size``.

The label becomes 0/1 (binary), the index of its class (multiclass) or a float
(regression); beside it, a weight of 0 marks the rows the Trainer leaves out
(no label, or a class the project does not list).
"""

from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from kubetfx.components.project import (
    Label,
    Preparation,
    Threshold,
    label_weight_name,
    transformed_name,
)

# A missing value of a vocabulary feature, as a category of its own (tf.Transform
# leaves empty strings out of a vocabulary).
MISSING_TOKEN = "__kubetfx_missing__"


def vocabulary_name(column: str) -> str:
    """The file name of a feature's vocabulary in the transform output."""
    return transformed_name(column).removesuffix("_xf")


def densify(x: tf.Tensor | tf.SparseTensor, default: Any) -> tf.Tensor:
    """A feature of at most one value per row as a rank-1 tensor, ``default`` where empty.

    CSV columns with empty cells arrive as ``SparseTensor``s.
    """
    if not isinstance(x, tf.sparse.SparseTensor):
        return tf.reshape(x, [-1])
    dense = tf.sparse.to_dense(
        tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]),
        tf.cast(default, x.dtype),
    )
    return tf.squeeze(dense, axis=1)


def _number(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A numeric feature as float32, missing values replaced by the feature's mean."""
    if isinstance(x, tf.sparse.SparseTensor):
        values = tf.cast(x.values, tf.float32)
        present = tf.SparseTensor(x.indices, values, x.dense_shape)
        return densify(present, tft.mean(values))
    return tf.cast(tf.reshape(x, [-1]), tf.float32)


def _as_text(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A feature as strings, so that a missing value stays apart from every real one."""
    if x.dtype != tf.string:
        values = x.values if isinstance(x, tf.sparse.SparseTensor) else x
        text = tf.strings.as_string(values)
        x = (
            tf.SparseTensor(x.indices, text, x.dense_shape)
            if isinstance(x, tf.SparseTensor)
            else text
        )
    return densify(x, MISSING_TOKEN)


def _codes(x: tf.Tensor | tf.SparseTensor, size: int) -> tf.Tensor:
    """Integer codes in ``0 .. size - 1``; a missing or out-of-range one becomes ``size``."""
    codes = tf.cast(densify(x, -1), tf.int64)
    return tf.where((codes >= 0) & (codes < size), codes, tf.constant(size, tf.int64))


def _exact(x: tf.Tensor | tf.SparseTensor) -> tf.Tensor:
    """A label as text, or as float64 with NaN where missing: compared to the classes."""
    if x.dtype == tf.string:
        return densify(x, MISSING_TOKEN)
    if isinstance(x, tf.sparse.SparseTensor):
        x = tf.SparseTensor(x.indices, tf.cast(x.values, tf.float64), x.dense_shape)
        return densify(x, float("nan"))
    return tf.cast(tf.reshape(x, [-1]), tf.float64)


def _constants(values: list, like: tf.Tensor) -> tf.Tensor:
    if like.dtype == tf.string:
        return tf.constant([str(v) for v in values])
    return tf.constant([float(v) for v in values], tf.float64)


def prepare_label(label: Label, inputs: dict[str, Any]) -> tf.Tensor:
    """The training target: 0/1, a class index (-1 for an unknown class), or a float."""
    raw = inputs[label.column]
    if label.task == "regression":
        return _number(raw)
    if isinstance(label.positive, Threshold):
        value = tf.cast(densify(raw, 0), tf.float32)
        bound = tf.constant(label.positive.greater_than, tf.float32)
        if label.positive.times:
            bound = bound * tf.cast(densify(inputs[label.positive.times], 0), tf.float32)
        return tf.cast(value > bound, tf.int64)
    value = _exact(raw)
    if label.task == "binary":
        return tf.cast(tf.equal(value, _constants([label.positive], value)[0]), tf.int64)
    classes = _constants(list(label.classes or []), value)
    matches = tf.equal(tf.expand_dims(value, 1), tf.expand_dims(classes, 0))
    index = tf.argmax(tf.cast(matches, tf.int32), axis=1)
    return tf.where(tf.reduce_any(matches, axis=1), index, tf.constant(-1, tf.int64))


def label_weight(label: Label, inputs: dict[str, Any], prepared: tf.Tensor) -> tf.Tensor:
    """1.0 where a row has a label to learn from, 0.0 where it is missing or an unknown class."""
    raw = inputs[label.column]
    if isinstance(raw, tf.sparse.SparseTensor):
        marks = tf.SparseTensor(raw.indices, tf.ones_like(raw.values, tf.float32), raw.dense_shape)
        present = densify(marks, 0.0)
    else:
        present = tf.ones_like(prepared, tf.float32)
    if label.task == "multiclass":
        present = present * tf.cast(prepared >= 0, tf.float32)
    return present


def prepare(preparation: Preparation, inputs: dict[str, Any]) -> dict[str, tf.Tensor]:
    """The model inputs, the label and the label's weight, from the raw features."""
    outputs = {}
    for column, feature in preparation.features.items():
        name = transformed_name(column)
        raw = inputs[column]
        if feature.transform == "standardize":
            outputs[name] = tft.scale_to_z_score(_number(raw))
        elif feature.transform == "bucketize":
            outputs[name] = tft.bucketize(_number(raw), feature.buckets)
        elif feature.transform == "vocabulary":
            outputs[name] = tft.compute_and_apply_vocabulary(
                _as_text(raw),
                top_k=feature.top_k,
                num_oov_buckets=feature.oov_buckets,
                vocab_filename=vocabulary_name(column),
            )
        else:
            outputs[name] = _codes(raw, feature.size)
    label = prepare_label(preparation.label, inputs)
    outputs[transformed_name(preparation.label.column)] = label
    outputs[label_weight_name(preparation.label.column)] = label_weight(
        preparation.label, inputs, label
    )
    return outputs


def preprocessing_fn(
    inputs: dict[str, Any], custom_config: dict[str, Any] | None = None
) -> dict[str, tf.Tensor]:
    """Transform's entry point: the preparation comes in ``custom_config["preparation"]``."""
    if not custom_config or "preparation" not in custom_config:
        raise ValueError(
            "custom_config has no 'preparation': the Transform component must be built by "
            "kubetfx.pipelines.definition, which passes the project's features"
        )
    return prepare(Preparation.model_validate(custom_config["preparation"]), inputs)
