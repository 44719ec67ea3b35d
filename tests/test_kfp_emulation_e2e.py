"""The compiled pipeline, executed the way the KFP 2.x backend executes it.

Every task runs the real entrypoint in its own process, with artifacts staged
between the emulated object store and a local mount, as on a cluster.
"""

import io
import os

import pytest

from kubetfx.pipelines.kfp import emulator
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.emulator_store import EmulatorStore
from tests.conftest import run_kubetfx, taxi_header, write_csv

pytestmark = pytest.mark.e2e

FAST = ["train_steps=100"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, taxi_rows):
    root = tmp_path_factory.mktemp("emulated")
    write_csv(root / "taxi" / "part-1.csv", taxi_rows[:1000], taxi_header())
    write_csv(root / "taxi" / "part-2.csv", taxi_rows[1000:2000], taxi_header())
    return root


@pytest.fixture(scope="module")
def first_run(workspace, compiled_package):
    out = io.StringIO()
    run = emulator.emulate(
        str(compiled_package),
        str(workspace / "out"),
        [f"data_root={workspace / 'taxi'}", *FAST],
        out=out,
    )
    return run, out.getvalue()


def _serving(workspace):
    folder = workspace / "out" / "volumes" / contract.SERVING_PVC
    return sorted(os.listdir(folder)) if folder.exists() else []


def _view(workspace, run, task, output):
    store = EmulatorStore(str(workspace / "out" / "metadata.db"))
    (artifact,) = store.task_outputs(run.run_id, task)[output]
    bucket, key = emulator.split_uri(artifact["uri"])
    return artifact, workspace / "out" / "object_store" / bucket / key


def test_every_task_completes_and_a_blessed_model_is_pushed(workspace, first_run):
    run, printed = first_run
    assert run.state == "succeeded"
    assert [t.state for t in run.tasks] == ["complete"] * 10
    (version,) = _serving(workspace)
    assert (
        workspace / "out" / "volumes" / contract.SERVING_PVC / version / "saved_model.pb"
    ).exists()
    assert "succeeded" in printed


def test_statistics_view_is_a_self_contained_page(workspace, first_run):
    run, _ = first_run
    _, path = _view(workspace, run, "StatisticsGen", "statistics_view")
    page = path.read_text()
    assert page.startswith("<!doctype html>")
    assert "Split train" in page and "Split eval" in page
    assert "trip_miles" in page and "<svg" in page and "<rect" in page
    assert "http://" not in page and "https://" not in page


def test_anomalies_and_evaluation_views(workspace, first_run):
    run, _ = first_run
    _, anomalies = _view(workspace, run, "ExampleValidator", "anomalies_view")
    assert "The data matches the schema." in anomalies.read_text()
    _, evaluation = _view(workspace, run, "Evaluator", "evaluation_view")
    text = evaluation.read_text()
    assert "Blessed: the model will be pushed." in text
    assert "| overall |" in text and "trip_start_hour=" in text


def test_metrics_are_numbers_in_the_artifact_metadata(workspace, first_run):
    run, _ = first_run
    artifact, _ = _view(workspace, run, "Evaluator", "metrics")
    metadata = artifact["metadata"]
    assert 0.5 < metadata["binary_accuracy"] <= 1.0
    assert metadata["example_count"] > 100
    assert metadata["display_name"] == "metrics"


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


def test_a_second_run_reuses_cached_tasks_and_pushes_no_duplicate(
    workspace, first_run, compiled_package
):
    run = emulator.emulate(
        str(compiled_package),
        str(workspace / "out"),
        [f"data_root={workspace / 'taxi'}", *FAST],
        out=io.StringIO(),
    )
    states = {t.name: t.state for t in run.tasks}
    for task in ("CsvExampleGen", "StatisticsGen", "DataGate", "Transform", "Trainer"):
        assert states[task] == "cached", states
    assert states["LatestPushedModel"] == "complete"  # looks up the serving model every run
    assert len(_serving(workspace)) == 1


def test_bad_data_stops_the_emulated_run_at_the_data_gate(
    workspace, first_run, compiled_package, taxi_rows
):
    broken = [{**row, "trip_start_hour": "31"} for row in taxi_rows[:1000]]
    write_csv(workspace / "broken" / "data.csv", broken, taxi_header())
    before = _serving(workspace)
    result = run_kubetfx(
        "emulate",
        str(compiled_package),
        "--output-dir",
        str(workspace / "out"),
        "--param",
        f"data_root={workspace / 'broken'}",
        *[arg for pair in FAST for arg in ("--param", pair)],
    )
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("kubetfx: error: task DataGate failed")
    assert "trip_start_hour" in error
    assert "Transform            not run" in result.stdout
    assert _serving(workspace) == before
