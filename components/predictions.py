"""Scoring rows with a pushed model: raw CSV rows in, prediction columns out.

One home for how a row becomes the model's input and how the model's output
becomes columns. The model's ``serving_default`` signature takes serialized
``tf.Example``s of the raw features (components/model.py), typed as the
reviewed schema types them, each cell read as CsvExampleGen reads it (an
empty cell is an empty value list, text keeps its spaces); its
``assets.extra/kubetfx_label.json`` names the task and the classes.

A classifier's row gets the class it predicts and that class's probability;
a regression's row gets the predicted value.

The model also carries ``assets.extra/kubetfx_eval_predictions.json``: the
distribution of its predictions on the eval split, which the Trainer records.
Predictions on new data are counted in the same buckets and compared with it
by the population stability index (PSI); above ``DRIFT_THRESHOLD`` the new
rows are scored differently enough from the rows the model was evaluated on
to deserve a look (a common reading of PSI: below 0.1 no shift, 0.1 to 0.2 a
moderate one, above 0.2 a significant one).
"""

import bisect
import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.components.errors import TaskError

PREDICTION = "prediction"
PROBABILITY = "probability"

# What a kubetfx model carries besides its SavedModel, in the model's folder.
LABEL_INFO_FILE = os.path.join("assets.extra", "kubetfx_label.json")
REFERENCE_FILE = os.path.join("assets.extra", "kubetfx_eval_predictions.json")
# Above this PSI between the eval split's predictions and new ones, a drift warning.
DRIFT_THRESHOLD = 0.2
# A regression's predictions are counted in the deciles of the eval split's.
REGRESSION_BUCKETS = 10
# A bucket with no row counts as this share, so that PSI stays finite.
_EMPTY_SHARE = 1e-4
# Fewer new rows than this per bucket give no index: empty buckets of a small
# sample would read as drift.
MIN_ROWS_PER_BUCKET = 10


@dataclasses.dataclass(frozen=True)
class Label:
    """What the model predicts: the task, the label column and the class names."""

    task: str  # binary, multiclass or regression
    column: str
    class_names: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns a scored row gets."""
        return (PREDICTION,) if self.task == "regression" else (PREDICTION, PROBABILITY)

    def describe(self, outputs: Sequence[float]) -> tuple:
        """One row's model outputs as the values of ``columns``."""
        if self.task == "regression":
            return (float(outputs[0]),)
        if self.task == "binary":
            positive = float(outputs[0])
            if positive >= 0.5:
                return self.class_names[1], positive
            return self.class_names[0], 1.0 - positive
        best = int(np.argmax(outputs))
        return self.class_names[best], float(outputs[best])


def read_label_info(model_dir: str) -> dict[str, Any] | None:
    """The label info a model carries, or None for a model from elsewhere."""
    path = os.path.join(model_dir, LABEL_INFO_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def model_label(model_dir: str) -> Label:
    """The label a pushed model predicts, from the file the Trainer put in it."""
    info = read_label_info(model_dir)
    if info is None:
        raise TaskError(
            f"{model_dir} has no assets.extra/kubetfx_label.json: it was not trained by "
            "kubetfx, so the meaning of its outputs is unknown"
        )
    return Label(info["task"], info["label"], tuple(info["class_names"]))


def feature_types(schema: schema_pb2.Schema, features: Sequence[str]) -> dict[str, int]:
    """The schema's type (``schema_pb2.FeatureType``) of each model feature."""
    types = {feature.name: feature.type for feature in schema.feature}
    return {name: types[name] for name in features}


def to_example(row: Mapping[str, str], types: Mapping[str, int]) -> tf.train.Example:
    """A raw row's model features as a tf.Example; a value that does not parse names its column."""
    feature = {}
    for name, kind in types.items():
        # As CsvExampleGen reads a cell: text as written, numbers without padding.
        text = row.get(name, "")
        if kind != schema_pb2.BYTES:
            text = text.strip()
        try:
            if kind == schema_pb2.INT:
                values = [int(text)] if text else []
                feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
            elif kind == schema_pb2.FLOAT:
                values = [float(text)] if text else []
                feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
            else:
                values = [text.encode()] if text else []
                feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        except ValueError:
            kind_name = schema_pb2.FeatureType.Name(kind).lower()
            raise TaskError(
                f"column {name} holds {text!r}, not a valid {kind_name} value"
            ) from None
    return tf.train.Example(features=tf.train.Features(feature=feature))


# The distribution of predictions -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Distribution:
    """Counts of predictions in named buckets: the classes, or ranges of values.

    For values (``numeric``), ``edges`` are the inner bucket bounds, ascending:
    bucket ``i`` holds values from ``edges[i - 1]`` (included) up to ``edges[i]``.
    """

    buckets: tuple[str, ...]
    counts: tuple[int, ...]
    edges: tuple[float, ...] = ()
    numeric: bool = False

    @property
    def rows(self) -> int:
        return sum(self.counts)

    @property
    def shares(self) -> tuple[float, ...]:
        total = self.rows
        return tuple(c / total if total else 0.0 for c in self.counts)

    def bucket_of(self, prediction: Any) -> int:
        """The bucket index of one row's prediction (a class name, or a value)."""
        if self.numeric:
            return bisect.bisect_right(self.edges, float(prediction))
        return self.buckets.index(prediction)

    def empty(self) -> "Distribution":
        """The same buckets, with no rows counted."""
        return dataclasses.replace(self, counts=(0,) * len(self.buckets))

    def count(self, predictions: Iterable[Any]) -> "Distribution":
        """The same buckets with ``predictions`` counted in."""
        counts = list(self.counts)
        for prediction in predictions:
            counts[self.bucket_of(prediction)] += 1
        return dataclasses.replace(self, counts=tuple(counts))

    def to_json(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "counts": list(self.counts),
            "edges": list(self.edges),
            "numeric": self.numeric,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Distribution":
        return cls(
            tuple(data["buckets"]),
            tuple(int(c) for c in data["counts"]),
            tuple(float(e) for e in data.get("edges", ())),
            bool(data.get("numeric", False)),
        )


def reference_distribution(label: Label, predictions: Sequence[Any]) -> Distribution:
    """The buckets of a model's predictions, with ``predictions`` (of the eval split) counted.

    A classifier's buckets are its classes; a regression's are the deciles of
    ``predictions`` (fewer when values repeat).
    """
    if label.task != "regression":
        return Distribution(label.class_names, (0,) * len(label.class_names)).count(predictions)
    values = np.asarray(predictions, dtype=np.float64)
    values = values[np.isfinite(values)]  # a NaN has no place among the deciles
    quantiles = (
        np.quantile(values, np.linspace(0, 1, REGRESSION_BUCKETS + 1)[1:-1]) if len(values) else []
    )
    edges = tuple(sorted({float(q) for q in quantiles}))
    names = [f"below {edges[0]:.4g}"] if edges else ["all values"]
    names += [f"{low:.4g} to {high:.4g}" for low, high in zip(edges, edges[1:], strict=False)]
    names += [f"{edges[-1]:.4g} and above"] if edges else []
    return Distribution(tuple(names), (0,) * len(names), edges, numeric=True).count(values)


def stability_index(reference: Distribution, current: Distribution) -> float:
    """The population stability index of ``current`` against ``reference`` (same buckets)."""
    if reference.buckets != current.buckets:
        raise ValueError("the distributions have different buckets")
    total = 0.0
    for expected, actual in zip(reference.shares, current.shares, strict=True):
        expected, actual = max(expected, _EMPTY_SHARE), max(actual, _EMPTY_SHARE)
        total += (actual - expected) * math.log(actual / expected)
    return total


def write_reference(model_dir: str, distribution: Distribution) -> None:
    """Stores the eval split's prediction distribution in the model's folder."""
    path = os.path.join(model_dir, REFERENCE_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(distribution.to_json(), f)


def read_reference(model_dir: str) -> Distribution | None:
    """The eval split's prediction distribution a model carries; None for an older model."""
    path = os.path.join(model_dir, REFERENCE_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return Distribution.from_json(json.load(f))


@dataclasses.dataclass(frozen=True)
class Drift:
    """New predictions against the eval split's."""

    current: Distribution
    reference: Distribution | None

    @property
    def min_rows(self) -> int:
        """The fewest new rows that give an index."""
        return MIN_ROWS_PER_BUCKET * len(self.current.buckets)

    @property
    def index(self) -> float | None:
        if self.reference is None or not self.reference.rows:
            return None
        if self.current.rows < self.min_rows:
            return None
        return stability_index(self.reference, self.current)

    @property
    def drifted(self) -> bool:
        return self.index is not None and self.index > DRIFT_THRESHOLD

    def summary(self) -> str:
        """One line: the index and its reading, or why there is none."""
        if self.reference is None:
            return "no drift check: the model records no eval-split predictions (an older model)"
        if not self.reference.rows:
            return "no drift check: the model recorded no eval-split predictions (an empty split)"
        if self.index is None:
            return (
                f"no drift check: {self.current.rows} rows, fewer than the {self.min_rows} "
                f"a stable index needs ({MIN_ROWS_PER_BUCKET} per bucket)"
            )
        verdict = (
            f"drift: above {DRIFT_THRESHOLD}, the new rows are scored unlike the eval split's; "
            "check the data before trusting the predictions"
            if self.drifted
            else f"no drift (threshold {DRIFT_THRESHOLD})"
        )
        return f"PSI {self.index:.3f} against the eval split's predictions: {verdict}"
