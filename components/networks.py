"""The Keras models: linear, dnn and wide_and_deep, over Transform's outputs.

Each takes the standardized numbers as they are and the categorical inputs
one-hot encoded (components/model_inputs.py):

- ``linear``: one weighted sum of them all (logistic regression for a binary
  task, its softmax form for multiclass, least squares for regression);
- ``dnn``: dense layers over them all;
- ``wide_and_deep``: dense layers over the numbers (over the categories when a
  project has no numbers), beside a linear part over every category.

The head follows the task: a sigmoid for binary, a softmax for multiclass, a
linear output in the label's own units for regression.
"""

import tensorflow as tf

from kubetfx.components.model_inputs import NUMBER, model_inputs
from kubetfx.components.project import Dnn, Linear, Preparation, WideAndDeep


def build_keras_model(
    preparation: Preparation,
    settings: Linear | Dnn | WideAndDeep,
    sizes: dict[str, int],
    label_scale: tuple[float, float] = (0.0, 1.0),
) -> tf.keras.Model:
    """A compiled Keras model of ``settings.algorithm`` over the transformed features.

    ``sizes`` is how many values each categorical input takes
    (``model.category_sizes``); ``label_scale`` is the mean and spread of a
    regression label, which the output is scaled back to.
    """
    kinds = model_inputs(preparation, settings)
    numeric = {
        name: tf.keras.layers.Input(name=name, shape=(1,), dtype=tf.float32)
        for name, kind in kinds.items()
        if kind == NUMBER
    }
    categorical = {
        name: tf.keras.layers.Input(name=name, shape=(1,), dtype=tf.int64) for name in sizes
    }
    one_hot = [
        tf.keras.layers.CategoryEncoding(num_tokens=sizes[name], output_mode="one_hot")(value)
        for name, value in categorical.items()
    ]
    numbers = list(numeric.values())
    if isinstance(settings, Linear):
        last = _concatenate(numbers + one_hot)
    elif isinstance(settings, Dnn):
        last = _dense_layers(_concatenate(numbers + one_hot), settings)
    else:
        last = _concatenate([_dense_layers(_concatenate(numbers or one_hot), settings), *one_hot])

    label = preparation.label
    if label.task == "binary":
        output = tf.keras.layers.Dense(1, activation="sigmoid")(last)
        loss, metrics = "binary_crossentropy", [tf.keras.metrics.BinaryAccuracy()]
    elif label.task == "multiclass":
        output = tf.keras.layers.Dense(len(label.classes or []), activation="softmax")(last)
        loss = "sparse_categorical_crossentropy"
        metrics = [tf.keras.metrics.SparseCategoricalAccuracy()]
    else:
        mean, spread = label_scale
        output = tf.keras.layers.Rescaling(scale=spread, offset=mean)(
            tf.keras.layers.Dense(1)(last)
        )
        loss, metrics = "mean_squared_error", [tf.keras.metrics.RootMeanSquaredError()]
    model = tf.keras.Model(inputs={**numeric, **categorical}, outputs=output)
    model.compile(
        loss=loss,
        optimizer=tf.keras.optimizers.Adam(learning_rate=settings.learning_rate),
        weighted_metrics=metrics,  # rows of weight 0 (no label) count in neither
    )
    return model


def _dense_layers(inputs: tf.Tensor, settings: Dnn | WideAndDeep) -> tf.Tensor:
    for units in settings.hidden_units:
        inputs = tf.keras.layers.Dense(units, activation="relu")(inputs)
        if settings.dropout > 0:
            inputs = tf.keras.layers.Dropout(settings.dropout)(inputs)
    return inputs


def _concatenate(tensors: list[tf.Tensor]) -> tf.Tensor:
    return tensors[0] if len(tensors) == 1 else tf.keras.layers.concatenate(tensors)
