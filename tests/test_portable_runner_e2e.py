"""The taxi pipeline's Beam steps through Beam's portable path, against the direct runner's results.

Beam's own job service and an external worker pool run in processes of their
own, as a Flink or Spark job server and the worker-pool sidecar of
kubernetes/flink do: the pipeline is serialized and submitted, and SDK workers
started by the pool do the work. One output folder: a full direct run, then
the data steps again through the job service (``--to Transform --no-cache``),
then the Evaluator alone on the direct run's model, then ``kubetfx predict``.
Last, a package compiled for the job service is emulated: its tasks' KFP
entrypoint submits the Beam steps there, as on a cluster's Flink.
"""

import csv
import glob
import os
import re
from pathlib import Path

import pytest

from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from tests.beam_services import job_service, path_without_beam, worker_pool
from tests.conftest import TAXI, TAXI_DATA_URI, run_kubetfx, taxi_header, write_csv
from tests.mlflow_server import free_port

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "50", "--eval-steps", "5", "--min-accuracy", "0"]  # blessed: pushed
DATA_STEPS = ("CsvExampleGen", "StatisticsGen", "Transform")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, taxi_rows):
    root = tmp_path_factory.mktemp("portable")
    write_csv(root / "taxi" / "data.csv", taxi_rows[:1000], taxi_header())
    return root


@pytest.fixture(scope="module")
def services(workspace):
    with job_service(workspace) as jobs, worker_pool(workspace) as pool:
        yield jobs, pool


def _run(workspace, *extra):
    return run_kubetfx(
        "run", "--data", str(workspace / "taxi"), "--output-dir", str(workspace / "out"), *extra
    )


def _portable(services) -> list[str]:
    jobs, pool = services
    return ["--beam-runner", "portable", "--job-endpoint", jobs, "--worker-pool", pool]


def _latest(workspace) -> runs_lib.RunSummary:
    store = metadata.connect(str(workspace / "out" / "metadata.db"))
    return runs_lib.find_run(store, "latest", TAXI.project.name)


def _executions(run: runs_lib.RunSummary) -> dict[str, metadata.ExecutionRecord]:
    return {e.node_id: e for e in run.executions}


@pytest.fixture(scope="module")
def direct(workspace):
    result = _run(workspace, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return _latest(workspace)


@pytest.fixture(scope="module")
def portable_data_steps(workspace, services, direct):
    result = _run(workspace, *FAST, *_portable(services), "--to", "Transform", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest(workspace)


def _records(uri: str, split: str = "train") -> list[tuple]:
    """The tf.Examples of an examples artifact's split, each as its sorted features, sorted.

    Compared parsed: a map's serialized order is not fixed between processes.
    """
    import tensorflow as tf

    records = []
    for path in glob.glob(os.path.join(uri, f"Split-{split}", "*.gz")):
        for record in tf.data.TFRecordDataset(path, compression_type="GZIP"):
            example = tf.train.Example.FromString(record.numpy())
            features = []
            for name, feature in sorted(example.features.feature.items()):
                kind = feature.WhichOneof("kind")
                features.append((name, tuple(getattr(feature, kind).value) if kind else ()))
            records.append(tuple(features))
    assert records, f"no records in {uri}"
    return sorted(records)


def _uri(execution: metadata.ExecutionRecord, output: str) -> str:
    return execution.outputs[output][0].uri


def test_the_data_steps_ran_through_the_job_service(workspace, portable_data_steps, direct):
    result, run = portable_data_steps
    executions = _executions(run)
    for step in DATA_STEPS:
        assert executions[step].state == "complete", step
    jobs = [p for p in glob.glob(str(workspace / "job-service-*.log"))]
    (log,) = jobs
    text = open(log).read()
    # CsvExampleGen, StatisticsGen and Transform each ran one job there.
    assert text.count("Completed job in") >= 3, text[-2000:]
    assert "state DONE" in text
    assert (
        "Starting worker with command"
        in open(glob.glob(str(workspace / "worker-pool-*.log"))[0]).read()
    )


def _columns(records: list[tuple]) -> dict[str, list]:
    """Each feature's values over all records, sorted."""
    columns: dict[str, list] = {}
    for record in records:
        for name, values in record:
            columns.setdefault(name, []).extend(values)
    return {name: sorted(values) for name, values in columns.items()}


def test_the_examples_and_transformed_examples_equal_the_direct_runners(
    portable_data_steps, direct
):
    _, run = portable_data_steps
    ours, theirs = _executions(run), _executions(direct)
    for split in ("train", "eval"):
        examples = [_records(_uri(e["CsvExampleGen"], "examples"), split) for e in (ours, theirs)]
        assert examples[0] == examples[1], split  # record for record
        transformed = [
            _columns(_records(_uri(e["Transform"], "transformed_examples"), split))
            for e in (ours, theirs)
        ]
        assert transformed[0].keys() == transformed[1].keys()
        for name, values in transformed[1].items():
            if values and isinstance(values[0], float):
                # A z-score's mean and variance are float sums whose order follows the
                # bundles: they may differ in the last bit (1e-7 relative).
                assert transformed[0][name] == pytest.approx(values, rel=1e-5, abs=1e-6), name
            else:  # buckets, vocabulary indices, labels: exactly
                assert transformed[0][name] == values, (split, name)


def test_the_statistics_equal_the_direct_runners(portable_data_steps, direct):
    import tensorflow_data_validation as tfdv

    _, run = portable_data_steps
    found = []
    for execution in (_executions(run)["StatisticsGen"], _executions(direct)["StatisticsGen"]):
        path = os.path.join(_uri(execution, "statistics"), "Split-train", "FeatureStats.pb")
        found.append(tfdv.load_stats_binary(path).datasets[0])
    ours, theirs = found
    assert ours.num_examples == theirs.num_examples
    assert ours.num_examples > 500
    features = {f.path.step[0]: f for f in theirs.features}
    assert {f.path.step[0] for f in ours.features} == set(features)
    for feature in ours.features:
        other = features[feature.path.step[0]]
        if feature.HasField("num_stats"):
            assert feature.num_stats.mean == pytest.approx(other.num_stats.mean, rel=1e-9)
            assert feature.num_stats.std_dev == pytest.approx(other.num_stats.std_dev, rel=1e-9)
            assert feature.num_stats.common_stats.num_non_missing == (
                other.num_stats.common_stats.num_non_missing
            )
        else:
            assert feature.string_stats.unique == other.string_stats.unique
            assert feature.string_stats.top_values == other.string_stats.top_values


def _overall_metrics(uri: str) -> dict[str, float]:
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(uri)
    (overall,) = (m for key, m in result.slicing_metrics if key == ())
    return {
        name: value["doubleValue"]
        for name, value in overall[""][""].items()
        if isinstance(value, dict) and "doubleValue" in value
    }


def test_the_evaluation_of_the_same_model_equals_the_direct_runners(
    workspace, services, direct, portable_data_steps
):
    result = _run(workspace, *FAST, *_portable(services), "--only", "Evaluator", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"from run {direct.run_id}" in result.stdout
    evaluator = _executions(_latest(workspace))["Evaluator"]
    assert evaluator.state == "complete"
    ours = _overall_metrics(_uri(evaluator, "evaluation"))
    theirs = _overall_metrics(_uri(_executions(direct)["Evaluator"], "evaluation"))
    assert "binary_accuracy" in ours and "example_count" in ours
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, rel=1e-4, abs=1e-6), name


def test_predictions_through_the_job_service_equal_the_direct_runners(workspace, services, direct):
    """The same rows, classes and probabilities; a probability may differ in float32's last bit.

    RunInference batches rows as each runner's bundles fall, and a model's matrix
    products round differently for batches of other sizes.
    """
    scored = {}
    for name, engine in (("direct", []), ("portable", _portable(services))):
        output = workspace / f"predictions-{name}.csv"
        result = run_kubetfx(
            "predict", "--data", str(workspace / "taxi"), "--output", str(output),
            "--output-dir", str(workspace / "out"), *engine,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        with open(output) as f:
            scored[name] = sorted(tuple(row.items()) for row in csv.DictReader(f))
    assert len(scored["direct"]) == 1000
    for ours, theirs in zip(scored["portable"], scored["direct"], strict=True):
        ours, theirs = dict(ours), dict(theirs)
        probability = float(ours.pop("probability"))
        assert probability == pytest.approx(float(theirs.pop("probability")), rel=1e-6)
        assert ours == theirs


def test_no_job_service_is_a_one_line_error_before_anything_runs(workspace):
    port = free_port()
    before = len(runs_lib.list_runs(str(workspace / "out" / "metadata.db"), TAXI.project.name))
    result = _run(workspace, "--beam-runner", "portable", "--job-endpoint", f"localhost:{port}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"kubetfx: error: no Beam job service answers at localhost:{port} (--job-endpoint): "
        "start one, e.g. `python -m apache_beam.runners.portability.local_job_service_main "
        f"--port {port}`, or port-forward the cluster's job server"
    ]
    after = len(runs_lib.list_runs(str(workspace / "out" / "metadata.db"), TAXI.project.name))
    assert after == before


def test_a_worker_pool_that_cannot_start_workers_is_named(workspace, services):
    jobs, _ = services
    before = len(runs_lib.list_runs(str(workspace / "out" / "metadata.db"), TAXI.project.name))
    with worker_pool(workspace, path=path_without_beam(workspace)) as broken:
        result = _run(
            workspace, "--beam-runner", "portable", "--job-endpoint", jobs,
            "--worker-pool", broken, "--to", "CsvExampleGen", "--no-cache",
        )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"kubetfx: error: the Beam worker pool at {broken} started a worker that did not "
        "connect within 30 s"
    )
    assert "first `python` on its PATH" in line
    after = len(runs_lib.list_runs(str(workspace / "out" / "metadata.db"), TAXI.project.name))
    assert after == before


def _completed_jobs(workspace) -> int:
    (log,) = glob.glob(str(workspace / "job-service-*.log"))
    return open(log).read().count("Completed job in")


def test_a_package_compiled_for_the_job_service_sends_its_beam_tasks_there(
    workspace, services, taxi_rows
):
    jobs, pool = services
    package, emulated = workspace / "portable.yaml", workspace / "emulated"
    data = object_path(str(emulated / "object_store"), TAXI_DATA_URI)
    write_csv(Path(data) / "data.csv", taxi_rows[:1000], taxi_header())
    compiled = run_kubetfx(
        "compile", "--output", str(package), "--data", TAXI_DATA_URI, "--min-accuracy", "0",
        "--beam-runner", "portable", "--job-endpoint", jobs, "--worker-pool", pool,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr
    before = _completed_jobs(workspace)
    result = run_kubetfx(
        "emulate", str(package), "--output-dir", str(emulated), "--param", "train_steps=50"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^  Evaluator +complete", result.stdout, re.M), result.stdout
    assert re.search(r"^  Pusher +complete", result.stdout, re.M), result.stdout
    # CsvExampleGen, StatisticsGen, Transform and the Evaluator each ran a job there.
    assert _completed_jobs(workspace) - before == 4
    # With the kubetfx image's TFX on every worker, no task stages an sdist of TFX.
    logs = glob.glob(str(emulated / "logs" / "*.log"))
    assert len(logs) >= 10
    assert not [p for p in logs if "infer TFX Python dependency" in open(p).read()]
