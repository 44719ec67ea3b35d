"""CsvExampleGen executor that reads headers as CSV and names a malformed row.

TFX's CSV executor reads a file's column names by splitting its first line on
commas: a UTF-8 byte-order mark (as spreadsheet programs save) sticks to the
first column's name, and a quoted name keeps its quotes. Here the header is
parsed as CSV after the mark is dropped; the rows are read by TFX's own code
(which skips the header line whole, mark included).

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
import json
import os
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
from tfx.components.example_gen.csv_example_gen import executor as tfx_csv
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils
from tfx_bsl.coders import csv_decoder

from kubetfx.components.errors import TaskError

BOM = "\ufeff"
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


class _CsvToExample(tfx_csv._CsvToExample):  # noqa: SLF001 - TFX's DoFns, TFX's header aside
    def __init__(self, exec_properties: dict[str, Any], split_pattern: str):
        super().__init__(exec_properties, split_pattern)
        self._typed = typed_columns(exec_properties)

    def expand(self, pipeline: beam.Pipeline) -> beam.pvalue.PCollection:
        files = fileio.glob(self._csv_pattern)
        if not files:
            raise TaskError(f"no file matches {self._csv_pattern}; put the CSV files there")
        names = column_names(files[0])
        for path in files[1:]:
            if column_names(path) != names:
                raise TaskError(
                    f"{path} has another header than {files[0]}; all CSV files of a split "
                    "need the same columns in the same order"
                )
        parsed = (
            pipeline
            | "CreateFilenames" >> beam.Create(files)
            | "ReadFromText" >> beam.ParDo(tfx_csv._ReadCsvRecordsFromTextFile())  # noqa: SLF001
            | "ParseCSVLine" >> beam.ParDo(csv_decoder.ParseCSVLine(delimiter=","))
            | "ExtractParsedCSVLines" >> beam.Keys()
        )
        column_infos = beam.pvalue.AsSingleton(
            parsed
            | "InferColumnTypes"
            >> beam.CombineGlobally(csv_decoder.ColumnTypeInferrer(names, skip_blank_lines=True))
            | "TextColumns" >> beam.Map(_as_text, self._typed)
        )
        return parsed | "ToTFExample" >> beam.ParDo(
            tfx_csv._ParsedCsvToTfExample(),  # noqa: SLF001
            column_infos,
        )


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
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _CsvToExample

    def Do(self, input_dict, output_dict, exec_properties: dict[str, Any]) -> None:
        try:
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


def _input_files(exec_properties: dict[str, Any]) -> list[str]:
    """The CSV files of every input split, in order."""
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config
    )
    base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    return [
        path
        for split in input_config.splits
        for path in sorted(fileio.glob(os.path.join(base, split.pattern)))
    ]
