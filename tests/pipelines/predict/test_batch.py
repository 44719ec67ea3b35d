"""What `kubetfx predict` checks before it scores: the model, the output, the keys, the rows."""

import os
import time
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.components.predictions import Label
from kubetfx.pipelines.errors import DataGateStopped, UserError
from kubetfx.pipelines.predict import batch
from tests.conftest import TAXI, read_taxi_rows, taxi_header, write_csv

BINARY = Label("binary", "tips", ("no", "yes"))


def _version(serving, name, complete=True):
    os.makedirs(serving / name)
    if complete:
        (serving / name / "saved_model.pb").write_bytes(b"x")


def test_the_newest_complete_version_is_chosen_unless_one_is_named(tmp_path):
    serving = tmp_path / "serving"
    with pytest.raises(UserError, match="^no model in .*serving: run `kubetfx run` first"):
        batch.choose_model(str(serving), None)
    _version(serving, "100")
    _version(serving, "300")
    _version(serving, "400", complete=False)
    assert batch.choose_model(str(serving), None) == ("300", str(serving / "300"))
    assert batch.choose_model(str(serving), "100")[0] == "100"
    with pytest.raises(
        UserError, match=r"no model version 400 in .*; versions there: 100, 300, 400$"
    ):
        batch.choose_model(str(serving), "400")


def test_the_output_is_csv_or_parquet_and_never_replaced_unasked(tmp_path):
    data = str(tmp_path / "data")

    def check(name, overwrite=False):
        return batch.check_output(str(tmp_path / name), overwrite, data)

    assert check("p.csv") == "csv"
    assert check("p.PARQUET") == "parquet"
    with pytest.raises(UserError, match="must end in .csv or .parquet"):
        check("p.json")
    (tmp_path / "p.csv").write_text("kept")
    with pytest.raises(UserError, match="exists; pass --overwrite"):
        check("p.csv")
    assert check("p.csv", overwrite=True) == "csv"
    assert (tmp_path / "p.csv").read_text() == "kept"
    with pytest.raises(UserError, match="is in the --data folder"):
        check("data/p.csv", overwrite=True)


def test_keys_are_columns_of_the_data_and_leave_room_for_the_predictions():
    header = ["id", "fare", "company"]
    assert batch.check_keys(header, None, BINARY) == header
    assert batch.check_keys(header, ["id"], BINARY) == ["id"]
    with pytest.raises(UserError, match="--keys names nope, not in the data"):
        batch.check_keys(header, ["nope"], BINARY)
    with pytest.raises(UserError, match="has a column prediction, which the predictions would"):
        batch.check_keys([*header, "prediction"], None, BINARY)


def _schema():
    return text_format.Parse(TAXI.schema_text, schema_pb2.Schema())


def test_rows_without_the_label_pass_and_broken_ones_are_stopped_naming_the_feature(tmp_path):
    features = [f for f in TAXI.project.features if f != "tips"]
    header = [c for c in taxi_header() if c != "tips"]
    rows = [{k: r[k] for k in header} for r in read_taxi_rows(300)]
    write_csv(tmp_path / "good" / "d.csv", rows, header)
    assert batch.validate(_schema(), str(tmp_path / "good"), features, ()) == 300

    for row in rows:
        row["trip_miles"] = "far"
    write_csv(tmp_path / "bad" / "d.csv", rows, header)
    with pytest.raises(DataGateStopped) as stopped:
        batch.validate(_schema(), str(tmp_path / "bad"), features, ())
    message = str(stopped.value)
    assert message.startswith("stopped before scoring: the data does not match the schema")
    assert "feature 'trip_miles'" in message and "\n" not in message


def test_a_ragged_row_is_named_by_file_and_line(tmp_path):
    data = write_csv(tmp_path / "d" / "d.csv", read_taxi_rows(20), taxi_header())
    lines = data.read_text().splitlines()
    lines[3] = "1,2"
    data.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=r"d\.csv line 4 has 2 fields but the header has"):
        batch.validate(_schema(), str(tmp_path / "d"), ["fare"], ())


def test_progress_adds_up_the_counts_of_every_worker(tmp_path):
    import io

    out = io.StringIO()
    with batch._Progress(1000, out) as progress:
        for worker, count in (("101-a", 300), ("102-b", 450)):
            (Path(progress.folder) / worker).write_text(str(count))
        (Path(progress.folder) / "103-c.tmp").write_text("999")  # being written: not counted
        assert progress.scored() == 750
        deadline = time.monotonic() + 30
        while "scored 750" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert "  scored 750 of 1,000 rows (75%)\n" in out.getvalue()
    assert progress.final == 750
    assert not os.path.exists(progress.folder)
