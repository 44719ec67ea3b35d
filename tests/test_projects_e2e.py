"""Datasets that are not the taxi's, from `kubetfx init` to a pushed model, through the real CLI.

A binary, a multiclass (text label) and a regression dataset from scikit-learn
each get a drafted project, a short real run, and a look at what it produced:
the task's metrics, the pushed model answering raw rows, and for one of them
the report and the compiled pipeline emulated as the KFP backend runs it.
"""

import csv
import io
import json
import os
import re
import shutil

import pytest
import tensorflow as tf

from kubetfx.components import forests
from kubetfx.components.visualizations import classification_metrics, overall_metrics
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.kfp.emulator import run as emulator
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore
from tests import browser, dashboard, datasets
from tests.conftest import run_kubetfx

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "200", "--eval-steps", "20"]
CASES = {
    # dataset: (label, task, metric the gate uses)
    "breast_cancer": ("diagnosis", "binary", "binary_accuracy"),
    "iris": ("species", "multiclass", "sparse_categorical_accuracy"),
    "diabetes": ("progression", "regression", "root_mean_squared_error"),
}


def draft(name: str, root):
    """Writes the dataset to ``root/data`` and drafts its project in ``root/project``."""
    data = getattr(datasets, name)(root / "data")
    label, _, _ = CASES[name]
    init = run_kubetfx("init", str(root / "project"), "--data", str(data), "--label", label)
    assert init.returncode == 0, init.stdout + init.stderr
    return init


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    """Builds each dataset's project once, on first use: (name, folder, init, run)."""
    built = {}

    def project(name: str):
        if name not in built:
            root = tmp_path_factory.mktemp(name)
            init = draft(name, root)
            config = str(root / "project" / "kubetfx.yaml")
            run = run_kubetfx("run", "--config", config, *FAST)
            assert run.returncode == 0, run.stdout + run.stderr
            built[name] = (name, root, init, run)
        return built[name]

    return project


@pytest.fixture(params=list(CASES))
def project(request, projects):
    """A dataset, its drafted project and one run of it."""
    return projects(request.param)


def _executions(root):
    store = metadata.connect(str(root / "project" / "kubetfx_output" / "metadata.db"))
    return {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}


def test_init_guesses_the_task_and_writes_a_draft_to_review(project):
    name, root, init, _ = project
    _, task, metric = CASES[name]
    assert f"({task}," in init.stdout
    text = (root / "project" / "kubetfx.yaml").read_text()
    assert f"  task: {task}" in text and f"    metric: {metric}" in text
    assert (root / "project" / "schema.pbtxt").exists()
    again = run_kubetfx("init", str(root / "project"), "--data", str(root / "data"), "--label", "x")
    assert again.returncode == 2 and "already exists; pass --force" in again.stderr
    assert (root / "project" / "kubetfx.yaml").read_text() == text


def test_the_run_evaluates_with_the_task_metrics_and_pushes(project):
    name, root, _, run = project
    _, task, metric = CASES[name]
    assert "model blessed and pushed to" in run.stdout
    assert "--config" in run.stdout.splitlines()[-1]  # the report command, for this project
    executions = _executions(root)
    assert {e.state for e in executions.values()} == {"complete"}
    evaluation = executions["Evaluator"].outputs["evaluation"][0].uri
    from kubetfx.components.visualizations import model_class_names

    names = model_class_names(executions["Trainer"].outputs["model"][0].uri)
    metrics = overall_metrics(evaluation, names)
    if task == "binary":
        assert metrics["binary_accuracy"] > 0.85 and metrics["auc"] > 0.9
        assert {"precision", "recall"} <= set(metrics)
    elif task == "multiclass":
        assert names == ["setosa", "versicolor", "virginica"]
        assert metrics["sparse_categorical_accuracy"] > 0.8
        assert {f"recall ({n})" for n in names} <= set(metrics)
    else:
        assert {"mean_absolute_error", "mean_squared_error"} <= set(metrics)
        assert metrics["root_mean_squared_error"] < 77.0  # the label's spread: beats the mean
    charts = classification_metrics(evaluation, names)
    assert (charts is None) == (task == "regression")
    if charts:
        size = 2 if task == "binary" else 3
        assert len(charts["confusionMatrix"]["rows"]) == size
        json.dumps(charts, allow_nan=False)


def _examples(root, limit=20):
    """The first CSV rows as serialized tf.Examples of their features (no label)."""
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(str(root / "project" / "schema.pbtxt"))
    kinds = {f.name: f.type for f in schema.feature}
    with open(root / "data" / "data.csv", newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    examples = []
    for row in rows:
        feature = {}
        for column, text in row.items():
            if kinds[column] == 1:
                value = tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode()]))
            elif kinds[column] == 2:
                value = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(text)]))
            else:
                value = tf.train.Feature(float_list=tf.train.FloatList(value=[float(text)]))
            feature[column] = value
        examples.append(
            tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
        )
    return examples


def test_the_pushed_model_answers_raw_rows(project):
    name, root, _, _ = project
    _, task, _ = CASES[name]
    serving = root / "project" / "kubetfx_output" / "serving"
    (version,) = os.listdir(serving)
    forests.load_ops()  # what init drafts is a forest: its inference ops, in this process
    loaded = tf.saved_model.load(str(serving / version))
    outputs = loaded.signatures["serving_default"](examples=tf.constant(_examples(root)))
    values = outputs["outputs"].numpy()
    if task == "binary":
        assert values.shape == (20, 1) and ((values >= 0) & (values <= 1)).all()
    elif task == "multiclass":
        assert values.shape == (20, 3)
        assert abs(values.sum(axis=1) - 1).max() < 1e-5
        assert (values.argmax(axis=1) == 0).mean() > 0.8  # the first rows are all setosa
    else:
        assert values.shape == (20, 1)
        assert 25 <= values.mean() <= 346  # in the label's own units


def test_the_report_draws_the_roc_curve_and_the_confusion_matrix(projects, tmp_path):
    """One report is enough: the binary project's has both pictures."""
    _, root, _, run = projects("breast_cancer")
    # "kubetfx: run <id> finished in ..."; a progress line's seconds can start with "20" too.
    run_id = re.search(r"^kubetfx: run (\S+) finished", run.stdout, re.M).group(1)
    page = tmp_path / "report.html"
    config = str(root / "project" / "kubetfx.yaml")
    result = run_kubetfx("report", run_id, "--config", config, "--output", str(page))
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert 'id="classification"' in text and "ROC curve" in text and "Confusion matrix" in text
    assert "diagnosis = 1" in text  # the classes by name
    rendered = browser.render(page, "report-breast-cancer.png", tmp_path)
    browser.assert_report_rendered(rendered, nodes=10, feature="mean radius")
    assert rendered.dom.count('aria-label="ROC curve"') == 1


def test_the_compiled_project_runs_as_the_kfp_backend_runs_it(projects, tmp_path):
    """`compile --config` carries the project: the stock entrypoint runs it, task by task.

    One emulation is enough: the multiclass project's has the most views.
    """
    _, root, _, _ = projects("iris")
    package = tmp_path / "iris.yaml"
    config = str(root / "project" / "kubetfx.yaml")
    local = run_kubetfx("compile", "--config", config, "--output", str(package))
    assert local.returncode == 2 and "upload-data.sh" in local.stderr  # a host folder
    uri = "minio://mlpipeline/datasets/iris/"
    compiled = run_kubetfx("compile", "--config", config, "--output", str(package), "--data", uri)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # Where upload-data.sh would put it on a cluster, in the emulator's object store.
    shutil.copytree(root / "data", object_path(str(tmp_path / "emulated" / "object_store"), uri))
    out = io.StringIO()
    run = emulator.emulate(str(package), str(tmp_path / "emulated"), ["train_steps=100"], out=out)
    assert run.state == "succeeded", out.getvalue()
    store = EmulatorStore(str(tmp_path / "emulated" / "metadata.db"))
    outputs = store.task_outputs(run.run_id, "Evaluator")
    (charts,) = outputs["classification_metrics"]
    curve, matrix = dashboard.classification_pictures(charts["metadata"])
    assert curve == []  # a ROC curve is for two classes
    names = [spec["displayName"] for spec in matrix["annotationSpecs"]]
    assert names == ["setosa", "versicolor", "virginica"]
    (metrics,) = outputs["metrics"]
    assert metrics["metadata"]["sparse_categorical_accuracy"] > 0.5
    assert "recall (virginica)" in metrics["metadata"]


def test_the_drafted_search_tunes_a_multiclass_model_and_mlflow_tracks_it(projects):
    """The tuning section `init` drafts, and tracking, on a dataset other than the taxi's.

    Last in this module: it makes a tuned run the iris project's latest.
    """
    import mlflow

    from kubetfx.components import visualizations

    _, root, _, _ = projects("iris")
    config = str(root / "project" / "kubetfx.yaml")
    tuned = run_kubetfx("run", "--config", config, *FAST, "--tune", "--max-trials", "2", "--track")
    assert tuned.returncode == 0, tuned.stdout + tuned.stderr
    executions = _executions(root)
    trials = visualizations.tuning_trials(executions["Tuner"].outputs["tuner_results"][0].uri)
    assert len(trials) == 2
    assert trials[0]["score"] >= trials[1]["score"]  # sparse_categorical_accuracy: maximised
    store = f"sqlite:///{root / 'project' / 'kubetfx_output' / 'mlflow.db'}"
    client = mlflow.MlflowClient(store)
    from kubetfx.pipelines.project.loader import load_project

    experiment = client.get_experiment_by_name(load_project(config).project.name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["tuned"] == "true" and run.data.params["label"] == "species"
    # Per-class metrics under names MLflow accepts.
    assert {"sparse_categorical_accuracy", "recall virginica"} <= set(run.data.metrics)
