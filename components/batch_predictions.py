"""Batch predictions in a pipeline: BulkInferrer guarded, and its logs turned into a table.

TFX's BulkInferrer scores Examples with a model and writes PredictionLog
records: the serialized input and the model's raw outputs. Two pieces here
make that usable in the predict pipeline:

- ``BulkInferrerExecutor`` refuses, in one line, to score with the empty
  Model artifact LatestPushedModel emits when nothing is pushed yet.
- ``Predictions`` reads the logs and writes, in its ``predictions`` artifact,
  ``predictions.csv`` (each input row's columns, in the CSV's order as
  CsvExampleGen recorded it, then the prediction columns of
  components/predictions.py) and ``distribution.json`` (the predictions
  counted in the buckets of the eval split's, and the drift index). The
  artifact's properties carry the row count and the index, for the KFP
  dashboard and ``kubetfx report``.
"""

import csv
import dataclasses
import io
import json
import os
from typing import Any

import apache_beam as beam
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_serving.apis import prediction_log_pb2
from tfx import types
from tfx.components.bulk_inferrer import executor as bulk_inferrer
from tfx.dsl.components.base import base_beam_component, base_beam_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter
from tfx.utils import path_utils

from kubetfx.components import baseline, csv_example_gen, predictions
from kubetfx.components.errors import TaskError

CSV_FILE = "predictions.csv"
DISTRIBUTION_FILE = "distribution.json"
# Properties of the predictions artifact.
ROWS_PROPERTY = "rows"
DRIFT_PROPERTY = "drift_index"  # -1 when there is no reference to compare with
NODE_ID = "Predictions"


class BulkInferrerExecutor(bulk_inferrer.Executor):
    """TFX's BulkInferrer, refusing a model that is not there; a forest's ops registered."""

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        if not baseline.has_model(model):
            source = model.get_string_custom_property("source_uri") or "the serving folder"
            raise TaskError(
                f"no model is pushed to {source} yet: run the training pipeline first, or "
                "give this run the serving_dir it pushes to"
            )
        from kubetfx.components import forests

        forests.load_ops_for(model_dir(model))
        super().Do(input_dict, output_dict, exec_properties)


class PredictionsArtifact(types.Artifact):
    """A folder with predictions.csv and distribution.json."""

    TYPE_NAME = "kubetfx.Predictions"


def model_dir(model: types.Artifact) -> str:
    return path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))


def cell(feature: tf.train.Feature) -> str:
    """One column of an input row as CSV text: its value, or empty."""
    kind = feature.WhichOneof("kind")
    values = list(getattr(feature, kind).value) if kind else []
    if not values:
        return ""
    value = values[0]
    if kind == "bytes_list":
        return value.decode("utf-8", errors="replace")
    if kind == "float_list":
        return str(np.float32(value))  # as the CSV wrote it: 0.1, not 0.10000000149
    return str(value)


def to_row(log: prediction_log_pb2.PredictionLog, columns: list[str], label: predictions.Label):
    """A PredictionLog as the input row's cells, then the prediction columns."""
    request = log.predict_log.request
    (tensor,) = request.inputs.values()
    example = tf.train.Example.FromString(tensor.string_val[0])
    features = example.features.feature
    outputs = tf.make_ndarray(log.predict_log.response.outputs["outputs"]).reshape(-1)
    empty = tf.train.Feature()
    return (
        *(cell(features[c]) if c in features else cell(empty) for c in columns),
        *label.describe(outputs),
    )


def csv_line(values) -> str:
    """One CSV line of ``values``, quoted where needed, without the line break."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


class CountPredictions(beam.CombineFn):
    """Counts predictions in a distribution's buckets."""

    def __init__(self, buckets: predictions.Distribution):
        self._buckets = buckets.empty()

    def create_accumulator(self):
        return [0] * len(self._buckets.buckets)

    def add_input(self, accumulator, prediction):
        accumulator[self._buckets.bucket_of(prediction)] += 1
        return accumulator

    def merge_accumulators(self, accumulators):
        return [sum(counts) for counts in zip(*accumulators, strict=True)]

    def extract_output(self, accumulator):
        return accumulator


class PredictionsExecutor(base_beam_executor.BaseBeamExecutor):
    """Writes predictions.csv and distribution.json from BulkInferrer's logs."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        logs = artifact_utils.get_single_uri(input_dict["inference_result"])
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        folder = model_dir(artifact_utils.get_single_instance(input_dict["model"]))
        output = artifact_utils.get_single_instance(output_dict["predictions"])
        label = predictions.model_label(folder)
        reference = predictions.read_reference(folder)
        columns = json.loads(
            examples.get_string_custom_property(csv_example_gen.COLUMNS_PROPERTY) or "[]"
        )
        clash = [c for c in columns if c in label.columns]
        if clash:
            raise TaskError(
                f"the data has a column {clash[0]}, which the predictions table adds; rename "
                "that column in the data (an earlier predictions file, say) and run again"
            )
        fileio.makedirs(output.uri)
        counted = os.path.join(output.uri, ".counts.json")
        with self._make_beam_pipeline() as pipeline:
            scored = (
                pipeline
                | "Read"
                >> beam.io.ReadFromTFRecord(
                    os.path.join(logs, "*.gz"),
                    coder=beam.coders.ProtoCoder(prediction_log_pb2.PredictionLog),
                )
                | "ToRows" >> beam.Map(to_row, columns, label)
            )
            _ = (
                scored
                | "ToCsv" >> beam.Map(csv_line)
                | "WriteCsv"
                >> beam.io.WriteToText(
                    os.path.join(output.uri, CSV_FILE),
                    num_shards=1,
                    shard_name_template="",
                    header=csv_line([*columns, *label.columns]),
                )
            )
            buckets = count_predictions(scored, len(columns), label, reference, counted)
        drift = read_counts(counted, buckets, reference)
        write_distribution(output.uri, drift)
        output.set_int_custom_property(ROWS_PROPERTY, drift.current.rows)
        output.set_float_custom_property(
            DRIFT_PROPERTY, drift.index if drift.index is not None else -1.0
        )
        logging.info("Scored %d rows; %s", drift.current.rows, drift.summary())


def count_predictions(
    rows: beam.PCollection,
    column: int,
    label: predictions.Label,
    reference: predictions.Distribution | None,
    path: str,
) -> predictions.Distribution:
    """Counts the predictions (``column`` of each row) in the buckets of ``reference``.

    Writes the counts to ``path`` when the pipeline runs; returns the buckets
    (a model without a reference: its classes, or one bucket of every value).
    """
    buckets = reference or predictions.reference_distribution(label, [])
    _ = (
        rows
        | "Prediction" >> beam.Map(lambda row: row[column])
        | "Count" >> beam.CombineGlobally(CountPredictions(buckets))
        | "ToJson" >> beam.Map(json.dumps)
        | "WriteCounts" >> beam.io.WriteToText(path, num_shards=1, shard_name_template="")
    )
    return buckets


def read_counts(
    path: str, buckets: predictions.Distribution, reference: predictions.Distribution | None
) -> predictions.Drift:
    """The counts ``count_predictions`` wrote (the file is removed) against the reference."""
    with fileio.open(path) as f:
        counts = json.loads(f.read())
    fileio.remove(path)
    return predictions.Drift(dataclasses.replace(buckets, counts=tuple(counts)), reference)


def write_distribution(folder: str, drift: predictions.Drift) -> None:
    with fileio.open(os.path.join(folder, DISTRIBUTION_FILE), "w") as f:
        f.write(
            json.dumps(
                {
                    "rows": drift.current.rows,
                    "current": drift.current.to_json(),
                    "reference": drift.reference.to_json() if drift.reference else None,
                    "drift_index": drift.index,
                    "threshold": predictions.DRIFT_THRESHOLD,
                    "summary": drift.summary(),
                },
                indent=1,
            )
        )


def read_distribution(folder: str) -> predictions.Drift:
    """What ``write_distribution`` stored in a predictions artifact."""
    with fileio.open(os.path.join(folder, DISTRIBUTION_FILE)) as f:
        data = json.loads(f.read())
    reference = data.get("reference")
    return predictions.Drift(
        predictions.Distribution.from_json(data["current"]),
        predictions.Distribution.from_json(reference) if reference else None,
    )


class PredictionsSpec(types.ComponentSpec):
    PARAMETERS: dict[str, Any] = {}
    INPUTS = {
        "inference_result": ChannelParameter(type=standard_artifacts.InferenceResult),
        # Read for the column order CsvExampleGen recorded, and the model's label.
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {"predictions": ChannelParameter(type=PredictionsArtifact)}


class Predictions(base_beam_component.BaseBeamComponent):
    """BulkInferrer's prediction logs as a CSV table and a prediction distribution."""

    SPEC_CLASS = PredictionsSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(PredictionsExecutor)

    def __init__(self, inference_result, examples, model):
        super().__init__(
            spec=PredictionsSpec(
                inference_result=inference_result,
                examples=examples,
                model=model,
                predictions=types.Channel(type=PredictionsArtifact),
            )
        )
        self.with_id(NODE_ID)
