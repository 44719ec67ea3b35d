"""Wall time of the local taxi pipeline against TFX's own reference, side by side.

    python bench/local_pipeline.py [--rounds N]

Each round runs, in fresh folders and in this order: TFX's
``taxi_pipeline_native_keras`` (BeamDagRunner, its own Beam arguments, 1000
train steps), ``kubetfx run`` cold (1000 train steps) and ``kubetfx run``
again (every component cached). Both pipelines read the same 15,002-row taxi
sample. Prints each time and the ratio to the reference; machines are noisy,
so compare the ratios.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
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


def _timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "w") as f:
        subprocess.run(command, check=True, stdout=f, stderr=subprocess.STDOUT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    kubetfx = str(Path(sys.executable).parent / "kubetfx")
    times: dict[str, list[float]] = {"reference": [], "cold": [], "cached": []}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            times["reference"].append(
                _timed([sys.executable, "-c", REFERENCE, str(root / "ref")], root / "ref.log")
            )
            out = str(root / "kubetfx")
            times["cold"].append(_timed([kubetfx, "run", "--output-dir", out], root / "cold.log"))
            # The first re-run evaluates against the model just pushed; the next is all cached.
            _timed([kubetfx, "run", "--output-dir", out], root / "warm.log")
            times["cached"].append(
                _timed([kubetfx, "run", "--output-dir", out], root / "cached.log")
            )
    reference = statistics.median(times["reference"])
    print(f"rounds: {args.rounds} on {os.cpu_count()} CPUs (medians)")
    for name, label in [
        ("reference", "TFX taxi_pipeline_native_keras, BeamDagRunner"),
        ("cold", "kubetfx run, cold"),
        ("cached", "kubetfx run, everything cached"),
    ]:
        value = statistics.median(times[name])
        print(f"{label:<48} {value:7.1f} s  {value / reference:5.2f}x reference")


if __name__ == "__main__":
    main()
