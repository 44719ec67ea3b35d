"""The search: its space from the project, trials built and scored with tf_keras."""

import numpy as np
import pytest
import tensorflow as tf

from kubetfx.components import model, tuning
from kubetfx.components.project import Tuning, model_settings


def test_the_space_has_a_hyperparameter_per_searched_setting():
    space = tuning.search_space(
        Tuning(
            learning_rate={"min": 0.001, "max": 0.1, "log": True},
            train_steps=[500, 100, 500],
            hidden_units=[[64, 32], [16]],
            num_trees=[100, 300],  # a forest's: not a network's to search
        ),
        model_settings(),
    )
    by_name = {h.name: h for h in space.space}
    assert set(by_name) == {"learning_rate", "train_steps", "hidden_units"}
    assert by_name["learning_rate"].sampling == "log"
    assert list(by_name["train_steps"].values) == [100, 500]
    assert list(by_name["hidden_units"].values) == ["64,32", "16"]


def test_tuned_values_replace_the_projects_and_the_rest_stay():
    settings, steps = model.with_hyperparameters(
        {"hidden_units": "64,32", "dropout": 0.25, "train_steps": 300},
        model_settings({"learning_rate": 0.01}),
        train_steps=1000,
    )
    assert settings == model_settings(
        {"hidden_units": [64, 32], "learning_rate": 0.01, "dropout": 0.25}
    )
    assert steps == 300
    assert model.with_hyperparameters({}, model_settings(), 7) == (model_settings(), 7)


def test_tuned_values_of_settings_the_algorithm_lacks_are_left_out():
    linear = model_settings({"algorithm": "linear", "learning_rate": 0.01})
    settings, steps = model.with_hyperparameters(
        {"hidden_units": "64,32", "dropout": 0.25, "learning_rate": 0.05}, linear, 100
    )
    assert settings == model_settings({"algorithm": "linear", "learning_rate": 0.05})
    forest = model_settings({"algorithm": "random_forest", "num_trees": 20})
    assert model.with_hyperparameters({"learning_rate": 0.05}, forest, 100) == (forest, 100)


@pytest.mark.parametrize(
    "objective, task, expected",
    [
        ("loss", "regression", ("val_loss", "min")),
        ("auc", "binary", ("val_auc", "max")),
        ("mean_absolute_error", "regression", ("val_mean_absolute_error", "min")),
    ],
)
def test_the_objective_is_named_as_keras_logs_it(objective, task, expected):
    result = tuning.objective(Tuning(objective=objective, dropout=[0.1]), task)
    assert (result.name, result.direction) == expected


def test_a_search_trains_each_trial_and_keeps_the_best(tmp_path):
    """Two trials of a tiny tf_keras model: the one that learns scores better."""
    import keras_tuner

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 1)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).repeat()

    def build(values):
        layer = tf.keras.Sequential(
            [tf.keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros")]
        )
        layer.compile(
            optimizer=tf.keras.optimizers.Adam(values["learning_rate"]),
            loss="binary_crossentropy",
            metrics=[tf.keras.metrics.BinaryAccuracy()],
        )
        return layer, 40

    space = keras_tuner.HyperParameters()
    space.Choice("learning_rate", [1e-6, 0.1])
    oracle = keras_tuner.oracles.GridSearchOracle(
        objective=keras_tuner.Objective("val_binary_accuracy", "max"),
        max_trials=2,
        hyperparameters=space,
    )
    tuner = tuning.ProjectTuner(
        oracle, build, data, data, eval_steps=4, directory=str(tmp_path), project_name="t"
    )
    tuner.search()
    (best,) = tuner.get_best_hyperparameters(1)
    assert best.values == {"learning_rate": 0.1}
    assert tf.keras.Model.__module__.startswith("tf_keras")  # trials ran with Keras 2


def test_a_forest_searches_its_own_settings_only():
    searched = Tuning(
        learning_rate=[0.01], num_trees=[300, 50], shrinkage={"min": 0.05, "max": 0.3}
    )
    space = tuning.search_space(searched, model_settings("gradient_boosted_trees"))
    by_name = {h.name: h for h in space.space}
    assert set(by_name) == {"num_trees", "shrinkage"}
    assert list(by_name["num_trees"].values) == [50, 300]
    forest = model_settings("random_forest")  # no shrinkage
    assert [h.name for h in tuning.search_space(searched, forest).space] == ["num_trees"]
    settings, _ = model.with_hyperparameters({"num_trees": 50, "shrinkage": 0.2}, forest, 100)
    assert settings == model_settings({"algorithm": "random_forest", "num_trees": 50})


def test_a_forests_scores_are_named_and_computed_as_keras_logs_a_networks():
    outputs = np.array([[0.9], [0.2], [0.6], [0.4]], "float32")
    scores = tuning.forest_scores(outputs, np.array([1, 0, 0, 1]), "binary")
    assert scores["val_binary_accuracy"] == pytest.approx(0.5)
    expected_loss = -np.mean(np.log([0.9, 0.8, 0.4, 0.4]))
    assert scores["val_loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert {"val_auc", "val_precision", "val_recall"} <= set(scores)
    regression = tuning.forest_scores(np.array([[1.0], [3.0]]), np.array([2.0, 3.0]), "regression")
    assert regression["val_root_mean_squared_error"] == pytest.approx(np.sqrt(0.5))


def test_a_forest_search_trains_each_trial_and_keeps_the_best(tmp_path):
    """Two trials of real YDF forests: at a shrinkage of 0.1 one tree is too little, 40 are not."""
    import keras_tuner

    from kubetfx.components import forests
    from kubetfx.components.model_inputs import model_inputs
    from tests.components.test_forests import _dataset, _preparation, _rows

    preparation = _preparation("binary", positive=1)
    settings = model_settings({"algorithm": "gradient_boosted_trees", "min_examples": 2})
    rows = _rows(1000, 0)
    labels = ((rows["kind_xf"][:, 0] == 2) & (rows["size_xf"][:, 0] > 0)).astype("int64")
    train = _dataset(rows, labels)
    test = _rows(400, 1)
    truth = ((test["kind_xf"][:, 0] == 2) & (test["size_xf"][:, 0] > 0)).astype("int64")
    validation = forests.read_split(_dataset(test, truth), model_inputs(preparation, settings))

    def train_forest(values, scratch):
        trial, _ = model.with_hyperparameters(values, settings, 0)
        return forests.train(preparation, trial, train, scratch)

    space = keras_tuner.HyperParameters()
    space.Choice("num_trees", [1, 40])
    space.Fixed("max_depth", 2)  # YDF counts the root: one split
    oracle = keras_tuner.oracles.GridSearchOracle(
        objective=keras_tuner.Objective("val_binary_accuracy", "max"),
        max_trials=2,
        hyperparameters=space,
    )
    tuner = tuning.ForestTuner(
        oracle, train_forest, validation, "binary", directory=str(tmp_path), project_name="t"
    )
    tuner.search()
    (best,) = tuner.get_best_hyperparameters(1)
    assert best.values["num_trees"] == 40
    scores = [t.score for t in tuner.oracle.trials.values()]
    assert max(scores) > 0.95 > min(scores)  # one stump: about the 7 in 8 negatives
