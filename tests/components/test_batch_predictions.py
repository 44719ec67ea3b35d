"""The predict pipeline's own pieces: the guarded BulkInferrer and the predictions table."""

import csv
import json
import os

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
from tfx.types import standard_artifacts
from tfx.utils import import_utils, path_utils

from kubetfx.components import batch_predictions, csv_example_gen, predictions
from kubetfx.components.errors import TaskError
from kubetfx.components.kfp_contract import ARTIFACT_CLASSES

LABEL = {"task": "binary", "label": "tip", "class_names": ["no tip", "tip"]}


def _example(**values) -> tf.train.Example:
    feature = {}
    for name, value in values.items():
        if isinstance(value, str):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        elif isinstance(value, float):
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
        elif value is None:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[]))
        else:
            feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _log(example: tf.train.Example, positive: float) -> prediction_log_pb2.PredictionLog:
    """A PredictionLog as tfx_bsl's RunInference writes one for a serialized-example model."""
    log = prediction_log_pb2.PredictionLog()
    request = log.predict_log.request
    request.inputs["examples"].CopyFrom(
        tf.make_tensor_proto([example.SerializeToString()], dtype=tf.string)
    )
    log.predict_log.response.outputs["outputs"].CopyFrom(
        tf.make_tensor_proto([[positive]], dtype=tf.float32)
    )
    return log


def test_cells_are_written_as_the_csv_had_them():
    example = _example(n=3, x=0.1, s="Oslo, Norway", empty=None)
    cells = {k: batch_predictions.cell(v) for k, v in example.features.feature.items()}
    assert cells == {"n": "3", "x": "0.1", "s": "Oslo, Norway", "empty": ""}


def test_a_log_becomes_the_input_row_in_column_order_then_the_prediction():
    label = predictions.Label("binary", "tip", ("no tip", "tip"))
    log = _log(_example(id="a-1", fare=7.25, hour=11), 0.25)
    row = batch_predictions.to_row(log, ["id", "hour", "fare", "absent"], label)
    assert row[:4] == ("a-1", "11", "7.25", "")
    assert row[4] == "no tip" and row[5] == pytest.approx(0.75)


def test_the_bulk_inferrer_refuses_to_score_without_a_pushed_model(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    model.set_string_custom_property("source_uri", "/serving")
    with pytest.raises(TaskError, match=r"^no model is pushed to /serving yet: run the training"):
        batch_predictions.BulkInferrerExecutor().Do({"model": [model]}, {}, {})


def test_kubetfx_artifact_types_are_restored_by_their_title():
    for title, class_path in ARTIFACT_CLASSES.items():
        assert import_utils.import_class_by_path(class_path).TYPE_NAME == title


def test_the_table_and_the_distribution_of_a_run(tmp_path):
    logs_dir = tmp_path / "inference"
    logs_dir.mkdir()
    rows = [("r1", 0.9), ("r2", 0.2), ("r3, quoted", 0.7), ("r4", 0.1)]
    with tf.io.TFRecordWriter(str(logs_dir / "prediction_logs-00000-of-00001.gz"), "GZIP") as w:
        for key, positive in rows:
            w.write(_log(_example(id=key, fare=1.5), positive).SerializeToString())
    inference = standard_artifacts.InferenceResult()
    inference.uri = str(logs_dir)
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    examples.set_string_custom_property(csv_example_gen.COLUMNS_PROPERTY, '["id", "fare"]')
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    model_dir = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(model_dir, "assets.extra"))
    with open(os.path.join(model_dir, predictions.LABEL_INFO_FILE), "w") as f:
        json.dump(LABEL, f)
    label = predictions.Label("binary", "tip", ("no tip", "tip"))
    # The eval split: 3 of 4 rows predicted "no tip".
    predictions.write_reference(
        model_dir, predictions.reference_distribution(label, ["no tip"] * 3 + ["tip"])
    )
    output = batch_predictions.PredictionsArtifact()
    output.uri = str(tmp_path / "predictions")

    batch_predictions.PredictionsExecutor().Do(
        {"inference_result": [inference], "examples": [examples], "model": [model]},
        {"predictions": [output]},
        {},
    )
    with open(tmp_path / "predictions" / "predictions.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["id", "fare", "prediction", "probability"]
    assert sorted((r[0], r[1], r[2]) for r in table[1:]) == [
        ("r1", "1.5", "tip"),
        ("r2", "1.5", "no tip"),
        ("r3, quoted", "1.5", "tip"),
        ("r4", "1.5", "no tip"),
    ]
    drift = batch_predictions.read_distribution(str(tmp_path / "predictions"))
    assert drift.current.counts == (2, 2) and drift.reference.counts == (3, 1)
    assert drift.index is None  # 4 rows are too few for an index (20 for 2 classes)
    assert drift.summary().startswith("no drift check: 4 rows, fewer than the 20")
    assert output.get_int_custom_property(batch_predictions.ROWS_PROPERTY) == 4
    assert output.get_float_custom_property(batch_predictions.DRIFT_PROPERTY) == -1.0
    assert sorted(os.listdir(tmp_path / "predictions")) == ["distribution.json", "predictions.csv"]


def test_a_data_column_named_like_a_prediction_column_is_refused(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    model_dir = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(model_dir, "assets.extra"))
    with open(os.path.join(model_dir, predictions.LABEL_INFO_FILE), "w") as f:
        json.dump(LABEL, f)
    examples = standard_artifacts.Examples()
    examples.set_string_custom_property(csv_example_gen.COLUMNS_PROPERTY, '["id", "prediction"]')
    inference = standard_artifacts.InferenceResult()
    inference.uri = str(tmp_path / "none")
    output = batch_predictions.PredictionsArtifact()
    output.uri = str(tmp_path / "predictions")
    with pytest.raises(TaskError, match="^the data has a column prediction, which the predictions"):
        batch_predictions.PredictionsExecutor().Do(
            {"inference_result": [inference], "examples": [examples], "model": [model]},
            {"predictions": [output]},
            {},
        )
    assert not (tmp_path / "predictions").exists()
