"""A project's model quality over several cold runs: each metric's mean, lowest and highest.

    python bench/model_quality.py [--config FILE] [--rounds N] [--train-steps N]

Each round runs ``kubetfx run`` in a fresh output folder (nothing cached, no
baseline), then reads the Evaluator's overall metrics back from ML Metadata.
Training starts from random weights, so one run says little; compare means
over a few rounds, measured side by side.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def _metrics(output_dir: str) -> dict[str, float]:
    from kubetfx.components.visualizations import model_class_names, overall_metrics
    from kubetfx.pipelines.history import metadata

    store = metadata.connect(str(Path(output_dir) / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    names = model_class_names(executions["Trainer"].outputs["model"][0].uri)
    return overall_metrics(executions["Evaluator"].outputs["evaluation"][0].uri, names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None, help="project file (default: the taxi one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=None)
    args = parser.parse_args()
    kubetfx = str(Path(sys.executable).parent / "kubetfx")
    extra = ["--config", args.config] if args.config else []
    if args.train_steps:
        extra += ["--train-steps", str(args.train_steps)]
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [kubetfx, "run", "--output-dir", tmp, *extra],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            rounds.append(_metrics(tmp))
    print(f"{args.config or 'the bundled taxi project'}: {args.rounds} cold runs")
    for name in sorted(rounds[0]):
        values = [r[name] for r in rounds if name in r]
        print(
            f"  {name:<32} mean {statistics.mean(values):.4f}  "
            f"range {min(values):.4f} to {max(values):.4f}"
        )


if __name__ == "__main__":
    main()
