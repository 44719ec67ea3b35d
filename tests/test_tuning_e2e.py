"""Tuning and tracking through the real pipeline.

A tuned run, then an untuned one that trains with its values, then that
model's runs tracked in MLflow (a SQLite store in the output folder, read
back with MLflow's own client), and a run whose tracking server is down.
"""

import shutil
from pathlib import Path

import pytest
import yaml

from kubetfx.pipelines.history import metadata
from tests.conftest import TAXI, run_kubetfx, taxi_header, write_csv

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "40", "--eval-steps", "5"]
TUNING = {
    "max_trials": 5,
    "objective": "binary_accuracy",
    "learning_rate": {"min": 0.001, "max": 0.01, "log": True},
    "train_steps": [20, 40],
    "hidden_units": [[16, 8], [32]],
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, taxi_rows):
    """The taxi project with a tuning section, on 1,000 rows."""
    root = tmp_path_factory.mktemp("tuning")
    write_csv(root / "data" / "taxi.csv", taxi_rows[:1000], taxi_header())
    source = Path(TAXI.path)
    config = yaml.safe_load(source.read_text())
    config.update({"data": "data", "tuning": TUNING})
    (root / "kubetfx.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(source.parent / config["schema"], root / config["schema"])
    return root


def _run(project, *extra):
    return run_kubetfx(
        "run", "--config", str(project / "kubetfx.yaml"), "--output-dir", str(project / "out"),
        *FAST, *extra,
    )  # fmt: skip


def _executions(project):
    store = metadata.connect(str(project / "out" / "metadata.db"))
    run_id = metadata.latest_run(store, TAXI.project.name)
    return run_id, {e.node_id: e for e in metadata.run_executions(store, run_id)}


@pytest.fixture(scope="module")
def tuned(project):
    result = _run(project, "--tune", "--max-trials", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, *_executions(project)


@pytest.fixture(scope="module")
def untuned(project, tuned):
    result = _run(project)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, *_executions(project)


@pytest.fixture(scope="module")
def tracked(project, untuned):
    """The untuned run's model, gated to be pushed, tracked twice; then a server that is down."""
    runs = []
    for track in ([], [], ["http://127.0.0.1:9"]):
        result = _run(project, "--min-accuracy", "0", "--track", *track)
        assert result.returncode == 0, result.stdout + result.stderr
        runs.append((result, *_executions(project)))
    return runs


def _trainer_hyperparameters(project, execution_id):
    store = metadata.connect(str(project / "out" / "metadata.db"))
    from ml_metadata.proto import metadata_store_pb2

    events = store.get_events_by_execution_ids([execution_id])
    inputs = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT]
    types = {t.id: t.name for t in store.get_artifact_types()}
    return [
        a.uri for a in store.get_artifacts_by_id(inputs) if types[a.type_id] == "HyperParameters"
    ]


def test_a_tuned_run_searches_and_trains_with_the_best_trial(project, tuned):
    result, _, executions = tuned
    assert "  Tuner " in result.stdout
    assert executions["Tuner"].state == "complete"
    from kubetfx.components import visualizations

    trials = visualizations.tuning_trials(executions["Tuner"].outputs["tuner_results"][0].uri)
    assert len(trials) == 2  # --max-trials over the project's 5
    assert trials[0]["score"] >= trials[1]["score"]  # best first: accuracy is maximised
    chosen = visualizations.tuned_values(executions["Tuner"].outputs["best_hyperparameters"][0].uri)
    assert {k: trials[0][k] for k in chosen} == chosen
    assert set(chosen) == {"learning_rate", "train_steps", "hidden_units"}
    best = executions["Tuner"].outputs["best_hyperparameters"][0].uri
    assert _trainer_hyperparameters(project, executions["Trainer"].execution_id) == [best]


def test_a_run_without_tune_trains_with_the_last_tuned_values(project, tuned, untuned):
    _, _, tuned_executions = tuned
    result, _, executions = untuned
    assert "Tuner" not in executions
    assert executions["TunedHyperparameters"].state in ("complete", "cached")
    best = tuned_executions["Tuner"].outputs["best_hyperparameters"][0].uri
    assert _trainer_hyperparameters(project, executions["Trainer"].execution_id) == [best]
    # The same values on the same data: the trained model comes from the cache.
    assert executions["Trainer"].state == "cached"


def test_the_report_shows_the_trials_and_the_chosen_values(project, tuned, tmp_path):
    _, run_id, _ = tuned
    page = tmp_path / "tuned.html"
    result = run_kubetfx(
        "report", run_id, "--config", str(project / "kubetfx.yaml"),
        "--output-dir", str(project / "out"), "--output", str(page),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert 'id="tuning"' in text and "The Trainer trains with:" in text
    assert '<svg role="img" aria-label="The objective of each trial' in text
    assert text.count("<tr>") >= 3  # the trials' table among the page's


def test_status_shows_the_trials_best_first_and_the_chosen_values(project, tuned):
    _, run_id, executions = tuned
    from kubetfx.components import visualizations

    trials = visualizations.tuning_trials(executions["Tuner"].outputs["tuner_results"][0].uri)
    result = run_kubetfx(
        "status", run_id, "--config", str(project / "kubetfx.yaml"),
        "--output-dir", str(project / "out"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    at = lines.index("trials, best first (2; the score is the tuning objective):")
    assert lines[at + 1].split()[:2] == ["trial", "score"]
    best = lines[at + 2].split()
    assert best[:2] == [str(trials[0]["trial_id"]), f"{trials[0]['score']:.4f}"]
    assert lines[at + 4].startswith("the Trainer trains with: ")


def test_tuning_options_need_their_counterpart(project, tmp_path):
    result = _run(project, "--max-trials", "2")
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "kubetfx: error: --max-trials applies to a tuned run; add --tune"
    )
    plain = tmp_path / "plain.yaml"
    config = yaml.safe_load((project / "kubetfx.yaml").read_text())
    del config["tuning"]
    plain.write_text(yaml.safe_dump(config))
    shutil.copy(project / config["schema"], tmp_path / config["schema"])
    (tmp_path / "data").symlink_to(project / "data")
    result = run_kubetfx(
        "run", "--config", str(plain), "--output-dir", str(tmp_path / "o"), "--tune"
    )
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        f"kubetfx: error: --tune needs a tuning section in {plain}"
    )


def test_tracked_runs_of_one_model_are_one_mlflow_run_with_its_params_metrics_and_model(
    project, tuned, tracked
):
    import mlflow

    from kubetfx.components import visualizations

    (first, first_id, executions), (second, second_id, _), _ = tracked
    store = f"sqlite:///{project / 'out' / 'mlflow.db'}"
    client = mlflow.MlflowClient(store)
    experiment = client.get_experiment_by_name(TAXI.project.name)
    (run,) = client.search_runs([experiment.experiment_id])
    note = f"kubetfx: tracked in MLflow at {store}: experiment {TAXI.project.name}, run "
    assert note + run.info.run_id in first.stdout and note + run.info.run_id in second.stdout
    assert (run.data.tags["kubetfx.run_id"], run.data.tags["kubetfx.last_run_id"]) == (
        first_id,
        second_id,
    )
    # The values the Trainer trained with: the tuned run's best, over the project's.
    _, _, tuned_executions = tuned
    chosen = visualizations.tuned_values(
        tuned_executions["Tuner"].outputs["best_hyperparameters"][0].uri
    )
    params = run.data.params
    assert params["tuned"] == "true" and params["train_steps"] == str(chosen["train_steps"])
    assert float(params["learning_rate"]) == pytest.approx(chosen["learning_rate"])
    assert params["hidden_units"] == chosen["hidden_units"]
    assert params["data"] == str(project / "data") and params["label"] == "tips"
    evaluation = executions["Evaluator"].outputs["evaluation"][0].uri
    expected = visualizations.overall_metrics(evaluation)
    assert run.data.metrics["binary_accuracy"] == pytest.approx(expected["binary_accuracy"])
    assert run.data.tags["kubetfx.blessed"] == "true"
    # The pushed model, as MLflow's TensorFlow flavor loads it, with the serving signature.
    (logged,) = client.search_logged_models([experiment.experiment_id])
    assert logged.source_run_id == run.info.run_id
    assert logged.artifact_location.startswith(str(project / "out" / "mlflow-artifacts"))
    mlflow.set_tracking_uri(store)
    try:
        model = mlflow.tensorflow.load_model(f"models:/{logged.model_id}")
    finally:
        mlflow.set_tracking_uri(None)
    assert "serving_default" in model.signatures


def test_a_tracking_server_that_is_down_is_one_line_and_the_run_finishes(project, tracked):
    _, _, (down, run_id, executions) = tracked
    assert executions["Tracker"].state == "complete" and executions["Pusher"].state == "cached"
    lines = [line for line in down.stdout.splitlines() if "MLflow" in line]
    assert len(lines) == 1
    assert lines[0].startswith(
        "kubetfx: run not tracked in MLflow: MLflow at http://127.0.0.1:9 is unreachable ("
    )
    status = run_kubetfx(
        "status", run_id, "--config", str(project / "kubetfx.yaml"),
        "--output-dir", str(project / "out"),
    )  # fmt: skip
    assert lines[0].removeprefix("kubetfx: ") in status.stdout
