"""The CSV executor: a header with a byte-order mark, and a malformed row named by place."""

import json
import os

import pytest
import tensorflow as tf
from tfx.proto import example_gen_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from kubetfx.components import csv_example_gen
from kubetfx.components.errors import TaskError

ONE_INPUT = example_gen_pb2.Input(
    splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")]
)
TRAIN_ONLY = example_gen_pb2.Output(
    split_config=example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=1)]
    )
)


def example_gen(
    data,
    out,
    custom_config=None,
    input_config=ONE_INPUT,
    output_config=TRAIN_ONLY,
    executor=None,
):
    """Runs a CsvExampleGen executor (kubetfx's by default) on ``data``; its Examples."""
    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    (executor or csv_example_gen.Executor()).Do(
        {},
        {"examples": [examples]},
        {
            "input_base": str(data),
            "input_config": proto_utils.proto_to_json(input_config),
            "output_config": proto_utils.proto_to_json(output_config),
            "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
            "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            "custom_config": proto_utils.proto_to_json(custom_config) if custom_config else None,
        },
    )
    return examples


def _records(examples):
    folder = os.path.join(examples.uri, "Split-train")
    files = [os.path.join(folder, name) for name in os.listdir(folder)]
    return [
        tf.train.Example.FromString(record.numpy())
        for record in tf.data.TFRecordDataset(files, compression_type="GZIP")
    ]


def test_a_header_with_a_byte_order_mark_names_its_first_column_plainly(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_bytes('\ufeffcity," fare ",note\nOslo,1.5,"a, b"\nBergen,2,c\n'.encode())
    assert csv_example_gen.column_names(str(data / "a.csv")) == ["city", "fare", "note"]
    examples = example_gen(data, tmp_path / "out")
    records = _records(examples)
    assert len(records) == 2
    assert set(records[0].features.feature) == {"city", "fare", "note"}
    # tf.Examples keep no column order; the artifact records the files' own.
    columns = examples.get_string_custom_property(csv_example_gen.COLUMNS_PROPERTY)
    assert json.loads(columns) == ["city", "fare", "note"]
    notes = sorted(r.features.feature["note"].bytes_list.value[0] for r in records)
    assert notes == [b"a, b", b"c"]


@pytest.mark.parametrize("row", ["Tromso,3", "Tromso,3,d,extra"])
def test_a_row_with_the_wrong_number_of_fields_is_named_by_file_and_line(tmp_path, row):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("city,fare,note\nOslo,1.5,a\n")
    (data / "b.csv").write_text(f'city,fare,note\nOslo,1.5,"two\nlines"\n{row}\nBergen,2,c\n')
    fields = len(row.split(","))
    with pytest.raises(TaskError) as raised:
        example_gen(data, tmp_path / "out")
    assert str(raised.value) == (
        f"{data / 'b.csv'} line 4 has {fields} fields but the header has 3 columns; fix or "
        "remove that row (a value with a comma needs double quotes), then re-run"
    )


def test_only_the_typed_columns_get_a_type_and_the_others_stay_as_written(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("zip,fare,amount\n02139,1.5,1234567.89\n10001,2,3\n")
    config = csv_example_gen.typed_columns_config(["fare"])
    records = _records(example_gen(data, tmp_path / "out", config))
    by_zip = {r.features.feature["zip"].bytes_list.value[0]: r for r in records}
    assert set(by_zip) == {b"02139", b"10001"}  # text: the leading zero is kept
    assert list(by_zip[b"02139"].features.feature["amount"].bytes_list.value) == [b"1234567.89"]
    assert list(by_zip[b"02139"].features.feature["fare"].float_list.value) == [1.5]
    untyped = _records(example_gen(data, tmp_path / "all"))
    assert {r.features.feature["zip"].int64_list.value[0] for r in untyped} == {2139, 10001}
