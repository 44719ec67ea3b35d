"""The real taxi pipeline on LocalDagRunner, run several times over one output folder.

Each run goes through the installed ``kubetfx`` command; what happened is read
back from the ML Metadata store and the serving folder.
"""

import base64
import csv
import json
import os
import re

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from kubetfx.components.pusher import model_digest
from kubetfx.pipelines.history import metadata
from tests import browser
from tests.browser import assert_report_rendered
from tests.conftest import TAXI, TAXI_SCHEMA, run_kubetfx, taxi_header, write_csv

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "200", "--eval-steps", "20"]
TRAINING_NODES = {
    "CsvExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "DataGate",
    "Transform",
    "Trainer",
}
ALL_NODES = TRAINING_NODES | {"LatestPushedModel", "Evaluator", "Pusher"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, taxi_rows):
    root = tmp_path_factory.mktemp("e2e")
    # Another folder of taxi-format CSVs, in two files.
    write_csv(root / "taxi" / "part-1.csv", taxi_rows[:1500], taxi_header())
    write_csv(root / "taxi" / "part-2.csv", taxi_rows[1500:], taxi_header())
    return root


def _run(workspace, *extra, data="taxi"):
    return run_kubetfx(
        "run", "--data", str(workspace / data), "--output-dir", str(workspace / "out"), *extra
    )


def _latest_executions(workspace):
    store = metadata.connect(str(workspace / "out" / "metadata.db"))
    run_id = metadata.latest_run(store, TAXI.project.name)
    return {e.node_id: e for e in metadata.run_executions(store, run_id)}


def _serving_state(workspace):
    serving = workspace / "out" / "serving"
    return {v: model_digest(str(serving / v)) for v in sorted(os.listdir(serving))}


@pytest.fixture(scope="module")
def first_run(workspace):
    result = _run(workspace, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def second_run(workspace, first_run):
    result = _run(workspace, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest_executions(workspace)


@pytest.fixture(scope="module")
def third_run(workspace, second_run):
    result = _run(workspace, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest_executions(workspace)


def test_first_run_executes_every_component_and_pushes(workspace, first_run):
    executions = _latest_executions(workspace)
    assert set(executions) == ALL_NODES
    assert {e.state for e in executions.values()} == {"complete"}
    (version,) = _serving_state(workspace)
    assert f"model blessed and pushed to {workspace / 'out' / 'serving' / version}" in (
        first_run.stdout
    )
    for node in ALL_NODES:
        assert node in first_run.stdout  # progress line per component
    assert "INFO" not in first_run.stdout + first_run.stderr  # TFX logs went to the log file
    assert len(os.listdir(workspace / "out" / "logs")) == 1


def test_pushed_model_serves_raw_taxi_rows(workspace, first_run, taxi_rows):
    (version,) = _serving_state(workspace)
    loaded = tf.saved_model.load(str(workspace / "out" / "serving" / version))
    serve = loaded.signatures["serving_default"]
    examples = [_to_example(row).SerializeToString() for row in taxi_rows[:50]]
    outputs = serve(examples=tf.constant(examples))["outputs"].numpy()
    assert outputs.shape == (50, 1)
    assert ((outputs >= 0) & (outputs <= 1)).all()
    assert outputs.std() > 0  # not one constant answer


def test_predict_scores_each_row_as_tf_serving_would(workspace, first_run, taxi_rows):
    (version,) = _serving_state(workspace)
    header = [c for c in taxi_header() if c != "tips"]  # new data comes without the label
    labelled = taxi_rows[1500:1900]
    rows = [{k: r[k] for k in header} for r in labelled]
    data = write_csv(workspace / "unlabelled" / "d.csv", rows, header)
    keys = ["trip_start_timestamp", "pickup_census_tract", "fare"]
    written, printed_shares = {}, {}
    for name in ("predictions.csv", "predictions.parquet"):
        output = workspace / name
        args = ["--data", str(data.parent), "--output", str(output), "--keys", ",".join(keys)]
        result = run_kubetfx("predict", *args, "--output-dir", str(workspace / "out"))
        assert result.returncode == 0, result.stdout + result.stderr
        *_, scored, shares, drift = (result.stdout + result.stderr).strip().splitlines()
        assert scored.startswith(f"kubetfx: 400 rows scored by model version {version} in ")
        # The predictions against the eval split's, which the model carries.
        assert drift.startswith("kubetfx: PSI "), drift
        assert "against the eval split's predictions" in drift
        printed_shares[name] = shares
        written[name] = (
            pd.read_csv(output, dtype=str, keep_default_na=False)
            if name.endswith("csv")
            else pd.read_parquet(output)
        )
    csv_rows, parquet_rows = written["predictions.csv"], written["predictions.parquet"]
    names = TAXI.project.label.class_names()
    counts = csv_rows["prediction"].value_counts()
    assert printed_shares["predictions.csv"] == "kubetfx: predictions: " + ", ".join(
        f"{n} {counts.get(n, 0) / 400:.0%}" for n in names
    )
    assert list(csv_rows.columns) == [*keys, "prediction", "probability"]
    assert len(csv_rows) == len(parquet_rows) == 400

    loaded = tf.saved_model.load(str(workspace / "out" / "serving" / version))
    examples = [_to_example(row).SerializeToString() for row in labelled]
    positive = _as_tf_serving_answers(loaded.signatures["serving_default"], examples)
    expected = sorted(
        (*(row[k] for k in keys), names[int(p >= 0.5)], max(p, 1 - p))
        for row, p in zip(rows, positive.numpy()[:, 0].tolist(), strict=True)
    )
    for table in (csv_rows, parquet_rows):
        got = sorted(
            (*(r[k] for k in keys), r["prediction"], float(r["probability"]))
            for r in table.to_dict("records")
        )
        # Batches of other sizes round the model's products differently: float32's last bits.
        for (*ours, probability), (*theirs, served) in zip(got, expected, strict=True):
            assert ours == theirs
            assert probability == pytest.approx(served, abs=1e-5)


def _as_tf_serving_answers(signature, examples: list[bytes]) -> tf.Tensor:
    """The signature's answer to TF Serving's REST and gRPC predict requests, checked equal.

    Each request is built as a client builds it and decoded as TF Serving
    decodes it: REST's row format with base64 values of the serialized
    examples, and tensorflow-serving-api's PredictRequest over the wire.
    """
    from tensorflow_serving.apis import predict_pb2

    (name,) = signature.structured_input_signature[1]  # the one input, as clients name it
    body = json.dumps(
        {
            "signature_name": "serving_default",
            "instances": [{"b64": base64.b64encode(e).decode("ascii")} for e in examples],
        }
    )
    rest_examples = [base64.b64decode(i["b64"]) for i in json.loads(body)["instances"]]
    rest = signature(**{name: tf.constant(rest_examples)})["outputs"]

    request = predict_pb2.PredictRequest()
    request.model_spec.name = TAXI.project.name
    request.model_spec.signature_name = "serving_default"
    request.inputs[name].CopyFrom(tf.make_tensor_proto(examples, dtype=tf.string))
    received = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    grpc = signature(**{name: tf.constant(tf.make_ndarray(received.inputs[name]))})["outputs"]

    assert name == "examples" and rest.shape == (len(examples), 1)
    assert np.array_equal(rest.numpy(), grpc.numpy())
    return rest


def test_rollout_check_sends_rows_to_both_tracks_as_tf_serving_takes_them(
    workspace, first_run, taxi_rows, tmp_path
):
    """Both tracks answer with the pushed model's serving signature over TF Serving's REST API.

    No cluster runs here: each track is a local server that decodes the REST
    request as TF Serving does and runs the SavedModel. The same model on both
    tracks agrees on every row.
    """
    from tests.pipelines.serving.rest_server import rest_server
    from tests.test_kubernetes_manifests import KUBERNETES, _tool
    from tests.test_kubernetes_manifests import _run as run_tool

    (version,) = _serving_state(workspace)
    serve = tf.saved_model.load(str(workspace / "out" / "serving" / version)).signatures[
        "serving_default"
    ]

    def answer(examples):
        return serve(examples=tf.constant(examples))["outputs"].numpy().tolist()

    header = [c for c in taxi_header() if c != "tips"]
    data = write_csv(
        tmp_path / "rows" / "d.csv", [{k: r[k] for k in header} for r in taxi_rows[:300]], header
    )
    base = tmp_path / "base.yaml"
    base.write_text(run_tool(_tool("kubectl"), "kustomize", str(KUBERNETES / "serving")).stdout)
    started = run_kubetfx(
        "rollout", "start", version, "--percent", "10", "--from", str(base), "--dry-run"
    )
    assert started.returncode == 0, started.stderr
    manifest = tmp_path / "canary.yaml"
    manifest.write_text(
        started.stdout.replace('kubetfx.dev/stable-version: "1"', 'kubetfx.dev/stable-version: "0"')
    )
    with rest_server(answer) as stable, rest_server(answer) as canary:
        result = run_kubetfx(
            "rollout",
            "check",
            "--data",
            str(data.parent),
            "--rows",
            "250",
            "--stable-url",
            stable,
            "--canary-url",
            canary,
            "--from",
            str(manifest),
            "--dry-run",
        )
    assert result.returncode == 0, result.stderr
    report = result.stderr.strip().splitlines()
    assert report[1].startswith("  stable  5 requests, 0 failed (0.0%); latency p50 ")
    assert report[2].startswith("  canary  5 requests, 0 failed (0.0%); latency p50 ")
    assert report[3] == "  250 of 250 rows answered by both; the predictions disagree on 0.0%"
    assert "kubetfx.dev/canary-check" in result.stdout


def test_predict_refuses_rows_that_break_the_schema(workspace, first_run, taxi_rows):
    header = [c for c in taxi_header() if c != "tips"]
    rows = [{**{k: r[k] for k in header}, "trip_miles": "far"} for r in taxi_rows[:200]]
    data = write_csv(workspace / "unlabelled-broken" / "d.csv", rows, header)
    output = workspace / "broken.csv"
    args = ["--data", str(data.parent), "--output", str(output)]
    result = run_kubetfx("predict", *args, "--output-dir", str(workspace / "out"))
    assert result.returncode == 3, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("kubetfx: error: stopped before scoring: the data does not match")
    assert "feature 'trip_miles'" in line
    assert not output.exists()


def _to_example(row):
    """A tf.Example of one raw CSV row without the label, typed by the schema."""
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(TAXI_SCHEMA)
    feature = {}
    for spec in schema.feature:
        text = row[spec.name]
        if spec.name == "tips":
            continue
        if spec.type == 1:  # BYTES
            values = [text.encode()] if text else []
            feature[spec.name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        elif spec.type == 2:  # INT
            values = [int(text)] if text else []
            feature[spec.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
        else:
            values = [float(text)] if text else []
            feature[spec.name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def test_rerun_reuses_training_and_does_not_push_a_duplicate(workspace, second_run):
    result, executions = second_run
    cached = {node for node, e in executions.items() if e.state == "cached"}
    assert TRAINING_NODES <= cached
    # The newly pushed model is the new baseline: evaluation runs again, and finds
    # the candidate already serving.
    assert len(_serving_state(workspace)) == 1
    assert "already serving as version" in result.stdout


def test_third_run_is_entirely_cached(workspace, third_run):
    result, executions = third_run
    assert set(executions) == ALL_NODES
    assert {e.state for e in executions.values()} == {"cached"}
    assert "(0 ran, 10 cached)" in result.stdout


def test_model_gate_keeps_the_serving_model(workspace, third_run):
    before = _serving_state(workspace)
    result = _run(workspace, *FAST, "--min-accuracy", "0.999")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "model not blessed, nothing pushed" in result.stdout
    assert "binary_accuracy" in result.stdout
    executions = _latest_executions(workspace)
    assert executions["Evaluator"].state == "complete"
    assert executions["Pusher"].state == "complete"
    assert (
        executions["Pusher"].outputs["pushed_model"][0].custom_properties["pushed"].int_value == 0
    )
    assert _serving_state(workspace) == before


# Markup in the data: shown as text on every page, or it would change the title or fetch.
HOSTILE_COLUMN = "<img src=http://127.0.0.1:9/c.png onerror=document.title='ran'>"
HOSTILE_VALUE = "<script>document.title='ran'</script>"


def test_data_gate_stops_before_training(workspace, taxi_rows, third_run):
    broken = []
    for row in taxi_rows:
        row = dict(row)
        row["trip_miles"] = f"{row['trip_miles']} mi"  # a number column turns to text
        row["company"] = HOSTILE_VALUE  # one new category floods the column
        row[HOSTILE_COLUMN] = "1"  # a column the schema does not have
        broken.append(row)
    write_csv(workspace / "broken" / "data.csv", broken, [*taxi_header(), HOSTILE_COLUMN])
    before = _serving_state(workspace)

    result = _run(workspace, *FAST, data="broken")

    assert result.returncode == 3
    error = result.stderr.strip()
    assert error.startswith("kubetfx: error: stopped before training")
    assert "feature 'trip_miles'" in error
    assert "feature 'company'" in error
    assert "Traceback" not in error
    executions = _latest_executions(workspace)
    assert executions["DataGate"].state == "failed"
    assert executions["ExampleValidator"].state == "complete"
    assert not {"Transform", "Trainer", "Evaluator", "Pusher"} & set(executions)
    assert _serving_state(workspace) == before


def test_every_run_has_its_log(workspace, third_run):
    logs = sorted((workspace / "out" / "logs").glob("run-*.log"))
    assert len(logs) >= 3
    with open(logs[0]) as f:
        assert "Component CsvExampleGen is running." in f.read()


def test_csv_files_stay_as_given(workspace, taxi_rows):
    with open(workspace / "taxi" / "part-1.csv", newline="") as f:
        assert sum(1 for _ in csv.reader(f)) == 1501


@pytest.fixture(scope="module")
def all_runs(workspace, third_run):
    """Every run above, in the order they ran (the gate tests add theirs)."""
    result = run_kubetfx("runs", "--output-dir", str(workspace / "out"))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[1:]


def test_runs_lists_every_run_newest_first_with_its_outcome(workspace, all_runs):
    database = workspace / "out" / "metadata.db"
    before = database.read_bytes()
    states = [line.split(None, 7)[-1] for line in all_runs]
    assert states[0] == "stopped by the data gate"  # the last run of this module
    assert "model not blessed" in states
    assert states[-1] == "complete"  # the first run
    first = all_runs[-1].split()
    assert first[5:7] == ["10", "0"]  # ran, cached
    assert database.read_bytes() == before  # reading never writes


def test_status_shows_components_outputs_and_the_gate_error(workspace, all_runs):
    gate_run = all_runs[0].split()[0]
    result = run_kubetfx("status", gate_run, "--output-dir", str(workspace / "out"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"run {gate_run}: stopped by the data gate")
    assert any(line.split()[:2] == ["DataGate", "failed"] for line in lines)
    assert any("error:" in line and "trip_miles" in line for line in lines)
    assert any("statistics (ExampleStatistics):" in line for line in lines)

    missing = run_kubetfx("status", "no-such-run", "--output-dir", str(workspace / "out"))
    assert missing.returncode == 2
    assert "no run no-such-run" in missing.stderr and "Traceback" not in missing.stderr


def test_report_shows_the_run_in_a_real_browser_without_network(workspace, all_runs, tmp_path):
    unblessed = next(line.split()[0] for line in all_runs if line.endswith("model not blessed"))
    page = tmp_path / "report.html"
    result = run_kubetfx(
        "report", unblessed, "--output-dir", str(workspace / "out"), "--output", str(page)
    )
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    for section in (
        'id="graph"',
        'id="statistics"',
        'id="schema"',
        'id="anomalies"',
        'id="evaluation"',
        'id="comparison"',
    ):
        assert section in text, section
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"url\((?!#)", text)  # only in-page references
    assert "Not blessed" in text and "Failed thresholds" in text
    # An empty CSV cell is missing: company is empty in about a third of the taxi rows.
    company = re.search(r"<tr><td>company</td><td>(\d+)</td><td[^>]*>([\d.]+)%</td>", text)
    assert company and 20 < float(company.group(2)) < 50, company

    assert_report_rendered(browser.render(page, "report.png", tmp_path), nodes=10)


def test_report_shows_markup_from_the_data_as_text_in_a_real_browser(workspace, all_runs, tmp_path):
    gate_run = all_runs[0].split()[0]
    page = tmp_path / "gate.html"
    result = run_kubetfx(
        "report", gate_run, "--output-dir", str(workspace / "out"), "--output", str(page)
    )
    assert result.returncode == 0, result.stderr
    assert HOSTILE_VALUE not in page.read_text() and "<img" not in page.read_text()

    rendered = browser.render(page, "report-hostile-data.png", tmp_path)
    title = re.search(r"<title>(.*?)</title>", rendered.dom).group(1)
    assert title.startswith("kubetfx run"), title  # no script ran
    assert rendered.fetched == []
    # The column and the value, shown literally (a text node keeps quotes as they
    # are); TFDV's description of the value escapes its quotes C-style.
    anomalies = rendered.dom.split('id="anomalies"')[1]
    for text in (HOSTILE_COLUMN, HOSTILE_VALUE.replace("'", "\\'")):
        assert text.replace("<", "&lt;").replace(">", "&gt;") in anomalies, text


def test_compare_flags_the_drift_that_stopped_the_gate_run(workspace, all_runs):
    gate_run = all_runs[0].split()[0]
    first_run = all_runs[-1].split()[0]
    result = run_kubetfx("compare", first_run, gate_run, "--output-dir", str(workspace / "out"))
    assert result.returncode == 0, result.stderr
    drift = [line for line in result.stdout.splitlines() if line.strip().startswith("DRIFT")]
    assert any("train:trip_miles" in line and "type changed" in line for line in drift)
    assert any("train:company" in line for line in drift)
    assert not any("trip_start_hour" in line for line in drift)
    assert "binary_accuracy" in result.stdout
