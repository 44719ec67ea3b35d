"""CsvExampleGen executor that reads headers as CSV and names a malformed row.

TFX's CSV executor reads a file's column names by splitting its first line on
commas: a UTF-8 byte-order mark (as spreadsheet programs save) sticks to the
first column's name, and a quoted name keeps its quotes. Here the header is
parsed as CSV after the mark is dropped. The rows are read by Arrow and
written as the records TFX's own code writes, in the same splits
(``csv_records``).

A row with more or fewer fields than the header fails TFX's conversion with
the row's cells and no place. When the conversion fails, this executor looks
for the first such row itself, only then, and fails with its file and line.

The Examples artifact records the columns in the files' order
(``COLUMNS_PROPERTY``, a JSON list), which tf.Examples do not keep: the
predict pipeline writes its table in that order.

A ``custom_config`` (``typed_columns``) names the columns whose type is
inferred; every other column is read as text, exactly as written. The predict
pipeline types only the model's features, so that an id such as ``02139``
keeps its leading zero in the predictions table.
"""

import csv
import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from typing import Any, Union

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.components.util import examples_utils
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from kubetfx.components import csv_records
from kubetfx.components.errors import TaskError
from kubetfx.components.progress import Progress

BOM = "\ufeff"
INPUT_CONFIG = standard_component_specs.INPUT_CONFIG_KEY
OUTPUT_CONFIG = standard_component_specs.OUTPUT_CONFIG_KEY
# The shard files' name, TFX's (write_split.DEFAULT_FILE_NAME), then the block's.
SHARD = "data_tfrecord"
COLUMNS_PROPERTY = "csv_columns"
TYPED_COLUMNS = "typed_columns"


def typed_columns_config(columns: list[str]) -> example_gen_pb2.CustomConfig:
    """The custom_config that types ``columns`` only, reading the others as text."""
    from google.protobuf import any_pb2, struct_pb2

    config = struct_pb2.Struct()
    config.update({TYPED_COLUMNS: list(columns)})
    packed = any_pb2.Any()
    packed.Pack(config)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def typed_columns(exec_properties: dict[str, Any]) -> "set[str] | None":
    """The columns a custom_config types, or None: every column typed."""
    from google.protobuf import struct_pb2

    text = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
    if not text:
        return None
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(text, config)
    if not config.HasField("custom_config"):
        return None
    values = struct_pb2.Struct()
    config.custom_config.Unpack(values)
    return set(values[TYPED_COLUMNS]) if TYPED_COLUMNS in values else None


def _lines(f) -> Iterator[str]:
    """A file's lines as text, a byte-order mark at its start dropped."""
    for number, line in enumerate(f):
        text = line.decode("utf-8")
        yield text.removeprefix(BOM) if number == 0 else text


def column_names(path: str) -> list[str]:
    """The names in a CSV file's header line, without a byte-order mark or padding."""
    with fileio.open(path, "rb") as f:
        header = next(csv.reader(_lines(f)), [])
    return [name.strip() for name in header]


def describe_ragged_row(paths: list[str]) -> str | None:
    """What is wrong with the first row, in ``paths``, whose fields do not match its header."""
    for path in paths:
        found = first_ragged_row(path)
        if found:
            line, fields, columns = found
            return (
                f"{path} line {line} has {fields} fields but the header has {columns} columns; "
                "fix or remove that row (a value with a comma needs double quotes)"
            )
    return None


def first_ragged_row(path: str) -> "tuple[int, int, int] | None":
    """``(line, fields, columns)`` of the first row whose field count differs from the header's."""
    with fileio.open(path, "rb") as f:
        reader = csv.reader(_lines(f))
        header = next(reader, [])
        for row in reader:
            if row and len(row) != len(header):
                return reader.line_num, len(row), len(header)
    return None


def split_files(pattern: str) -> tuple[list[str], list[str]]:
    """The CSV files matching ``pattern``, and the column names their headers share."""
    files = sorted(fileio.glob(pattern))
    if not files:
        raise TaskError(f"no file matches {pattern}; put the CSV files there")
    names = column_names(files[0])
    for path in files[1:]:
        if column_names(path) != names:
            raise TaskError(
                f"{path} has another header than {files[0]}; all CSV files of a split "
                "need the same columns in the same order"
            )
    return files, names


def _encoded_batches(
    pipeline: beam.Pipeline, pattern: str, typed: "set[str] | None", label: str
) -> beam.pvalue.PCollection:
    """``(shard name, records)`` for each block of each file matching ``pattern``."""
    files, names = split_files(pattern)
    numbered = pipeline | f"CreateFilenames{label}" >> beam.Create(list(enumerate(files)))
    column_infos = beam.pvalue.AsSingleton(
        numbered
        | f"InferColumnTypes{label}" >> beam.MapTuple(lambda _, path: _file_types(path, names))
        | f"MergeColumnTypes{label}" >> beam.CombineGlobally(_merged_types)
        | f"TextColumns{label}" >> beam.Map(_column_infos, names, typed)
    )
    return numbered | f"ToTFExample{label}" >> beam.FlatMap(_file_batches, names, column_infos)


@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(Union[bytes, tf.train.Example])  # noqa: UP007 - Beam reads typing.Union
class _CsvToExample(beam.PTransform):
    """The CSV files of one input split as serialized tf.Examples, one element each.

    TFX's record-at-a-time path, kept for what the batched writer does not do
    (a split by a feature's value, other output formats).
    """

    def __init__(self, exec_properties: dict[str, Any], split_pattern: str):
        super().__init__()
        base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        self._pattern = os.path.join(base, split_pattern)
        self._typed = typed_columns(exec_properties)
        output_config = _proto(exec_properties, OUTPUT_CONFIG, example_gen_pb2.Output())
        self._parse = bool(output_config.split_config.partition_feature_name)

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        records = _encoded_batches(pipeline, self._pattern, self._typed, "") | beam.FlatMap(
            lambda batch: batch[1]
        )
        if self._parse:  # TFX splits by a feature of parsed Examples only
            return records | "Parse" >> beam.Map(_parse).with_output_types(tf.train.Example)
        return records.with_output_types(bytes)


def _parse(record: bytes) -> tf.train.Example:
    return tf.train.Example.FromString(record)


def _file_types(path: str, names: list[str]) -> list[csv_records.ColumnType]:
    """The type of each column of one file, by tfx_bsl's rules."""
    found = [csv_records.ColumnType.UNKNOWN] * len(names)
    with csv_records.open_file(path) as f:
        for batch in csv_records.read_batches(f, names):
            types = [csv_records.column_type(cells) for cells in batch.columns]
            found = csv_records.merge_types([found, types])
    return found


def _merged_types(files: Iterable[list]) -> list:
    return csv_records.merge_types(list(files))


def _column_infos(types: list, names: list[str], typed: "set[str] | None") -> list:
    infos = [csv_decoder.ColumnInfo(n, t) for n, t in zip(names, types, strict=True)]
    return _as_text(infos, typed)


def _file_batches(
    numbered: tuple[int, str], names: list[str], infos: list
) -> Iterator[tuple[str, list[bytes]]]:
    number, path = numbered
    progress = Progress(f"CsvExampleGen {os.path.basename(path)}", _size(path))
    with csv_records.open_file(path) as f:
        for block, batch in enumerate(csv_records.read_batches(f, names)):
            yield f"{number:05d}-{block:05d}", csv_records.encode(batch, infos)
            progress.add(batch.num_rows, f.tell())


def _write_shards(
    batch: tuple[str, list[bytes]], uris: list[str], buckets: "list[int] | None", split: int
) -> int:
    """Write one block's records, shuffled, to a shard file of each split they fall in.

    With ``buckets`` a record's split is TFX's: the SHA-256 of its serialized
    bytes, as a big-endian number, modulo the buckets' total, as
    ``base_example_gen_executor._PartitionFn`` computes it.
    """
    name, records = batch
    order = np.random.default_rng(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))
    shuffled = order.permutation(len(records))
    if buckets is None:
        splits = np.full(len(records), split)
    else:
        digests = np.frombuffer(
            b"".join(hashlib.sha256(record).digest() for record in records), dtype=np.uint8
        ).reshape(-1, 32)
        remainder = np.zeros(len(records), dtype=np.int64)
        for column in range(32):  # the 256-bit number modulo the total, a byte at a time
            remainder = (remainder * 256 + digests[:, column]) % buckets[-1]
        splits = np.searchsorted(buckets, remainder, side="right")
    for index in np.unique(splits):
        chosen = shuffled[splits[shuffled] == index]
        with tf.io.TFRecordWriter(os.path.join(uris[index], f"{SHARD}-{name}.gz"), "GZIP") as f:
            for row in chosen.tolist():
                f.write(records[row])
    return len(records)


def _as_text(infos: list, typed: "set[str] | None") -> list:
    """Column infos with every column outside ``typed`` (None: none) read as text."""
    if typed is None:
        return infos
    return [
        info
        if info.name in typed
        else csv_decoder.ColumnInfo(info.name, csv_decoder.ColumnType.STRING)
        for info in infos
    ]


class Executor(tfx_csv.Executor):
    """TFX's CsvExampleGen executor, reading with Arrow and writing a block at a time.

    The output is TFX's: gzipped TFRecord files of serialized tf.Examples in
    ``Split-<name>`` folders, each row in the split TFX's hash gives it, rows
    shuffled (within each block, then across files by the readers). A split
    by a feature's value, or another output format, takes TFX's own
    record-at-a-time path.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        try:
            if _batched(exec_properties):
                self._write_batched(output_dict, exec_properties)
            else:
                super().Do(input_dict, output_dict, exec_properties)
        except TaskError:
            raise
        except Exception as error:
            try:
                ragged = describe_ragged_row(_input_files(exec_properties))
            except Exception:  # noqa: BLE001 - the conversion's own error is the one to show
                ragged = None
            if ragged is None:
                raise
            raise TaskError(f"{ragged}, then re-run") from error
        files = _input_files(exec_properties)
        if files:
            for examples in output_dict[standard_component_specs.EXAMPLES_KEY]:
                examples.set_string_custom_property(
                    COLUMNS_PROPERTY, json.dumps(column_names(files[0]))
                )

    def _write_batched(self, output_dict, exec_properties: dict[str, Any]) -> None:
        """What TFX's ``BaseExampleGenExecutor.Do`` writes, one block of rows per element."""
        input_config = _proto(exec_properties, INPUT_CONFIG, example_gen_pb2.Input())
        output_config = _proto(exec_properties, OUTPUT_CONFIG, example_gen_pb2.Output())
        outputs = output_dict[standard_component_specs.EXAMPLES_KEY]
        examples = artifact_utils.get_single_instance(outputs)
        names = example_gen_utils.generate_output_split_names(input_config, output_config)
        examples.split_names = artifact_utils.encode_split_names(names)
        uris = [artifact_utils.get_split_uri(outputs, name) for name in names]
        for uri in uris:
            fileio.makedirs(uri)
        base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
        typed = typed_columns(exec_properties)
        if output_config.split_config.splits:
            buckets = list(
                itertools.accumulate(s.hash_buckets for s in output_config.split_config.splits)
            )
            sources = [(input_config.splits[0].pattern, buckets, 0)]
        else:
            sources = [(split.pattern, None, i) for i, split in enumerate(input_config.splits)]
        with self._make_beam_pipeline() as pipeline:
            for number, (pattern, buckets, split) in enumerate(sources):
                label = f"[{number}]"
                _ = _encoded_batches(
                    pipeline, os.path.join(base, pattern), typed, label
                ) | f"WriteShards{label}" >> beam.Map(_write_shards, uris, buckets, split)
        for uri in uris:  # a split no row fell in still gets its (empty) file
            if not fileio.glob(os.path.join(uri, "*")):
                tf.io.TFRecordWriter(os.path.join(uri, f"{SHARD}-empty.gz"), "GZIP").close()
        for artifact in outputs:
            examples_utils.set_payload_format(artifact, example_gen_pb2.FORMAT_TF_EXAMPLE)
            examples_utils.set_file_format(
                artifact, write_split.to_file_format_str(example_gen_pb2.FORMAT_TFRECORDS_GZIP)
            )


def _batched(exec_properties: dict[str, Any]) -> bool:
    """Whether the output is what the batched writer writes: tf.Examples in gzipped
    TFRecords, split by hash or by input file pattern."""
    output_config = _proto(exec_properties, OUTPUT_CONFIG, example_gen_pb2.Output())
    payload = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
    return (
        not output_config.split_config.partition_feature_name
        and payload in (None, example_gen_pb2.FORMAT_TF_EXAMPLE)
        and file_format
        in (None, example_gen_pb2.FILE_FORMAT_UNSPECIFIED, example_gen_pb2.FORMAT_TFRECORDS_GZIP)
    )


def _proto(exec_properties: dict[str, Any], key: str, message):
    text = exec_properties.get(key)
    if text:
        proto_utils.json_to_proto(text, message)
    return message


def _size(path: str) -> "int | None":
    try:
        return fileio.stat(path).length
    except Exception:  # noqa: BLE001 - progress without a share done
        return None


def _input_files(exec_properties: dict[str, Any]) -> list[str]:
    """The CSV files of every input split, in order."""
    input_config = _proto(exec_properties, INPUT_CONFIG, example_gen_pb2.Input())
    base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    return [
        path
        for split in input_config.splits
        for path in sorted(fileio.glob(os.path.join(base, split.pattern)))
    ]
