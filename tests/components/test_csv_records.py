"""Arrow-read CSV records against TFX's own CsvExampleGen executor: the same
tf.Examples in the same splits, on the taxi sample and on awkward cells."""

import os

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf.internal import encoder
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.proto import example_gen_pb2
from tfx_bsl.coders import csv_decoder

from kubetfx.components import csv_example_gen, csv_records
from tests.components.test_csv_example_gen import ONE_INPUT, example_gen

TAXI = os.path.join(
    os.path.dirname(tfx_csv.__file__),
    "..",
    "..",
    "..",
    "examples",
    "chicago_taxi_pipeline",
    "data",
    "simple",
)
SPLITS = ("train", "eval")


HASHED = example_gen_pb2.Output(
    split_config=example_gen_pb2.SplitConfig(
        splits=[
            example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=2),
            example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1),
        ]
    )
)


def _run(
    executor, data, out, input_config=ONE_INPUT, output_config=HASHED
) -> dict[str, list[bytes]]:
    """Each split's records, as deterministic serializations, sorted."""
    example_gen(
        data, out, input_config=input_config, output_config=output_config, executor=executor
    )
    records = {}
    for split in SPLITS:
        folder = os.path.join(out, f"Split-{split}")
        files = [os.path.join(folder, name) for name in os.listdir(folder)]
        dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
        records[split] = sorted(
            tf.train.Example.FromString(record.numpy()).SerializeToString(deterministic=True)
            for record in dataset
        )
    return records


def _same_as_tfx(data, tmp_path, **configs) -> dict[str, list[bytes]]:
    ours = _run(csv_example_gen.Executor(), data, tmp_path / "ours", **configs)
    theirs = _run(tfx_csv.Executor(), data, tmp_path / "tfx", **configs)
    for split in SPLITS:
        assert len(ours[split]) == len(theirs[split]), split
        assert ours[split] == theirs[split], split
    return ours


@pytest.mark.e2e
def test_the_taxi_sample_gives_tfx_s_records_in_tfx_s_splits(tmp_path):
    records = _same_as_tfx(TAXI, tmp_path)
    assert len(records["train"]) + len(records["eval"]) == 15002
    assert len(records["eval"]) > 4000


AWKWARD = (
    "count,big,ratio,mixed,spaced,empty,text,note,neg\n"
    '1,99999999999999999999,1e5,3,  7,,naïve,"a, b",-1\n'
    "2,5,-.5,2.5, 8 ,," + "x" * 300 + ',"two\nlines",-9223372036854775808\n'
    "\n"
    "3,,nan,,1_000,,,,9223372036854775807\n"
    "300,7,inf,x,,,0x1A,plain,\n"
    "-4,8,2.,1e400,9,,\u00e9t\u00e9,,0\n"
)


def test_awkward_cells_are_typed_and_written_as_tfx_does(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text(AWKWARD, encoding="utf-8")
    records = _same_as_tfx(data, tmp_path)
    rows = [tf.train.Example.FromString(r) for split in SPLITS for r in records[split]]
    assert len(rows) == 5
    kinds = {name: f.WhichOneof("kind") for name, f in rows[0].features.feature.items()}
    assert kinds == {
        "count": "int64_list",
        "big": "bytes_list",
        "ratio": "float_list",
        "mixed": "bytes_list",
        "spaced": "int64_list",
        "empty": None,
        "text": "bytes_list",
        "note": "bytes_list",
        "neg": "int64_list",
    }


def test_input_splits_and_a_split_by_feature_value_are_tfx_s_too(tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    (data / "eval").mkdir()
    (data / "train" / "a.csv").write_text("city,n\nOslo,1\nBergen,2\nOslo,3\n")
    (data / "eval" / "b.csv").write_text("city,n\nTromso,4\n")
    by_folder = example_gen_pb2.Input(
        splits=[
            example_gen_pb2.Input.Split(name="train", pattern="train/*.csv"),
            example_gen_pb2.Input.Split(name="eval", pattern="eval/*.csv"),
        ]
    )
    records = _same_as_tfx(
        data, tmp_path / "folders", input_config=by_folder, output_config=example_gen_pb2.Output()
    )
    assert (len(records["train"]), len(records["eval"])) == (3, 1)
    by_city = example_gen_pb2.Output()
    by_city.CopyFrom(HASHED)
    by_city.split_config.partition_feature_name = "city"
    records = _same_as_tfx(data / "train", tmp_path / "city", output_config=by_city)
    cities = {
        split: {
            tf.train.Example.FromString(r).features.feature["city"].bytes_list.value[0]
            for r in rows
        }
        for split, rows in records.items()
    }
    assert cities["train"].isdisjoint(cities["eval"])


def test_column_types_follow_tfx_bsl_cell_by_cell():
    cells = ["12", "-3", "+4", "1.5", ".5", "2.", "1e3", "nan", " 6 ", "1_0", "0x1A", "", "9" * 25]
    for cell in cells:
        expected = csv_decoder._InferValueType(cell.encode())  # noqa: SLF001
        import pyarrow as pa

        assert csv_records.column_type(pa.array([cell], pa.string())) == expected, cell


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16383, 16384, 2**63 - 1, 2**63, 2**64 - 1])
def test_varints_are_protocol_buffer_varints(value):
    encoded = csv_records._varints(np.array([value, 5], dtype=np.uint64)).to_pylist()  # noqa: SLF001
    assert encoded == [encoder._VarintBytes(value), b"\x05"]  # noqa: SLF001
