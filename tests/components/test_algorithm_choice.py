"""AlgorithmChoice's executor on models as candidate Trainers leave them; run_fn's score."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import path_utils

from kubetfx.components import algorithm_choice, candidates
from kubetfx.components.errors import TaskError
from kubetfx.components.model import gate_score, write_score


def _trained(root, algorithm: str, value: float | None, seconds: float, payload: bytes):
    """A Trainer's Model artifact: a SavedModel folder and, for a candidate, its score."""
    model = standard_artifacts.Model()
    model.uri = str(root / algorithm)
    serving = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(serving, "variables"))
    with open(os.path.join(serving, "saved_model.pb"), "wb") as f:
        f.write(payload)
    if value is not None:
        write_score(serving, algorithm, "auc", value, 250, seconds)
    return model


def _run(root, models: dict, settings: list[dict]):
    output = standard_artifacts.Model()
    output.uri = str(root / "chosen")
    properties = {
        "candidates": json.dumps(settings),
        "metric": "auc",
        "higher_is_better": 1,
        "project_algorithm": "wide_and_deep",
    }
    algorithm_choice.Executor().Do(
        {name: [model] for name, model in models.items()}, {"model": [output]}, properties
    )
    return output


def test_the_best_candidates_model_is_copied_out_with_the_table_of_all(tmp_path):
    models = {
        "linear": _trained(tmp_path, "linear", 0.80, 3.04, b"L" * 100),
        "gradient_boosted_trees": _trained(tmp_path, "gradient_boosted_trees", 0.93, 9.5, b"T" * 5),
    }
    settings = [
        {"algorithm": "linear", "learning_rate": 0.01},
        {"algorithm": "gradient_boosted_trees"},
    ]
    output = _run(tmp_path, models, settings)

    chosen = path_utils.serving_model_dir(output.uri)
    with open(os.path.join(chosen, "saved_model.pb"), "rb") as f:
        assert f.read() == b"T" * 5
    assert output.get_string_custom_property("algorithm") == "gradient_boosted_trees"
    choice = candidates.read_choice(output)
    assert [c.algorithm for c in choice.candidates] == ["gradient_boosted_trees", "linear"]
    linear = choice.candidates[1]
    score_bytes = os.path.getsize(
        os.path.join(path_utils.serving_model_dir(models["linear"].uri), candidates.SCORE_FILE)
    )
    assert linear.size_bytes == 100 + score_bytes  # every file of the SavedModel folder
    assert (linear.value, linear.rows, linear.train_seconds) == (0.80, 250, 3.0)
    assert linear.settings == settings[0]
    assert choice.project_algorithm == "wide_and_deep" and choice.metric == "auc"


def test_a_model_without_a_score_is_refused_with_the_candidate_named(tmp_path):
    models = {
        "linear": _trained(tmp_path, "linear", 0.80, 3.0, b"L"),
        "dnn": _trained(tmp_path, "dnn", None, 0.0, b"D"),
    }
    with pytest.raises(TaskError, match=r"^the candidate dnn's model has no score"):
        _run(tmp_path, models, [{"algorithm": "linear"}, {"algorithm": "dnn"}])
    assert not os.path.exists(tmp_path / "chosen")


class _Fixed(tf.Module):
    """A model whose outputs are given: one probability per row."""

    def __init__(self, outputs):
        super().__init__()
        self.outputs = tf.constant(outputs, tf.float32)

    def __call__(self, features, training=False):
        return tf.gather(self.outputs, tf.cast(tf.reshape(features["row"], [-1]), tf.int32))


def test_the_gate_score_leaves_out_rows_without_a_label_and_counts_the_rest():
    # Six rows in two batches; rows 2 and 5 have no label (weight 0).
    outputs = [[0.9], [0.2], [0.9], [0.7], [0.4], [0.1]]
    labels = [1, 0, 0, 0, 1, 1]
    weights = [1, 1, 0, 1, 1, 0]
    dataset = tf.data.Dataset.from_tensor_slices(
        ({"row": np.arange(6)}, np.array(labels), np.array(weights, np.float32))
    ).batch(4)
    value, rows = gate_score(_Fixed(outputs), dataset, "binary", "binary_accuracy")
    # Kept: rows 0 (right), 1 (right), 3 (0.7 for a 0: wrong), 4 (0.4 for a 1: wrong).
    assert rows == 4
    assert value == pytest.approx(0.5)
