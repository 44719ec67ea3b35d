"""Each `model.algorithm`, from a drafted project to a pushed model that `predict` uses.

A binary, a multiclass and a regression dataset (tests/datasets.py) each get a
project from `kubetfx init`, its gate opened to the threshold alone so that
every model that clears it is pushed. Each project then trains several
algorithms in turn through the real CLI (`run --algorithm`), in one output
folder: the first run makes the data steps, the later ones take them from
the cache. Every model is evaluated with the task's metrics, pushed, and
scores the dataset with `kubetfx predict` as its own serving signature does.
What `init` drafts for these datasets, gradient_boosted_trees, has
tests/test_projects_e2e.py; the taxi project's wide_and_deep has
tests/test_local_pipeline_e2e.py.
"""

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kubetfx.components import forests, predictions
from kubetfx.components.visualizations import overall_metrics
from kubetfx.pipelines.history import metadata
from tests.conftest import run_kubetfx
from tests.test_projects_e2e import CASES, _examples, draft

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "200", "--eval-steps", "20"]
# (dataset, algorithm), in the order they run: each dataset's first run makes its data steps.
RUNS = [
    ("breast_cancer", "linear"),
    ("breast_cancer", "random_forest"),
    ("iris", "dnn"),
    ("iris", "wide_and_deep"),
    ("diabetes", "wide_and_deep"),
    ("diabetes", "random_forest"),
]
# What each task's model must reach on the eval split.
GOOD_ENOUGH = {
    "binary": ("binary_accuracy", 0.85),
    "multiclass": ("sparse_categorical_accuracy", 0.8),
    "regression": ("root_mean_squared_error", 77.0),  # the label's spread: beats the mean
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Each dataset's drafted project, its gate on the threshold alone: name -> root."""
    built = {}

    def project(name: str):
        if name not in built:
            root = tmp_path_factory.mktemp(name)
            draft(name, root)
            config = root / "project" / "kubetfx.yaml"
            text = config.read_text()
            assert "    no_worse_than_serving: true\n" in text
            config.write_text(
                text.replace("no_worse_than_serving: true", "no_worse_than_serving: false")
            )
            built[name] = root
        return built[name]

    return project


@pytest.mark.parametrize("name, algorithm", RUNS, ids=[f"{n}-{a}" for n, a in RUNS])
def test_the_algorithm_trains_is_evaluated_pushed_and_scores_with_predict(
    projects, name, algorithm, tmp_path
):
    root = projects(name)
    _, task, _ = CASES[name]
    config = str(root / "project" / "kubetfx.yaml")
    run = run_kubetfx("run", "--config", config, "--algorithm", algorithm, *FAST)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "model blessed and pushed to" in run.stdout

    out = root / "project" / "kubetfx_output"
    store = metadata.connect(str(out / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    model_uri = executions["Trainer"].outputs["model"][0].uri
    info = predictions.read_label_info(os.path.join(model_uri, "Format-Serving"))
    assert info["algorithm"] == algorithm
    names = info["class_names"]
    metrics = overall_metrics(executions["Evaluator"].outputs["evaluation"][0].uri, names)
    metric, bar = GOOD_ENOUGH[task]
    reached = metrics[metric] > bar if task != "regression" else metrics[metric] < bar
    assert reached, (algorithm, metrics)

    # The newest pushed version is this model, and predict scores with it.
    version = max(os.listdir(out / "serving"), key=int)
    pushed = str(out / "serving" / version)
    assert predictions.read_label_info(pushed)["algorithm"] == algorithm
    output = tmp_path / "predictions.csv"
    data = str(root / "data")
    scored = run_kubetfx("predict", "--config", config, "--data", data, "--output", str(output))
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert f"scored by model version {version} in " in scored.stdout + scored.stderr
    # predict gives every row what the model's serving signature gives it (in its own order).
    rows = pd.read_csv(output)
    forests.load_ops()  # a forest's inference ops, in this process too
    loaded = tf.saved_model.load(pushed)
    examples = tf.constant(_examples(root, limit=None))
    served = loaded.signatures["serving_default"](examples=examples)["outputs"].numpy()
    label = predictions.Label(task, info["label"], tuple(names))
    expected = [label.describe(outputs)[-1] for outputs in served]
    column = "prediction" if task == "regression" else "probability"
    assert len(rows) == len(expected)
    np.testing.assert_allclose(np.sort(rows[column]), np.sort(expected), rtol=1e-4, atol=1e-6)


def test_tune_searches_the_forests_own_settings(projects):
    """The drafted tuning section, for a forest: its trees, depth and shrinkage, not a network's."""
    from kubetfx.components import visualizations

    root = projects("iris")
    config = str(root / "project" / "kubetfx.yaml")
    args = ["--algorithm", "gradient_boosted_trees", "--tune", "--max-trials", "2"]
    tuned = run_kubetfx("run", "--config", config, *args, *FAST)
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    store = metadata.connect(str(root / "project" / "kubetfx_output" / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    trials = visualizations.tuning_trials(executions["Tuner"].outputs["tuner_results"][0].uri)
    assert len(trials) == 2
    assert {"num_trees", "max_depth", "shrinkage"} <= set(trials[0])
    assert not {"hidden_units", "learning_rate", "dropout"} & set(trials[0])
    assert trials[0]["score"] >= trials[1]["score"]  # sparse_categorical_accuracy: maximised


def test_choose_algorithm_trains_the_candidates_pushes_the_best_and_later_runs_keep_it(projects):
    """--choose-algorithm, then a plain run (the choice is kept), then --algorithm (it is not)."""
    from kubetfx.components.candidates import read_choice
    from kubetfx.pipelines.project.loader import load_project

    root = projects("breast_cancer")
    config = root / "project" / "kubetfx.yaml"
    # The file names a model that cannot win, so that the choice differs from it:
    # linear, learning too slowly to leave its random start in 200 steps.
    text = config.read_text()
    model = text[text.index("\nmodel:\n") : text.index("\ntraining:\n")]
    config.write_text(
        text.replace(model, "\nmodel:\n  algorithm: linear\n  learning_rate: 0.00001\n")
    )
    config = str(config)
    out = root / "project" / "kubetfx_output"
    chose = run_kubetfx("run", "--config", config, "--choose-algorithm", *FAST)
    assert chose.returncode == 0, chose.stdout + chose.stderr
    for node in ("TrainerLinear", "TrainerWideAndDeep", "TrainerGradientBoostedTrees"):
        assert f"  {node} " in chose.stdout
    store = metadata.connect(str(out / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    choice = read_choice(executions["AlgorithmChoice"].outputs["model"][0])
    values = [c.value for c in choice.candidates]  # best first: binary_accuracy, highest
    assert len(values) == 3 and values == sorted(values, reverse=True)
    chosen = choice.chosen.algorithm
    assert chosen != "linear", choice.reason
    # The default candidates, the file's linear among them with the file's settings.
    linear = next(c for c in choice.candidates if c.algorithm == "linear")
    assert linear.settings == {"algorithm": "linear", "learning_rate": 0.00001}
    # The Evaluator judged the chosen model, and its accuracy is the score the choice read.
    metrics = overall_metrics(executions["Evaluator"].outputs["evaluation"][0].uri, [])
    assert metrics["binary_accuracy"] == pytest.approx(choice.chosen.value, abs=1e-4)
    assert choice.chosen.rows == metrics["example_count"]
    status = run_kubetfx("status", "latest", "--config", config)
    assert f"chosen: {choice.reason}" in status.stdout

    # The project file still names the algorithm it named when the choice was made: kept.
    kept = run_kubetfx("run", "--config", config, *FAST)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert choice.project_algorithm == load_project(config).project.model.algorithm == "linear"
    assert f"kubetfx: trains {chosen}, which an earlier run chose over" in kept.stdout
    store = metadata.connect(str(out / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    model_uri = executions["Trainer"].outputs["model"][0].uri
    info = predictions.read_label_info(os.path.join(model_uri, "Format-Serving"))
    assert info["algorithm"] == chosen

    # --algorithm trains what it names.
    other = "random_forest"
    named = run_kubetfx("run", "--config", config, "--algorithm", other, "--to", "Trainer", *FAST)
    assert named.returncode == 0, named.stdout + named.stderr
    assert "an earlier run chose" not in named.stdout
    store = metadata.connect(str(out / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    model_uri = executions["Trainer"].outputs["model"][0].uri
    info = predictions.read_label_info(os.path.join(model_uri, "Format-Serving"))
    assert info["algorithm"] == other


def test_a_choice_cannot_be_tuned_or_given_an_algorithm_too(projects):
    config = str(projects("breast_cancer") / "project" / "kubetfx.yaml")
    both = run_kubetfx("run", "--config", config, "--choose-algorithm", "--algorithm", "dnn")
    assert both.returncode == 2
    assert both.stderr.strip().splitlines()[-1] == (
        "kubetfx: error: --choose-algorithm chooses among candidates; --algorithm dnn names "
        "one: pick one"
    )
    tuned = run_kubetfx("run", "--config", config, "--choose-algorithm", "--tune")
    assert tuned.returncode == 2
    assert "--tune: a search tunes one algorithm" in tuned.stderr
