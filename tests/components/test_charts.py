"""Charts drawn by matplotlib into SVG that a page can inline without fetching anything."""

import re
import xml.etree.ElementTree as ElementTree

from tensorflow_metadata.proto.v0 import statistics_pb2

from kubetfx.components import charts


def _buckets(counts, low=0.0, width=2.5):
    histogram = statistics_pb2.Histogram()
    for i, count in enumerate(counts):
        histogram.buckets.add(
            low_value=low + i * width, high_value=low + (i + 1) * width, sample_count=count
        )
    return histogram.buckets


def _parse(svg: str) -> ElementTree.Element:
    # Inline SVG in HTML needs no namespace declarations; an XML parser does.
    return ElementTree.fromstring(svg.replace("<svg ", '<svg xmlns:xlink="x" ', 1))


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in _parse(svg).iter("text")]


def test_a_histogram_is_inline_svg_that_refers_to_nothing_outside():
    svg = charts.histogram(_buckets([3, 8, 0, 5]), "trip_miles")

    assert svg.startswith('<svg role="img" aria-label="trip_miles" ')
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    assert not re.search(r"https?://", svg)
    for reference in re.findall(r'(?:url\(#|href="#)([^)"]+)', svg):
        assert f'id="{reference}"' in svg  # every reference points inside the chart
    assert _texts(svg) == ["0", "10"]  # the value range's ends, as text


def test_a_histogram_of_nothing_is_left_out():
    assert charts.histogram(_buckets([0, 0, 0]), "empty") == ""
    assert charts.histogram([], "none") == ""


def test_ids_repeated_across_charts_on_one_page_name_identical_definitions():
    page = "".join(charts.histogram(_buckets([i, 2, 3]), f"f{i}") for i in range(1, 5))
    page += charts.pipeline_graph([("A", "complete", 1.0), ("B", "cached", 0.0)], [("A", "B")])
    ids = re.findall(r' id="([^"]+)"', page)
    assert not any(re.fullmatch(r"(figure|axes|patch|text|line2d)_\d+", i) for i in ids)
    # matplotlib names definitions by a hash of their content: a repeated id is the same shape.
    for repeated in {i for i in ids if ids.count(i) > 1}:
        bodies = re.findall(rf'<(\w+) id="{repeated}"[^>]*>.*?</\1>', page, flags=re.S)
        bodies += re.findall(rf'<\w+ id="{repeated}"[^>]*/>', page)
        assert len(bodies) == ids.count(repeated) and len(set(bodies)) == 1, repeated


def test_values_are_drawn_as_written_not_as_math():
    counts = statistics_pb2.StringStatistics()
    counts.top_values.add(value="US$ 5 to US$ 10", frequency=3)
    counts.top_values.add(value="a$^$b", frequency=1)
    svg = charts.top_values(counts.top_values, 4, "price_band")
    texts = _texts(svg)
    assert texts == ["US$ 5 to US$ 10 (75%)", "a$^$b (25%)"]


def test_infinite_buckets_are_left_out_and_one_value_still_shows():
    inf = float("inf")
    buckets = _buckets([2, 3])
    buckets.add(low_value=inf, high_value=inf, sample_count=4)
    svg = charts.histogram(buckets, "with_infinities")
    assert [t for t in ["0", "5"] if f">{t}<" in svg] == ["0", "5"]  # the finite range
    only_inf = statistics_pb2.Histogram()
    only_inf.buckets.add(low_value=-inf, high_value=-inf, sample_count=9)
    assert charts.histogram(only_inf.buckets, "all_infinite") == ""

    constant = statistics_pb2.Histogram()
    constant.buckets.add(low_value=7.0, high_value=7.0, sample_count=686)
    svg = charts.histogram(constant.buckets, "constant")
    texts = _texts(svg)
    assert texts == ["6.5", "7.5"]  # one bar, one unit wide around the value
    bars = [p for p in _parse(svg).iter("path") if "#1a73e8" in (p.get("style") or "")]
    assert len(bars) == 1


def test_top_values_show_each_value_and_its_share():
    counts = statistics_pb2.StringStatistics()
    counts.top_values.add(value="Cash", frequency=65)
    counts.top_values.add(value="Credit Card", frequency=35)
    svg = charts.top_values(counts.top_values, 100, "payment_type")
    texts = _texts(svg)
    assert texts == ["Cash (65%)", "Credit Card (35%)"]


def test_the_pipeline_graph_draws_every_component_with_its_state_and_each_flow():
    nodes = [
        ("CsvExampleGen", "complete", 4.2),
        ("StatisticsGen", "cached", 0.0),
        ("Transform", "failed", 12.5),
    ]
    edges = {("CsvExampleGen", "StatisticsGen"), ("CsvExampleGen", "Transform")}
    svg = charts.pipeline_graph(nodes, edges)

    assert 'aria-label="pipeline graph"' in svg
    for name, state, seconds in nodes:
        assert f'id="node-{state}-{name}"' in svg
        assert f"{state}, {seconds:.1f} s" in svg
    fills = {charts.STATE_COLORS[s] for _, s, _ in nodes}
    assert all(f"fill: {color}" in svg for color in fills)
    # Two arrows, each a line and a head: the graph has exactly the edges given.
    root = _parse(svg)
    groups = [g for g in root.iter("g") if not g.get("id")]
    arrows = [g for g in groups if len(g.findall("path")) == 2]
    assert len(arrows) == 2


def test_a_run_with_no_components_or_a_cycle_still_draws():
    assert charts.pipeline_graph([], []) == ""
    svg = charts.pipeline_graph(
        [("A", "complete", 1.0), ("B", "failed", 2.0)], [("A", "B"), ("B", "A")]
    )
    assert 'id="node-complete-A"' in svg and 'id="node-failed-B"' in svg


def test_the_roc_curve_draws_its_axes_and_refers_to_nothing_outside():
    svg = charts.roc_curve([(0.0, 0.0), (0.1, 0.6), (float("nan"), 0.5), (0.4, 0.9)])
    texts = _texts(svg)
    assert "false positive rate" in texts and "recall (true positive rate)" in texts
    assert not re.search(r"https?://", svg)
    assert charts.roc_curve([]) == ""


def test_the_confusion_matrix_shows_every_count_and_class_names_as_text():
    names = ["$x$ <b>", "b"]
    svg = charts.confusion_matrix(names, [[16, 1], [0, 22]])
    texts = _texts(svg)
    for count in ("16", "1", "0", "22"):
        assert count in texts
    assert texts.count("$x$ <b>") == 2  # as written on both axes, not math or markup
    assert "<b>" not in svg
    assert charts.confusion_matrix(names, [[1, 2]]) == ""  # rows that do not match the names
