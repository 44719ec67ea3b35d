"""One self-contained HTML page that shows what a local run did.

The pipeline graph with each component's state and time, the data statistics,
the schema, the anomalies, the evaluation with its blessing decision, and the
metrics next to the previous blessed run's. Everything is inline (styles,
SVG); the page fetches nothing.
"""

import html
import os

from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines import metadata
from kubetfx.pipelines import runs as runs_lib
from kubetfx.pipelines.errors import UserError

_STATE_COLORS = {
    "complete": "#c8e6c9",
    "cached": "#bbdefb",
    "failed": "#ffcdd2",
    "running": "#fff9c4",
}
_STYLE = """
.graph text{font:12px system-ui,sans-serif}
.summary td{text-align:left}
.delta-up{color:#1b5e20}.delta-down{color:#b3261e}
section{margin-top:28px}
"""


def _artifact(record: metadata_store_pb2.Artifact, artifact_class):
    artifact = artifact_class()
    artifact.set_mlmd_artifact(record)
    return artifact


def _edges(store, executions: list[metadata.ExecutionRecord]) -> set[tuple[str, str]]:
    """(producer, consumer) pairs: the artifacts one component passed to another."""
    producer = {a.id: e.node_id for e in executions for v in e.outputs.values() for a in v}
    edges = set()
    for execution in executions:
        for event in store.get_events_by_execution_ids([execution.execution_id]):
            if event.type == metadata_store_pb2.Event.INPUT and event.artifact_id in producer:
                edges.add((producer[event.artifact_id], execution.node_id))
    return edges


def graph_svg(executions: list[metadata.ExecutionRecord], edges: set[tuple[str, str]]) -> str:
    """The run's components as boxes in dependency layers, coloured by state."""
    layer: dict[str, int] = {}
    for execution in executions:  # executions are in run order: producers come first
        parents = [layer[p] for p, c in edges if c == execution.node_id and p in layer]
        layer[execution.node_id] = max(parents, default=-1) + 1
    columns: dict[int, list[str]] = {}
    for node, column in layer.items():
        columns.setdefault(column, []).append(node)
    width, height, gap_x, gap_y = 170, 46, 40, 18
    position = {}
    for column, nodes in columns.items():
        for row, node in enumerate(nodes):
            position[node] = (10 + column * (width + gap_x), 10 + row * (height + gap_y))
    by_node = {e.node_id: e for e in executions}
    parts = []
    for parent, child in sorted(edges):
        (x1, y1), (x2, y2) = position[parent], position[child]
        parts.append(
            f'<line x1="{x1 + width}" y1="{y1 + height / 2}" x2="{x2}" y2="{y2 + height / 2}" '
            'stroke="#5f6368" stroke-width="1.5" marker-end="url(#arrow)"></line>'
        )
    for node, (x, y) in position.items():
        execution = by_node[node]
        color = _STATE_COLORS.get(execution.state, "#eeeeee")
        parts.append(
            f'<g class="node" data-state="{execution.state}"><rect x="{x}" y="{y}" '
            f'width="{width}" height="{height}" rx="6" fill="{color}" stroke="#5f6368"></rect>'
            f'<text x="{x + 8}" y="{y + 19}" font-weight="600">{html.escape(node)}</text>'
            f'<text x="{x + 8}" y="{y + 36}">{execution.state}, '
            f"{execution.seconds:.1f} s</text></g>"
        )
    total_w = 20 + len(columns) * (width + gap_x)
    total_h = 20 + max(len(n) for n in columns.values()) * (height + gap_y)
    return (
        f'<svg class="graph" width="{total_w}" height="{total_h}" role="img" '
        'aria-label="pipeline graph"><defs><marker id="arrow" markerWidth="8" markerHeight="8" '
        'refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#5f6368"></path>'
        "</marker></defs>" + "".join(parts) + "</svg>"
    )


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


def _previous_blessed_evaluation(store, pipeline_name: str, run_id: str):
    """The evaluation URI of the newest earlier run whose model was blessed."""
    ids = metadata.run_ids(store, pipeline_name)
    for earlier in ids[ids.index(run_id) + 1 :]:
        executions = {e.node_id: e for e in metadata.run_executions(store, pipeline_name, earlier)}
        evaluator = executions.get("Evaluator")
        if evaluator and evaluator.outputs.get("blessing"):
            if evaluator.outputs["blessing"][0].custom_properties["blessed"].int_value:
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
            f"<tr><td>{name}</td><td>{'' if now is None else f'{now:.4f}'}</td>"
            f"<td>{'' if before is None else f'{before:.4f}'}</td>"
            f'<td class="{css}">{"" if delta == "" else f"{delta:+.4f}"}</td></tr>'
        )
    return (
        "<table><tr><th>metric</th><th>this run</th><th>previous blessed run</th>"
        "<th>change</th></tr>" + "".join(rows) + "</table>"
    )


def build_report(output_dir: str, pipeline_name: str, run_id: str) -> str:
    """The report page of one local run."""
    from tfx.types import standard_artifacts

    from kubetfx.components import visualizations

    metadata_path = os.path.join(output_dir, "metadata.db")
    run, types = runs_lib.get_run(metadata_path, pipeline_name, run_id)
    if run.state == runs_lib.STATE_RUNNING:
        raise UserError(f"run {run_id} is still in progress; report it once it has ended")
    store = runs_lib.open_store(metadata_path)
    by_node = {e.node_id: e for e in run.executions}
    started = run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else ""
    body = [
        '<table class="summary">'
        f"<tr><th>run</th><td>{html.escape(run_id)}</td></tr>"
        f"<tr><th>outcome</th><td>{html.escape(run.state)}</td></tr>"
        f"<tr><th>started</th><td>{started}</td></tr>"
        f"<tr><th>wall time</th><td>{run.seconds:.1f} s</td></tr>"
        f"<tr><th>components</th><td>{run.ran} ran, {run.cached} from the cache</td></tr>"
        "</table>",
        '<section id="graph"><h2>Pipeline</h2>'
        + graph_svg(run.executions, _edges(store, run.executions))
        + "</section>",
    ]
    statistics = by_node.get("StatisticsGen")
    if statistics and statistics.outputs.get("statistics"):
        artifact = _artifact(
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
        artifact = _artifact(validator.outputs["anomalies"][0], standard_artifacts.ExampleAnomalies)
        body.append(
            '<section id="anomalies">'
            + _markdown(visualizations.anomalies_markdown(artifact).replace("# ", "## ", 1))
            + "</section>"
        )
    evaluator = by_node.get("Evaluator")
    if evaluator and evaluator.outputs.get("evaluation"):
        evaluation = evaluator.outputs["evaluation"][0].uri
        blessing = _artifact(evaluator.outputs["blessing"][0], standard_artifacts.ModelBlessing)
        text = visualizations.evaluation_markdown(evaluation, blessing).replace("# ", "## ", 1)
        body.append('<section id="evaluation">' + _markdown(text) + "</section>")
        previous_run, previous = _previous_blessed_evaluation(store, pipeline_name, run_id)
        if previous:
            body.append(
                '<section id="comparison"><h2>Against the previous blessed run</h2>'
                f"<p>{html.escape(previous_run)}</p>"
                + comparison_table(
                    visualizations.overall_metrics(evaluation),
                    visualizations.overall_metrics(previous),
                )
                + "</section>"
            )
    return visualizations.page(f"kubetfx run {run_id}", "".join(body), extra_style=_STYLE)


def write_report(output_dir: str, pipeline_name: str, run_id: str, path: str | None) -> str:
    """Writes the report (default: <output dir>/reports/<run id>.html); returns its path."""
    path = path or os.path.join(output_dir, "reports", f"{run_id}.html")
    page = build_report(output_dir, pipeline_name, run_id)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path
