"""Each algorithm, and the choice among them, side by side on several datasets.

    python bench/algorithms.py [--datasets taxi,iris,diabetes] [--million FILE]

Per dataset, one output folder: ``kubetfx run --algorithm A`` for every
algorithm (the first run makes the data steps, the others take them from the
cache), then ``kubetfx run --choose-algorithm`` with the default candidates.
For each run it prints the Evaluator's gate metric on the eval split, the
training time (the Trainer's; under the choice, every candidate's and the
choice's), the SavedModel's size, and the serving latency of one batch: the
median time of the model's ``serving_default`` on 100 serialized eval
examples, loaded in this process. taxi is the bundled project; iris and
diabetes are drafted with ``kubetfx init`` (tests/datasets.py), their gate on
its threshold alone. ``--million FILE`` adds the taxi project on a CSV file
of your own (bench/run.py writes a million-row one). One round each: training
starts from random weights, so differences of a point or two are noise.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from tests import datasets  # noqa: E402

ALGORITHMS = ("linear", "dnn", "wide_and_deep", "gradient_boosted_trees", "random_forest")
DRAFTED = {"iris": "species", "diabetes": "progression"}
BATCH = 100
CALLS = 20


def _kubetfx(*args: str) -> None:
    kubetfx = str(Path(sys.executable).parent / "kubetfx")
    subprocess.run([kubetfx, *args], check=True, stdout=subprocess.DEVNULL)


def _project(name: str, folder: Path, million: str | None) -> str:
    """The project file of a dataset, written under ``folder`` where it is drafted."""
    if name in DRAFTED:
        data = getattr(datasets, name)(folder / "data")
        _kubetfx("init", str(folder / "project"), "--data", str(data), "--label", DRAFTED[name])
        config = folder / "project" / "kubetfx.yaml"
        text = config.read_text().replace(
            "no_worse_than_serving: true", "no_worse_than_serving: false"
        )
        config.write_text(text)
        return str(config)
    from kubetfx.pipelines.project.loader import bundled_project

    if name == "taxi":
        return bundled_project()
    # The taxi project on another file: a copy that points at its folder.
    import shutil

    source = Path(bundled_project())
    shutil.copytree(source.parent, folder / "project")
    data = folder / "data"
    data.mkdir()
    os.symlink(os.path.abspath(million), data / "data.csv")
    config = folder / "project" / "kubetfx.yaml"
    lines = [
        f"data: {data}" if line.startswith("data:") else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")
    return str(config)


def _latest(output_dir: str) -> dict:
    from kubetfx.pipelines.history import metadata

    store = metadata.connect(os.path.join(output_dir, "metadata.db"))
    return {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}


def _eval_examples(executions: dict) -> list[bytes]:
    """The first ``BATCH`` serialized examples of the eval split, as CsvExampleGen wrote them."""
    import tensorflow as tf

    uri = executions["CsvExampleGen"].outputs["examples"][0].uri
    files = tf.io.gfile.glob(os.path.join(uri, "Split-eval", "*"))
    records = tf.data.TFRecordDataset(files, compression_type="GZIP").take(BATCH)
    return [r.numpy() for r in records]


def _latency_ms(model_dir: str, examples: list[bytes]) -> float:
    """The median time of one batch through the model's serving signature, in ms."""
    import tensorflow as tf

    from kubetfx.components import forests

    forests.load_ops()
    serve = tf.saved_model.load(model_dir).signatures["serving_default"]
    batch = tf.constant(examples)
    serve(examples=batch)  # traced and warmed up
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        serve(examples=batch)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _measure(output_dir: str, project_file: str) -> dict:
    """The latest run's gate metric, training time, model size and serving latency."""
    from kubetfx.components import algorithm_choice, candidates
    from kubetfx.components.visualizations import model_class_names, overall_metrics
    from kubetfx.pipelines.project.loader import load_project

    metric = load_project(project_file).project.evaluation.gate.metric
    executions = _latest(output_dir)
    model = candidates.trained_model({n: e.outputs for n, e in executions.items()})[0]
    names = model_class_names(model.uri)
    metrics = overall_metrics(executions["Evaluator"].outputs["evaluation"][0].uri, names)
    choice = candidates.read_choice(model)
    training = sum(
        e.seconds
        for n, e in executions.items()
        if n in ("Trainer", candidates.NODE) or n.startswith("Trainer")
    )
    serving = os.path.join(model.uri, "Format-Serving")
    return {
        "metric": metric,
        "value": metrics[metric],
        "training": training,
        "size": algorithm_choice.folder_size(serving) / 1e6,
        "latency": _latency_ms(serving, _eval_examples(executions)),
        "chosen": choice.chosen.algorithm if choice else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="taxi,iris,diabetes")
    parser.add_argument("--million", default=None, help="a CSV file of the taxi columns")
    args = parser.parse_args()
    names = args.datasets.split(",") + (["million"] if args.million else [])
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    print(f"{'dataset':<10} {'algorithm':<24} {'metric':<24} {'value':>8} "
          f"{'training s':>10} {'size MB':>8} {'batch ms':>8}  chosen")  # fmt: skip
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            project_file = _project(name, Path(tmp), args.million)
            output = os.path.join(tmp, "out")
            runs = [["--algorithm", a] for a in ALGORITHMS] + [["--choose-algorithm"]]
            for extra in runs:
                _kubetfx("run", "--config", project_file, "--output-dir", output, *extra)
                row = _measure(output, project_file)
                label = extra[-1] if extra[0] == "--algorithm" else "auto"
                print(
                    f"{name:<10} {label:<24} {row['metric']:<24} {row['value']:8.4f} "
                    f"{row['training']:10.1f} {row['size']:8.2f} {row['latency']:8.2f}  "
                    f"{row['chosen']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
