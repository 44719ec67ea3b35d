"""What tuning costs and what it buys: a tuned cold run against an untuned one, side by side.

    python bench/tuning.py [--config FILE] [--max-trials 3]

Runs ``kubetfx run`` cold in a fresh output folder, then ``kubetfx run --tune
--max-trials N`` cold in another, and prints each run's wall time, the
Tuner's own time, the best trial's objective and the values it chose, and the
Evaluator's overall metrics of both models. The ratio of the wall times is
the figure to compare across machines; the metrics of one pair of runs vary
with the random start of training, so repeat before trusting a difference.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _executions(output_dir: str) -> dict:
    from kubetfx.pipelines.history import metadata

    store = metadata.connect(str(Path(output_dir) / "metadata.db"))
    return {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}


def _run(kubetfx: str, output_dir: str, extra: list[str]) -> tuple[float, dict]:
    started = time.perf_counter()
    subprocess.run(
        [kubetfx, "run", "--output-dir", output_dir, *extra], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - started, _executions(output_dir)


def _metrics(executions: dict) -> dict[str, float]:
    from kubetfx.components.visualizations import model_class_names, overall_metrics

    names = model_class_names(executions["Trainer"].outputs["model"][0].uri)
    return overall_metrics(executions["Evaluator"].outputs["evaluation"][0].uri, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="project file (default: the taxi one)")
    parser.add_argument("--max-trials", type=int, default=3)
    args = parser.parse_args()
    from kubetfx.components import visualizations

    kubetfx = str(Path(sys.executable).parent / "kubetfx")
    extra = ["--config", args.config] if args.config else []
    with tempfile.TemporaryDirectory() as plain_dir, tempfile.TemporaryDirectory() as tuned_dir:
        plain_seconds, plain = _run(kubetfx, plain_dir, extra)
        tuned_seconds, tuned = _run(
            kubetfx, tuned_dir, [*extra, "--tune", "--max-trials", str(args.max_trials)]
        )
        tuner = tuned["Tuner"]
        trials = visualizations.tuning_trials(tuner.outputs["tuner_results"][0].uri)
        chosen = visualizations.tuned_values(tuner.outputs["best_hyperparameters"][0].uri)
        print(f"{args.config or 'the bundled taxi project'}, cold runs:")
        print(f"  untuned: {plain_seconds:.1f} s")
        print(
            f"  tuned ({len(trials)} trials): {tuned_seconds:.1f} s "
            f"({tuned_seconds / plain_seconds:.2f}x), of which the Tuner {tuner.seconds:.1f} s"
        )
        if trials:
            print(f"  best trial's objective {trials[0]['score']:.4f}; chosen values {chosen}")
        plain_metrics, tuned_metrics = _metrics(plain), _metrics(tuned)
        for name in sorted(set(plain_metrics) & set(tuned_metrics)):
            print(
                f"  {name:<32} untuned {plain_metrics[name]:.4f}  tuned {tuned_metrics[name]:.4f}"
            )


if __name__ == "__main__":
    main()
