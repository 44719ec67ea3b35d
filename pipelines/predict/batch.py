"""`kubetfx predict`: every row of a folder of CSV files scored by a pushed model, through Beam.

1. The model: the newest complete version in the serving folder, or the one
   asked for.
2. The files: the same checks as a run's (one header, data rows, the model's
   feature columns present); the label column is not needed.
3. The rows are validated against the project's schema as the data gate does
   (TFDV statistics, the model's features only): anomalies refuse the job.
4. One Beam pipeline reads every row, scores it with tfx_bsl's RunInference
   (what TFX's BulkInferrer runs) on the model's serving signature, and writes
   one row per input row: the key columns as given, then the prediction
   columns (components/predictions.py). CSV, or Parquet for a ``.parquet``
   output. The file is written beside its destination and renamed into place,
   so an output file is only ever replaced whole, and only when asked.
5. The same pipeline counts the predictions in the buckets of the eval
   split's that the model carries, for the drift check (PSI).
"""

import contextlib
import csv
import dataclasses
import io
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from typing import IO

import apache_beam as beam
import tensorflow as tf

from kubetfx.components import baseline
from kubetfx.components.batch_predictions import count_predictions, csv_line, read_counts
from kubetfx.components.errors import TaskError
from kubetfx.components.forests import is_forest, load_ops
from kubetfx.components.predictions import (
    PREDICTION,
    PROBABILITY,
    Drift,
    Label,
    feature_types,
    model_label,
    read_reference,
    to_example,
)
from kubetfx.pipelines import preflight
from kubetfx.pipelines.errors import DataGateStopped, UserError
from kubetfx.pipelines.project.loader import ProjectFile

FORMATS = {".csv": "csv", ".parquet": "parquet"}


@dataclasses.dataclass
class Prediction:
    """What a predict job did."""

    rows: int
    version: str
    output: str
    seconds: float  # the scoring pipeline's time, validation excluded
    drift: Drift


def choose_model(serving_dir: str, version: str | None) -> tuple[str, str]:
    """``(version, folder)`` of the model to score with; a one-line error if there is none."""
    if version is None:
        version = baseline.latest_pushed_version(serving_dir)
        if version is None:
            raise UserError(
                f"no model in {serving_dir}: run `kubetfx run` first (a blessed model is pushed "
                "there), or pass the --output-dir of a run that pushed one"
            )
    folder = os.path.join(serving_dir, version)
    if not os.path.isfile(os.path.join(folder, baseline.SAVED_MODEL_FILE)):
        pushed = sorted(
            (n for n in os.listdir(serving_dir) if n.isdigit())
            if os.path.isdir(serving_dir)
            else []
        )
        raise UserError(
            f"no model version {version} in {serving_dir}; versions there: "
            f"{', '.join(pushed) or 'none'}"
        )
    return version, folder


def check_output(output: str, overwrite: bool, data_root: str) -> str:
    """The output's format; refuses an unknown extension or a file it must not replace."""
    extension = os.path.splitext(output)[1].lower()
    if os.path.dirname(os.path.abspath(output)) == os.path.abspath(data_root):
        raise UserError(
            f"--output {output} is in the --data folder, whose files would be read as data; "
            "write it elsewhere"
        )
    if extension not in FORMATS:
        raise UserError(f"--output {output} must end in .csv or .parquet")
    if os.path.isdir(output):
        raise UserError(f"--output {output} is a folder; name a file")
    if os.path.exists(output) and not overwrite:
        raise UserError(f"{output} exists; pass --overwrite to replace it, or another --output")
    preflight.check_writable_dir(os.path.dirname(os.path.abspath(output)), flag="--output")
    return FORMATS[extension]


def check_keys(header: list[str], keys: list[str] | None, label: Label) -> list[str]:
    """The input columns copied to each output row (all by default)."""
    keys = header if keys is None else keys
    unknown = [k for k in keys if k not in header]
    if unknown:
        raise UserError(
            f"--keys names {', '.join(unknown)}, not in the data; its columns are: "
            + ", ".join(header)
        )
    clash = sorted(set(keys) & set(label.columns))
    if clash:
        raise UserError(
            f"the data has a column {clash[0]}, which the predictions would take; pass --keys "
            "with the columns to keep, without it"
        )
    return keys


def validate(schema, data_root: str, features: list[str], beam_args: tuple[str, ...]) -> int:
    """Checks the rows against the project's schema, model features only; returns the row count.

    Raises DataGateStopped naming each anomaly, as the data gate would, and a
    UserError naming the first row whose fields do not match the header.
    """
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    from kubetfx.components.csv_example_gen import describe_ragged_row
    from kubetfx.components.data_gate import describe_anomalies
    from kubetfx.components.schema_import import features_only

    schema = features_only(schema, features)
    try:
        statistics = preflight.csv_statistics(data_root, beam_args)
    except Exception:
        ragged = describe_ragged_row(preflight.csv_files(data_root))
        if ragged:
            raise UserError(ragged) from None
        raise
    dataset = statistics.datasets[0]
    kept_statistics = [f for f in dataset.features if f.path.step and f.path.step[0] in features]
    del dataset.features[:]
    dataset.features.extend(kept_statistics)
    anomalies: anomalies_pb2.Anomalies = tfdv.validate_statistics(statistics, schema)
    problems = describe_anomalies({"data": anomalies})
    if problems:
        raise DataGateStopped(
            "stopped before scoring: the data does not match the schema the model was trained "
            "on; fix the data: " + "; ".join(p.removeprefix("data: ") for p in problems)
        )
    return dataset.num_examples


def predict(
    loaded: ProjectFile,
    data_root: str,
    output: str,
    serving_dir: str,
    version: str | None = None,
    keys: list[str] | None = None,
    overwrite: bool = False,
    beam_args: tuple[str, ...] = (),
    out: IO[str] = sys.stdout,
) -> Prediction:
    """Scores every row of the CSV files in ``data_root``; see the module's docstring."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    version, model_dir = choose_model(serving_dir, version)
    label = model_label(model_dir)
    output_format = check_output(output, overwrite, data_root)
    header = preflight.check_data(data_root)
    features = [f for f in loaded.project.features if f != label.column]
    missing = [f for f in features if f not in header]
    if missing:
        raise UserError(
            f"the data in {data_root} lacks the model's feature columns {', '.join(missing)}; "
            "its columns are: " + ", ".join(header)
        )
    keys = check_keys(header, keys, label)
    files = preflight.csv_files(data_root)  # one header, as check_data found

    schema = text_format.Parse(loaded.schema_text, schema_pb2.Schema())
    out.write(f"kubetfx: validating the rows in {data_root}\n")
    rows = validate(schema, data_root, features, beam_args)
    out.write(f"kubetfx: scoring {rows:,} rows with model version {version}\n")
    job = _Job(files, header, keys, feature_types(schema, features), label, model_dir)
    staging = os.path.join(
        os.path.dirname(os.path.abspath(output)),
        f".{os.path.basename(output)}.{uuid.uuid4().hex[:8]}.tmp",
    )
    started = time.monotonic()
    try:
        with _Progress(rows, out) as progress:
            drift = job.run(staging, output_format, progress.folder, beam_args)
        os.replace(staging, output)
    finally:
        for path in (staging, staging + ".counts"):
            if os.path.exists(path):
                os.remove(path)
    return Prediction(progress.final, version, output, time.monotonic() - started, drift)


@dataclasses.dataclass
class _Job:
    """The scoring pipeline's inputs."""

    files: list[str]
    header: list[str]
    keys: list[str]
    types: dict[str, int]
    label: Label
    model_dir: str

    @property
    def columns(self) -> list[str]:
        return [*self.keys, *self.label.columns]

    def run(self, path: str, output_format: str, progress: str, beam_args) -> Drift:
        """Writes the scored rows to ``path``; returns their distribution against the eval's."""
        from apache_beam.options.pipeline_options import PipelineOptions
        from tfx.components.example_gen.csv_example_gen.executor import (
            _ReadCsvRecordsFromTextFile,
        )
        from tfx_bsl.public.beam import RunInference
        from tfx_bsl.public.proto import model_spec_pb2

        forest = is_forest(self.model_dir)
        if forest:
            load_ops()  # for the runners that score in this process
        spec = model_spec_pb2.InferenceSpecType(
            saved_model_spec=model_spec_pb2.SavedModelSpec(
                model_path=self.model_dir, signature_name=["serving_default"]
            )
        )
        with beam.Pipeline(options=PipelineOptions(list(beam_args))) as pipeline:
            scored = (
                pipeline
                | "Files" >> beam.Create(self.files)
                | "ReadRecords" >> beam.ParDo(_ReadCsvRecordsFromTextFile())  # noqa: SLF001
                | "Spread" >> beam.Reshuffle()
                | "ToExamples"
                >> beam.ParDo(_ToKeyedExample(self.header, self.keys, self.types))
                # A keyed Example for RunInference (by default Beam would code it as a proto).
                .with_output_types(tuple[tuple, tf.train.Example])
                | "Score" >> RunInference(spec)
                | "ToRows" >> beam.ParDo(_ToRow(self.label, progress, forest))
            )
            reference = read_reference(self.model_dir)
            buckets = count_predictions(
                scored, len(self.keys), self.label, reference, path + ".counts"
            )
            if output_format == "csv":
                _ = (
                    scored
                    | "ToCsv" >> beam.Map(csv_line)
                    | "Write"
                    >> beam.io.WriteToText(
                        path, num_shards=1, shard_name_template="", header=csv_line(self.columns)
                    )
                )
            else:
                _ = (
                    scored
                    | "ToRecords" >> beam.Map(_record, self.columns)
                    | "Write"
                    >> beam.io.WriteToParquet(
                        path, self._arrow_schema(), num_shards=1, shard_name_template=""
                    )
                )
        return read_counts(path + ".counts", buckets, reference)

    def _arrow_schema(self):
        import pyarrow as pa

        classes = self.label.task != "regression"
        predicted = [(PREDICTION, pa.string() if classes else pa.float64())]
        if classes:
            predicted.append((PROBABILITY, pa.float64()))
        return pa.schema([(k, pa.string()) for k in self.keys] + predicted)


def _record(row: tuple, names: list[str]) -> dict:
    return dict(zip(names, row, strict=True))


class _ToKeyedExample(beam.DoFn):
    """A CSV record to ``(key values, tf.Example)``."""

    def __init__(self, header: list[str], keys: list[str], types: dict[str, int]):
        self._header, self._keys, self._types = header, keys, types

    def process(self, record: str):
        cells = next(csv.reader(io.StringIO(record)), [])
        if not cells:
            return  # an empty line, which CsvExampleGen skips too; ",,," is a row
        if len(cells) != len(self._header):
            raise TaskError(
                f"a row has {len(cells)} fields but the header has {len(self._header)} columns: "
                f"{record[:200]!r}"
            )
        row = dict(zip(self._header, cells, strict=True))
        yield tuple(row[k] for k in self._keys), to_example(row, self._types)


class _ToRow(beam.DoFn):
    """``(key values, PredictionLog)`` to an output row; counts rows for the progress line."""

    def __init__(self, label: Label, progress: str, forest: bool):
        self._label, self._progress, self._forest = label, progress, forest

    def __setstate__(self, state) -> None:
        """Unpickled in the worker that runs the scoring, before any step there is set up.

        RunInference loads the model when it is set up, and Beam sets up the
        steps of a stage after unpickling them all. A forest's inference ops
        must be registered in that process first; this step reads what
        RunInference writes, so it always runs in the same stage.
        """
        self.__dict__.update(state)
        if self._forest:
            load_ops()

    def setup(self) -> None:
        self._to_array = tf.make_ndarray
        self._count, self._reported = 0, 0.0
        self._counter = os.path.join(self._progress, f"{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def process(self, keyed):
        key, log = keyed
        outputs = self._to_array(log.predict_log.response.outputs["outputs"]).reshape(-1)
        self._count += 1
        if time.monotonic() - self._reported > 1.0:
            self._report()
        yield (*key, *self._label.describe(outputs))

    def finish_bundle(self) -> None:
        self._report()

    def _report(self) -> None:
        self._reported = time.monotonic()
        with open(self._counter + ".tmp", "w") as f:
            f.write(str(self._count))
        os.replace(self._counter + ".tmp", self._counter)


class _Progress:
    """Shows how many rows are scored, summed over Beam's worker processes.

    Each worker writes its count to a file in ``folder``; a thread here adds
    them up each second: one line redrawn on a terminal, a line per tenth
    of the rows elsewhere.
    """

    def __init__(self, total: int, out: IO[str]):
        self.total, self._out = total, out
        self._live = getattr(out, "isatty", lambda: False)()
        self._stop = threading.Event()
        self._shown = 0

    def __enter__(self) -> "_Progress":
        self.folder = tempfile.mkdtemp(prefix="kubetfx-progress-")
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.final = self.scored()  # the rows written
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._live:
            self._out.write("\r\x1b[K")
            self._out.flush()

    def scored(self) -> int:
        total = 0
        for name in os.listdir(self.folder):
            if not name.endswith(".tmp"):
                with (
                    contextlib.suppress(OSError, ValueError),
                    open(os.path.join(self.folder, name)) as f,
                ):
                    total += int(f.read() or 0)
        return total

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            scored = min(self.scored(), self.total)
            share = scored / self.total if self.total else 1.0
            line = f"  scored {scored:,} of {self.total:,} rows ({share:.0%})"
            if self._live:
                self._out.write("\r\x1b[K" + line)
            elif int(share * 10) > self._shown:
                self._shown = int(share * 10)
                self._out.write(line + "\n")
            self._out.flush()
