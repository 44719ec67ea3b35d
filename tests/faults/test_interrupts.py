"""A local run stopped by SIGINT or SIGTERM ends cleanly, and the next run resumes.

The real pipeline on a small slice: the signal arrives while a component runs;
the run exits 130 (SIGINT) or 143 (SIGTERM) with one line naming the
component, ML Metadata records the unfinished execution as cancelled (so
`runs` shows the run interrupted, not running for ever), the folder's lock is
free, and a re-run completes, taking what finished from the cache.
"""

import os
import signal
import subprocess
import time

import pytest

from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.history import metadata
from tests.conftest import KUBETFX, TAXI, run_kubetfx, taxi_header, write_csv

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "50", "--eval-steps", "5"]


@pytest.fixture(scope="module")
def data(tmp_path_factory, taxi_rows):
    folder = tmp_path_factory.mktemp("faults") / "taxi"
    write_csv(folder / "part-1.csv", taxi_rows[:1500], taxi_header())
    return folder


def _stop_after(data, out, finished: str, signal_number: int) -> subprocess.CompletedProcess:
    """Runs the pipeline; sends the signal once component ``finished`` has finished."""
    command = [KUBETFX, "run", "--data", str(data), "--output-dir", str(out), *FAST]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # A shell starts background jobs with SIGINT ignored, and the child would
        # inherit that; a run started from a terminal has the default.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.split()[:1] == [finished]:
            time.sleep(2)  # into the next component
            process.send_signal(signal_number)
            break
    stdout, stderr = process.communicate(timeout=600)
    return subprocess.CompletedProcess(command, process.returncode, "".join(lines) + stdout, stderr)


@pytest.mark.parametrize(
    "signal_number, code, finished, stopped",
    [(signal.SIGINT, 130, "DataGate", "Transform"), (signal.SIGTERM, 143, "Transform", "Trainer")],
)
def test_a_signal_ends_the_run_cleanly_and_the_next_run_resumes(
    tmp_path, data, signal_number, code, finished, stopped
):
    out = tmp_path / "out"
    result = _stop_after(data, out, finished, signal_number)
    assert result.returncode == code, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith(f"kubetfx: error: interrupted during {stopped}; re-run to resume")
    assert lock.holder(str(out)) is None

    store = metadata.connect(str(out / "metadata.db"))
    (run_id,) = metadata.run_ids(store, TAXI.project.name)
    states = {e.node_id: e.state for e in metadata.run_executions(store, run_id)}
    assert states[stopped] == "canceled" and states[finished] == "complete"
    assert (out / "logs" / f"run-{run_id}.log").is_file()
    listed = run_kubetfx("runs", "--output-dir", str(out))
    assert listed.stdout.splitlines()[1].endswith("interrupted"), listed.stdout

    rerun = run_kubetfx("run", "--data", str(data), "--output-dir", str(out), *FAST)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{finished}" in rerun.stdout and "cached" in rerun.stdout
    (version,) = os.listdir(out / "serving")
    assert (out / "serving" / version / "saved_model.pb").is_file()
