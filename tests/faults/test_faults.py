"""Faults injected into the real pipeline on a small slice: nothing is lost, the next run recovers.

One output folder goes through every fault in turn, each run taking up where
the one before it stopped:
- SIGINT (Ctrl-C) during Transform, Trainer and Pusher: the run exits 130 with
  one line naming the component, records it as cancelled, frees the folder;
- a second run on the folder while one runs is refused at once, and readers
  keep working;
- SIGKILL of the run's whole process group (a crash or power loss) during the
  same three: the run shows as interrupted and can be reported;
- a full disk during the Pusher's copy (a real tmpfs as the serving folder):
  the old models keep serving and no staging folder is left.
After each fault the store is readable, the next run takes what finished
from the cache and redoes only the rest, and the serving folder holds only
complete versions. The Pusher is stopped mid-push at its ``pusher-staged``
failpoint (its copy staged, not yet renamed). The session ends with a summary
table (tests/faults/conftest.py).
"""

import codecs
import dataclasses
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Collection
from pathlib import Path

import pytest

from kubetfx.components import failpoints, pusher
from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.history import runs as runs_lib
from tests.conftest import KUBETFX, TAXI, run_kubetfx, small_disk, taxi_header, write_csv
from tests.faults.conftest import FaultRow

pytestmark = pytest.mark.e2e

FAST = ["--train-steps", "50", "--eval-steps", "5"]
STAGES = ["Transform", "Trainer", "Pusher"]
# The component that finishes just before each stage starts.
BEFORE = {"Transform": "DataGate", "Trainer": "Transform"}


@dataclasses.dataclass
class Folder:
    out: Path
    data: Path
    config: Path


@pytest.fixture(scope="module")
def folder(tmp_path_factory, taxi_rows) -> Folder:
    """An output folder, a data slice, and the taxi project with every model blessed.

    The gate is opened (no threshold, no comparison with the serving model) so
    that every new model is pushed: the Pusher is what these faults test.
    """
    root = tmp_path_factory.mktemp("faults")
    project = root / "project"
    shutil.copytree(Path(TAXI.path).parent, project)
    text = (project / "kubetfx.yaml").read_text()
    opened = text.replace("threshold: 0.6", "threshold: 0.0").replace(
        "no_worse_than_serving: true", "no_worse_than_serving: false"
    )
    assert opened.count("0.0") > text.count("0.0") and "serving: false" in opened
    (project / "kubetfx.yaml").write_text(opened)
    write_csv(root / "data" / "part-1.csv", taxi_rows[:1500], taxi_header())
    return Folder(root / "out", root / "data", project / "kubetfx.yaml")


@dataclasses.dataclass
class Attempt:
    """One ``kubetfx run``: its exit, output, and when each component's line came."""

    returncode: int
    stdout: str
    stderr: str
    seen: dict[str, tuple[str, float]]  # component -> (outcome, seconds since start)

    def cached(self) -> list[str]:
        return [node for node, (outcome, _) in self.seen.items() if outcome == "cached"]

    def error_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""

    def __str__(self) -> str:
        return f"exit {self.returncode}\n{self.stdout}\n{self.stderr[-3000:]}"


def attempt(
    folder: Folder,
    *extra: str,
    stop: str | None = None,
    signal_number: int = signal.SIGINT,
    while_paused=None,
) -> Attempt:
    """Runs the pipeline; with ``stop``, sends ``signal_number`` to its process group
    2 s into that component (the Pusher: at its failpoint, after ``while_paused(pid)``)."""
    marker = folder.out.parent / "pusher-staged"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if stop == "Pusher":
        env[failpoints.ENV] = f"pusher-staged:{marker}"
    command = [KUBETFX, "run", "--config", str(folder.config), "--data", str(folder.data)]
    process = subprocess.Popen(
        [*command, "--output-dir", str(folder.out), *FAST, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Its own process group, as a terminal's foreground job; SIGINT at its
        # default even when this suite runs as a background job.
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    started = time.monotonic()
    seen: dict[str, tuple[str, float]] = {}
    lines: list[str] = []

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            words = line.split()
            if len(words) >= 2 and words[-1] == "s":
                seen[words[0]] = (words[1], time.monotonic() - started)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if stop:
        deadline = started + 900
        while process.poll() is None and time.monotonic() < deadline:
            if stop == "Pusher" and marker.exists():
                if while_paused:
                    while_paused(process.pid)
                break
            if stop in BEFORE and BEFORE[stop] in seen:
                time.sleep(2)
                break
            time.sleep(0.2)
        if process.poll() is None:
            os.killpg(process.pid, signal_number)
    stderr = process.stderr.read()
    process.wait(timeout=900)
    reader.join(timeout=60)
    return Attempt(process.returncode, "".join(lines), stderr, seen)


def newest_run(out: Path) -> runs_lib.RunSummary:
    """The newest run, read as ``kubetfx runs`` reads it: the store must open after any fault."""
    return runs_lib.list_runs(str(out / "metadata.db"), TAXI.project.name)[0]


def staging_folders(out: Path) -> set[str]:
    serving = out / "serving"
    names = os.listdir(serving) if serving.exists() else []
    return {name for name in names if name.startswith(pusher.STAGING_PREFIX)}


def serving_versions(out: Path, ignore: Collection[str] = ()) -> dict[str, str]:
    """Each version in the serving folder and its digest; fails on anything else there."""
    serving = out / "serving"
    names = set(os.listdir(serving)) if serving.exists() else set()
    names -= set(ignore)
    assert all(name.isdigit() for name in names), f"not only versions: {sorted(names)}"
    for name in names:
        assert (serving / name / "saved_model.pb").is_file(), f"version {name} is incomplete"
        assert (serving / name / "variables" / "variables.index").is_file()
    return {name: pusher.model_digest(str(serving / name)) for name in sorted(names)}


def check_stopped(result: Attempt, out: Path, stage: str, signal_number: int) -> str:
    """What a stopped run must leave; returns the summary's outcome cell."""
    code = -signal.SIGKILL if signal_number == signal.SIGKILL else 128 + signal_number
    assert result.returncode == code, str(result)
    assert lock.holder(str(out)) is None, "the folder is still locked"
    run = newest_run(out)
    assert run.state == runs_lib.STATE_INTERRUPTED, (run.state, str(result))
    states = {e.node_id: e.state for e in run.executions}
    if signal_number == signal.SIGKILL:
        assert states[stage] == "running", states  # as the process left it
        return f"killed; shown as {run.state}"
    assert result.error_line().startswith(
        f"kubetfx: error: interrupted during {stage}; re-run to resume: completed components "
        "come from the cache (log: "
    ), str(result)
    assert states[stage] == "canceled", states
    assert (out / "logs" / f"run-{run.run_id}.log").is_file()
    return f"exit {code}, {stage} cancelled"


def check_recovered(
    result: Attempt, pending: tuple[str, str, str, list[str]], fault_summary: list[FaultRow]
) -> None:
    """The next run redid the stopped stage and took from the cache what had finished before it."""
    fault, outcome, stage, finished = pending
    assert result.seen.get(stage, ("",))[0] == "ran", str(result)
    assert [node for node in finished if node in result.cached()] == finished, (
        finished,
        result.cached(),
    )
    reused = f"{len(finished)} components: {finished[0]} to {finished[-1]}"
    fault_summary.append(FaultRow(fault, outcome, reused, f"{result.seen[stage][1]:.0f} s"))


def check_refused(second: subprocess.CompletedProcess, seconds: float, out: Path, pid: int) -> str:
    run = newest_run(out)
    assert second.returncode == 2, second.stdout + second.stderr
    assert second.stderr.strip().splitlines()[-1] == (
        f"kubetfx: error: {out} is in use by run {run.run_id} (process {pid}); wait for it to "
        "end, or pass another --output-dir"
    ), second.stderr
    return f"exit 2 after {seconds:.0f} s (the command's start-up); the first run went on"


def test_signals_during_each_stage_lose_nothing_and_the_next_run_resumes(
    folder, taxi_rows, fault_summary
):
    out = folder.out
    for signal_number in (signal.SIGINT, signal.SIGKILL):
        if signal_number == signal.SIGKILL:
            # New data, so that the pipeline runs again from the start; saved with a
            # byte-order mark, as spreadsheet programs do, which the run must accept.
            part = write_csv(folder.data / "part-2.csv", taxi_rows[1500:2500], taxi_header())
            part.write_bytes(codecs.BOM_UTF8 + part.read_bytes())
        served_before = serving_versions(out)
        pending = None  # the fault the next run recovers from
        for stage in STAGES:
            during = {}

            def while_paused(pid: int, during=during) -> None:
                """A second run is refused and a reader works, while the first one runs."""
                during["pid"] = pid
                started = time.monotonic()
                args = ["--config", str(folder.config), "--data", str(folder.data)]
                during["second"] = run_kubetfx("run", *args, "--output-dir", str(out), *FAST)
                during["seconds"] = time.monotonic() - started
                during["runs"] = run_kubetfx("runs", "--output-dir", str(out))

            result = attempt(
                folder,
                stop=stage,
                signal_number=signal_number,
                while_paused=while_paused if signal_number == signal.SIGINT else None,
            )
            if pending:
                check_recovered(result, pending, fault_summary)
            outcome = check_stopped(result, out, stage, signal_number)
            staging = staging_folders(out)
            if stage == "Pusher" and signal_number == signal.SIGKILL:
                # Left by the killed push, for the next push to remove.
                assert len(staging) == 1, staging
                outcome += "; staging folder left, removed by the next push"
            else:
                assert not staging, staging
            assert serving_versions(out, staging) == served_before, "a push changed serving/"
            if during:
                refused = check_refused(during["second"], during["seconds"], out, during["pid"])
                listed = during["runs"]
                assert listed.returncode == 0, listed.stderr
                assert listed.stdout.splitlines()[1].endswith(runs_lib.STATE_RUNNING), listed.stdout
                fault_summary.append(FaultRow("a second run on the folder", refused, "-", "-"))
            if signal_number == signal.SIGKILL and stage == "Transform":
                page = out.parent / "killed.html"
                args = ["--output-dir", str(out), "--output", str(page)]
                reported = run_kubetfx("report", newest_run(out).run_id, *args)
                assert reported.returncode == 0 and page.is_file(), reported.stderr
            finished = [n for n, (o, _) in result.seen.items() if o in ("ran", "cached")]
            name = signal.Signals(signal_number).name
            pending = (f"{name} during {stage}", outcome, stage, finished)

        result = attempt(folder)
        assert result.returncode == 0, str(result)
        check_recovered(result, pending, fault_summary)
        served = serving_versions(out)  # and nothing else: no staging folder
        assert len(served) == len(served_before) + 1, served
        assert {v: served[v] for v in served_before} == served_before, "an older version changed"


def test_a_full_disk_during_the_push_leaves_the_old_models_serving(folder, fault_summary):
    out = folder.out
    if not serving_versions(out):  # run on its own, not after the test above
        assert attempt(folder).returncode == 0
    served_before = serving_versions(out)
    newest = max(served_before, key=int)
    model_size = sum(f.stat().st_size for f in (out / "serving" / newest).rglob("*") if f.is_file())
    backup = out.parent / "serving-before"
    shutil.copytree(out / "serving", backup)
    room = sum(f.stat().st_size for f in backup.rglob("*") if f.is_file()) + 2 * model_size
    with small_disk(out / "serving", f"{room // 1024 + 256}k") as serving:
        shutil.copytree(backup, serving, dirs_exist_ok=True)
        # Fill the disk but for half a model.
        filler = serving / ".filler"
        filler.write_bytes(b"\0" * (shutil.disk_usage(serving).free - model_size // 2))

        result = attempt(folder, "--train-steps", "60")  # a new model, blessed
        assert result.returncode == 1, str(result)
        line = result.error_line()
        assert line.startswith(
            f"kubetfx: error: Pusher failed: no space left on the device of {serving} for model "
            "version "
        ), line
        assert "nothing was changed there: free some space, then re-run (full log: " in line
        # The versions as they were, and no staging folder.
        assert serving_versions(out, ignore=[".filler"]) == served_before
        assert newest_run(out).state == runs_lib.STATE_FAILED
        finished = [n for n, (o, _) in result.seen.items() if o in ("ran", "cached")]

        filler.unlink()
        recovered = attempt(folder, "--train-steps", "60")
        assert recovered.returncode == 0, str(recovered)
        outcome = "exit 1; old versions intact, staging removed"
        pending = ("disk full during the Pusher's copy", outcome, "Pusher", finished)
        check_recovered(recovered, pending, fault_summary)
        served = serving_versions(out)
        assert len(served) == len(served_before) + 1
        assert {v: served[v] for v in served_before} == served_before
