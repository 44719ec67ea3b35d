"""The Trainer's ``run_fn``: trains the project's algorithm and writes the SavedModel.

The algorithm is the project's ``model.algorithm``: a Keras network
(components/networks.py) trained for ``train_steps`` batches, or a decision
forest (components/forests.py) trained by YDF on the whole train split. Every
algorithm's SavedModel has the same two signatures:
- ``serving_default``: serialized ``tf.Example``s of raw features in,
  ``outputs`` out (the positive class's probability, each class's
  probability, or the predicted value); what the Pusher ships.
- ``transform_features``: raw examples in, transformed features (label
  included) out; what the Evaluator uses to compute the label.
It also carries ``assets.extra/kubetfx_label.json``: the task, the class names
and the algorithm, for whoever reads the model's outputs, and the distribution
of its predictions on the eval split (components/predictions.py). A candidate
of ``algorithm: auto`` (``custom_config["candidate"]``) also carries its score
on the whole eval split by the gate's metric (components/algorithm_choice.py).
"""

import json
import os
import tempfile
import time
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.tfxio import dataset_options

from kubetfx.components import predictions
from kubetfx.components.candidates import SCORE_FILE
from kubetfx.components.preprocessing import vocabulary_name
from kubetfx.components.project import (
    TASK_METRICS,
    Algorithm,
    Forest,
    Preparation,
    label_weight_name,
    model_settings,
    transformed_name,
)

DEFAULT_BATCH_SIZE = 64
# Tuned settings that need more than their name among the Tuner's hyperparameters
# (components/tuning.py); the others are named as in the project file.
TRAIN_STEPS = "train_steps"
HIDDEN_UNITS = "hidden_units"  # "100,70,50": KerasTuner chooses among scalars
# Batches read to find a regression label's mean and spread.
LABEL_SCALE_BATCHES = 100
# Rows per batch when a candidate is scored on the whole eval split.
SCORE_BATCH = 1024


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
    values: dict[str, Any], settings: Algorithm, train_steps: int
) -> tuple[Algorithm, int]:
    """``(model settings, train steps)`` with tuned ``values`` in place of the project's.

    Values of settings the algorithm does not have (a network's, tuned before
    the project chose a forest) are left out.
    """
    fields = set(type(settings).model_fields) - {"algorithm"}
    updates: dict[str, Any] = {name: value for name, value in values.items() if name in fields}
    if HIDDEN_UNITS in updates:  # "100,70,50": KerasTuner chooses among scalars
        updates[HIDDEN_UNITS] = [int(u) for u in str(updates[HIDDEN_UNITS]).split(",")]
    steps = int(values.get(TRAIN_STEPS, train_steps))
    return model_settings({**settings.model_dump(), **updates}), steps


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


def label_info(preparation: Preparation, settings: Algorithm) -> dict[str, Any]:
    """What a reader of the model's outputs needs: the task, the class names, the algorithm."""
    label = preparation.label
    return {
        "task": label.task,
        "label": label.column,
        "class_names": label.class_names(),
        "algorithm": settings.algorithm,
    }


def run_fn(fn_args: FnArgs) -> None:
    """Trains the model and writes a SavedModel to ``fn_args.serving_model_dir``.

    ``fn_args.custom_config`` holds the project's ``preparation``, its ``model``
    settings and the ``batch_size``; a candidate's, its ``candidate`` (the gate's metric).
    """
    started = time.monotonic()
    require_keras_2()
    config = fn_args.custom_config or {}
    preparation = Preparation.model_validate(config["preparation"])
    # The Tuner's best values, when the Trainer is given them, replace the project's.
    tuned = (fn_args.hyperparameters or {}).get("values", {})
    settings, train_steps = with_hyperparameters(
        tuned, model_settings(config.get("model")), fn_args.train_steps
    )
    batch_size = int(config.get("batch_size", DEFAULT_BATCH_SIZE))
    logging.info(
        "Training %s%s%s.",
        settings.model_dump(),
        "" if isinstance(settings, Forest) else f" for {train_steps} steps",
        f" with the tuned values {tuned}" if tuned else "",
    )
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    label_column = preparation.label.column

    def dataset(files: list[str], repeat: bool = True, size: int = batch_size) -> tf.data.Dataset:
        return input_fn(
            files, fn_args.data_accessor, tf_transform_output, size, label_column, repeat
        )

    with tempfile.TemporaryDirectory() as scratch:
        if isinstance(settings, Forest):
            from kubetfx.components import forests

            train_split = dataset(fn_args.train_files, repeat=False, size=forests.READ_BATCH)
            model = forests.train(preparation, settings, train_split, scratch)
        else:
            model = _fit_network(
                preparation, settings, train_steps, dataset, tf_transform_output, fn_args
            )
        signatures = {
            "serving_default": _serving_signature(model, tf_transform_output, preparation),
            "transform_features": _transform_features_signature(model, tf_transform_output),
        }
        # A forest's files (in ``scratch``) become the SavedModel's assets here.
        tf.saved_model.save(model, fn_args.serving_model_dir, signatures=signatures)
    train_seconds = time.monotonic() - started
    info = label_info(preparation, settings)
    path = os.path.join(fn_args.serving_model_dir, predictions.LABEL_INFO_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(info, f)
    label = predictions.Label(info["task"], info["label"], tuple(info["class_names"]))
    # One pass over the eval split, at most eval_steps batches.
    eval_once = dataset(fn_args.eval_files, repeat=False)
    eval_predictions = predict_batches(model, eval_once, fn_args.eval_steps)
    predictions.write_reference(
        fn_args.serving_model_dir,
        predictions.reference_distribution(
            label, [label.describe(outputs)[0] for outputs in eval_predictions]
        ),
    )
    if "candidate" in config:
        metric = config["candidate"]["metric"]
        whole_split = dataset(fn_args.eval_files, repeat=False, size=SCORE_BATCH)
        value, rows = gate_score(model, whole_split, label.task, metric)
        logging.info("Scored %s on %d eval rows: %s %.4f.", settings.algorithm, rows, metric, value)
        write_score(
            fn_args.serving_model_dir, settings.algorithm, metric, value, rows, train_seconds
        )


def _fit_network(preparation, settings, train_steps, dataset, tf_transform_output, fn_args):
    """A Keras network (components/networks.py), trained for ``train_steps`` batches."""
    from kubetfx.components.networks import build_keras_model

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
    return model


def predict_batches(model, dataset: tf.data.Dataset, steps: int) -> np.ndarray:
    """The model's outputs, one row per example, for the first ``steps`` batches.

    Rows of weight 0 (no label to learn from) are left out, as in training.
    """
    outputs = []
    for features, _, weight in dataset.take(steps):
        scored = model(features, training=False).numpy()
        outputs.append(scored.reshape(len(scored), -1)[np.reshape(weight.numpy(), [-1]) > 0])
    return np.concatenate(outputs) if outputs else np.zeros([0, 1])


def gate_score(model, dataset: tf.data.Dataset, task: str, metric: str) -> tuple[float, int]:
    """``(value, rows)``: the model's ``metric`` (a metric of ``task``) over ``dataset``.

    ``dataset`` yields (features, label, weight); rows of weight 0 (no label)
    are left out. The metric is Keras's, as TFMA's Evaluator computes it.
    """
    kind = next(m for m in TASK_METRICS[task] if m.name == metric)
    measure = getattr(tf.keras.metrics, kind.tfma_class)()
    rows = 0
    for features, label, weight in dataset:
        outputs = model(features, training=False)
        kept = tf.reshape(weight, [-1]) > 0
        target = tf.boolean_mask(tf.reshape(tf.cast(label, tf.float32), [-1, 1]), kept)
        outputs = tf.boolean_mask(tf.reshape(outputs, [tf.shape(kept)[0], -1]), kept)
        measure.update_state(target, outputs)
        rows += int(tf.reduce_sum(tf.cast(kept, tf.int32)))
    return float(measure.result()), rows


def write_score(
    model_dir: str, algorithm: str, metric: str, value: float, rows: int, train_seconds: float
) -> None:
    """What a candidate of ``algorithm: auto`` leaves in its SavedModel folder for the choice."""
    path = os.path.join(model_dir, SCORE_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    score = {
        "algorithm": algorithm,
        "metric": metric,
        "value": value,
        "rows": rows,
        "train_seconds": round(train_seconds, 1),
    }
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(score, f)
