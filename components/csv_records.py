"""CSV files as the tf.Example records TFX's CsvExampleGen writes, read by Arrow.

TFX's CSV executor parses each line in Python, infers each column's type cell
by cell and builds one ``tf.train.Example`` per row: about 5,000 rows a second.
Here Arrow reads the file in blocks, every column as text, and the two steps
are done a column at a time:

- **types** follow tfx_bsl's rules exactly (``csv_decoder._InferValueType``):
  a column whose non-empty cells all parse as 64-bit integers is INT, else as
  floats FLOAT, else STRING; an empty column is UNKNOWN. Cells that the
  vectorised patterns do not settle are given to tfx_bsl's own function.
- **records** are the protocol-buffer bytes of the Example TFX builds (an empty
  cell is an empty list, an UNKNOWN column a feature of no kind, floats rounded
  from double to float as ``float(cell)`` then the proto do), written directly
  in the wire format with the map's keys sorted: the bytes of
  ``SerializeToString(deterministic=True)``, which is what TFX hashes to split
  the rows into train and eval. The same row lands in the same split.
"""

import io
import os
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as arrow_csv
from tfx.dsl.io import fileio
from tfx_bsl.coders import csv_decoder

ColumnType = csv_decoder.ColumnType

# Text that Python's int() and float() read, and Arrow's casts read alike.
_INTEGER = r"^[+-]?[0-9]+$"
_DECIMAL = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
BLOCK_BYTES = 16 << 20


def read_batches(f: io.BufferedIOBase, names: list[str]) -> Iterator[pa.RecordBatch]:
    """The rows of an open CSV file after its header, in blocks, every column as text.

    Blank lines are skipped and quoted values may hold line breaks, as in TFX's
    reader; a row with another number of fields raises ``pa.ArrowInvalid``.
    """
    reader = arrow_csv.open_csv(
        f,
        read_options=arrow_csv.ReadOptions(column_names=names, skip_rows=1, block_size=BLOCK_BYTES),
        parse_options=arrow_csv.ParseOptions(newlines_in_values=True),
        convert_options=arrow_csv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    yield from reader


def open_file(path: str) -> io.BufferedIOBase:
    """A local file, or one TFX's file systems read (a ``GFile``, which Arrow cannot take)."""
    if os.path.exists(path):
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    return io.BufferedReader(_GFileReader(fileio.open(path, "rb")))


class _GFileReader(io.RawIOBase):
    def __init__(self, f):
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def column_type(cells: pa.Array) -> ColumnType:
    """The type tfx_bsl infers for a column of text cells (the highest of its cells')."""
    cells = pc.filter(cells, pc.not_equal(cells, ""))
    if len(cells) == 0:
        return ColumnType.UNKNOWN
    integers = pc.match_substring_regex(cells, _INTEGER)
    found = ColumnType.UNKNOWN
    if pc.any(integers).as_py():
        digits = pc.filter(cells, integers)
        found = ColumnType.INT if _as_numbers(digits, pa.int64()) is not None else ColumnType.STRING
    others = pc.filter(cells, pc.invert(integers))
    decimals = pc.match_substring_regex(others, _DECIMAL)
    if pc.any(decimals).as_py():
        found = max(found, ColumnType.FLOAT)
    rest = pc.unique(pc.filter(others, pc.invert(decimals)))
    for value in rest.to_pylist():
        found = max(found, csv_decoder._InferValueType(value.encode()))  # noqa: SLF001 - TFX's rule
        if found == ColumnType.STRING:
            break
    return found


def merge_types(found: list[list[ColumnType]]) -> list[ColumnType]:
    """Column types of several blocks or files: the highest of each column's."""
    return [max(types) for types in zip(*found, strict=True)] if found else []


def encode(batch: pa.RecordBatch, infos: list[csv_decoder.ColumnInfo]) -> list[bytes]:
    """One serialized tf.Example per row, byte for byte as TFX builds and hashes it."""
    entries = []
    for info in sorted(infos, key=lambda info: info.name.encode()):
        cells = batch.column(batch.schema.get_field_index(info.name))
        key = info.name.encode()
        feature = _feature(cells, info.type)
        entry = pc.binary_join_element_wise(
            b"\n" + _varint(len(key)) + key, _prefixed(b"\x12", feature), b""
        )
        entries.append(_prefixed(b"\n", entry))
    if not entries:
        return [b"\n\x00"] * batch.num_rows
    features = pc.binary_join_element_wise(*entries, b"") if len(entries) > 1 else entries[0]
    return _prefixed(b"\n", features).to_pylist()


def _feature(cells: pa.Array, kind: ColumnType) -> pa.Array:
    """Each cell's ``tf.train.Feature`` bytes: one value, or an empty list for an empty cell."""
    if kind == ColumnType.UNKNOWN:
        return pa.array([b""] * len(cells), pa.binary())
    empty = pc.equal(cells, "")
    filled = pc.if_else(empty, "0", cells)
    if kind == ColumnType.INT:
        values = _as_numbers(filled, pa.int64())
        lists = _prefixed(b"\x1a", _prefixed(b"\n", _varints(values.view(np.uint64))))
        return pc.if_else(empty, b"\x1a\x00", lists)
    if kind == ColumnType.FLOAT:
        values = _as_numbers(filled, pa.float64()).astype(np.float32)
        fixed = pa.Array.from_buffers(
            pa.binary(),
            len(values),
            [
                None,
                pa.py_buffer(np.arange(0, 4 * len(values) + 1, 4, dtype=np.int32)),
                pa.py_buffer(values.astype("<f4").tobytes()),
            ],
        )
        return pc.if_else(empty, b"\x12\x00", _prefixed(b"\x12", _prefixed(b"\n", fixed)))
    text = cells.cast(pa.binary())
    return pc.if_else(empty, b"\n\x00", _prefixed(b"\n", _prefixed(b"\n", text)))


def _as_numbers(cells: pa.Array, kind: pa.DataType) -> "np.ndarray | None":
    """Cells as int64 or float64, read as Python's int() and float() read them; None
    for an integer that does not fit 64 bits."""
    pattern = _INTEGER if kind == pa.int64() else _DECIMAL
    if pc.all(pc.match_substring_regex(cells, pattern)).as_py() or len(cells) == 0:
        try:
            return pc.cast(cells, kind).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    unique = pc.unique(cells)
    convert = int if kind == pa.int64() else float
    try:
        converted = [convert(value) for value in unique.to_pylist()]
        values = np.array(converted, dtype=kind.to_pandas_dtype())
    except OverflowError:
        return None
    return values[pc.index_in(cells, unique).to_numpy(zero_copy_only=False)]


def _prefixed(tag: bytes, bodies: pa.Array) -> pa.Array:
    """``tag``, each body's length as a varint, then the body: a length-delimited field."""
    lengths = pc.binary_length(bodies).to_numpy(zero_copy_only=False).astype(np.uint64)
    return pc.binary_join_element_wise(tag, _varints(lengths), bodies.cast(pa.binary()), b"")


def _varints(values: np.ndarray) -> pa.Array:
    """Each unsigned value in protocol-buffer varint encoding, as a binary array."""
    values = values.astype(np.uint64)
    sizes = np.ones(len(values), dtype=np.int64)
    rest = values >> np.uint64(7)
    while rest.any():
        sizes += rest > 0
        rest >>= np.uint64(7)
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    data = np.zeros(int(offsets[-1]), dtype=np.uint8)
    for place in range(int(sizes.max(initial=1))):
        rows = sizes > place
        group = (values[rows] >> np.uint64(7 * place)) & np.uint64(0x7F)
        more = (sizes[rows] > place + 1).astype(np.uint64) << np.uint64(7)
        data[offsets[:-1][rows] + place] = (group | more).astype(np.uint8)
    return pa.Array.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


def _varint(value: int) -> bytes:
    return _varints(np.array([value], dtype=np.uint64)).to_pylist()[0]
