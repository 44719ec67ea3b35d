"""`kubetfx rollout check` and the promote gate: rows to both tracks, answers compared."""

import contextlib
import itertools

import numpy as np
import pytest
import tensorflow as tf
import yaml
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from kubetfx.pipelines.serving import check as checks
from kubetfx.pipelines.serving import rollout
from tests.conftest import TAXI_CSV
from tests.pipelines.serving.rest_server import rest_server
from tests.test_kubernetes_manifests import KUBERNETES, _run, _tool


def test_rows_disagree_on_another_class_or_a_value_too_far_apart():
    binary = checks.disagree(
        "binary", np.array([[0.9], [0.4], [0.5]]), np.array([[0.6], [0.6], [0.49]])
    )
    assert binary.tolist() == [False, True, True]
    multiclass = checks.disagree(
        "multiclass", np.array([[0.1, 0.9], [0.7, 0.3]]), np.array([[0.2, 0.8], [0.4, 0.6]])
    )
    assert multiclass.tolist() == [False, True]
    regression = checks.disagree(
        "regression", np.array([[100.0], [100.0]]), np.array([[104.0], [106.0]])
    )
    assert regression.tolist() == [False, True]  # within, then beyond 5% of the larger


def test_an_answer_that_is_not_a_finite_number_disagrees():
    nan = float("nan")
    for task in ("binary", "regression"):
        stable = np.array([[0.2], [0.7], [nan]])
        canary = np.array([[nan], [0.7], [0.2]])
        assert checks.disagree(task, stable, canary).tolist() == [True, False, True]
    assert checks.disagree(
        "multiclass", np.array([[0.1, 0.9]]), np.array([[nan, 0.1]])
    ).tolist() == [True]


def _check(version="200", errors=0, disagreement=0.0, compared=100):
    stats = checks.TrackStats(10, 0, (1.0, 2.0, 3.0))
    canary = checks.TrackStats(10, errors, (1.5, 2.5, 3.5))
    return checks.CanaryCheck(version, 100, compared, disagreement, stats, canary)


def test_the_gate_names_each_reason_a_canary_is_not_promoted():
    assert checks.problems(_check(), "200") == []
    assert checks.problems(None, "200") == ["canary 200 has not been checked"]
    assert checks.problems(_check(version="150"), "200") == ["canary 200 has not been checked"]
    assert checks.problems(_check(errors=1, disagreement=0.25), "200") == [
        "10.0% of the canary's requests failed (at most 1.0%)",
        "its predictions disagree with the stable track's on 25.0% of the rows (at most 10.0%)",
    ]
    assert checks.problems(_check(disagreement=0.25), "200", max_disagreement=0.3) == []
    assert checks.problems(_check(compared=0), "200") == ["no row was answered by both tracks"]


def test_too_few_rows_do_not_pass():
    assert checks.problems(_check(compared=50), "200") == [
        "only 50 rows were compared; a check needs 100"
    ]


def test_a_rollback_drops_the_check_and_an_unreadable_one_counts_as_none():
    checked = rollout.Rollout("1", "200", 10, _check().to_json())
    assert rollout.promote(checked) == rollout.Rollout("200", "200", 0)
    assert rollout.rollback(checked).check == ""
    edited = rollout.Rollout("1", "200", 10, "skip")
    with pytest.raises(rollout.CanaryRefused, match="canary 200 has not been checked"):
        rollout.promote(edited)
    assert rollout.promote(edited, force=True).stable == "200"


def test_a_check_round_trips_through_its_annotation():
    check = _check(errors=2, disagreement=0.125)
    assert checks.CanaryCheck.from_json(check.to_json()) == check


def _fare_rule(flip_every: int = 0):
    """Answers a binary probability from each example's fare; every n-th row flipped."""
    counter = itertools.count()

    def answer(examples):
        scores = []
        for serialized in examples:
            fare = tf.train.Example.FromString(serialized).features.feature["fare"]
            p = min(1.0, (fare.float_list.value or [0.0])[0] / 20.0)
            if flip_every and next(counter) % flip_every == 0:
                p = 1.0 - p if abs(p - 0.5) > 1e-6 else 0.0
            scores.append([p])
        return scores

    return answer


def _failing_every(n: int, answer):
    calls = itertools.count()
    return lambda examples: None if next(calls) % n == 0 else answer(examples)


@pytest.fixture()
def data(tmp_path):
    """200 taxi rows."""
    lines = TAXI_CSV.read_text().splitlines()[:201]
    folder = tmp_path / "rows"
    folder.mkdir()
    (folder / "rows.csv").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture()
def canary_manifest(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(_run(_tool("kubectl"), "kustomize", str(KUBERNETES / "serving")).stdout)
    result = CliRunner().invoke(
        cli, ["rollout", "start", "200", "--percent", "10", "--from", str(base), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    path = tmp_path / "canary.yaml"
    path.write_text(result.output)
    return path


def _run_check(tmp_path, data, manifest, stable, canary=None, *extra):
    """`rollout check --dry-run` against local servers (``canary`` None: an address
    nothing answers at); the result, and the manifest it printed."""
    with contextlib.ExitStack() as stack:
        stable_url = stack.enter_context(rest_server(stable))
        canary_url = stack.enter_context(rest_server(canary)) if canary else "http://127.0.0.1:9"
        result = CliRunner().invoke(
            cli,
            [
                "rollout", "check", "--data", str(data), "--batch-size", "10",
                "--stable-url", stable_url, "--canary-url", canary_url,
                "--from", str(manifest), "--dry-run", *extra,
            ],
        )  # fmt: skip
    recorded = tmp_path / "checked.yaml"
    recorded.write_text(result.stdout)
    return result, recorded


def test_a_canary_that_agrees_passes_and_may_be_promoted(tmp_path, data, canary_manifest):
    result, recorded = _run_check(tmp_path, data, canary_manifest, _fare_rule(), _fare_rule())
    assert result.exit_code == 0, result.stderr
    report = result.stderr.splitlines()
    assert report[0] == "kubetfx: checked canary 200 against stable 1:"
    assert report[1].startswith("  stable  20 requests, 0 failed (0.0%); latency p50 ")
    assert report[3] == "  200 of 200 rows answered by both; the predictions disagree on 0.0%"
    assert report[-1].startswith("kubetfx: canary 200 passes the check")
    state = rollout.from_manifest(str(recorded))
    assert (state.stable, state.canary, state.percent) == ("1", "200", 10)  # only the check is new
    assert checks.CanaryCheck.from_json(state.check).rows == 200

    promoted = CliRunner().invoke(cli, ["rollout", "promote", "--from", str(recorded), "--dry-run"])
    assert promoted.exit_code == 0, promoted.output
    routes = [d for d in yaml.safe_load_all(promoted.output) if d and d["kind"] == "HTTPRoute"]
    assert routes[0]["metadata"]["annotations"][rollout.STABLE_ANNOTATION] == "200"
    assert routes[0]["metadata"]["annotations"][rollout.CHECK_ANNOTATION] == ""


def test_a_failing_canary_is_refused_with_exit_3_unless_forced(tmp_path, data, canary_manifest):
    canary = _failing_every(4, _fare_rule(flip_every=3))
    result, recorded = _run_check(tmp_path, data, canary_manifest, _fare_rule(), canary)
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines()[-1] == (
        "kubetfx: error: canary 200 fails the check: 25.0% of the canary's requests failed "
        "(at most 1.0%); its predictions disagree with the stable track's on 33.3% of the "
        "rows (at most 10.0%)"
    )
    promote = ["rollout", "promote", "--from", str(recorded), "--dry-run"]
    refused = CliRunner().invoke(cli, promote)
    assert refused.exit_code == 3
    (line,) = refused.output.strip().splitlines()
    assert line.startswith("kubetfx: error: not promoting canary 200: 25.0% of the canary's")
    assert CliRunner().invoke(cli, [*promote, "--force"]).exit_code == 0


def test_an_unchecked_canary_is_not_promoted(canary_manifest):
    result = CliRunner().invoke(
        cli, ["rollout", "promote", "--from", str(canary_manifest), "--dry-run"]
    )
    assert result.exit_code == 3
    assert result.output.strip() == (
        "kubetfx: error: not promoting canary 200: canary 200 has not been checked; run "
        "`kubetfx rollout check --data DIR`, roll it back, or pass --force"
    )


def test_an_unreachable_track_is_counted_as_failed_requests(tmp_path, data, canary_manifest):
    result, _ = _run_check(tmp_path, data, canary_manifest, _fare_rule(), None, "--rows", "20")
    assert result.exit_code == 3
    assert "  canary  2 requests, 2 failed (100.0%)" in result.stderr
    assert "no row was answered by both tracks" in result.stderr
