"""Partial runs of the real taxi pipeline through the installed ``kubetfx``, one output folder.

Look at new data first (``--to StatisticsGen``), run the whole pipeline,
retrain from the Trainer on (``--from``), then re-evaluate alone
(``--only Evaluator --no-cache``); what ran is read back from ML Metadata.
"""

import re

import pytest

from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib
from tests.conftest import TAXI, run_kubetfx, taxi_header, write_csv

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "100", "--eval-steps", "10"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, taxi_rows):
    root = tmp_path_factory.mktemp("partial")
    write_csv(root / "taxi" / "data.csv", taxi_rows[:2000], taxi_header())
    return root


def _run(workspace, *extra):
    result = run_kubetfx(
        "run", "--data", str(workspace / "taxi"), "--output-dir", str(workspace / "out"), *extra
    )
    return result


def _latest(workspace) -> runs_lib.RunSummary:
    store = metadata.connect(str(workspace / "out" / "metadata.db"))
    return runs_lib.find_run(store, "latest", TAXI.project.name)


def _printed_seconds(result) -> float:
    return float(re.search(r"^kubetfx: run \S+ finished in ([\d.]+) s", result.stdout, re.M)[1])


def _states(run: runs_lib.RunSummary) -> dict[str, str]:
    return {e.node_id: e.state for e in run.executions}


@pytest.fixture(scope="module")
def looked_at_data(workspace):
    result = _run(workspace, "--to", "statisticsgen")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest(workspace)


@pytest.fixture(scope="module")
def full_run(workspace, looked_at_data):
    result = _run(workspace, *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest(workspace)


@pytest.fixture(scope="module")
def retrained(workspace, full_run):
    result = _run(workspace, *FAST[:1], "150", *FAST[2:], "--from", "Trainer")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest(workspace)


@pytest.fixture(scope="module")
def reevaluated(workspace, retrained):
    result = _run(workspace, *FAST[:1], "150", *FAST[2:], "--only", "EVALUATOR", "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    return result, _latest(workspace)


def test_to_statistics_gen_runs_the_data_steps_alone(workspace, looked_at_data, tmp_path):
    result, run = looked_at_data
    assert "partial run --to StatisticsGen: runs CsvExampleGen, StatisticsGen\n" in result.stdout
    assert _states(run) == {"CsvExampleGen": "complete", "StatisticsGen": "complete"}
    assert run.outcome == "complete (--to StatisticsGen)"
    assert run.seconds == pytest.approx(_printed_seconds(result), abs=0.051)

    page = tmp_path / "data.html"
    args = ["--output-dir", str(workspace / "out"), "--output", str(page)]
    reported = run_kubetfx("report", "latest", *args)
    assert reported.returncode == 0, reported.stderr
    text = page.read_text()
    assert 'id="statistics"' in text and "trip_miles" in text
    assert 'id="evaluation"' not in text
    assert "complete (--to StatisticsGen)" in text


def test_from_needs_an_earlier_run_with_the_outputs_it_takes(workspace, looked_at_data):
    result = _run(workspace, *FAST, "--from", "Trainer")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("kubetfx: error: --from Trainer takes the outputs of ")
    assert "Transform" in line and "none of the 1 earlier runs" in line
    assert _latest(workspace).run_id == looked_at_data[1].run_id  # nothing recorded


def test_a_name_that_is_no_component_is_refused_with_the_components(workspace, looked_at_data):
    result = _run(workspace, "--to", "Statistics")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--to Statistics: the pipeline has no such component; its components are " in (
        result.stderr
    )
    assert "StatisticsGen" in result.stderr and "Traceback" not in result.stderr


def test_the_full_run_takes_the_data_steps_from_the_cache(full_run):
    _, run = full_run
    states = _states(run)
    assert states["CsvExampleGen"] == states["StatisticsGen"] == "cached"
    assert states["Trainer"] == states["Pusher"] == "complete"
    assert run.outcome == "complete" and run.base_run is None


def test_from_trainer_retrains_and_evaluates_on_the_earlier_data_steps(full_run, retrained):
    result, run = retrained
    assert "partial run --from Trainer: runs Trainer, Evaluator, Pusher; takes " in result.stdout
    states = _states(run)
    assert {n for n, s in states.items() if s == "complete"} == {"Trainer", "Evaluator", "Pusher"}
    assert run.base_run == full_run[1].run_id
    assert "Transform" in run.reused and states["Transform"] == "cached"
    transform = {e.node_id: e for e in run.executions}["Transform"]
    earlier = {e.node_id: e for e in full_run[1].executions}["Transform"]
    assert transform.outputs["transform_graph"][0].id == earlier.outputs["transform_graph"][0].id
    assert run.ran == 3 and run.cached == 0  # what it took is not counted as cached


def test_only_evaluator_without_the_cache_evaluates_again(retrained, reevaluated):
    result, run = reevaluated
    assert "partial run --only Evaluator: runs Evaluator; takes " in result.stdout
    assert {n for n, s in _states(run).items() if s == "complete"} == {"Evaluator"}
    assert "Pusher" not in _states(run)
    assert run.base_run == retrained[1].run_id
    evaluator = {e.node_id: e for e in run.executions}["Evaluator"]
    before = {e.node_id: e for e in retrained[1].executions}["Evaluator"]
    assert evaluator.outputs["evaluation"][0].id != before.outputs["evaluation"][0].id


def test_runs_and_status_show_the_partial_runs_and_where_their_inputs_came_from(
    workspace, looked_at_data, full_run, retrained, reevaluated
):
    out = ["--output-dir", str(workspace / "out")]
    listed = run_kubetfx("runs", *out)
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()[1:]
    assert [row.split(None, 7)[-1] for row in rows] == [
        "complete (--only Evaluator)",
        "complete (--from Trainer)",
        "complete",
        "complete (--to StatisticsGen)",
    ]
    # The wall time listed is the one `kubetfx run` printed.
    assert float(rows[1].split()[4]) == pytest.approx(_printed_seconds(retrained[0]), abs=0.051)

    status = run_kubetfx("status", "latest~1", *out)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    base = full_run[1].run_id
    assert lines[0].startswith(f"run {retrained[1].run_id}: complete (--from Trainer) (")
    assert lines[0].endswith(f"3 ran, 0 cached, {len(retrained[1].reused)} taken from run {base})")
    assert f"  {'Transform':<20} taken from run {base}" in lines
    assert any(line.split()[:2] == ["Trainer", "complete"] for line in lines)

    # The full run against the retrained one, named by alias and by a start of its id.
    compared = run_kubetfx("compare", base[:19], "latest~1", *out)
    assert compared.returncode == 0, compared.stderr
    assert "binary_accuracy" in compared.stdout and "schema: unchanged" in compared.stdout
