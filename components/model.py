"""The generic Keras model, built from a project and trained by the Trainer's ``run_fn``.

Wide and deep: the deep part is a stack of dense layers over the standardized
numbers (over the one-hot categories when a project has no numbers), the wide
part sees every categorical input one-hot encoded, and the head follows the
task: a sigmoid for binary, a softmax for multiclass, a linear output in the
label's own units for regression.

The SavedModel has two signatures:
- ``serving_default``: serialized ``tf.Example``s of raw features in,
  ``outputs`` out (the positive class's probability, each class's
  probability, or the predicted value); what the Pusher ships.
- ``transform_features``: raw examples in, transformed features (label
  included) out; what the Evaluator uses to compute the label.
It also carries ``assets.extra/kubetfx_label.json``: the task and the class
names, for whoever reads the model's outputs, and the distribution of its
predictions on the eval split (components/predictions.py).
"""

import json
import os
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.tfxio import dataset_options

from kubetfx.components import predictions
from kubetfx.components.preprocessing import vocabulary_name
from kubetfx.components.project import (
    ModelSettings,
    Preparation,
    label_weight_name,
    transformed_name,
)

DEFAULT_BATCH_SIZE = 64
# The names of the tuned settings among the Tuner's hyperparameters (components/tuning.py).
LEARNING_RATE = "learning_rate"
TRAIN_STEPS = "train_steps"
HIDDEN_UNITS = "hidden_units"  # "100,70,50": KerasTuner chooses among scalars
DROPOUT = "dropout"
# Batches read to find a regression label's mean and spread.
LABEL_SCALE_BATCHES = 100


def leave_keras_to_run_as_written() -> None:
    """Stops AutoGraph rewriting tf-keras's own code each time a model is first traced.

    AutoGraph leaves the ``keras`` package alone but not ``tf_keras``, the
    Keras 2 that TFX trains with (1.16 and 1.21 alike), so tracing a model's train step
    transpiled about 1,500 of its functions: 15 s before the first step of
    every ``fit``, where the steps themselves take 2 ms. tf-keras, like
    ``keras``, is written to be traced as it is; code of the project's own
    (a layer's ``call``) is still converted.
    """
    from tensorflow.python.autograph.core import config

    rules = config.CONVERSION_RULES
    if not any(isinstance(r, config.DoNotConvert) and r.matches("tf_keras") for r in rules):
        config.CONVERSION_RULES = (config.DoNotConvert("tf_keras"), *config.CONVERSION_RULES)


leave_keras_to_run_as_written()


def require_keras_2() -> None:
    """Fails early with the fix when TensorFlow was imported under Keras 3."""
    # The classes' module, not tf.keras's own name: importing ``tensorflow.keras``
    # by that name (MLflow's TensorFlow flavor does) renames the module.
    if not tf.keras.Model.__module__.startswith("tf_keras"):
        raise RuntimeError(
            f"tf.keras is {tf.keras.Model.__module__} (Keras 3), but TFX needs Keras 2: "
            "set TF_USE_LEGACY_KERAS=1 before TensorFlow is imported and install tf-keras"
        )


def hidden_units_text(units: list[int]) -> str:
    return ",".join(str(u) for u in units)


def with_hyperparameters(
    values: dict[str, Any], settings: ModelSettings, train_steps: int
) -> tuple[ModelSettings, int]:
    """``(model settings, train steps)`` with tuned ``values`` in place of the project's."""
    updates: dict[str, Any] = {}
    if LEARNING_RATE in values:
        updates["learning_rate"] = float(values[LEARNING_RATE])
    if DROPOUT in values:
        updates["dropout"] = float(values[DROPOUT])
    if HIDDEN_UNITS in values:
        updates["hidden_units"] = [int(u) for u in str(values[HIDDEN_UNITS]).split(",")]
    steps = int(values.get(TRAIN_STEPS, train_steps))
    return ModelSettings.model_validate({**settings.model_dump(), **updates}), steps


def input_fn(
    file_pattern: list[str],
    data_accessor: DataAccessor,
    tf_transform_output: tft.TFTransformOutput,
    batch_size: int,
    label_column: str,
    repeat: bool = True,
) -> tf.data.Dataset:
    """(transformed features, label, weight) batches: endless, or one pass without ``repeat``.

    Rows without a label to learn from weigh 0, so they change neither the
    loss nor the metrics.
    """
    weight_key = label_weight_name(label_column)

    def split_weight(features, label):
        features = dict(features)
        weight = features.pop(weight_key)
        return features, tf.where(weight > 0, label, tf.zeros_like(label)), weight

    dataset = data_accessor.tf_dataset_factory(
        file_pattern,
        dataset_options.TensorFlowDatasetOptions(
            batch_size=batch_size,
            label_key=transformed_name(label_column),
            num_epochs=None if repeat else 1,
        ),
        tf_transform_output.transformed_metadata.schema,
    ).map(split_weight)
    return dataset.repeat() if repeat else dataset


def category_sizes(
    preparation: Preparation, tf_transform_output: tft.TFTransformOutput | None = None
) -> dict[str, int]:
    """How many values each categorical model input takes, by input name.

    A vocabulary's size is the one Transform found when ``tf_transform_output``
    is given, else its ``top_k`` bound.
    """
    sizes = {}
    for column, feature in preparation.features.items():
        name = transformed_name(column)
        if feature.transform == "bucketize":
            sizes[name] = feature.buckets
        elif feature.transform == "identity":
            sizes[name] = feature.size + 1  # the last code stands for missing or unknown
        elif feature.transform == "vocabulary":
            found = (
                tf_transform_output.vocabulary_size_by_name(vocabulary_name(column))
                if tf_transform_output is not None
                else feature.top_k
            )
            sizes[name] = found + feature.oov_buckets
    return sizes


def build_keras_model(
    preparation: Preparation,
    settings: ModelSettings,
    sizes: dict[str, int],
    label_scale: tuple[float, float] = (0.0, 1.0),
) -> tf.keras.Model:
    """A compiled wide-and-deep model over the transformed features.

    ``sizes`` is ``category_sizes``; ``label_scale`` is the mean and spread of a
    regression label, which the output is scaled back to.
    """
    numeric = {
        transformed_name(column): tf.keras.layers.Input(
            name=transformed_name(column), shape=(1,), dtype=tf.float32
        )
        for column, feature in preparation.features.items()
        if feature.transform == "standardize"
    }
    categorical = {
        name: tf.keras.layers.Input(name=name, shape=(1,), dtype=tf.int64) for name in sizes
    }
    one_hot = [
        tf.keras.layers.CategoryEncoding(num_tokens=sizes[name], output_mode="one_hot")(value)
        for name, value in categorical.items()
    ]
    deep = _concatenate(list(numeric.values()) or one_hot)
    for units in settings.hidden_units:
        deep = tf.keras.layers.Dense(units, activation="relu")(deep)
        if settings.dropout > 0:
            deep = tf.keras.layers.Dropout(settings.dropout)(deep)
    last = _concatenate([deep, *one_hot])

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


def _concatenate(tensors: list[tf.Tensor]) -> tf.Tensor:
    return tensors[0] if len(tensors) == 1 else tf.keras.layers.concatenate(tensors)


def label_scale(
    dataset: tf.data.Dataset, batches: int = LABEL_SCALE_BATCHES
) -> tuple[float, float]:
    """The mean and standard deviation of the labels in the first ``batches`` batches.

    ``dataset`` yields (features, label, weight); labels of weight 0 are left out.
    """
    labels = []
    for _, label, weight in dataset.take(batches):
        kept = tf.boolean_mask(tf.reshape(label, [-1]), tf.reshape(weight, [-1]) > 0)
        labels.append(tf.cast(kept, tf.float64))
    values = tf.concat(labels, axis=0) if labels else tf.zeros([0], tf.float64)
    if int(tf.size(values)) == 0:
        return 0.0, 1.0
    spread = float(tf.math.reduce_std(values))
    return float(tf.reduce_mean(values)), spread if spread > 0 else 1.0


def _serving_signature(model, tf_transform_output, preparation: Preparation):
    """Serialized raw ``tf.Example``s of the features (no label) in, ``outputs`` out."""
    model.tft_layer_inference = tf_transform_output.transform_features_layer()
    raw_feature_spec = {
        column: spec
        for column, spec in tf_transform_output.raw_feature_spec().items()
        if column in preparation.features
    }

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def serve_tf_examples_fn(serialized_examples):
        raw_features = tf.io.parse_example(serialized_examples, raw_feature_spec)
        transformed = model.tft_layer_inference(raw_features)
        return {"outputs": model(transformed)}

    return serve_tf_examples_fn


def _transform_features_signature(model, tf_transform_output):
    """Serialized raw ``tf.Example``s in, transformed features (with label) out."""
    model.tft_layer_eval = tf_transform_output.transform_features_layer()

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name="examples")])
    def transform_features_fn(serialized_examples):
        raw_features = tf.io.parse_example(
            serialized_examples, tf_transform_output.raw_feature_spec()
        )
        return model.tft_layer_eval(raw_features)

    return transform_features_fn


def label_info(preparation: Preparation) -> dict[str, Any]:
    """What a reader of the model's outputs needs: the task and the class names."""
    label = preparation.label
    return {"task": label.task, "label": label.column, "class_names": label.class_names()}


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model and writes a SavedModel to ``fn_args.serving_model_dir``.

    ``fn_args.custom_config`` holds the project's ``preparation``, its ``model``
    settings and the ``batch_size``.
    """
    require_keras_2()
    config = fn_args.custom_config or {}
    preparation = Preparation.model_validate(config["preparation"])
    # The Tuner's best values, when the Trainer is given them, replace the project's.
    tuned = (fn_args.hyperparameters or {}).get("values", {})
    settings, train_steps = with_hyperparameters(
        tuned, ModelSettings.model_validate(config.get("model", {})), fn_args.train_steps
    )
    batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
    logging.info(
        "Training %s for %d steps%s.",
        settings.model_dump(),
        train_steps,
        f" with the tuned values {tuned}" if tuned else "",
    )
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    label_column = preparation.label.column

    def dataset(files: list[str]) -> tf.data.Dataset:
        return input_fn(files, fn_args.data_accessor, tf_transform_output, batch_size, label_column)

    train_dataset = dataset(fn_args.train_files)
    scale = (0.0, 1.0)
    if preparation.label.task == "regression":
        scale = label_scale(train_dataset)
    model = build_keras_model(
        preparation, settings, category_sizes(preparation, tf_transform_output), scale
    )
    model.fit(
        train_dataset,
        steps_per_epoch=train_steps,
        validation_data=dataset(fn_args.eval_files),
        validation_steps=fn_args.eval_steps,
        callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
        verbose=2,
    )
    signatures = {
        "serving_default": _serving_signature(model, tf_transform_output, preparation),
        "transform_features": _transform_features_signature(model, tf_transform_output),
    }
    tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)
    info = label_info(preparation)
    path = os.path.join(fn_args.serving_model_dir, predictions.LABEL_INFO_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(info, f)
    label = predictions.Label(info["task"], info["label"], tuple(info["class_names"]))
    # One pass over the eval split, at most eval_steps batches.
    eval_once = input_fn(
        fn_args.eval_files,
        fn_args.data_accessor,
        tf_transform_output,
        batch_size,
        label_column,
        repeat=False,
    )
    eval_predictions = predict_batches(model, eval_once, fn_args.eval_steps)
    predictions.write_reference(
        fn_args.serving_model_dir,
        predictions.reference_distribution(
            label, [label.describe(outputs)[0] for outputs in eval_predictions]
        ),
    )


def predict_batches(model, dataset: tf.data.Dataset, steps: int) -> np.ndarray:
    """The model's outputs, one row per example, for the first ``steps`` batches.

    Rows of weight 0 (no label to learn from) are left out, as in training.
    """
    outputs = []
    for features, _, weight in dataset.take(steps):
        scored = model(features, training=False).numpy()
        outputs.append(scored.reshape(len(scored), -1)[np.reshape(weight.numpy(), [-1]) > 0])
    return np.concatenate(outputs) if outputs else np.zeros([0, 1])
