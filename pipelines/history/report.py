"""One self-contained HTML page that shows what a local run did.

The pipeline graph with each component's state and time, the data statistics,
the schema, the anomalies, the evaluation with its blessing decision, and the
metrics next to the previous blessed run's; for a run of the predict
pipeline, the rows scored and the predictions' distribution against the eval
split's. Everything is inline (styles,
SVG); the page fetches nothing.
"""

import html
import os

from ml_metadata.proto import metadata_store_pb2

from kubetfx.components.candidates import read_choice, trained_model
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.history import runs as runs_lib

_STYLE = """
.summary td{text-align:left}
.delta-up{color:#1b5e20}.delta-down{color:#b3261e}
section{margin-top:28px}
"""


def _edges(store, executions: list[metadata.ExecutionRecord]) -> set[tuple[str, str]]:
    """(producer, consumer) pairs: the artifacts one component passed to another."""
    producer = {a.id: e.node_id for e in executions for v in e.outputs.values() for a in v}
    edges = set()
    for execution in executions:
        for event in store.get_events_by_execution_ids([execution.execution_id]):
            if event.type == metadata_store_pb2.Event.INPUT and event.artifact_id in producer:
                edges.add((producer[event.artifact_id], execution.node_id))
    return edges


def _markdown(text: str) -> str:
    import markdown

    return markdown.markdown(text, extensions=["tables"])


def schema_table(schema_dir: str) -> str:
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_dir))
    rows = []
    for feature in schema.feature:
        domain = ""
        if feature.HasField("int_domain"):
            domain = f"{feature.int_domain.min} to {feature.int_domain.max}"
        elif feature.HasField("float_domain"):
            low, high = feature.float_domain.min, feature.float_domain.max
            domain = (
                f"{low:g} to {high:g}" if feature.float_domain.HasField("max") else f"≥ {low:g}"
            )
        elif feature.domain:
            domain = f"values of {feature.domain}"
        required = "required" if feature.presence.min_fraction == 1.0 else "optional"
        rows.append(
            f"<tr><td>{html.escape(feature.name)}</td><td>{schema_pb2.FeatureType.Name(feature.type)}"
            f"</td><td>{required}</td><td>{html.escape(domain)}</td></tr>"
        )
    return (
        "<table><tr><th>feature</th><th>type</th><th>presence</th><th>domain</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _previous_blessed_evaluation(store, pipeline_name: str | None, run_id: str):
    """The evaluation URI of the newest earlier run whose model was blessed."""
    ids = metadata.run_ids(store, pipeline_name)
    for earlier in ids[ids.index(run_id) + 1 :]:
        executions = {e.node_id: e for e in metadata.run_executions(store, earlier)}
        evaluator = executions.get("Evaluator")
        if evaluator and evaluator.blessed:
            return earlier, evaluator.outputs["evaluation"][0].uri
    return None, None


def comparison_table(current: dict[str, float], previous: dict[str, float]) -> str:
    rows = []
    for name in sorted(set(current) | set(previous)):
        if name.endswith("_change_vs_baseline"):
            continue
        now, before = current.get(name), previous.get(name)
        delta = "" if now is None or before is None else now - before
        css = "" if delta == "" else ("delta-up" if delta >= 0 else "delta-down")
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{'' if now is None else f'{now:.4f}'}</td>"
            f"<td>{'' if before is None else f'{before:.4f}'}</td>"
            f'<td class="{css}">{"" if delta == "" else f"{delta:+.4f}"}</td></tr>'
        )
    return (
        "<table><tr><th>metric</th><th>this run</th><th>previous blessed run</th>"
        "<th>change</th></tr>" + "".join(rows) + "</table>"
    )


def _source(run: runs_lib.RunSummary) -> str:
    """Where a partial run took the outputs it did not make: a run, or (emulated) the cache."""
    return f"run {run.base_run}" if run.base_run else "the cache"


def build_report(output_dir: str, run_id: str, pipeline_name: str | None = None) -> str:
    """The report page of one local run."""
    from tfx.types import standard_artifacts

    from kubetfx.components import charts, visualizations

    metadata_path = os.path.join(output_dir, "metadata.db")
    store = runs_lib.open_store(metadata_path)
    run = runs_lib.find_run(store, run_id, pipeline_name)
    run_id = run.run_id
    if run.state == runs_lib.STATE_RUNNING:
        raise UserError(f"run {run_id} is still in progress; report it once it has ended")
    by_node = {e.node_id: e for e in run.executions}
    runner = (
        "Kubeflow Pipelines 2.x backend (kubetfx emulate)"
        if store.kfp
        else "TFX LocalDagRunner (kubetfx run)"
    )
    started = run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else ""
    body = [
        '<table class="summary">'
        f"<tr><th>run</th><td>{html.escape(run_id)}</td></tr>"
        f"<tr><th>outcome</th><td>{html.escape(run.outcome)}</td></tr>"
        f"<tr><th>run by</th><td>{runner}</td></tr>"
        f"<tr><th>started</th><td>{started}</td></tr>"
        f"<tr><th>wall time</th><td>{run.seconds:.1f} s</td></tr>"
        f"<tr><th>components</th><td>{run.ran} ran, {run.cached} from the cache</td></tr>"
        + (
            f"<tr><th>taken from {html.escape(_source(run))}</th>"
            f"<td>{html.escape(', '.join(run.reused))}</td></tr>"
            if run.reused
            else ""
        )
        + "</table>",
        '<section id="graph"><h2>Pipeline</h2>'
        + charts.pipeline_graph(
            [(e.node_id, e.state, e.seconds) for e in run.executions],
            _edges(store, run.executions),
        )
        + "</section>",
    ]
    statistics = by_node.get("StatisticsGen")
    if statistics and statistics.outputs.get("statistics"):
        artifact = metadata.as_tfx_artifact(
            statistics.outputs["statistics"][0], standard_artifacts.ExampleStatistics
        )
        body.append(
            '<section id="statistics"><h2>Data statistics</h2>'
            + visualizations.statistics_sections(artifact)
            + "</section>"
        )
    schema = by_node.get("ImportSchemaGen") or by_node.get("SchemaGen")
    if schema and schema.outputs.get("schema"):
        body.append(
            '<section id="schema"><h2>Schema</h2>'
            + schema_table(schema.outputs["schema"][0].uri)
            + "</section>"
        )
    validator = by_node.get("ExampleValidator")
    if validator and validator.outputs.get("anomalies"):
        artifact = metadata.as_tfx_artifact(
            validator.outputs["anomalies"][0], standard_artifacts.ExampleAnomalies
        )
        body.append(
            '<section id="anomalies">'
            + _markdown(visualizations.anomalies_markdown(artifact).replace("# ", "## ", 1))
            + "</section>"
        )
    tuner = by_node.get("Tuner")
    if tuner and tuner.outputs.get("tuner_results"):
        body.append(
            '<section id="tuning">'
            + visualizations.tuning_sections(
                visualizations.tuning_trials(tuner.outputs["tuner_results"][0].uri),
                visualizations.tuned_values(tuner.outputs["best_hyperparameters"][0].uri),
            )
            + "</section>"
        )
    models = trained_model({node: e.outputs for node, e in by_node.items()})
    choice = read_choice(models[0]) if models else None
    if choice:
        body.append(
            '<section id="choice">'
            + _markdown(visualizations.choice_markdown(choice).replace("# ", "## ", 1))
            + "</section>"
        )
    evaluator = by_node.get("Evaluator")
    if evaluator and evaluator.outputs.get("evaluation"):
        evaluation = evaluator.outputs["evaluation"][0].uri
        blessing = metadata.as_tfx_artifact(
            evaluator.outputs["blessing"][0], standard_artifacts.ModelBlessing
        )
        class_names = visualizations.model_class_names(models[0].uri) if models else []
        text = visualizations.evaluation_markdown(evaluation, blessing, class_names)
        body.append(
            '<section id="evaluation">' + _markdown(text.replace("# ", "## ", 1)) + "</section>"
        )
        classification = visualizations.classification_metrics(evaluation, class_names)
        if classification:
            body.append(
                '<section id="classification">'
                + visualizations.classification_charts(classification)
                + "</section>"
            )
        previous_run, previous = _previous_blessed_evaluation(store, pipeline_name, run_id)
        if previous:
            body.append(
                '<section id="comparison"><h2>Against the previous blessed run</h2>'
                f"<p>{html.escape(previous_run)}</p>"
                + comparison_table(
                    visualizations.overall_metrics(evaluation, class_names),
                    visualizations.overall_metrics(previous, class_names),
                )
                + "</section>"
            )
    scored = by_node.get("Predictions")
    if scored and scored.outputs.get("predictions"):
        from kubetfx.components.batch_predictions import read_distribution

        body.append(
            '<section id="predictions"><h2>Predictions</h2>'
            + visualizations.predictions_sections(
                read_distribution(scored.outputs["predictions"][0].uri)
            )
            + "</section>"
        )
    return visualizations.page(f"kubetfx run {run_id}", "".join(body), extra_style=_STYLE)


def write_report(
    output_dir: str, run_id: str, path: str | None = None, pipeline_name: str | None = None
) -> str:
    """Writes the report (default: <output dir>/reports/<run id>.html); returns its path."""
    store = runs_lib.open_store(os.path.join(output_dir, "metadata.db"))
    run_id = runs_lib.resolve_run_id(store, run_id, pipeline_name)
    path = path or os.path.join(output_dir, "reports", f"{run_id}.html")
    page = build_report(output_dir, run_id, pipeline_name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
