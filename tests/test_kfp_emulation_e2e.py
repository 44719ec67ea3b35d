"""The compiled pipeline, executed the way the KFP 2.x backend executes it.

Every task runs the real entrypoint in its own process, with artifacts staged
between the emulated object store and a local mount, as on a cluster. The data
is a folder in that object store, imported by URI as on a cluster.
"""

import io
import os
import re
from pathlib import Path

import pytest

from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.emulator import run as emulator
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore
from tests import browser, dashboard
from tests.browser import assert_report_rendered
from tests.conftest import (
    COMPILE_OPTIONS,
    TAXI,
    TAXI_DATA_URI,
    run_kubetfx,
    taxi_header,
    write_csv,
)
from tests.mlflow_server import mlflow_server

pytestmark = pytest.mark.e2e

FAST = ["train_steps=100"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, taxi_rows):
    root = tmp_path_factory.mktemp("emulated")
    data = _data_folder(root)
    write_csv(data / "part-1.csv", taxi_rows[:1000], taxi_header())
    write_csv(data / "part-2.csv", taxi_rows[1000:2000], taxi_header())
    return root


def _data_folder(workspace) -> Path:
    """Where the emulator keeps the objects under TAXI_DATA_URI (see docs/kfp.md)."""
    return Path(object_path(str(workspace / "out" / "object_store"), TAXI_DATA_URI))


@pytest.fixture(scope="module")
def first_run(workspace, object_store_package):
    out = io.StringIO()
    run = emulator.emulate(str(object_store_package), str(workspace / "out"), FAST, out=out)
    return run, out.getvalue()


def _serving(workspace):
    folder = workspace / "out" / "volumes" / contract.SERVING_PVC
    return sorted(os.listdir(folder)) if folder.exists() else []


def _view(workspace, run_id, task, output):
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    (artifact,) = store.task_outputs(run_id, task)[output]
    return artifact, Path(object_path(str(workspace / "out" / "object_store"), artifact["uri"]))


def test_every_task_completes_and_a_blessed_model_is_pushed(workspace, first_run):
    run, printed = first_run
    assert run.state == "succeeded"
    assert [t.state for t in run.tasks] == ["complete"] * 12
    assert [t.name for t in run.tasks][:3] == ["Data", "DataFingerprint", "CsvExampleGen"]
    (version,) = _serving(workspace)
    assert (
        workspace / "out" / "volumes" / contract.SERVING_PVC / version / "saved_model.pb"
    ).exists()
    assert "succeeded" in printed


def test_the_train_steps_given_at_emulate_reach_the_trainer(workspace, first_run):
    run, _ = first_run
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    trainer = store.input_parameters(run.run_id, "Trainer")
    # FAST gives train_steps=100; the package's default is the project's 1000.
    assert trainer["override__train_args__num_steps"] == 100


def test_statistics_view_is_a_self_contained_page(workspace, first_run):
    run, _ = first_run
    _, path = _view(workspace, run.run_id, "StatisticsGen", "statistics_view")
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert "Split train" in page and "Split eval" in page
    assert '<svg role="img" aria-label="trip_miles"' in page  # its histogram
    assert "http://" not in page and "https://" not in page


def test_anomalies_and_evaluation_views(workspace, first_run):
    run, _ = first_run
    _, anomalies = _view(workspace, run.run_id, "ExampleValidator", "anomalies_view")
    assert "The data matches the schema." in anomalies.read_text()
    _, evaluation = _view(workspace, run.run_id, "Evaluator", "evaluation_view")
    text = evaluation.read_text()
    assert "Blessed: the model will be pushed." in text
    assert "| overall |" in text and "trip\\_start\\_hour=" in text  # Markdown-escaped


def test_metrics_are_numbers_in_the_artifact_metadata(workspace, first_run):
    run, _ = first_run
    artifact, _ = _view(workspace, run.run_id, "Evaluator", "metrics")
    metadata = artifact["metadata"]
    assert 0.5 < metadata["binary_accuracy"] <= 1.0
    assert metadata["example_count"] > 100
    assert metadata["display_name"] == "metrics"


def test_the_dashboard_gets_the_roc_curve_and_confusion_matrix(workspace, first_run):
    run, _ = first_run
    artifact, _ = _view(workspace, run.run_id, "Evaluator", "classification_metrics")
    curve, matrix = dashboard.classification_pictures(artifact["metadata"])
    assert len(curve) > 10
    assert {p["recall"] for p in curve} != {0.0}
    assert [s["displayName"] for s in matrix["annotationSpecs"]] == [
        "not (tips > 0.2 × fare)",
        "tips > 0.2 × fare",
    ]
    counts = [c for row in matrix["rows"] for c in row["row"]]
    assert len(counts) == 4 and sum(counts) > 100


def test_tfx_outputs_keep_their_object_store_uris(workspace, first_run):
    run, _ = first_run
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    for task in ("CsvExampleGen", "Transform", "Trainer"):
        for artifacts in store.task_outputs(run.run_id, task).values():
            for artifact in artifacts:
                assert artifact["uri"].startswith("minio://mlpipeline/v2/artifacts/kubetfx-taxi/")
    (examples,) = store.task_outputs(run.run_id, "CsvExampleGen")["examples"]
    assert examples["metadata"]["custom:span"] == 0  # TFX prefixes custom properties
    assert examples["metadata"]["input_fingerprint"].startswith("split:single_split")


@pytest.fixture(scope="module")
def second_run(workspace, first_run, object_store_package):
    return emulator.emulate(
        str(object_store_package), str(workspace / "out"), FAST, out=io.StringIO()
    )


@pytest.fixture(scope="module")
def gate_run(workspace, second_run, object_store_package, taxi_rows):
    """New files at the same URI, which the schema rejects, through the CLI.

    The result, and the serving folder before and after.
    """
    broken = [{**row, "trip_start_hour": "31"} for row in taxi_rows[:1000]]
    data = _data_folder(workspace)
    for old in data.iterdir():
        old.unlink()
    write_csv(data / "part-1.csv", broken, taxi_header())
    before = _serving(workspace)
    result = run_kubetfx(
        "emulate",
        str(object_store_package),
        "--output-dir",
        str(workspace / "out"),
        *[arg for pair in FAST for arg in ("--param", pair)],
    )
    return result, before, _serving(workspace)


def test_a_second_run_reuses_cached_tasks_and_pushes_no_duplicate(workspace, second_run):
    states = {t.name: t.state for t in second_run.tasks}
    for task in ("CsvExampleGen", "StatisticsGen", "DataGate", "Transform", "Trainer"):
        assert states[task] == "cached", states
    assert states["LatestPushedModel"] == "complete"  # looks up the serving model every run
    assert states["DataFingerprint"] == "complete"  # hashes the files every run
    assert len(_serving(workspace)) == 1


def test_new_files_at_the_same_uri_are_new_data_and_bad_data_stops_at_the_gate(gate_run):
    result, before, after = gate_run
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("kubetfx: error: task DataGate failed")
    assert "trip_start_hour" in error
    assert re.search(r"CsvExampleGen +complete", result.stdout)  # not the cached examples
    assert "Transform            not run" in result.stdout
    assert after == before


# The run history, status and report read the backend's records as they read TFX's.


def test_runs_and_status_read_the_emulated_runs(workspace, first_run, second_run, gate_run):
    out = str(workspace / "out")
    database = workspace / "out" / "metadata.db"
    before = database.read_bytes()
    listed = run_kubetfx("runs", "--output-dir", out)
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1:]]
    assert [row[0] for row in rows] == [
        re.search(r"run ([0-9a-f-]{36})", gate_run[0].stdout).group(1),
        second_run.run_id,
        first_run[0].run_id,
    ]
    assert [" ".join(row[7:]) for row in rows] == [
        "stopped by the data gate",
        "complete",
        "complete",
    ]
    assert rows[2][5:7] == ["12", "0"]  # the first run: all ran, none cached
    assert int(rows[1][6]) >= 5  # the second run: training came from the cache

    status = run_kubetfx("status", second_run.run_id, "--output-dir", out)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0].startswith(f"run {second_run.run_id}: complete")
    trainer = next(line.split() for line in lines if line.split()[:1] == ["Trainer"])
    assert trainer[1] == "cached"
    first_status = run_kubetfx("status", first_run[0].run_id, "--output-dir", out).stdout
    trainer = next(line.split() for line in first_status.splitlines() if "Trainer " in line)
    assert float(trainer[2]) > 1.0  # from the driver's start to the launcher's publish
    models = [line for line in first_status.splitlines() if "model (tfx.Model):" in line]
    assert any(os.path.isdir(line.split(": ", 1)[1]) for line in models)  # local paths

    gate = run_kubetfx("status", rows[0][0], "--output-dir", out)
    gate_lines = gate.stdout.splitlines()
    assert any(line.split()[:2] == ["DataGate", "failed"] for line in gate_lines)
    assert any("error:" in line and "trip_start_hour" in line for line in gate_lines)
    log = next(line for line in gate_lines if line.strip().startswith("log:"))
    assert os.path.isfile(log.split(": ", 1)[1])
    assert database.read_bytes() == before  # reading never writes


def test_the_report_renders_for_an_emulated_run(workspace, second_run, tmp_path):
    page = tmp_path / "report.html"
    result = run_kubetfx(
        "report",
        second_run.run_id,
        "--output-dir",
        str(workspace / "out"),
        "--output",
        str(page),
    )
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    for section in ("graph", "statistics", "schema", "anomalies", "evaluation", "comparison"):
        assert f'id="{section}"' in text, section
    assert "Kubeflow Pipelines 2.x backend" in text
    assert 'id="node-cached-Trainer"' in text and 'id="node-complete-Evaluator"' in text
    assert "Blessed: the model will be pushed." in text

    assert_report_rendered(browser.render(page, "report-emulated.png", tmp_path), nodes=12)


# The predict pipeline: new rows, without the label, scored by the model the runs above pushed.

NEW_DATA_URI = "minio://mlpipeline/datasets/new/"


def test_a_partial_emulation_takes_the_tasks_it_skips_from_the_cache(
    workspace, object_store_package, gate_run
):
    package, out = str(object_store_package), ["--output-dir", str(workspace / "out")]
    # The data in the object store is the gate run's: it stopped at DataGate, so no
    # earlier run holds DataGate's outputs for it.
    refused = run_kubetfx("emulate", package, *out, "--from", "trainer", "--param", FAST[0])
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert (
        "--from Trainer takes the outputs of DataGate from the cache, but no earlier run in "
        in refused.stderr
    )

    result = run_kubetfx("emulate", package, *out, "--only", "statisticsgen", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    # The data's importer and DataFingerprint (compiled without caching) look afresh.
    assert (
        "partial run --only StatisticsGen: runs Data, DataFingerprint, StatisticsGen; "
        "takes CsvExampleGen from the cache\n"
    ) in result.stdout
    store = metadata.connect(str(workspace / "out" / "metadata.db"))
    run = runs_lib.find_run(store, "latest")
    assert {e.node_id: e.state for e in run.executions} == {
        "Data": "complete",
        "DataFingerprint": "complete",
        "CsvExampleGen": "cached",
        "StatisticsGen": "complete",
    }
    assert run.outcome == "complete (--only StatisticsGen)" and run.reused == ("CsvExampleGen",)
    status = run_kubetfx("status", "latest", *out)
    assert status.returncode == 0, status.stderr
    assert f"  {'CsvExampleGen':<20} taken from the cache" in status.stdout.splitlines()


@pytest.fixture(scope="module")
def predict_run(workspace, first_run, predict_package, taxi_rows):
    """300 new rows with an id column (zero-padded numbers) and no label, scored by the CLI."""
    header = ["trip_id", *(c for c in taxi_header() if c != TAXI.project.label.column)]
    rows = [{**row, "trip_id": f"{i:05d}"} for i, row in enumerate(taxi_rows[2000:2300])]
    folder = Path(object_path(str(workspace / "out" / "object_store"), NEW_DATA_URI))
    write_csv(folder / "new.csv", [{k: r[k] for k in header} for r in rows], header)
    result = run_kubetfx(
        "emulate",
        str(predict_package),
        "--output-dir",
        str(workspace / "out"),
        "--param",
        f"data_root={NEW_DATA_URI}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = re.search(r"kubetfx-taxi-predict, run ([0-9a-f-]{36})", result.stdout).group(1)
    return run_id, rows, header


def test_predict_scores_every_new_row_with_the_serving_model(workspace, predict_run):
    import pandas as pd
    import tensorflow as tf
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kubetfx.components import predictions

    run_id, rows, header = predict_run
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    (artifact,) = store.task_outputs(run_id, "Predictions")["predictions"]
    folder = Path(object_path(str(workspace / "out" / "object_store"), artifact["uri"]))
    table = pd.read_csv(folder / "predictions.csv", dtype=str, keep_default_na=False)
    assert list(table.columns) == [*header, "prediction", "probability"]  # the CSV's order
    assert sorted(table["trip_id"]) == sorted(r["trip_id"] for r in rows)

    (version,) = _serving(workspace)
    model_dir = str(workspace / "out" / "volumes" / contract.SERVING_PVC / version)
    schema = text_format.Parse(TAXI.schema_text, schema_pb2.Schema())
    features = [f for f in TAXI.project.features if f != TAXI.project.label.column]
    types = predictions.feature_types(schema, features)
    examples = [predictions.to_example(row, types).SerializeToString() for row in rows]
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    outputs = serve(examples=tf.constant(examples))["outputs"].numpy()
    label = predictions.model_label(model_dir)
    expected = {r["trip_id"]: label.describe(o) for r, o in zip(rows, outputs, strict=True)}
    for row in table.to_dict("records"):
        name, probability = expected[row["trip_id"]]
        assert row["prediction"] == name
        assert float(row["probability"]) == pytest.approx(probability, abs=1e-5)
        assert row["fare"] == next(r for r in rows if r["trip_id"] == row["trip_id"])["fare"]

    metrics, _ = _view(workspace, run_id, "Predictions", "prediction_metrics")
    assert metrics["metadata"]["rows_scored"] == 300
    assert 0 <= metrics["metadata"]["prediction_drift_psi"] < 10


def test_the_predictions_view_and_report_show_the_distribution_against_the_eval_split(
    workspace, predict_run, tmp_path
):
    run_id, _, _ = predict_run
    _, view = _view(workspace, run_id, "Predictions", "predictions_view")
    page = view.read_text()
    assert page.startswith("<!doctype html>")
    assert "<b>300</b> rows scored." in page
    assert "against the eval split&#x27;s predictions" in page
    assert '<svg role="img" aria-label="Share of rows per prediction' in page
    assert "tips &gt; 0.2 × fare" in page  # a class name, as text
    assert "http://" not in page and "https://" not in page

    listed = run_kubetfx("runs", "--output-dir", str(workspace / "out"))
    newest = listed.stdout.splitlines()[1].split()
    assert newest[0] == run_id and newest[-2:] == ["complete", "kubetfx-taxi-predict"]
    page = tmp_path / "predict.html"
    result = run_kubetfx(
        "report", run_id, "--output-dir", str(workspace / "out"), "--output", str(page)
    )
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    assert 'id="predictions"' in text and "<b>300</b> rows scored." in text
    assert 'id="node-complete-BulkInferrer"' in text


# Tuning: the Tuner's task, then a run that imports its best values.


@pytest.fixture(scope="module")
def tuned_runs(workspace, first_run, taxi_rows, tmp_path_factory):
    """A tuned emulation of the first run's data, then one importing its best values."""
    import shutil

    import yaml

    data = _data_folder(workspace)
    for old in data.iterdir():
        old.unlink()
    write_csv(data / "part-1.csv", taxi_rows[:1000], taxi_header())  # the first run's files
    write_csv(data / "part-2.csv", taxi_rows[1000:2000], taxi_header())
    folder = tmp_path_factory.mktemp("tuned-project")
    source = Path(TAXI.path)
    config = yaml.safe_load(source.read_text())
    config["tuning"].update({"max_trials": 2, "train_steps": [30, 60]})
    (folder / "kubetfx.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    shutil.copy(source.parent / config["schema"], folder / config["schema"])
    # Compiled as the first run's package was: its upstream tasks come from the cache.
    common = ["--config", str(folder / "kubetfx.yaml"), "--data", TAXI_DATA_URI, *COMPILE_OPTIONS]
    package = folder / "tuned.yaml"
    assert run_kubetfx("compile", *common, "--tune", "--output", str(package)).returncode == 0
    out = str(workspace / "out")
    tuned = emulator.emulate(str(package), out, FAST, out=io.StringIO())
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    (best,) = store.task_outputs(tuned.run_id, "Tuner")["best_hyperparameters"]
    imported_package = folder / "imported.yaml"
    compiled = run_kubetfx(
        "compile", *common, "--hyperparameters", best["uri"], "--output", str(imported_package)
    )
    assert compiled.returncode == 0, compiled.stderr
    imported = emulator.emulate(str(imported_package), out, FAST, out=io.StringIO())
    return tuned, imported, best


def test_the_tuner_task_runs_its_trials_and_the_trainer_takes_the_best(workspace, tuned_runs):
    tuned, _, best = tuned_runs
    states = {t.name: t.state for t in tuned.tasks}
    assert tuned.state == "succeeded"
    assert states["Tuner"] == "complete"
    assert states["Transform"] == "cached"  # the first run's data, compiled alike
    _, view = _view(workspace, tuned.run_id, "Tuner", "tuning_view")
    text = view.read_text()
    assert text.startswith("# Tuning") and "**The Trainer trains with:**" in text
    assert text.count("\n| ") == 3  # the header and two trials
    metrics, _ = _view(workspace, tuned.run_id, "Tuner", "best_trial")
    assert metrics["metadata"]["trials"] == 2
    assert 0 < metrics["metadata"]["best_trial_score"] <= 1
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    trainer_log = (workspace / "out" / "logs" / f"{tuned.run_id[:8]}-Trainer.log").read_text()
    assert "with the tuned values" in trainer_log
    assert best["uri"].startswith("minio://mlpipeline/v2/artifacts/kubetfx-taxi/")
    assert store.task_outputs(tuned.run_id, "Trainer")["model"]


def test_a_compiled_import_of_the_best_values_trains_with_them(workspace, tuned_runs):
    _, imported, _ = tuned_runs
    states = {t.name: t.state for t in imported.tasks}
    assert imported.state == "succeeded" and "Tuner" not in states
    assert states["TunedHyperparameters"] == "complete"
    log = (workspace / "out" / "logs" / f"{imported.run_id[:8]}-Trainer.log").read_text()
    assert "with the tuned values" in log


# Tracking: the compiled Tracker logs the emulated run to a real MLflow server.


@pytest.fixture(scope="module")
def tracked_run(workspace, tuned_runs, tmp_path_factory):
    """The first run's package compiled with --track, emulated through the CLI.

    After the tuning runs, which left the first run's files in place: the data
    tasks and the Trainer come from the cache. It pushes to a serving folder of
    its own, empty: the tuned run may have pushed a model better than the first
    run's, which would then not be blessed against it and not serve.
    """
    folder = tmp_path_factory.mktemp("tracking")
    with mlflow_server(folder) as url:
        _, result, run_id = _compiled_and_emulated(
            workspace, folder / "tracked.yaml", ["--track", url], "tracked"
        )
        yield url, result, run_id, folder


def _compiled_and_emulated(workspace, package, options: list[str], serving: str):
    """The first run's data compiled with ``options``, emulated through the CLI.

    It pushes to a serving folder of its own, ``serving``. Returns the package,
    the emulation's result and its run id.
    """
    compiled = run_kubetfx(
        "compile", "--data", TAXI_DATA_URI, *COMPILE_OPTIONS, *options, "--output", str(package)
    )
    assert compiled.returncode == 0, compiled.stderr
    params = [*FAST, f"serving_dir={contract.SERVING_MOUNT}/{serving}"]
    result = run_kubetfx(
        "emulate", str(package), "--output-dir", str(workspace / "out"),
        *[arg for pair in params for arg in ("--param", pair)],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    run_id = re.search(r"run ([0-9a-f-]{36}) succeeded", result.stdout).group(1)
    return package, result, run_id


def test_the_tracker_logs_the_run_to_the_mlflow_server_that_its_ui_shows(tracked_run):
    import mlflow

    url, result, run_id, folder = tracked_run
    client = mlflow.MlflowClient(url)
    experiment = client.get_experiment_by_name(TAXI.project.name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert (
        f"kubetfx: tracked in MLflow at {url}: experiment {TAXI.project.name}, run "
        + (run.info.run_id)
        in result.stdout
    )
    assert run.data.tags["kubetfx.run_id"] == run_id  # KFP's run id, from the placeholder
    # The run parameters as the run got them, not as compiled.
    assert run.data.params["train_steps"] == "100" and run.data.params["data"] == TAXI_DATA_URI
    assert 0 < run.data.metrics["binary_accuracy"] <= 1
    # The model serves (pushed to the run's own serving folder): logged, through the server,
    # to its store.
    (logged,) = client.search_logged_models([experiment.experiment_id])
    assert logged.source_run_id == run.info.run_id
    assert list((folder / "artifacts").rglob("saved_model.pb"))
    # MLflow's own web UI lists the run.
    dom = browser.dom_of(f"{url}/#/experiments/{experiment.experiment_id}/runs", folder)
    assert run_id[:8] in dom


# The choice stage (model.algorithm: auto): candidate Trainer tasks side by side, then the best.


@pytest.fixture(scope="module")
def chosen_run(workspace, tracked_run, tmp_path_factory):
    """The first run's data compiled with --choose-algorithm and emulated through the CLI.

    The data tasks come from the cache; the chosen model is pushed to a serving
    folder of its own, so that no earlier run's model stands in its way.
    """
    package = tmp_path_factory.mktemp("choice") / "chosen.yaml"
    return _compiled_and_emulated(workspace, package, ["--choose-algorithm"], "chosen")


CANDIDATES = ("TrainerLinear", "TrainerWideAndDeep", "TrainerGradientBoostedTrees")


def test_the_candidates_are_parallel_trainer_tasks_and_the_best_is_pushed(workspace, chosen_run):
    import yaml

    from kubetfx.components.predictions import read_label_info

    package, result, run_id = chosen_run
    spec = next(yaml.safe_load_all(package.read_text()))
    tasks = spec["root"]["dag"]["tasks"]
    for name in CANDIDATES:  # each waits for the shared Transform only, not for each other
        assert not set(tasks[name]["dependentTasks"]) & set(CANDIDATES), tasks[name]
        assert re.search(rf"{name} +complete", result.stdout), result.stdout
    assert set(CANDIDATES) <= set(tasks["AlgorithmChoice"]["dependentTasks"])
    assert "Transform" in tasks["TrainerLinear"]["dependentTasks"]
    assert re.search(r"Transform +cached", result.stdout)
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    # train_steps, given at run time, reaches the networks among the candidates.
    assert store.input_parameters(run_id, "TrainerLinear")["override__train_args__num_steps"] == 100
    (chosen,) = store.task_outputs(run_id, "AlgorithmChoice")["model"]
    algorithm = chosen["metadata"]["algorithm"]
    assert algorithm in ("linear", "wide_and_deep", "gradient_boosted_trees")
    (version,) = os.listdir(workspace / "out" / "volumes" / contract.SERVING_PVC / "chosen")
    pushed = workspace / "out" / "volumes" / contract.SERVING_PVC / "chosen" / version
    assert read_label_info(str(pushed))["algorithm"] == algorithm


def test_the_dashboard_and_status_show_the_candidates_and_why_the_best_won(workspace, chosen_run):
    _, _, run_id = chosen_run
    _, view = _view(workspace, run_id, "AlgorithmChoice", "choice_view")
    text = view.read_text()
    assert text.startswith("# Algorithm choice\n") and "**Chosen: " in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(rows) == 4  # the header and three candidates
    scores, _ = _view(workspace, run_id, "AlgorithmChoice", "candidate_scores")
    values = {k: v for k, v in scores["metadata"].items() if k.endswith("_binary_accuracy")}
    assert len(values) == 3 and all(0 < v <= 1 for v in values.values())
    status = run_kubetfx("status", run_id, "--output-dir", str(workspace / "out"))
    assert status.returncode == 0, status.stderr
    assert "chosen: " in status.stdout and "has the highest binary_accuracy" in status.stdout
    for algorithm in ("linear", "wide_and_deep", "gradient_boosted_trees"):
        assert re.search(
            rf"^ +{algorithm} +0\.\d{{4}} +\d+\.\d s +\d+\.\d\d MB", status.stdout, re.M
        )
