"""Bad input is refused before a run starts, with a message that says what to fix."""

import pytest

from kubetfx.pipelines import preflight
from kubetfx.pipelines.errors import UserError
from tests.conftest import read_taxi_rows, small_disk, taxi_header, write_csv


def _check(folder):
    return preflight.check_data(str(folder))


def test_accepts_a_folder_of_csv_files_and_returns_their_header(tmp_path):
    rows = read_taxi_rows(10)
    write_csv(tmp_path / "a.csv", rows[:5], taxi_header())
    write_csv(tmp_path / "b.csv", rows[5:], taxi_header())
    (tmp_path / "README.txt").write_text("not data")
    assert _check(tmp_path) == taxi_header()
    assert [p.rsplit("/", 1)[1] for p in preflight.csv_files(str(tmp_path))] == ["a.csv", "b.csv"]


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


def test_a_byte_order_mark_is_not_part_of_the_first_column(tmp_path):
    write_csv(tmp_path / "data.csv", read_taxi_rows(3), taxi_header())
    text = (tmp_path / "data.csv").read_bytes()
    (tmp_path / "data.csv").write_bytes(b"\xef\xbb\xbf" + text)
    assert _check(tmp_path) == taxi_header()


def test_refuses_data_larger_than_the_output_folders_free_space(tmp_path):
    write_csv(tmp_path / "data" / "d.csv", read_taxi_rows(1000), taxi_header())
    with small_disk(tmp_path / "out", "64k") as out:
        with pytest.raises(UserError) as refused:
            preflight.check_free_space(str(tmp_path / "data"), str(out), str(out / "metadata.db"))
        (out / "metadata.db").write_bytes(b"")  # earlier runs: a re-run may reuse their outputs
        preflight.check_free_space(str(tmp_path / "data"), str(out), str(out / "metadata.db"))
    assert str(refused.value).startswith(f"the CSV files in {tmp_path / 'data'} take ")
    assert " kB free, while a run writes about as much as it reads; free" in str(refused.value)


def test_refuses_an_empty_csv(tmp_path):
    (tmp_path / "data.csv").write_text("")
    with pytest.raises(UserError, match="data.csv is empty"):
        _check(tmp_path)


def test_refuses_a_header_without_rows(tmp_path):
    write_csv(tmp_path / "data.csv", [], taxi_header())
    with pytest.raises(UserError, match="header but no data rows"):
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


def _store_of(path, pipeline_name):
    """An ML Metadata store holding a pipeline context, as TFX records one."""
    from ml_metadata import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    store = metadata_store.MetadataStore(config)
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline"))
    store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=pipeline_name)])


def test_one_output_folder_holds_one_project(tmp_path):
    database = tmp_path / "metadata.db"
    preflight.check_project_store(str(database), "iris")  # no store yet: fine
    _store_of(database, "kubetfx-taxi")
    preflight.check_project_store(str(database), "kubetfx-taxi")
    with pytest.raises(UserError, match="holds the runs of project kubetfx-taxi, not iris"):
        preflight.check_project_store(str(database), "iris")
    # A project's predict pipeline shares its folder; a project named like one does not.
    _store_of(database, "kubetfx-taxi-predict")
    preflight.check_project_store(str(database), "kubetfx-taxi")
    with pytest.raises(UserError, match="holds the runs of project kubetfx-taxi, "):
        preflight.check_project_store(str(database), "kubetfx-taxi-predict")
