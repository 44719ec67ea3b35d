"""The Beam steps on each engine this machine runs: the direct runner and the portable path.

    python bench/engines.py [--rounds N] [--rows R] [--train-steps S] [--workers 1,2]

For each worker count, ``kubetfx run`` cold on the taxi sample repeated to R
rows (default: the 15,002-row sample) with ``--beam-runner direct`` and with
``--beam-runner portable`` against Beam's own job service and an external
worker pool, started here in processes of their own (as a Flink or Spark job
server and the worker-pool sidecar of kubernetes/flink would be). Prints, as
Markdown, the median wall time of each Beam step and of the whole run, and
the ratio of each engine to the direct runner with one worker. Rounds
alternate the order of the contenders; machines are noisy, so read ratios.
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import run as bench  # noqa: E402 - bench/run.py, beside this file

from tests.beam_services import job_service, worker_pool  # noqa: E402

BEAM_STEPS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")


def one_round(root: Path, data: Path, steps: int, workers: list[int], services, flip: bool):
    jobs, pool = services
    root.mkdir(parents=True)
    found = {}
    contenders = []
    for count in workers:
        contenders.append((f"direct, {count}", ["--beam-runner", "direct"], count))
        portable = ["--beam-runner", "portable", "--job-endpoint", jobs, "--worker-pool", pool]
        contenders.append((f"portable, {count}", portable, count))
    for name, engine, count in contenders[::-1] if flip else contenders:
        folder = root / name.replace(", ", "-")
        command = [bench.KUBETFX, "run", "--data", str(data), "--output-dir", str(folder)]
        command += ["--train-steps", str(steps), "--eval-steps", "10", "--to", "Evaluator"]
        command += [*engine, "--parallelism", str(count)]
        found[name] = bench.run_measured(command, folder, folder.with_suffix(".log"))
    return found


def table(rounds: list[dict], names: list[str]) -> str:
    columns = [*BEAM_STEPS, "seconds"]
    medians = {
        name: {c: statistics.median(r[name][c] for r in rounds) for c in columns} for name in names
    }
    base = medians[names[0]]
    lines = [
        "| engine, workers | "
        + " | ".join(c if c != "seconds" else "whole run" for c in columns)
        + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name in names:
        cells = [f"{medians[name][c]:.1f} s ({medians[name][c] / base[c]:.2f}x)" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--rows", type=int, default=15002)
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    with tempfile.TemporaryDirectory(prefix="kubetfx-engines-") as tmp:
        root = Path(tmp)
        data = bench.taxi_sample() if args.rows == 15002 else bench.large_file(args.rows, root)
        with job_service(root) as jobs, worker_pool(root) as pool:
            rounds = [
                one_round(root / f"round-{n}", data, args.train_steps, workers, (jobs, pool), n % 2)
                for n in range(args.rounds)
            ]
    names = list(rounds[0])
    names.sort(key=lambda n: (n.split(", ")[1], n.split(", ")[0] != "direct"))
    print(
        f"{args.rows:,} rows, {args.train_steps} train steps, {args.rounds} round(s); "
        "per Beam step and whole run (`--to Evaluator`), ratio to direct with 1 worker\n"
    )
    print(table(rounds, names))


if __name__ == "__main__":
    main()
