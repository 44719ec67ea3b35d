"""Views of TFX outputs that the Kubeflow Pipelines dashboard can render.

The KFP v2 run page shows system.HTML and system.Markdown artifacts (a single
file at the artifact URI) and system.Metrics artifacts (numbers in the
artifact's metadata); it shows nothing for TFX's own artifact types. These
functions turn StatisticsGen, ExampleValidator and Evaluator outputs into
those forms. The HTML is self-contained: no scripts, fonts or images fetched.
"""

import html
import math
from typing import Any, NamedTuple

from tfx import types
from tfx.types import artifact_utils

from kubetfx.components import charts
from kubetfx.components.data_gate import load_anomalies


def render(
    output_name: str,
    schema_title: str,
    inputs: dict[str, list[types.Artifact]],
    outputs: dict[str, list[types.Artifact]],
) -> str | dict[str, float]:
    """The view named ``output_name`` of a task: file text, or metrics for metadata."""
    if "statistics" in outputs:
        return statistics_html(outputs["statistics"][0])
    if "anomalies" in outputs:
        return anomalies_markdown(outputs["anomalies"][0])
    if "evaluation" in outputs:
        evaluation = outputs["evaluation"][0]
        blessing = outputs["blessing"][0]
        if schema_title == "system.Metrics":
            return overall_metrics(evaluation.uri)
        return evaluation_markdown(evaluation.uri, blessing)
    raise ValueError(f"no view {output_name} ({schema_title}) for outputs {sorted(outputs)}")


# Statistics -------------------------------------------------------------------

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#202124}
h1{font-size:20px}h2{font-size:16px;margin-top:24px}
table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #e0e0e0;padding:4px 10px;text-align:right;vertical-align:middle}
th:first-child,td:first-child{text-align:left}
th{background:#f1f3f4}.warn{color:#b3261e;font-weight:600}
svg{display:block}
"""


def load_statistics(statistics: types.Artifact) -> dict[str, Any]:
    """DatasetFeatureStatistics by split name."""
    from tfx.components.statistics_gen import stats_artifact_utils

    return {
        split: stats_artifact_utils.load_statistics(statistics, split).proto().datasets[0]
        for split in artifact_utils.decode_split_names(statistics.split_names)
    }


def _missing(common, total: int) -> str:
    share = common.num_missing / total if total else 0.0
    css = ' class="warn"' if share > 0.05 else ""
    return f"<td{css}>{share:.1%}</td>"


def statistics_sections(statistics: types.Artifact) -> str:
    """Per split, numeric and categorical features with their distributions (HTML body)."""
    sections = []
    for split, dataset in sorted(load_statistics(statistics).items()):
        total = dataset.num_examples
        numeric, categorical = [], []
        for feature in sorted(dataset.features, key=lambda f: ".".join(f.path.step)):
            label = ".".join(feature.path.step) or feature.name
            name = html.escape(label)
            if feature.HasField("num_stats"):
                s = feature.num_stats
                histogram = next((h.buckets for h in s.histograms if h.type == h.STANDARD), [])
                numeric.append(
                    f"<tr><td>{name}</td><td>{s.common_stats.num_non_missing:.0f}</td>"
                    f"{_missing(s.common_stats, total)}<td>{s.mean:.4g}</td>"
                    f"<td>{s.std_dev:.4g}</td><td>{s.min:.4g}</td><td>{s.median:.4g}</td>"
                    f"<td>{s.max:.4g}</td><td>{charts.histogram(histogram, label)}</td></tr>"
                )
            elif feature.HasField("string_stats"):
                s = feature.string_stats
                shares = charts.top_values(s.top_values, s.common_stats.num_non_missing, label)
                categorical.append(
                    f"<tr><td>{name}</td><td>{s.common_stats.num_non_missing:.0f}</td>"
                    f"{_missing(s.common_stats, total)}<td>{s.unique}</td>"
                    f"<td>{shares}</td></tr>"
                )
        sections.append(
            f"<h2>Split {html.escape(split)}: {total} examples</h2>"
            "<table><tr><th>numeric feature</th><th>count</th><th>missing</th><th>mean</th>"
            "<th>std dev</th><th>min</th><th>median</th><th>max</th><th>distribution</th></tr>"
            + "".join(numeric)
            + "</table><table><tr><th>categorical feature</th><th>count</th><th>missing</th>"
            "<th>unique</th><th>top values</th></tr>" + "".join(categorical) + "</table>"
        )
    return "".join(sections)


def statistics_html(statistics: types.Artifact) -> str:
    """One self-contained page of the statistics."""
    return page("Data statistics", statistics_sections(statistics))


def page(title: str, body: str, extra_style: str = "") -> str:
    """A self-contained HTML page: inline style, no scripts, nothing fetched."""
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}{extra_style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )


# Anomalies --------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def anomalies_markdown(anomalies: types.Artifact) -> str:
    """A table of anomalies per split, or a line saying the data matches the schema."""
    lines = ["# Data validation", ""]
    found = False
    for split, result in sorted(load_anomalies(anomalies).items()):
        rows = [
            f"| {_cell(feature)} | {_cell(info.short_description)} | {_cell(info.description)} |"
            for feature, info in sorted(result.anomaly_info.items())
        ]
        if result.HasField("dataset_anomaly_info"):
            info = result.dataset_anomaly_info
            rows.append(
                f"| (dataset) | {_cell(info.short_description)} | {_cell(info.description)} |"
            )
        if rows:
            found = True
            lines += [f"## Split {split}: {len(rows)} anomalies", ""]
            lines += ["| feature | anomaly | details |", "|---|---|---|", *rows, ""]
        else:
            lines += [f"## Split {split}: no anomalies", ""]
    verdict = (
        "**The data breaks the schema; training is stopped.**"
        if found
        else ("**The data matches the schema.**")
    )
    return "\n".join([lines[0], "", verdict, *lines[1:]])


# Evaluation -------------------------------------------------------------------


def slice_name(slice_key) -> str:
    """``overall``, or ``column=value, ...`` for a TFMA slice key."""
    parts = [
        f"{key.column}={getattr(key, key.WhichOneof('kind'))}"
        for key in slice_key.single_slice_keys
    ]
    return ", ".join(parts) or "overall"


class ThresholdFailure(NamedTuple):
    slice: str
    metric: str
    value: float
    message: str


def threshold_failures(evaluation_uri: str) -> list[ThresholdFailure]:
    """Each threshold the candidate missed, from TFMA's validation result."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    return [
        ThresholdFailure(
            slice_name(per_slice.slice_key),
            failure.metric_key.name,
            failure.metric_value.double_value.value,
            failure.message,
        )
        for per_slice in validation.metric_validations_per_slice
        for failure in per_slice.failures
    ]


def thresholds(evaluation_uri: str) -> list[tuple[str, str]]:
    """(metric, rule) for each blessing threshold, from the config TFMA saved with its output."""
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.writers import eval_config_writer

    config = eval_config_writer.load_eval_run(evaluation_uri)[0]
    if config is None:
        return []
    rules = []
    by_key = tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs, config)
    for key, entries in sorted(by_key.items(), key=lambda item: (item[0].name, item[0].is_diff)):
        if key.model_name not in ("", "candidate"):
            continue
        for slice_spec, threshold in entries:
            where = _slice_spec_name(slice_spec)
            metric = key.name if where == "overall" else f"{key.name} ({where})"
            rules += [(metric, rule) for rule in _describe(threshold, key.is_diff)]
    return list(dict.fromkeys(rules))


def _slice_spec_name(spec) -> str:
    """``overall``, or the features (and values) a slicing spec names."""
    if spec is None:
        return "overall"
    if not hasattr(spec, "feature_keys"):
        return "cross slices"
    parts = list(spec.feature_keys) + [f"{k}={v}" for k, v in sorted(spec.feature_values.items())]
    return ", ".join(parts) or "overall"


def _describe(threshold, is_diff: bool) -> list[str]:
    """Words for a TFMA value threshold, or a change threshold against the baseline."""
    if not is_diff:
        rules = []
        if threshold.HasField("lower_bound"):
            rules.append(f"at least {threshold.lower_bound.value:g}")
        if threshold.HasField("upper_bound"):
            rules.append(f"at most {threshold.upper_bound.value:g}")
        return rules
    from tensorflow_model_analysis.proto import config_pb2

    # TFMA passes when the change is >= the bound (higher is better) or <= it.
    higher = threshold.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER
    rules = []
    for kind in ("absolute", "relative"):
        if not threshold.HasField(kind):
            continue
        bound = getattr(threshold, kind).value
        amount = f"{abs(bound):g}{' (relative)' if kind == 'relative' else ''}"
        if abs(bound) < 1e-6:
            rules.append(f"no {'lower' if higher else 'higher'} than the pushed model's")
        elif higher:
            rules.append(
                f"at least {amount} above the pushed model's"
                if bound > 0
                else f"at most {amount} below the pushed model's"
            )
        else:
            rules.append(
                f"at least {amount} below the pushed model's"
                if bound < 0
                else f"at most {amount} above the pushed model's"
            )
    return rules


def _metrics_by_slice(evaluation_uri: str) -> dict[str, dict[tuple[str, str, bool], float]]:
    """{slice: {(metric, model, is_diff): value}} from TFMA's output."""
    import tensorflow_model_analysis as tfma

    result: dict[str, dict[tuple[str, str, bool], float]] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        values = result.setdefault(slice_name(per_slice.slice_key), {})
        for entry in per_slice.metric_keys_and_values:
            if entry.value.HasField("double_value"):
                key = (entry.key.name, entry.key.model_name, entry.key.is_diff)
                values[key] = entry.value.double_value.value
    return result


def overall_metrics(evaluation_uri: str) -> dict[str, float]:
    """The candidate's overall metrics, and their change against the baseline."""
    overall = _metrics_by_slice(evaluation_uri).get("overall", {})
    metrics = {}
    for (name, model, is_diff), value in sorted(overall.items()):
        if model in ("", "candidate") and math.isfinite(value):
            metrics[f"{name}_change_vs_baseline" if is_diff else name] = round(value, 6)
    return metrics


def evaluation_markdown(evaluation_uri: str, blessing: types.Artifact) -> str:
    """The blessing decision, why, and the metrics overall and per slice."""
    blessed = bool(blessing.get_int_custom_property("blessed"))
    by_slice = _metrics_by_slice(evaluation_uri)
    has_baseline = any(model == "baseline" for v in by_slice.values() for (_, model, _) in v)
    lines = [
        "# Model evaluation",
        "",
        f"**{'Blessed: the model will be pushed.' if blessed else 'Not blessed: not pushed.'}**",
        "",
        "Compared with the model currently pushed."
        if has_baseline
        else "No model was pushed before: judged on the thresholds alone.",
        "",
    ]
    rules = thresholds(evaluation_uri)
    if rules:
        lines += ["## Thresholds", "", "| metric | must be |", "|---|---|"]
        lines += [f"| {metric} | {rule} |" for metric, rule in rules] + [""]
    failures = [
        f"| {_cell(f.slice)} | {f.metric} | {f.value:.4f} | {_cell(f.message)} |"
        for f in threshold_failures(evaluation_uri)
    ]
    if failures:
        lines += [
            "## Failed thresholds",
            "",
            "| slice | metric | value | why |",
            "|---|---|---|---|",
        ]
        lines += failures + [""]
    names = sorted({n for v in by_slice.values() for (n, m, d) in v if not d})
    lines += ["## Metrics", "", "| slice | " + " | ".join(names) + " |"]
    lines.append("|---|" + "---|" * len(names))
    for name_of_slice in sorted(by_slice, key=lambda s: (s != "overall", s)):
        values = by_slice[name_of_slice]
        cells = []
        for name in names:
            candidate = values.get((name, "candidate", False), values.get((name, "", False)))
            baseline = values.get((name, "baseline", False))
            text = "" if candidate is None else f"{candidate:.4f}"
            if baseline is not None:
                text += f" (baseline {baseline:.4f})"
            cells.append(text)
        lines.append(f"| {_cell(name_of_slice)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
