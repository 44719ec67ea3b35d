"""`kubetfx predict` throughput: rows scored per second, by data size and Beam workers.

    python bench/predict.py [--output-dir OUT] [--rows 15002,1000000] [--workers 1,2]

Scores the taxi rows without their label with the model serving in OUT (with
no --output-dir, a model is trained first: `kubetfx run --train-steps 100`
into a temporary folder). Each size is the taxi sample repeated to that many
rows, in files of at most 125,000 rows. For each size and worker count it
prints the wall time of the whole command (start-up and validation included),
the scoring pipeline's own time, rows per second of each, and the ratio of
each worker count's wall time to one worker's (machines are noisy; compare
ratios, not seconds). More than one worker is Beam's multi-processing mode.
"""

import argparse
import csv
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time

from kubetfx.components.kfp_contract import resolve_package_path
from kubetfx.pipelines.project.loader import load_project

KUBETFX = os.path.join(os.path.dirname(sys.executable), "kubetfx")
FILE_ROWS = 125_000


def _write_data(folder: str, rows: int) -> None:
    """The taxi sample without its label, repeated to ``rows`` rows."""
    project = load_project().project
    with open(os.path.join(resolve_package_path(project.data), "data.csv"), newline="") as f:
        reader = csv.DictReader(f)
        header = [c for c in reader.fieldnames if c != project.label.column]
        sample = [[row[c] for c in header] for row in reader]
    os.makedirs(folder)
    source = itertools.islice(itertools.cycle(sample), rows)
    for part in range(0, rows, FILE_ROWS):
        with open(os.path.join(folder, f"part-{part // FILE_ROWS:03d}.csv"), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(itertools.islice(source, min(FILE_ROWS, rows - part)))


def _predict(data: str, output: str, out_dir: str, workers: int) -> tuple[float, float]:
    command = [KUBETFX, "predict", "--data", data, "--output", output, "--output-dir", out_dir]
    if workers > 1:
        command += [
            "--beam-args",
            f"--direct_running_mode=multi_processing --direct_num_workers={workers}",
        ]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    scoring = float(re.search(r" in ([\d.]+) s \(", result.stdout).group(1))
    return wall, scoring


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=None, help="Output folder with a pushed model.")
    parser.add_argument("--rows", default="15002,1000000")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    sizes = [int(n) for n in args.rows.split(",")]
    workers = [int(n) for n in args.workers.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = args.output_dir
        if out_dir is None:
            out_dir = os.path.join(tmp, "out")
            train = [KUBETFX, "run", "--output-dir", out_dir, "--train-steps", "100"]
            subprocess.run(train, check=True, capture_output=True)
        print(f"{'rows':>10} {'workers':>7} {'wall s':>8} {'rows/s':>8} {'scoring s':>9} "
              f"{'rows/s':>8} {'wall vs 1 worker':>16}")  # fmt: skip
        for rows in sizes:
            data = os.path.join(tmp, f"data-{rows}")
            _write_data(data, rows)
            baseline = None
            for count in workers:
                output = os.path.join(tmp, f"predictions-{rows}-{count}.csv")
                wall, scoring = _predict(data, output, out_dir, count)
                baseline = baseline or wall
                print(f"{rows:>10,} {count:>7} {wall:>8.1f} {rows / wall:>8,.0f} {scoring:>9.1f} "
                      f"{rows / scoring:>8,.0f} {wall / baseline:>15.2f}x")  # fmt: skip
                os.remove(output)


if __name__ == "__main__":
    main()
