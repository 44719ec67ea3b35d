"""Two local runs side by side: metrics, schema and data statistics, with what changed flagged."""

import dataclasses
import os

from kubetfx.components.candidates import trained_model
from kubetfx.components.statistics import missing_share, present_count
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib

# A feature drifts when its mean moves by more than this many standard
# deviations, its category shares by more than this L-infinity distance, or
# its share of missing values (empty cells included) by more than this.
MEAN_SHIFT_LIMIT = 0.25
CATEGORY_SHIFT_LIMIT = 0.1
MISSING_SHIFT_LIMIT = 0.1


@dataclasses.dataclass
class Comparison:
    metrics: list[tuple[str, float | None, float | None]]  # name, run A, run B
    models: tuple[str, str]  # what trained each run's model (visualizations.model_algorithm)
    schema_changes: list[str]
    drift: list[tuple[str, str, float, bool]]  # split:feature, measure, value, drifted


def _outputs(store, run_id: str, pipeline_name: str | None):
    run = runs_lib.find_run(store, run_id, pipeline_name)
    return {e.node_id: e.outputs for e in run.executions}


def _metrics(outputs) -> dict[str, float]:
    from kubetfx.components.visualizations import model_class_names, overall_metrics

    evaluation = outputs.get("Evaluator", {}).get("evaluation")
    if not evaluation:
        return {}
    models = trained_model(outputs)
    return overall_metrics(evaluation[0].uri, model_class_names(models[0].uri) if models else [])


def _model(outputs) -> str:
    from kubetfx.components.visualizations import model_algorithm

    models = trained_model(outputs)
    return model_algorithm(models[0]) if models else "none trained"


def _schema(outputs):
    from tfx.utils import io_utils

    schema = outputs.get("ImportSchemaGen", {}).get("schema")
    if not schema:
        return {}
    proto = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema[0].uri))
    return {f.name: f for f in proto.feature}


def _statistics(outputs):
    from tfx.types import standard_artifacts

    from kubetfx.components.visualizations import load_statistics

    statistics = outputs.get("StatisticsGen", {}).get("statistics")
    if not statistics:
        return {}
    return load_statistics(
        metadata.as_tfx_artifact(statistics[0], standard_artifacts.ExampleStatistics)
    )


def _shares(feature) -> dict[str, float]:
    total = present_count(feature) or 1
    return {v.value: v.frequency / total for v in feature.string_stats.top_values}


def compare_runs(
    output_dir: str, run_a: str, run_b: str, pipeline_name: str | None = None
) -> Comparison:
    store = runs_lib.open_store(os.path.join(output_dir, "metadata.db"))
    a, b = (_outputs(store, r, pipeline_name) for r in (run_a, run_b))
    metrics_a, metrics_b = _metrics(a), _metrics(b)
    models = (_model(a), _model(b))
    metrics = [
        (name, metrics_a.get(name), metrics_b.get(name))
        for name in sorted(set(metrics_a) | set(metrics_b))
        if not name.endswith("_change_vs_baseline")
    ]
    schema_a, schema_b = _schema(a), _schema(b)
    schema_changes = [f"feature {n} only in {run_a}" for n in sorted(set(schema_a) - set(schema_b))]
    schema_changes += [
        f"feature {n} only in {run_b}" for n in sorted(set(schema_b) - set(schema_a))
    ]
    for name in sorted(set(schema_a) & set(schema_b)):
        if schema_a[name] != schema_b[name]:
            schema_changes.append(
                f"feature {name} differs: {_one_line(schema_a[name])} → {_one_line(schema_b[name])}"
            )
    drift = []
    stats_a, stats_b = _statistics(a), _statistics(b)
    for split in sorted(set(stats_a) & set(stats_b)):
        features_b = {".".join(f.path.step): f for f in stats_b[split].features}
        for feature in stats_a[split].features:
            name = ".".join(feature.path.step)
            other = features_b.get(name)
            if other is None:
                continue
            missing = missing_share(other, stats_b[split].num_examples) - missing_share(
                feature, stats_a[split].num_examples
            )
            drift.append(
                (
                    f"{split}:{name}",
                    "change in share missing",
                    missing,
                    abs(missing) > MISSING_SHIFT_LIMIT,
                )
            )
            if feature.WhichOneof("stats") != other.WhichOneof("stats"):
                drift.append((f"{split}:{name}", "type changed", 1.0, True))
            elif feature.HasField("num_stats") and other.HasField("num_stats"):
                spread = feature.num_stats.std_dev or 1.0
                shift = abs(other.num_stats.mean - feature.num_stats.mean) / spread
                drift.append(
                    (f"{split}:{name}", "mean shift (std devs)", shift, shift > MEAN_SHIFT_LIMIT)
                )
            elif feature.HasField("string_stats") and other.HasField("string_stats"):
                shares_a, shares_b = _shares(feature), _shares(other)
                distance = max(
                    (
                        abs(shares_a.get(k, 0.0) - shares_b.get(k, 0.0))
                        for k in set(shares_a) | set(shares_b)
                    ),
                    default=0.0,
                )
                drift.append(
                    (
                        f"{split}:{name}",
                        "L-inf distance of top values",
                        distance,
                        distance > CATEGORY_SHIFT_LIMIT,
                    )
                )
    return Comparison(metrics, models, schema_changes, drift)


def _one_line(feature) -> str:
    return " ".join(str(feature).split())[:120]
