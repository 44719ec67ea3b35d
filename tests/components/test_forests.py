"""Decision forests trained by YDF, called and saved as the Trainer does with a network."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components import forests
from kubetfx.components.model_inputs import CATEGORY, NUMBER, ONE_HOT, model_inputs
from kubetfx.components.project import Preparation, model_settings

SMALL = {"num_trees": 30, "max_depth": 4, "min_examples": 2}


def _preparation(task: str, **label) -> Preparation:
    return Preparation.model_validate(
        {
            "label": {"column": "y", "task": task, **label},
            "features": {
                "size": "standardize",
                "kind": {"transform": "identity", "size": 3},
                "age": {"transform": "bucketize", "buckets": 4},
            },
        }
    )


def _rows(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "size_xf": rng.normal(size=(n, 1)).astype("float32"),
        "kind_xf": rng.integers(0, 4, size=(n, 1)),
        "age_xf": rng.integers(0, 4, size=(n, 1)),
    }


def _dataset(rows, labels, weights=None, batch=64) -> tf.data.Dataset:
    weights = np.ones(len(labels), "float32") if weights is None else weights
    return tf.data.Dataset.from_tensor_slices((rows, labels, weights)).batch(batch)


def _train(tmp_path, algorithm, preparation, rows, labels, weights=None):
    settings = model_settings({"algorithm": algorithm, **SMALL})
    return forests.train(
        preparation, settings, _dataset(rows, labels, weights), str(tmp_path / "scratch")
    )


def test_numbers_stay_numbers_and_codes_are_categories_or_one_hot():
    preparation = _preparation("binary", positive=1)
    forest = model_inputs(preparation, model_settings("gradient_boosted_trees"))
    assert forest == {"size_xf": NUMBER, "kind_xf": CATEGORY, "age_xf": NUMBER}
    network = model_inputs(preparation, model_settings("dnn"))
    assert network == {"size_xf": NUMBER, "kind_xf": ONE_HOT, "age_xf": ONE_HOT}


@pytest.mark.parametrize("algorithm", ["gradient_boosted_trees", "random_forest"])
def test_binary_gives_the_positive_class_probability_and_learns_a_rule(tmp_path, algorithm):
    rows = _rows(1000, 0)
    # positive for kind 2 or for a large size: a category and a number both matter
    labels = ((rows["kind_xf"][:, 0] == 2) | (rows["size_xf"][:, 0] > 1.0)).astype("int64")
    model = _train(tmp_path, algorithm, _preparation("binary", positive=1), rows, labels)
    outputs = model(_rows(500, 1)).numpy()
    assert outputs.shape == (500, 1)
    assert ((outputs >= 0) & (outputs <= 1)).all()
    test = _rows(500, 1)
    expected = (test["kind_xf"][:, 0] == 2) | (test["size_xf"][:, 0] > 1.0)
    assert ((model(test).numpy()[:, 0] > 0.5) == expected).mean() > 0.9


def test_multiclass_gives_each_class_in_the_projects_order(tmp_path):
    rows = _rows(1200, 2)
    labels = rows["kind_xf"][:, 0] % 3  # class index from the category
    preparation = _preparation("multiclass", classes=["a", "b", "c"])
    model = _train(tmp_path, "gradient_boosted_trees", preparation, rows, labels)
    test = _rows(300, 3)
    outputs = model(test).numpy()
    assert outputs.shape == (300, 3)
    np.testing.assert_allclose(outputs.sum(axis=1), 1.0, atol=1e-5)
    assert (outputs.argmax(axis=1) == test["kind_xf"][:, 0] % 3).mean() > 0.95


def test_regression_answers_in_the_label_units(tmp_path):
    rows = _rows(1500, 4)
    labels = (150.0 + 40.0 * rows["size_xf"][:, 0]).astype("float32")
    model = _train(tmp_path, "gradient_boosted_trees", _preparation("regression"), rows, labels)
    test = _rows(300, 5)
    outputs = model(test).numpy()
    assert outputs.shape == (300, 1)
    rmse = np.sqrt(np.mean((outputs[:, 0] - (150.0 + 40.0 * test["size_xf"][:, 0])) ** 2))
    assert rmse < 10.0  # against a spread of 40


def test_rows_without_a_label_are_left_out_of_the_table():
    rows = _rows(10, 6)
    weights = np.array([1.0] * 6 + [0.0] * 4, "float32")
    kinds = {"size_xf": NUMBER, "kind_xf": CATEGORY}
    table, labels = forests.read_split(_dataset(rows, np.arange(10), weights, batch=4), kinds)
    assert list(labels) == [0, 1, 2, 3, 4, 5]
    assert table["size_xf"].dtype == np.float32 and len(table["size_xf"]) == 6
    assert list(table["kind_xf"]) == [str(v) for v in rows["kind_xf"][:6, 0]]


def test_a_class_the_forest_never_saw_gets_probability_zero():
    assert forests.class_columns(["2", "0"], 3) == [1, None, 0]


def test_a_split_without_labels_is_refused(tmp_path):
    rows = _rows(5, 7)
    with pytest.raises(ValueError, match="no row with a label"):
        _train(
            tmp_path,
            "random_forest",
            _preparation("binary", positive=1),
            rows,
            np.zeros(5, "int64"),
            np.zeros(5, "float32"),
        )


LOAD = """
import sys
import numpy as np
import tensorflow as tf
from kubetfx.components import forests
forests.load_ops()
loaded = tf.saved_model.load(sys.argv[1])
rows = {k: tf.constant(v) for k, v in np.load(sys.argv[2]).items()}
np.save(sys.argv[3], loaded.signatures["serving_default"](**rows)["outputs"].numpy())
"""


def test_the_saved_forest_answers_the_same_in_another_process(tmp_path):
    rows = _rows(800, 8)
    labels = (rows["size_xf"][:, 0] > 0).astype("int64")
    model = _train(
        tmp_path, "gradient_boosted_trees", _preparation("binary", positive=1), rows, labels
    )
    specs = {
        "size_xf": tf.TensorSpec([None], tf.float32, name="size_xf"),
        "kind_xf": tf.TensorSpec([None], tf.int64, name="kind_xf"),
        "age_xf": tf.TensorSpec([None], tf.int64, name="age_xf"),
    }
    serve = tf.function(lambda **features: {"outputs": model(features)}).get_concrete_function(
        **specs
    )
    tf.saved_model.save(model, str(tmp_path / "model"), signatures={"serving_default": serve})
    # the forest's files are the SavedModel's own: the scratch folder can go
    for root, _, files in os.walk(tmp_path / "scratch"):
        for name in files:
            os.remove(os.path.join(root, name))
    test = {k: v[:, 0] for k, v in _rows(50, 9).items()}
    np.savez(tmp_path / "rows.npz", **test)
    subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD,
            str(tmp_path / "model"),
            str(tmp_path / "rows.npz"),
            str(tmp_path / "out.npy"),
        ],
        check=True,
        env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
    )
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), model(test).numpy(), rtol=1e-5)
