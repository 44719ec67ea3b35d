"""Decision forests: gradient-boosted trees and random forests, trained by YDF.

YDF (Yggdrasil Decision Forests) trains on the whole train split, read into
memory from Transform's output: numbers as numbers and integer codes as
categories (components/model_inputs.py), rows without a label left out. Its
TensorFlow export turns the trained forest into a TensorFlow function, which
``ForestModel`` calls as the Trainer calls a Keras model: transformed
features in, the outputs a Keras head gives out. So the SavedModel has the
same signatures, Transform graph and outputs whatever the algorithm, and the
Evaluator, the Pusher, ``predict`` and serving take it as they are.

The function runs the forest with the decision-forest inference ops. They come
from ``ydf_tf`` where TensorFlow is 2.18 or newer (the TFX 1.21 stack) and
from TensorFlow Decision Forests before that (the TFX 1.16 stack); TensorFlow
Serving has carried them since 2.11. A Python process must register them
before it loads such a SavedModel: ``load_ops``, or ``load_ops_for`` a
model's folder.
"""

import functools
import os
import time
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from kubetfx.components import predictions
from kubetfx.components.model_inputs import NUMBER, model_inputs
from kubetfx.components.project import (
    FOREST_ALGORITHMS,
    GradientBoostedTrees,
    Preparation,
    RandomForest,
)

LABEL = "__kubetfx_label__"  # the label's column in the table YDF trains on
# Rows read from the transformed train split at a time.
READ_BATCH = 8192


@functools.cache
def load_ops() -> None:
    """Registers the decision-forest inference ops with TensorFlow in this process."""
    try:
        import ydf_tf  # noqa: F401 - registers the ops (TensorFlow 2.18 and newer)
    except ImportError:
        import tensorflow_decision_forests  # noqa: F401 - registers them on older TensorFlow


def is_forest(model_dir: str) -> bool:
    """Whether the SavedModel in ``model_dir`` is a forest, as its label info says."""
    info = predictions.read_label_info(model_dir) or {}
    return info.get("algorithm") in FOREST_ALGORITHMS


def load_ops_for(model_dir: str) -> None:
    """``load_ops`` if the SavedModel in ``model_dir`` is a forest."""
    if is_forest(model_dir):
        load_ops()


def read_split(
    dataset: tf.data.Dataset, kinds: dict[str, str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The rows of one pass of ``dataset`` that have a label: YDF's table, and the labels.

    ``dataset`` yields (transformed features, label, weight) batches, as
    ``model.input_fn`` makes them. Numbers become float32 and integer codes
    text (categories to YDF).
    """
    columns: dict[str, list[np.ndarray]] = {name: [] for name in kinds}
    labels = []
    for features, label, weight in dataset:
        keep = np.reshape(weight.numpy(), [-1]) > 0
        for name in kinds:
            columns[name].append(np.reshape(features[name].numpy(), [-1])[keep])
        labels.append(np.reshape(label.numpy(), [-1])[keep])
    table = {}
    for name, kind in kinds.items():
        values = np.concatenate(columns[name]) if columns[name] else np.zeros([0])
        table[name] = values.astype(np.float32) if kind == NUMBER else values.astype(str)
    return table, np.concatenate(labels) if labels else np.zeros([0])


def train(
    preparation: Preparation,
    settings: GradientBoostedTrees | RandomForest,
    dataset: tf.data.Dataset,
    scratch: str,
) -> "ForestModel":
    """Trains a forest on one pass of ``dataset`` (``model.input_fn``'s batches).

    ``scratch`` holds the forest's files until the SavedModel is written.
    """
    import ydf

    kinds = model_inputs(preparation, settings)
    table, labels = read_split(dataset, kinds)
    if len(labels) == 0:
        raise ValueError("the train split has no row with a label to learn from")
    task = preparation.label.task
    if task == "regression":
        table[LABEL] = labels.astype(np.float32)
    else:  # the class index as text: YDF's classes are its names
        table[LABEL] = labels.astype(np.int64).astype(str)
    semantic = {NUMBER: ydf.Semantic.NUMERICAL}
    common: dict[str, Any] = {
        "label": LABEL,
        "task": ydf.Task.REGRESSION if task == "regression" else ydf.Task.CLASSIFICATION,
        "features": [
            ydf.Feature(name, semantic.get(kind, ydf.Semantic.CATEGORICAL))
            for name, kind in kinds.items()
        ],
        "num_trees": settings.num_trees,
        "max_depth": settings.max_depth,
        "min_examples": settings.min_examples,
    }
    if isinstance(settings, GradientBoostedTrees):
        learner = ydf.GradientBoostedTreesLearner(**common, shrinkage=settings.shrinkage)
    else:
        learner = ydf.RandomForestLearner(**common)
    started = time.monotonic()
    forest = learner.train(table, verbose=0)
    logging.info(
        "Trained %s on %d rows in %.1f s.",
        settings.algorithm,
        len(labels),
        time.monotonic() - started,
    )
    return ForestModel(forest, kinds, preparation, scratch)


def class_columns(forest_classes: list[str], count: int) -> list[int | None]:
    """Where each of the project's ``count`` classes is among the forest's, None if absent.

    The forest names its classes by the text of their index, in an order of
    its own, and knows only those the train split holds.
    """
    return [
        forest_classes.index(str(i)) if str(i) in forest_classes else None for i in range(count)
    ]


class ForestModel(tf.Module):
    """A trained forest, called as the Keras models are: transformed features in, outputs out.

    Outputs as a Keras head gives them: the positive class's probability
    ``[batch, 1]`` (binary), every class's ``[batch, classes]`` (multiclass),
    the value ``[batch, 1]`` (regression).
    """

    def __init__(self, forest, kinds: dict[str, str], preparation: Preparation, scratch: str):
        super().__init__()
        load_ops()
        self._kinds = dict(kinds)
        self._task = preparation.label.task
        os.makedirs(scratch, exist_ok=True)
        self.forest = forest.to_tensorflow_function(
            temp_dir=scratch, can_be_saved=True, squeeze_binary_classification=False
        )
        self._columns = None
        if self._task != "regression":
            count = 2 if self._task == "binary" else len(preparation.label.classes or [])
            self._columns = tuple(class_columns(list(forest.label_classes()), count))

    def __call__(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        inputs = {}
        for name, kind in self._kinds.items():
            value = tf.reshape(features[name], [-1])
            inputs[name] = (
                tf.cast(value, tf.float32) if kind == NUMBER else tf.strings.as_string(value)
            )
        scores = self.forest(inputs)
        if self._columns is None:
            return tf.reshape(scores, [-1, 1])
        absent = tf.zeros_like(scores[:, 0])
        probabilities = tf.stack(
            [scores[:, c] if c is not None else absent for c in self._columns], axis=1
        )
        return probabilities[:, 1:] if self._task == "binary" else probabilities
