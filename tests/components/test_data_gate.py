"""DataGate on anomalies that TFDV really computes from taxi rows."""

import html
import os
import re

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import standard_artifacts
from tfx.types.artifact_utils import encode_split_names

from kubetfx.components import data_gate
from tests.conftest import TAXI_SCHEMA, read_taxi_rows


def _anomalies_artifact(tmp_path, frame):
    """Validates ``frame`` against the taxi schema and stores the result as TFX does."""
    schema = tfdv.load_schema_text(TAXI_SCHEMA)
    statistics = tfdv.generate_statistics_from_dataframe(frame)
    anomalies = tfdv.validate_statistics(statistics, schema)
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(tmp_path / "anomalies")
    artifact.split_names = encode_split_names(["train"])
    os.makedirs(tmp_path / "anomalies" / "Split-train")
    path = tmp_path / "anomalies" / "Split-train" / data_gate.ANOMALIES_FILE_NAME
    path.write_bytes(anomalies.SerializeToString())
    return artifact


def _taxi_frame():
    frame = pd.DataFrame(read_taxi_rows(500))
    for column in frame.columns:
        if column not in ("payment_type", "company"):
            frame[column] = pd.to_numeric(frame[column])
    return frame


def _run_gate(artifact):
    data_gate.DataGateExecutor().Do({"anomalies": [artifact]}, {}, {})


def test_flooded_category_and_changed_type_stop_the_gate(tmp_path):
    frame = _taxi_frame()
    frame["company"] = "Brand New Cab Co"
    frame["trip_miles"] = "unknown"
    with pytest.raises(data_gate.DataValidationError) as error:
        _run_gate(_anomalies_artifact(tmp_path, frame))
    message = str(error.value)
    assert "feature 'company'" in message
    assert "feature 'trip_miles'" in message
    assert "train:" in message


def test_a_category_out_of_range_is_named(tmp_path):
    frame = _taxi_frame()
    frame.loc[:, "trip_start_hour"] = 31
    with pytest.raises(data_gate.DataValidationError, match="trip_start_hour"):
        _run_gate(_anomalies_artifact(tmp_path, frame))


def test_anomalies_are_listed_one_per_line(tmp_path):
    frame = _taxi_frame()
    frame["company"] = "Brand New Cab Co"
    artifact = _anomalies_artifact(tmp_path, frame)
    lines = data_gate.describe_anomalies(data_gate.load_anomalies(artifact))
    assert len(lines) >= 1
    assert all(line.startswith("train: ") for line in lines)


def test_a_new_column_with_a_dot_and_quotes_is_named_as_in_the_data(tmp_path):
    """TFDV keys such an anomaly by its quoted path; the gate and the views name the column."""
    import markdown

    from kubetfx.components import visualizations

    name = "<img src=http://127.0.0.1:9/c.png onerror=document.title='ran'>"
    frame = _taxi_frame()
    frame[name] = 1
    frame["company"] = "~~gone~~ <b>Cab</b>"
    artifact = _anomalies_artifact(tmp_path, frame)
    (key,) = (k for k in data_gate.load_anomalies(artifact)["train"].anomaly_info if "img" in k)
    assert key != name  # TFDV's notation: quoted, the quotes inside doubled
    lines = data_gate.describe_anomalies(data_gate.load_anomalies(artifact))
    assert any(line.startswith(f"train: feature '{name}': New column") for line in lines), lines

    page = markdown.markdown(visualizations.anomalies_markdown(artifact), extensions=["tables"])
    assert "<img" not in page and "<b>" not in page and "<del>" not in page and "\\" not in page
    cells = [html.unescape(cell) for cell in re.findall(r"<td>(.*?)</td>", page)]
    assert name in cells
    assert any("~~gone~~ <b>Cab</b>" in cell for cell in cells), cells
