"""Bad input is refused before a run starts, with a message that says what to fix."""

import pytest

from kubetfx.components import features
from kubetfx.pipelines import preflight
from kubetfx.pipelines.errors import UserError
from tests.conftest import read_taxi_rows, taxi_header, write_csv


def _check(folder):
    return preflight.check_data(str(folder), features.REQUIRED_COLUMNS, features.LABEL_KEY)


def test_accepts_a_folder_of_taxi_csv_files(tmp_path):
    rows = read_taxi_rows(10)
    write_csv(tmp_path / "a.csv", rows[:5], taxi_header())
    write_csv(tmp_path / "b.csv", rows[5:], taxi_header())
    (tmp_path / "README.txt").write_text("not data")
    assert [p.rsplit("/", 1)[1] for p in _check(tmp_path)] == ["a.csv", "b.csv"]


def _a_file(folder):
    (folder / "f.csv").write_text("")
    return folder / "f.csv"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: d, "has no .csv files"),
        (_a_file, "is a file"),
    ],
)
def test_refuses_unusable_folders(tmp_path, make, expected):
    with pytest.raises(UserError, match=expected):
        _check(make(tmp_path))


def test_refuses_an_empty_csv(tmp_path):
    (tmp_path / "data.csv").write_text("")
    with pytest.raises(UserError, match="data.csv is empty"):
        _check(tmp_path)


def test_refuses_a_header_without_rows(tmp_path):
    write_csv(tmp_path / "data.csv", [], taxi_header())
    with pytest.raises(UserError, match="header but no data rows"):
        _check(tmp_path)


def test_names_the_missing_label(tmp_path):
    header = [c for c in taxi_header() if c != "tips"]
    rows = [{k: v for k, v in row.items() if k != "tips"} for row in read_taxi_rows(3)]
    write_csv(tmp_path / "data.csv", rows, header)
    with pytest.raises(UserError, match="no 'tips' column, the label"):
        _check(tmp_path)


def test_names_missing_feature_columns(tmp_path):
    header = [c for c in taxi_header() if c not in ("fare", "company")]
    rows = [{k: v for k, v in row.items() if k in header} for row in read_taxi_rows(3)]
    write_csv(tmp_path / "data.csv", rows, header)
    with pytest.raises(UserError, match="lacks the feature columns company,fare"):
        _check(tmp_path)


def test_refuses_files_with_different_headers(tmp_path):
    rows = read_taxi_rows(2)
    write_csv(tmp_path / "a.csv", rows, taxi_header())
    write_csv(tmp_path / "b.csv", rows, list(reversed(taxi_header())))
    with pytest.raises(UserError, match="need the same header"):
        _check(tmp_path)


def test_refuses_an_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write to .*pass --output-dir"):
        preflight.check_writable_dir(str(blocker / "out"))
