"""kubetfx's performance record: TFX's reference pipeline and kubetfx, side by side.

    python bench/run.py [--rounds N] [--rows R] [--only sample,large,arrow,cli] [--out FILE]
    make bench

Sections, each round in fresh folders, the contenders alternating in order:

- **sample**: the 15,002-row taxi sample, 1000 train steps. TFX's
  ``taxi_pipeline_native_keras`` (BeamDagRunner, its own Beam arguments) cold
  and re-run (everything cached); ``kubetfx run`` cold, right after its push
  (only the baseline evaluation is new) and fully cached.
- **large**: ``kubetfx run`` cold on the sample repeated to R rows (default a
  million), with 1 and with 2 Beam workers (multi-processing).
- **arrow**: what the data steps are held against, a single pass of Arrow over
  the large file: reading the CSV, and the statistics StatisticsGen computes
  (counts, missing, min/max/mean/std, quantiles, distinct values and top
  values).
- **cli**: start-up of the commands that only read ML Metadata.

Every run gives wall time, peak memory (the process tree's maximum resident
set), each component's time from ML Metadata and, for trained models, the
Evaluator's overall accuracy. Printed as Markdown: the median over rounds,
the spread (min-max) and the ratio to the baseline. Machines are noisy; read
the ratios. Timings are never asserted anywhere.
"""

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
KUBETFX = str(BIN / "kubetfx")
ENV = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
SECTIONS = ("sample", "large", "arrow", "cli")
# The components whose times the tables show, in pipeline order; the others take
# a fraction of a second.
HEAVY = ("CsvExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator")

REFERENCE = """
import os, sys
from tfx.examples.chicago_taxi_pipeline import taxi_pipeline_native_keras as ref
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
root = sys.argv[1]
taxi = os.path.dirname(ref.__file__)
BeamDagRunner().run(ref._create_pipeline(
    pipeline_name="chicago_taxi_native_keras",
    pipeline_root=os.path.join(root, "pipeline_root"),
    data_root=os.path.join(taxi, "data", "simple"),
    module_file=os.path.join(taxi, "taxi_utils_native_keras.py"),
    serving_model_dir=os.path.join(root, "serving"),
    metadata_path=os.path.join(root, "metadata.db"),
    beam_pipeline_args=ref._beam_pipeline_args))
"""


def taxi_sample() -> Path:
    """The taxi sample in TFX's installed examples (found without importing TFX)."""
    tfx = Path(importlib.util.find_spec("tfx").submodule_search_locations[0])
    return tfx / "examples" / "chicago_taxi_pipeline" / "data" / "simple"


class Measured(dict):
    """One run: ``seconds``, ``peak_gb``, ``accuracy`` and one entry per component."""


def timed(command: list[str], log: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of a command and its children."""
    started = time.perf_counter()
    with open(log, "w") as f:
        process = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(command[:3])} failed; see {log}")
    return seconds, usage.ru_maxrss / 1024**2


# Reads a finished run's folder in a process of its own: the bench stays small,
# so that a child's peak memory (which counts what it inherits at fork) is its own.
APART = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import run as bench
print(json.dumps(getattr(bench, sys.argv[2])(Path(sys.argv[3]))))
"""


def apart(function: str, path: Path):
    """``function(path)`` of this module, run in a new Python process."""
    output = subprocess.run(
        [sys.executable, "-c", APART, str(HERE), function, str(path)],
        check=True,
        capture_output=True,
        text=True,
        env=ENV,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def read_run(folder: Path) -> dict:
    """The newest run's id, the seconds of each component that executed, and the
    Evaluator's overall accuracy of the candidate model."""
    from kubetfx.pipelines.history import runs

    newest = runs.list_runs(str(folder / "metadata.db"))[0]
    return {
        "run_id": newest.run_id,
        "components": {e.node_id: e.seconds for e in newest.executions if e.state == "complete"},
        "accuracy": accuracy(folder / "pipeline_root"),
    }


def accuracy(pipeline_root: Path) -> float | None:
    """The newest Evaluator output's overall accuracy of the candidate model."""
    import tensorflow_model_analysis as tfma

    evaluations = sorted((pipeline_root / "Evaluator" / "evaluation").glob("*"), key=_number)
    if not evaluations:
        return None
    for metrics in tfma.load_metrics(str(evaluations[-1])):
        if metrics.slice_key.single_slice_keys:
            continue
        for entry in metrics.metric_keys_and_values:
            key = entry.key
            candidate = key.model_name in ("", "candidate") and not key.is_diff
            if candidate and key.name in ("binary_accuracy", "accuracy"):
                return entry.value.double_value.value
    return None


def _number(path: Path) -> int:
    return int(path.name) if path.name.isdigit() else -1


def run_measured(command: list[str], folder: Path, log: Path, trained: bool = False) -> Measured:
    seconds, peak = timed(command, log)
    measured = Measured(seconds=seconds, peak_gb=peak)
    found = apart("read_run", folder)
    measured.update(found["components"])
    if trained:
        measured["accuracy"] = found["accuracy"]
    return measured


def sample_round(root: Path, train_steps: int, reference_first: bool) -> dict[str, Measured]:
    """One round on the taxi sample: the reference (cold, cached) and kubetfx (cold,
    after push, cached)."""
    found: dict[str, Measured] = {}
    root.mkdir(parents=True, exist_ok=True)

    def reference() -> None:
        folder = root / "reference"
        command = [sys.executable, "-c", REFERENCE, str(folder)]
        for name in ("reference cold", "reference cached"):
            found[name] = run_measured(
                command, folder, root / f"{name}.log", folder / "metadata.db"
            )
        found["reference cold"]["accuracy"] = accuracy(folder / "pipeline_root")

    def kubetfx() -> None:
        folder = root / "kubetfx"
        command = [KUBETFX, "run", "--output-dir", str(folder), "--train-steps", str(train_steps)]
        for name in ("kubetfx cold", "kubetfx after push", "kubetfx cached"):
            found[name] = run_measured(
                command, folder, root / f"{name}.log", folder / "metadata.db"
            )
        found["kubetfx cold"]["accuracy"] = accuracy(folder / "pipeline_root")

    for contender in (reference, kubetfx) if reference_first else (kubetfx, reference):
        contender()
    return found


def large_file(rows: int, cache: Path) -> Path:
    """A folder holding the taxi sample repeated to ``rows`` rows, made once."""
    folder = cache / f"taxi-{rows}"
    data = folder / "data.csv"
    if data.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    lines = (taxi_sample() / "data.csv").read_text().splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    with open(f"{data}.part", "w") as f:
        f.write(header)
        for start in range(0, rows, len(body)):
            f.writelines(body[: min(len(body), rows - start)])
    os.replace(f"{data}.part", data)
    return folder


def large_round(root: Path, data: Path, train_steps: int, one_first: bool) -> dict[str, Measured]:
    found: dict[str, Measured] = {}
    order = [("1 worker", 1), ("2 workers", 2)]
    for name, workers in order if one_first else order[::-1]:
        folder = root / name.replace(" ", "-")
        command = [KUBETFX, "run", "--data", str(data), "--output-dir", str(folder)]
        command += ["--train-steps", str(train_steps), "--parallelism", str(workers)]
        found[f"large, {name}"] = run_measured(command, folder, root / f"{name}.log", trained=True)
        shutil.rmtree(folder)
    return found


def arrow_round(data: Path) -> dict[str, Measured]:
    """Arrow's single passes over the large file, in a process of their own."""
    read, stats = apart("arrow_passes", data)
    return {
        "arrow csv read": Measured(seconds=read, peak_gb=None),
        "arrow statistics": Measured(seconds=stats, peak_gb=None),
    }


def arrow_passes(data: Path) -> tuple[float, float]:
    """Seconds of Arrow reading the CSV, then computing its statistics in one pass."""
    import pyarrow.compute as pc
    from pyarrow import csv as arrow_csv

    started = time.perf_counter()
    table = arrow_csv.read_csv(data / "data.csv")
    read = time.perf_counter() - started
    started = time.perf_counter()
    for column in table.columns:
        pc.count(column)
        pc.count(column, mode="only_null")
        if column.type.id in (7, 8, 9, 10, 11, 12):  # integers and floats
            pc.min_max(column)
            pc.mean(column)
            pc.stddev(column)
            pc.tdigest(column, q=[i / 10 for i in range(11)])
            pc.value_counts(column)  # numeric features get distinct counts too
        else:
            counts = pc.value_counts(column)
            pc.sort_indices(counts.field("counts"), sort_keys=[("", "descending")])
            pc.mean(pc.utf8_length(column))
    return read, time.perf_counter() - started


def cli_round(folder: Path) -> dict[str, Measured]:
    """Start-up and answer of the metadata-reading commands, on a finished run's folder."""
    found = {}
    out = ["--output-dir", str(folder)]
    newest = apart("read_run", folder)["run_id"]
    for name, args in (
        ("kubetfx --help", ["--help"]),
        ("kubetfx runs", ["runs", *out]),
        ("kubetfx status", ["status", newest, *out]),
        ("kubetfx report", ["report", newest, *out, "--output", str(folder / "r.html")]),
    ):
        seconds, peak = timed([KUBETFX, *args], folder / "cli.log")
        found[name] = Measured(seconds=seconds, peak_gb=peak)
    return found


def median_table(rounds: list[dict[str, Measured]]) -> dict[str, dict[str, tuple]]:
    """For each run and field: (median, min, max) over the rounds that have it."""
    table: dict[str, dict[str, tuple]] = {}
    for found in rounds:
        for name, measured in found.items():
            for field, value in measured.items():
                if value is None:
                    continue
                table.setdefault(name, {}).setdefault(field, []).append(value)
    return {
        name: {f: (statistics.median(v), min(v), max(v), len(v)) for f, v in fields.items()}
        for name, fields in table.items()
    }


def cell(stat: tuple | None, unit: str = "s", digits: int = 1) -> str:
    if stat is None:
        return "-"
    median, low, high, n = stat
    spread = f" ({low:.{digits}f}-{high:.{digits}f})" if n > 1 else ""
    return f"{median:.{digits}f} {unit}".strip() + spread


def ratio(a: tuple | None, b: tuple | None) -> str:
    return f"{a[0] / b[0]:.2f}x" if a and b and b[0] else "-"


def report(table: dict[str, dict[str, tuple]], rounds: int) -> str:
    get = lambda run, field="seconds": table.get(run, {}).get(field)  # noqa: E731
    lines = [
        f"Medians over {rounds} round(s), (min-max) where more than one; ratios of medians.",
        "",
        "| work | TFX reference | kubetfx | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    rows = [
        ("cold run, 15,002 rows", "reference cold", "kubetfx cold", "<= 0.33x"),
        ("re-run, everything cached", "reference cached", "kubetfx cached", "<= 8 s"),
        ("re-run right after a push", None, "kubetfx after push", "<= 15 s"),
    ]
    for work, ref, ours, goal in rows:
        lines.append(
            f"| {work} | {cell(get(ref)) if ref else '-'} | {cell(get(ours))} | "
            f"{ratio(get(ours), get(ref)) if ref else '-'} | {goal} |"
        )
    lines.append(
        f"| cold run, peak memory | {cell(get('reference cold', 'peak_gb'), 'GB', 2)} | "
        f"{cell(get('kubetfx cold', 'peak_gb'), 'GB', 2)} | "
        f"{ratio(get('kubetfx cold', 'peak_gb'), get('reference cold', 'peak_gb'))} | "
        "<= the reference's |"
    )
    lines.append(
        f"| cold run, eval accuracy | {cell(get('reference cold', 'accuracy'), '', 4)} | "
        f"{cell(get('kubetfx cold', 'accuracy'), '', 4)} | - | >= the reference's |"
    )
    lines += ["", "| work | 1 worker | 2 workers | ratio | goal |", "|---|---|---|---|---|"]
    one, two = "large, 1 worker", "large, 2 workers"
    goals = {
        "seconds": "<= 180 s",
        "CsvExampleGen": "<= 20 s",
        "StatisticsGen": "<= 5x Arrow",
        "Transform": "<= 40 s",
        "Evaluator": "<= 40 s",
        "peak_gb": "<= 3 GB",
    }
    fields = ["seconds", "peak_gb", *HEAVY, "accuracy"]
    for field in fields:
        unit, digits = (
            ("GB", 2) if field == "peak_gb" else ("", 4) if field == "accuracy" else ("s", 1)
        )
        name = {"seconds": "whole pipeline", "peak_gb": "peak memory"}.get(field, field)
        lines.append(
            f"| {name} | {cell(get(one, field), unit, digits)} | "
            f"{cell(get(two, field), unit, digits)} | "
            f"{ratio(get(two, field), get(one, field))} | {goals.get(field, '')} |"
        )
    arrow = [
        ("CSV read", "arrow csv read", "CsvExampleGen"),
        ("statistics", "arrow statistics", "StatisticsGen"),
    ]
    lines += [
        "",
        "| single pass of Arrow | Arrow | kubetfx, 1 worker | ratio |",
        "|---|---|---|---|",
    ]
    for work, base, component in arrow:
        lines.append(
            f"| {work} | {cell(get(base), 's', 2)} | {cell(get(one, component))} | "
            f"{ratio(get(one, component), get(base))} |"
        )
    sample_parts = HEAVY
    lines += [
        "",
        "| component, taxi sample | reference cold | kubetfx cold | ratio |",
        "|---|---|---|---|",
    ]
    for component in sample_parts:
        lines.append(
            f"| {component} | {cell(get('reference cold', component))} | "
            f"{cell(get('kubetfx cold', component))} | "
            f"{ratio(get('kubetfx cold', component), get('reference cold', component))} |"
        )
    cli = [
        n
        for n in table
        if n in ("kubetfx --help", "kubetfx runs", "kubetfx status", "kubetfx report")
    ]
    if cli:
        lines += ["", "| command | time | peak memory | goal |", "|---|---|---|---|"]
        for name in cli:
            goal = "< 1 s" if name != "kubetfx report" else "-"
            lines.append(
                f"| `{name}` | {cell(get(name), 's', 2)} | "
                f"{cell(get(name, 'peak_gb'), 'GB', 2)} | {goal} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-steps", type=int, default=1000)
    parser.add_argument("--large-train-steps", type=int, default=1000)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "kubetfx-bench"))
    parser.add_argument("--out", help="also write the table to this Markdown file")
    args = parser.parse_args()
    sections = set(args.only.split(","))
    if not sections <= set(SECTIONS):
        parser.error(f"--only takes {', '.join(SECTIONS)}")
    rounds: list[dict[str, Measured]] = []
    cache = Path(args.cache)
    data = large_file(args.rows, cache) if sections & {"large", "arrow"} else None
    for number in range(args.rounds):
        found: dict[str, Measured] = {}
        with tempfile.TemporaryDirectory(prefix="kubetfx-bench-") as tmp:
            root = Path(tmp)
            if "sample" in sections:
                found.update(sample_round(root / "sample", args.train_steps, number % 2 == 0))
                if "cli" in sections:
                    found.update(cli_round(root / "sample" / "kubetfx"))
            if "large" in sections:
                (root / "large").mkdir(parents=True, exist_ok=True)
                found.update(
                    large_round(root / "large", data, args.large_train_steps, number % 2 == 0)
                )
            if "arrow" in sections:
                found.update(arrow_round(data))
        rounds.append(found)
        print(f"bench: round {number + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    text = report(median_table(rounds), args.rounds)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
