"""Cold start of the kubetfx image: `--version`, and importing TFX, TensorFlow and Beam.

    python bench/container_start.py [IMAGE] [--runs N]

Prints the median of N runs for each, next to the same import in the local
virtual environment as a baseline measured side by side (machines are noisy;
compare ratios, not seconds). Needs a Docker engine and the image.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

IMPORTS = "import tfx, tensorflow, apache_beam"


def _median_seconds(command: list[str], runs: int) -> float:
    # The image sets TF_USE_LEGACY_KERAS=1; the baseline gets the same.
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default="kubetfx:0.1.0")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    docker = os.environ.get("DOCKER", "docker")
    run = [docker, "run", "--rm", "--network", "none"]

    version = _median_seconds([*run, args.image, "--version"], args.runs)
    in_image = _median_seconds(
        [*run, "--entrypoint", "python", args.image, "-c", IMPORTS], args.runs
    )
    local = _median_seconds([sys.executable, "-c", IMPORTS], args.runs)
    size = subprocess.run(
        [docker, "image", "inspect", args.image, "--format", "{{.Size}}"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    print(f"image                     {args.image}, {int(size) / 1e9:.2f} GB")
    print(f"docker run --version      {version:6.2f} s (median of {args.runs})")
    print(f"imports in the image      {in_image:6.2f} s")
    print(f"imports in the local venv {local:6.2f} s (baseline)")
    print(f"image / baseline          {in_image / local:6.2f}x")


if __name__ == "__main__":
    main()
