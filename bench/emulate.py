"""`kubetfx emulate` of the compiled taxi package: tasks one at a time against side by side.

    python bench/emulate.py [--docker IMAGE] [--parallelism N] [--runs R] [--train-steps S]

Compiles the bundled taxi project once, then emulates it R times with
--parallelism 1 (the baseline) and R times with --parallelism N, alternating,
every run cold (--no-cache, a fresh output folder). Prints the median wall
time of each and their ratio (machines are noisy; compare ratios, not
seconds). With --docker, every task runs in the image.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

KUBETFX = os.path.join(os.path.dirname(sys.executable), "kubetfx")


def _emulate(package: str, folder: str, parallelism: int, args) -> float:
    command = [KUBETFX, "emulate", package, "--output-dir", folder, "--no-cache"]
    command += ["--parallelism", str(parallelism), "--param", f"train_steps={args.train_steps}"]
    if args.docker:
        command += ["--docker", args.docker]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docker", default=None, help="Run each task in this image.")
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = os.path.join(tmp, "pipeline.yaml")
        subprocess.run([KUBETFX, "compile", "--output", package], check=True, capture_output=True)
        samples: dict[int, list[float]] = {1: [], args.parallelism: []}
        for index in range(args.runs):
            for parallelism in samples:
                folder = os.path.join(tmp, f"emu-{parallelism}-{index}")
                samples[parallelism].append(_emulate(package, folder, parallelism, args))
    baseline = statistics.median(samples[1])
    mode = f"in {args.docker}" if args.docker else "as subprocesses"
    print(f"taxi package, {args.train_steps} train steps, tasks {mode}, {args.runs} run(s) each")
    for parallelism, times in samples.items():
        median = statistics.median(times)
        print(f"--parallelism {parallelism:<3} {median:7.1f} s   {median / baseline:5.2f}x")


if __name__ == "__main__":
    main()
