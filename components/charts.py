"""Charts for the statistics views and the run report, drawn by matplotlib as inline SVG.

Text stays text (``svg.fonttype: none``), ids are stable across runs, and the
SVG refers to nothing outside itself, so a page that inlines it still fetches
nothing. The pipeline graph is layered by networkx and drawn by matplotlib.
"""

import html
import io
import math
import re
from collections.abc import Iterable, Sequence

_BLUE = "#1a73e8"
_GREY = "#5f6368"
STATE_COLORS = {
    "complete": "#c8e6c9",
    "cached": "#bbdefb",
    "failed": "#ffcdd2",
    "running": "#fff9c4",
}
_STYLE = {
    "svg.fonttype": "none",
    "svg.hashsalt": "kubetfx",
    "font.family": "sans-serif",
    "font.size": 7,
    "axes.edgecolor": _GREY,
    "xtick.color": _GREY,
    "ytick.color": _GREY,
}
# Ids kept even when nothing in the SVG refers to them: the graph's nodes.
NODE_ID_PREFIX = "node-"


def _style():
    import matplotlib

    return matplotlib.rc_context(_STYLE)


def _to_svg(figure, label: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML."""
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    buffer = io.StringIO()
    with _style():
        FigureCanvasSVG(figure).print_svg(
            buffer, metadata={"Creator": None, "Date": None, "Format": None, "Type": None}
        )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # no XML prolog or DOCTYPE (it names a DTD URL)
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # Only attributes are edited: the rest of a tag never holds "<", which matplotlib
    # escapes in text, so a data value that looks like an attribute stays as it is.
    root = re.match(r"<svg[^<>]*>", text).group(0)
    # HTML parsers know the SVG and xlink namespaces; the declarations only name URLs.
    text = re.sub(r'\s+xmlns(?::xlink)?="[^"]*"', "", root) + text[len(root) :]
    # matplotlib numbers its groups per figure (figure_1, patch_1, ...), which would
    # repeat on a page of many charts: keep only the ids something refers to.
    referenced = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', text))

    def keep_referenced_ids(tag: re.Match) -> str:
        return re.sub(
            r' id="([^"]+)"',
            lambda m: m.group(0)
            if m.group(1) in referenced or m.group(1).startswith(NODE_ID_PREFIX)
            else "",
            tag.group(0),
        )

    text = re.sub(r"<[a-zA-Z][^<>]*>", keep_referenced_ids, text)
    label = html.escape(label)
    return text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def histogram(buckets: Sequence, label: str) -> str:
    """Bars of the bucket counts over the value range, with the range's ends marked."""
    from matplotlib.figure import Figure

    # TFDV puts infinite values in buckets with infinite bounds; they cannot be placed
    # on an axis, and the view's table gives the min and max.
    finite = [b for b in buckets if math.isfinite(b.low_value) and math.isfinite(b.high_value)]
    counts = [b.sample_count for b in finite]
    if not counts or max(counts) <= 0:
        return ""
    start, end = finite[0].low_value, finite[-1].high_value
    if end <= start:  # one value only: one bar of unit width around it
        start, end = start - 0.5, start + 0.5
        lows, widths, counts = [start], [1.0], [sum(counts)]
    else:
        lows = [b.low_value for b in finite]
        widths = [max(b.high_value - b.low_value, (end - start) * 1e-3) for b in finite]
    with _style():
        figure = Figure(figsize=(2.3, 0.75))
        axes = figure.add_axes((0.02, 0.28, 0.96, 0.7))
        axes.bar(lows, counts, width=widths, align="edge", color=_BLUE, linewidth=0)
        axes.set_xlim(start, end)
        axes.set_xticks([start, end], [f"{start:.4g}", f"{end:.4g}"])
        axes.tick_params(axis="x", length=2, pad=1)
        first, last = axes.get_xticklabels()
        first.set_horizontalalignment("left")  # the range's ends stay inside the chart
        last.set_horizontalalignment("right")
        axes.set_yticks([])
        for side in ("left", "right", "top"):
            axes.spines[side].set_visible(False)
    return _to_svg(figure, label)


def top_values(values: Iterable, total: float, label: str, limit: int = 5) -> str:
    """Horizontal bars of the most frequent values' shares."""
    from matplotlib.figure import Figure

    rows = list(values)[:limit]
    if not rows or total <= 0:
        return ""
    with _style():
        figure = Figure(figsize=(3.4, 0.2 * len(rows) + 0.1))
        axes = figure.add_axes((0.01, 0.02, 0.45, 0.96))
        shares = [v.frequency / total for v in rows]
        positions = range(len(rows))
        axes.barh(positions, shares, height=0.7, color=_BLUE)
        axes.set_xlim(0, 1)
        axes.set_ylim(len(rows) - 0.5, -0.5)
        axes.set_axis_off()
        for y, value, share in zip(positions, rows, shares, strict=True):
            text = f"{value.value[:24]} ({share:.0%})"
            axes.text(1.03, y, text, va="center", clip_on=False, parse_math=False)
    return _to_svg(figure, label)


def distribution(
    buckets: Sequence[str],
    shares: Sequence[float],
    reference: Sequence[float] | None,
    label: str,
) -> str:
    """Bars of each bucket's share of rows; a thin grey bar under each for the reference."""
    from matplotlib.figure import Figure

    if not buckets:
        return ""
    height = 0.28 * len(buckets) + 0.1
    with _style():
        figure = Figure(figsize=(5.0, height))
        axes = figure.add_axes((0.01, 0.02, 0.55, 0.96))
        positions = list(range(len(buckets)))
        axes.barh(positions, shares, height=0.45 if reference else 0.7, color=_BLUE)
        if reference:
            lower = [y + 0.3 for y in positions]
            axes.barh(lower, reference, height=0.2, color=_GREY)
        top = max([*shares, *(reference or [])], default=0.0) or 1.0
        axes.set_xlim(0, top)
        axes.set_ylim(len(buckets) - 0.4, -0.5)
        axes.set_axis_off()
        for y, name, share in zip(positions, buckets, shares, strict=True):
            text = f"{name[:32]}: {share:.1%}"
            if reference:
                text += f" (eval {reference[y]:.1%})"
            axes.text(top * 1.03, y, text, va="center", clip_on=False, parse_math=False)
    return _to_svg(figure, label)


def trial_scores(trials: Sequence[str], scores: Sequence[float], label: str) -> str:
    """The tuner's objective per trial, as dots joined in the order the trials ran."""
    from matplotlib.figure import Figure

    if not scores:
        return ""
    with _style():
        figure = Figure(figsize=(4.0, 1.6))
        axes = figure.add_axes((0.14, 0.22, 0.82, 0.72))
        positions = list(range(len(scores)))
        axes.plot(positions, scores, color=_BLUE, marker="o", linewidth=1)
        axes.set_xticks(positions, list(trials))
        axes.set_xlabel("trial")
        axes.set_ylabel("objective")
        for side in ("right", "top"):
            axes.spines[side].set_visible(False)
    return _to_svg(figure, label)


def pipeline_graph(
    nodes: Sequence[tuple[str, str, float]], edges: Iterable[tuple[str, str]]
) -> str:
    """The components as boxes in dependency layers, coloured by state, with data-flow arrows.

    ``nodes`` are (name, state, seconds) in run order; ``edges`` (producer, consumer).
    """
    import networkx as nx
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    graph = nx.DiGraph()
    graph.add_nodes_from(name for name, _, _ in nodes)
    graph.add_edges_from((a, b) for a, b in edges if a in graph and b in graph)
    if not nodes:
        return ""
    order = {name: i for i, (name, _, _) in enumerate(nodes)}
    try:
        layers = [sorted(layer, key=order.get) for layer in nx.topological_generations(graph)]
    except nx.NetworkXUnfeasible:  # a cycle: no layering, so one column per node in run order
        layers = [[name] for name, _, _ in nodes]
    position = {
        name: (column, row) for column, layer in enumerate(layers) for row, name in enumerate(layer)
    }
    tallest = max(len(layer) for layer in layers)
    box_w, box_h = 0.8, 0.62
    with _style():
        figure = Figure(figsize=(1.75 * len(layers), 0.72 * tallest + 0.1))
        axes = figure.add_axes((0, 0, 1, 1))
        axes.set_xlim(-0.5, len(layers) - 0.5)
        axes.set_ylim(tallest - 0.5, -0.5)
        axes.set_axis_off()
        for name, state, seconds in nodes:
            x, y = position[name]
            box = FancyBboxPatch(
                (x - box_w / 2, y - box_h / 2),
                box_w,
                box_h,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=STATE_COLORS.get(state, "#eeeeee"),
                edgecolor=_GREY,
                gid=f"{NODE_ID_PREFIX}{state}-{name}",
                zorder=2,  # over the arrows that pass behind it
            )
            axes.add_patch(box)
            label = {"ha": "center", "va": "center", "zorder": 3, "parse_math": False}
            axes.text(x, y - 0.1, name, fontsize=8, weight="bold", **label)
            axes.text(x, y + 0.14, f"{state}, {seconds:.1f} s", **label)
        for producer, consumer in sorted(graph.edges):
            (x1, y1), (x2, y2) = position[producer], position[consumer]
            # An edge that skips layers bends, rather than running through boxes.
            bend = 0.0 if x2 - x1 == 1 else 0.2
            axes.add_patch(
                FancyArrowPatch(
                    (x1 + box_w / 2, y1),
                    (x2 - box_w / 2, y2),
                    arrowstyle="-|>",
                    mutation_scale=8,
                    color=_GREY,
                    linewidth=0.8,
                    shrinkA=0,
                    shrinkB=0,
                    connectionstyle=f"arc3,rad={bend}",
                    zorder=1,
                )
            )
    return _to_svg(figure, "pipeline graph")


def roc_curve(points: Sequence[tuple[float, float]], label: str = "ROC curve") -> str:
    """The ROC curve from (false positive rate, recall) points, with the chance diagonal."""
    from matplotlib.figure import Figure

    points = sorted((fpr, tpr) for fpr, tpr in points if math.isfinite(fpr + tpr))
    if not points:
        return ""
    with _style():
        figure = Figure(figsize=(2.6, 2.4))
        axes = figure.add_axes((0.18, 0.16, 0.78, 0.8))
        axes.plot([0, 1], [0, 1], color=_GREY, linewidth=0.6, linestyle="--")
        xs = [0.0, *(fpr for fpr, _ in points), 1.0]
        ys = [0.0, *(tpr for _, tpr in points), 1.0]
        axes.plot(xs, ys, color=_BLUE, linewidth=1.2)
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("false positive rate")
        axes.set_ylabel("recall (true positive rate)")
        for side in ("right", "top"):
            axes.spines[side].set_visible(False)
    return _to_svg(figure, label)


def confusion_matrix(
    names: Sequence[str], rows: Sequence[Sequence[float]], label: str = "confusion matrix"
) -> str:
    """Counts of each actual class (rows) by predicted class (columns), shaded by row share."""
    from matplotlib.figure import Figure

    size = len(names)
    if not size or len(rows) != size:
        return ""
    side = (0.5 if size <= 8 else 0.3) * size  # inches of the grid itself
    width, height = 1.4 + side, 0.9 + side  # room for the class names left and below
    with _style():
        figure = Figure(figsize=(width, height))
        axes = figure.add_axes((1.3 / width, 0.8 / height, side / width, side / height))
        shares = [[c / (sum(row) or 1) for c in row] for row in rows]
        axes.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        short = [name if len(name) <= 16 else name[:15] + "…" for name in names]
        axes.set_xticks(range(size), short, rotation=45, ha="right")
        axes.set_yticks(range(size), short)
        axes.set_xlabel("predicted")
        axes.set_ylabel("actual")
        for y, row in enumerate(rows):
            for x, count in enumerate(row):
                color = "white" if shares[y][x] > 0.5 else "#202124"
                axes.text(x, y, f"{count:g}", ha="center", va="center", color=color)
        for text in axes.get_xticklabels() + axes.get_yticklabels():
            text.set_parse_math(False)
    return _to_svg(figure, label)
