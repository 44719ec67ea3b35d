"""Scoring rows with a pushed model: raw CSV rows in, prediction columns out.

One home for how a row becomes the model's input and how the model's output
becomes columns. The model's ``serving_default`` signature takes serialized
``tf.Example``s of the raw features (components/model.py), typed as the
reviewed schema types them, each cell read as CsvExampleGen reads it (an
empty cell is an empty value list, text keeps its spaces); its
``assets.extra/kubetfx_label.json`` names the task and the classes.

A classifier's row gets the class it predicts and that class's probability;
a regression's row gets the predicted value.
"""

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.components.errors import TaskError
from kubetfx.components.model import read_label_info

PREDICTION = "prediction"
PROBABILITY = "probability"


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
