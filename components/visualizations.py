"""Views of TFX outputs that the Kubeflow Pipelines dashboard can render.

The KFP v2 run page shows system.HTML and system.Markdown artifacts (a single
file at the artifact URI) and system.Metrics artifacts (numbers in the
artifact's metadata); it shows nothing for TFX's own artifact types. These
functions turn StatisticsGen, ExampleValidator and Evaluator outputs into
those forms. The HTML is self-contained: no scripts, fonts or images fetched.
"""

import html
import math
import re
from typing import Any, NamedTuple

from tfx import types
from tfx.types import artifact_utils

from kubetfx.components import charts
from kubetfx.components.candidates import Choice, choice_rows, read_choice, shown_value
from kubetfx.components.data_gate import feature_anomalies, load_anomalies
from kubetfx.components.statistics import missing_share, present_count


def render(
    output_name: str,
    schema_title: str,
    inputs: dict[str, list[types.Artifact]],
    outputs: dict[str, list[types.Artifact]],
) -> str | dict[str, Any]:
    """The view named ``output_name`` of a task: file text, or values for its metadata."""
    if "statistics" in outputs:
        return statistics_html(outputs["statistics"][0])
    if "anomalies" in outputs:
        return anomalies_markdown(outputs["anomalies"][0])
    if "best_hyperparameters" in outputs:
        trials = tuning_trials(outputs["tuner_results"][0].uri)
        chosen = tuned_values(outputs["best_hyperparameters"][0].uri)
        if schema_title == "system.Metrics":
            return best_trial_metrics(trials)
        return tuning_markdown(trials, chosen)
    if "predictions" in outputs:
        from kubetfx.components.batch_predictions import read_distribution

        drift = read_distribution(outputs["predictions"][0].uri)
        if schema_title == "system.Metrics":
            return prediction_metrics(drift)
        return page("Predictions", predictions_sections(drift))
    if "model" in outputs and (choice := read_choice(outputs["model"][0])):
        if schema_title == "system.Metrics":
            return choice_metrics(choice)
        return choice_markdown(choice)
    if "evaluation" in outputs:
        evaluation = outputs["evaluation"][0]
        blessing = outputs["blessing"][0]
        class_names = model_class_names(inputs["model"][0].uri) if "model" in inputs else []
        if schema_title == "system.Metrics":
            return overall_metrics(evaluation.uri, class_names)
        if schema_title == "system.ClassificationMetrics":
            return classification_metrics(evaluation.uri, class_names) or {}
        return evaluation_markdown(evaluation.uri, blessing, class_names)
    raise ValueError(f"no view {output_name} ({schema_title}) for outputs {sorted(outputs)}")


def model_algorithm(model) -> str:
    """What trained a Model artifact (TFX's or ML Metadata's): its algorithm, and any choice."""
    from tfx.utils import path_utils

    from kubetfx.components.predictions import read_label_info

    info = read_label_info(path_utils.serving_model_dir(model.uri)) or {}
    algorithm = info.get("algorithm", "?")
    choice = read_choice(model)
    if choice is None:
        return algorithm
    others = ", ".join(c.algorithm for c in choice.candidates[1:])
    return f"{algorithm}, chosen over {others}"


def model_class_names(model_uri: str) -> list[str]:
    """The class names a trained Model artifact carries, in the order of its outputs."""
    from tfx.utils import path_utils

    from kubetfx.components.predictions import read_label_info

    info = read_label_info(path_utils.serving_model_dir(model_uri))
    return list(info.get("class_names", [])) if info else []


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


def _counts(feature, total: int) -> str:
    """The count and missing cells of a feature's row; an empty CSV cell counts as missing."""
    share = missing_share(feature, total)
    css = ' class="warn"' if share > 0.05 else ""
    return f"<td>{present_count(feature):.0f}</td><td{css}>{share:.1%}</td>"


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
                    f"<tr><td>{name}</td>{_counts(feature, total)}<td>{s.mean:.4g}</td>"
                    f"<td>{s.std_dev:.4g}</td><td>{s.min:.4g}</td><td>{s.median:.4g}</td>"
                    f"<td>{s.max:.4g}</td><td>{charts.histogram(histogram, label)}</td></tr>"
                )
            elif feature.HasField("string_stats"):
                s = feature.string_stats
                shares = charts.top_values(s.top_values, present_count(feature), label)
                categorical.append(
                    f"<tr><td>{name}</td>{_counts(feature, total)}<td>{s.unique}</td>"
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


# What a page may load or run: its own inline styles and data: images, nothing
# else; a script or a request that text from the data might smuggle in is blocked.
CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def page(title: str, body: str, extra_style: str = "") -> str:
    """A self-contained HTML page: inline style, no scripts, nothing fetched."""
    return (
        '<!doctype html><html><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>{html.escape(title)}</title>"
        f"<style>{_STYLE}{extra_style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"{body}</body></html>"
    )


# Anomalies --------------------------------------------------------------------


# Characters Markdown reads as markup (links, images, emphasis, code, headings)
# that Python-Markdown (the report) and CommonMark (the KFP dashboard) both
# take back from a backslash escape; "|" for the tables extension.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#!|])")


def _cell(text: str) -> str:
    """Text from the data as one Markdown table cell: never markup, never a new cell.

    Every character Markdown could read as markup is backslash-escaped, and
    ``&``, ``<``, ``>`` and ``~`` (strike-through in the dashboard's Markdown,
    which Python-Markdown does not unescape) are written as character
    references, so that neither Markdown nor HTML in the text takes effect: a
    renderer shows the text as it is.
    """
    text = _MARKDOWN.sub(r"\\\1", html.escape(" ".join(text.split()), quote=False))
    return text.replace("~", "&#126;")


def anomalies_markdown(anomalies: types.Artifact) -> str:
    """A table of anomalies per split, or a line saying the data matches the schema."""
    lines = ["# Data validation", ""]
    found = False
    for split, result in sorted(load_anomalies(anomalies).items()):
        rows = [
            f"| {_cell(feature)} | {_cell(info.short_description)} | {_cell(info.description)} |"
            for feature, info in feature_anomalies(result)
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


# Tuning -----------------------------------------------------------------------


def tuning_trials(results_uri: str) -> list[dict[str, Any]]:
    """The Tuner's completed trials, best first: trial_id, score and the values tried."""
    import json
    import os

    from tfx.dsl.io import fileio

    path = os.path.join(results_uri, "tuner_results.json")
    if not fileio.exists(path):
        return []
    with fileio.open(path) as f:
        return json.loads(f.read())


def tuned_values(best_uri: str) -> dict[str, Any]:
    """The values the Trainer trains with, from the Tuner's best_hyperparameters."""
    import json
    import os

    from tfx.dsl.io import fileio

    path = os.path.join(best_uri, "best_hyperparameters.txt")
    if not fileio.exists(path):
        return {}
    with fileio.open(path) as f:
        return json.loads(f.read()).get("values", {})


def best_trial_metrics(trials: list[dict[str, Any]]) -> dict[str, float]:
    """The dashboard's numbers of the best trial: its score and its numeric values."""
    if not trials:
        return {}
    best = trials[0]
    metrics = {"best_trial_score": float(best["score"]), "trials": float(len(trials))}
    for name, value in best.items():
        if name not in ("trial_id", "score") and isinstance(value, int | float):
            metrics[f"best_{name}"] = float(value)
    return metrics


def searched_settings(trials: list[dict[str, Any]]) -> list[str]:
    """The settings the trials tried, in the order they first appear."""
    return list(dict.fromkeys(k for t in trials for k in t if k not in ("trial_id", "score")))


def tuning_markdown(trials: list[dict[str, Any]], chosen: dict[str, Any]) -> str:
    """The trials, best first, and the values the Trainer trains with."""
    names = searched_settings(trials)
    lines = ["# Tuning", ""]
    if chosen:
        values = ", ".join(f"{_cell(k)} = {_cell(shown_value(v))}" for k, v in chosen.items())
        lines += [f"**The Trainer trains with:** {values}", ""]
    if not trials:
        return "\n".join([*lines, "No trial completed."])
    lines += [
        "Score: the project's tuning objective on the eval split, best trial first.",
        "",
        "| trial | score | " + " | ".join(_cell(n) for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for trial in trials:
        cells = " | ".join(_cell(shown_value(trial.get(n, ""))) for n in names)
        lines.append(f"| {_cell(str(trial['trial_id']))} | {trial['score']:.4f} | {cells} |")
    return "\n".join(lines)


def tuning_sections(trials: list[dict[str, Any]], chosen: dict[str, Any]) -> str:
    """The report's tuning section: the trials' scores as a chart, then the table."""
    import markdown

    ordered = sorted(
        trials, key=lambda t: int(t["trial_id"]) if str(t["trial_id"]).isdigit() else 0
    )
    chart = charts.trial_scores(
        [str(t["trial_id"]) for t in ordered],
        [float(t["score"]) for t in ordered],
        "The objective of each trial, in the order they ran",
    )
    text = markdown.markdown(
        tuning_markdown(trials, chosen).replace("# ", "## ", 1), extensions=["tables"]
    )
    return text.replace("<table>", chart + "<table>", 1) if "<table>" in text else text


# Algorithm choice -------------------------------------------------------------


def choice_markdown(choice: Choice) -> str:
    """The choice as the dashboard and the report show it: the verdict, then the table."""
    rows = choice_rows(choice)
    lines = [
        "# Algorithm choice",
        "",
        f"**Chosen: {_cell(choice.chosen.algorithm)}.** {_cell(choice.reason)}.",
        "",
        f"Each candidate trained on the train split; scored on the eval split "
        f"({choice.chosen.rows:,} rows) by the gate's metric, best first.",
        "",
        "| " + " | ".join(_cell(c) for c in rows[0]) + " |",
        "|---" * len(rows[0]) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def choice_metrics(choice: Choice) -> dict[str, float]:
    """The dashboard's numbers of a choice: each candidate's score."""
    return {f"{c.algorithm}_{choice.metric}": float(c.value) for c in choice.candidates}


# Predictions ------------------------------------------------------------------


def prediction_metrics(drift) -> dict[str, float]:
    """The dashboard's numbers of a predict run: rows scored and the drift index."""
    metrics = {"rows_scored": float(drift.current.rows)}
    if drift.index is not None:
        metrics["prediction_drift_psi"] = round(drift.index, 6)
    return metrics


def predictions_sections(drift) -> str:
    """The rows scored, the prediction distribution against the eval split's, and the verdict."""
    current, reference = drift.current, drift.reference
    verdict_class = "warn" if drift.drifted else ""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{count:,}</td><td>{share:.1%}</td>"
        f"<td>{'' if reference is None else f'{reference.shares[i]:.1%}'}</td></tr>"
        for i, (name, count, share) in enumerate(
            zip(current.buckets, current.counts, current.shares, strict=True)
        )
    )
    chart = charts.distribution(
        current.buckets,
        current.shares,
        reference.shares if reference is not None else None,
        "Share of rows per prediction; grey: the eval split's",
    )
    return (
        f"<p><b>{current.rows:,}</b> rows scored.</p>"
        f'<p class="{verdict_class}">{html.escape(drift.summary())}</p>'
        f"{chart}"
        "<table><tr><th>prediction</th><th>rows</th><th>share</th><th>eval split</th></tr>"
        f"{rows}</table>"
    )


# Evaluation -------------------------------------------------------------------


def slice_name(slice_key) -> str:
    """``overall``, or ``column=value, ...`` for a TFMA slice key."""
    parts = []
    for key in slice_key.single_slice_keys:
        value = getattr(key, key.WhichOneof("kind"))
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        parts.append(f"{key.column}={value}")
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


def metric_name(key, class_names: list[str] = ()) -> str:
    """A TFMA metric key's name, with the class it is for (``precision (setosa)``)."""
    if key.sub_key.HasField("class_id"):
        class_id = key.sub_key.class_id.value
        name = class_names[class_id] if 0 <= class_id < len(class_names) else str(class_id)
        return f"{key.name} ({name})"
    return key.name


def _metrics_by_slice(
    evaluation_uri: str, class_names: list[str] = ()
) -> dict[str, dict[tuple[str, str, bool], float]]:
    """{slice: {(metric, model, is_diff): value}} from TFMA's output."""
    import tensorflow_model_analysis as tfma

    result: dict[str, dict[tuple[str, str, bool], float]] = {}
    for per_slice in tfma.load_metrics(evaluation_uri):
        values = result.setdefault(slice_name(per_slice.slice_key), {})
        for entry in per_slice.metric_keys_and_values:
            if entry.value.HasField("double_value"):
                name = metric_name(entry.key, class_names)
                values[(name, entry.key.model_name, entry.key.is_diff)] = (
                    entry.value.double_value.value
                )
    return result


def overall_metrics(evaluation_uri: str, class_names: list[str] = ()) -> dict[str, float]:
    """The candidate's overall metrics, and their change against the baseline."""
    overall = _metrics_by_slice(evaluation_uri, class_names).get("overall", {})
    metrics = {}
    for (name, model, is_diff), value in sorted(overall.items()):
        if model in ("", "candidate") and math.isfinite(value):
            metrics[f"{name}_change_vs_baseline" if is_diff else name] = round(value, 6)
    return metrics


def evaluation_markdown(
    evaluation_uri: str, blessing: types.Artifact, class_names: list[str] = ()
) -> str:
    """The blessing decision, why, and the metrics overall and per slice."""
    blessed = bool(blessing.get_int_custom_property("blessed"))
    by_slice = _metrics_by_slice(evaluation_uri, class_names)
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
        lines += [f"| {_cell(metric)} | {_cell(rule)} |" for metric, rule in rules] + [""]
    failures = [
        f"| {_cell(f.slice)} | {_cell(f.metric)} | {f.value:.4f} | {_cell(f.message)} |"
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
    lines += ["## Metrics", "", "| slice | " + " | ".join(_cell(n) for n in names) + " |"]
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


# Classification -----------------------------------------------------------------

# The ROC curve sent to the dashboard keeps at most this many points.
MAX_ROC_POINTS = 101


def _overall_plots(evaluation_uri: str):
    """The candidate's overall plot data (TFMA's confusion matrices), by plot name."""
    import tensorflow_model_analysis as tfma

    plots = {}
    for per_slice in tfma.load_plots(evaluation_uri):
        if slice_name(per_slice.slice_key) != "overall":
            continue
        for entry in per_slice.plot_keys_and_values:
            if entry.key.model_name in ("", "candidate"):
                plots[entry.key.name] = entry.value
    return plots


def _count(value: float) -> float:
    return round(value, 3) if math.isfinite(value) else 0.0


def classification_metrics(evaluation_uri: str, class_names: list[str]) -> dict[str, Any] | None:
    """The ROC curve (binary) and confusion matrix of a classifier, as KFP's SDK writes them.

    The layout of ``ClassificationMetrics.log_roc_data_point`` and
    ``log_confusion_matrix`` in ``kfp.dsl``, which the KFP v2 dashboard draws:
    ``confidenceMetrics`` (``confidenceThreshold``, ``falsePositiveRate``,
    ``recall``) and ``confusionMatrix`` (``annotationSpecs``, ``rows`` of
    ``row``), finite numbers only. None for a model without these plots.
    """
    for plot in _overall_plots(evaluation_uri).values():
        if plot.HasField("confusion_matrix_at_thresholds"):
            matrices = [
                m
                for m in plot.confusion_matrix_at_thresholds.matrices
                if math.isfinite(m.threshold)
            ]
            names = class_names if len(class_names) == 2 else ["negative", "positive"]
            return {
                "confidenceMetrics": _roc_curve(matrices),
                "confusionMatrix": _confusion_matrix(names, _binary_rows(matrices)),
            }
        if plot.HasField("multi_class_confusion_matrix_at_thresholds"):
            matrices = plot.multi_class_confusion_matrix_at_thresholds.matrices
            entries = list(matrices[0].entries) if matrices else []
            return {"confusionMatrix": _multiclass_matrix(entries, class_names)}
    return None


def _roc_curve(matrices: list) -> list[dict[str, float]]:
    """(threshold, false positive rate, recall) at each threshold, at most MAX_ROC_POINTS."""
    curve = []
    for m in matrices:
        negatives = m.false_positives + m.true_negatives
        positives = m.true_positives + m.false_negatives
        if negatives and positives:
            curve.append(
                {
                    "confidenceThreshold": round(min(max(m.threshold, 0.0), 1.0), 6),
                    "falsePositiveRate": round(m.false_positives / negatives, 6),
                    "recall": round(m.true_positives / positives, 6),
                }
            )
    return curve[:: max(1, math.ceil(len(curve) / MAX_ROC_POINTS))]


def _binary_rows(matrices: list) -> list[list[float]]:
    """The 2×2 counts at the threshold nearest 0.5: actual negatives, then actual positives."""
    m = min(matrices, key=lambda m: abs(m.threshold - 0.5), default=None)
    if m is None:
        return [[0.0, 0.0], [0.0, 0.0]]
    return [
        [_count(m.true_negatives), _count(m.false_positives)],
        [_count(m.false_negatives), _count(m.true_positives)],
    ]


def _multiclass_matrix(entries: list, class_names: list[str]) -> dict[str, Any]:
    """The n×n counts by actual (row) and predicted (column) class."""
    seen = [max(e.actual_class_id, e.predicted_class_id) for e in entries]
    size = len(class_names) or 1 + max(seen, default=0)
    rows = [[0.0] * size for _ in range(size)]
    for entry in entries:
        actual, predicted = entry.actual_class_id, entry.predicted_class_id
        if 0 <= actual < size and 0 <= predicted < size:  # -1: no class predicted
            rows[actual][predicted] = _count(entry.num_weighted_examples)
    return _confusion_matrix(class_names or [str(i) for i in range(size)], rows)


def _confusion_matrix(names: list[str], rows: list[list[float]]) -> dict[str, Any]:
    return {
        "annotationSpecs": [{"displayName": name} for name in names],
        "rows": [{"row": row} for row in rows],
    }


def classification_charts(metrics: dict[str, Any]) -> str:
    """The ROC curve and the confusion matrix of ``classification_metrics`` as HTML."""
    parts = []
    curve = metrics.get("confidenceMetrics") or []
    if curve:
        points = [(p["falsePositiveRate"], p["recall"]) for p in curve]
        parts.append("<h3>ROC curve</h3>" + charts.roc_curve(points))
    matrix = metrics.get("confusionMatrix")
    if matrix:
        names = [spec["displayName"] for spec in matrix["annotationSpecs"]]
        rows = [row["row"] for row in matrix["rows"]]
        parts.append(
            "<h3>Confusion matrix</h3><p>Rows: the actual class; columns: the predicted one.</p>"
            + charts.confusion_matrix(names, rows)
        )
    return "".join(parts)
