"""``kubetfx init``: a first project file and schema, guessed from the data, for a person to review.

The data is read once by TFDV (statistics and schema inference); the label
column's values are counted from the CSV files. Each guess a person should
check carries a ``# check:`` comment in the written file. Nothing is written
until every input has been checked, and no file is replaced without
``overwrite``.
"""

import collections
import csv
import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterable
from typing import Any

from kubetfx.components.project import (
    ACCURACY_METRICS,
    ALGORITHMS,
    AUTO,
    DEFAULT_ALGORITHM,
    DEFAULT_CANDIDATES,
    TASKS,
    Training,
    model_settings,
)
from kubetfx.components.statistics import missing_share
from kubetfx.pipelines import preflight
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.project.loader import PROJECT_FILE, load_project
from kubetfx.pipelines.project.schema import allow_empty_cells

SCHEMA_FILE = "schema.pbtxt"
# A label with more values than this, all of them text, is not taken for classes.
MAX_CLASSES = 100
# An integer label with at most this many values is taken for classes.
FEW_INTEGER_CLASSES = 20
# An integer feature from 0 up to at most this is taken for codes (hours, days, months).
MAX_IDENTITY_CODE = 31
# Columns empty in more than this share of rows are left out.
ALMOST_EMPTY = 0.95
# A share of empty cells worth a note.
NOTABLY_EMPTY = 0.05
# Slices are suggested among categorical features with at most this many values.
MAX_SLICE_VALUES = 20
# An accuracy gate never asks for a perfect model.
MAX_ACCURACY_GATE = 0.99
# A binary label with one class above this share is gated on AUC instead of accuracy.
IMBALANCED = 0.9
IMBALANCED_AUC_GATE = 0.7
# Above this many values (rows times features) a network is drafted rather than
# boosted trees: a forest holds the whole train split in memory.
MAX_FOREST_VALUES = 50_000_000


@dataclasses.dataclass(frozen=True)
class Column:
    """What the statistics say about one column."""

    name: str
    kind: str  # text, integer or decimal
    missing: float  # share of rows without a value
    unique: int | None = None  # distinct values (text only)
    present: float = 0.0  # rows with a value
    low: float = 0.0  # smallest and largest value (numbers only)
    high: float = 0.0


@dataclasses.dataclass(frozen=True)
class Guess:
    """How a column is used: a feature spec, or None to ignore it; and why, if it needs a look."""

    spec: str | dict[str, Any] | None
    note: str = ""


def guess_feature(column: Column) -> Guess:
    """How a column becomes a model input, from its statistics."""
    empty = f"empty in {column.missing:.0%} of rows"
    if column.missing > ALMOST_EMPTY:
        return Guess(None, f"check: {empty}, so left out")
    if column.kind == "text":
        unique = column.unique or 0
        if unique <= 1:
            return Guess(None, "one value only, so left out")
        if unique > 50 and unique > 0.9 * column.present:
            return Guess(
                None,
                f"check: {unique} different values in {column.present:.0f} rows, so left out "
                "as an id or free text",
            )
        notes = []
        if unique > 1000:
            notes.append(f"check: {unique} values; the 1000 most frequent get their own code")
        if column.missing > NOTABLY_EMPTY:
            notes.append(f"{empty}; an empty cell is a value of its own")
        return Guess("vocabulary", "; ".join(notes))
    if column.low == column.high:
        return Guess(None, "one value only, so left out")
    mean_fills = f"; {empty}, the mean stands in" if column.missing > NOTABLY_EMPTY else ""
    if column.kind == "integer":
        low, high = int(column.low), int(column.high)
        if low >= 0 and high <= MAX_IDENTITY_CODE:
            return Guess(
                {"transform": "identity", "size": high + 1},
                f"check: whole numbers {low} to {high} taken for codes; if they count or "
                f"measure something, use standardize"
                + (f"; {empty}, sharing the code for unknowns" if mean_fills else ""),
            )
        return Guess(
            "standardize",
            f"check: whole numbers {low} to {high} taken for a quantity; if they are codes "
            f"(ids, areas), use vocabulary{mean_fills}",
        )
    return Guess("standardize", mean_fills.lstrip("; "))


@dataclasses.dataclass(frozen=True)
class LabelGuess:
    task: str
    note: str
    positive: Any = None
    classes: list[Any] | None = None
    gate_metric: str = ""
    gate_threshold: float = 0.0
    gate_note: str = ""


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _typed(text: str, integer: bool, numeric: bool) -> Any:
    """A label value as the project file writes it: a whole number, a number, or text."""
    if integer:
        return int(float(text))
    return float(text) if numeric else text


def guess_label(name: str, counts: collections.Counter, task: str | None = None) -> LabelGuess:
    """The task a label column calls for (or the one asked for, if the label fits it)."""
    rows = sum(counts.values())
    empty = counts.get("", 0)
    values = {value: n for value, n in counts.items() if value != ""}
    if not rows or empty / rows > 0.5:
        raise UserError(
            f"the label {name} is empty in {empty} of {rows} rows; a label must be present in "
            "most rows: pick another --label or fill it in"
        )
    if len(values) == 1:
        raise UserError(
            f"the label {name} has one value only ({next(iter(values))}); there is nothing to "
            "learn: pick another --label"
        )
    numbers = {value: _number(value) for value in values}
    numeric = all(n is not None for n in numbers.values())
    integer = numeric and all(float(n).is_integer() for n in numbers.values())
    distinct = len(values)
    listed = ", ".join(sorted(values, key=lambda v: (numbers[v] or 0, v))[:5])
    listed += ", ..." if distinct > 5 else ""
    check = task is None  # a guessed task is for a person to check
    if task is None:
        if distinct == 2:
            task = "binary"
        elif not numeric:
            if distinct > MAX_CLASSES:
                raise UserError(
                    f"the label {name} has {distinct} different text values, too many for "
                    f"classes (at most {MAX_CLASSES}): pick another --label"
                )
            task = "multiclass"
        elif integer and distinct <= FEW_INTEGER_CLASSES:
            task = "multiclass"
        else:
            task = "regression"
        note = f"guessed from {distinct} values ({listed})"
    else:
        note = f"{distinct} values ({listed})"
    mark = "check: " if check else ""
    if task == "binary" and distinct != 2:
        raise UserError(
            f"binary needs a label with 2 values, but {name} has {distinct} ({listed}): "
            "use --task multiclass or --task regression"
        )
    if task == "regression" and not numeric:
        raise UserError(
            f"regression needs a numeric label, but {name} holds text ({listed}): "
            "use --task binary or --task multiclass"
        )
    if task == "multiclass" and distinct > MAX_CLASSES:
        raise UserError(
            f"the label {name} has {distinct} values, too many for classes "
            f"(at most {MAX_CLASSES}): use --task regression, or another --label"
        )
    if task == "regression":
        mean = sum(numbers[v] * n for v, n in values.items()) / (rows - empty)
        spread = math.sqrt(
            sum((numbers[v] - mean) ** 2 * n for v, n in values.items()) / (rows - empty)
        )
        return LabelGuess(
            task,
            mark + note,
            gate_metric="root_mean_squared_error",
            gate_threshold=float(f"{spread:.4g}"),
            gate_note="the label's standard deviation: what always answering the mean scores",
        )
    majority = max(values.values()) / (rows - empty)
    # Above the most common class's share: better than always answering it.
    threshold = min(MAX_ACCURACY_GATE, math.floor(majority * 100 + 1) / 100)
    gate_metric, gate_note = (
        ACCURACY_METRICS[task],
        (
            f"above {majority:.1%}, the share of the most common class: better than always "
            "answering it"
        ),
    )
    if task == "binary" and majority > IMBALANCED:
        # Accuracy says little when one class is nearly all; always answering it scores 0.5 AUC.
        gate_metric, threshold = "auc", IMBALANCED_AUC_GATE
        gate_note = (
            f"check: {majority:.1%} of rows are one class, so the gate is on AUC, where always "
            "answering it scores 0.5"
        )
    ordered = sorted(values, key=lambda v: (numbers[v] if numeric else 0, v))
    if task == "binary":
        positive, positive_note = _positive(ordered, values)
        if "rarer" in positive_note:
            mark = "check: "
        return LabelGuess(
            task,
            f"{mark}{note}; {positive_note}",
            positive=_typed(positive, integer, numeric),
            gate_metric=gate_metric,
            gate_threshold=threshold,
            gate_note=gate_note,
        )
    return LabelGuess(
        task,
        mark + note,
        classes=[_typed(v, integer, numeric) for v in ordered],
        gate_metric=gate_metric,
        gate_threshold=threshold,
        gate_note=gate_note,
    )


_POSITIVE_WORDS = ("true", "yes", "y", "positive", "pos")


def _positive(ordered: list[str], counts: dict[str, int]) -> tuple[str, str]:
    """The positive class of a two-valued label, and how it was chosen."""
    if {value.strip() for value in ordered} == {"0", "1"}:
        return next(v for v in ordered if v.strip() == "1"), "positive: 1"
    for value in ordered:
        if value.strip().lower() in _POSITIVE_WORDS:
            return value, f"positive: {value}"
    rarer = min(ordered, key=lambda v: (counts[v], v))
    return rarer, f"positive is the rarer value, {rarer}"


# -- reading the data -------------------------------------------------------------


def _label_counts(files: Iterable[str], label: str) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for path in files:
        with open(path, newline="", encoding=preflight.ENCODING) as f:
            reader = csv.reader(f)
            header = [name.strip() for name in next(reader)]
            index = header.index(label)
            for row in reader:
                if any(cell.strip() for cell in row):
                    counts[row[index].strip() if index < len(row) else ""] += 1
    return counts


def _columns(statistics, schema) -> dict[str, Column]:
    """Each column's facts, from TFDV's statistics and inferred schema."""
    dataset = statistics.datasets[0]
    rows = dataset.num_examples
    kinds = {1: "text", 2: "integer", 3: "decimal"}
    types = {feature.name: kinds.get(feature.type, "text") for feature in schema.feature}
    columns = {}
    for feature in dataset.features:
        name = ".".join(feature.path.step) or feature.name
        share = missing_share(feature, rows)
        present = rows * (1 - share)
        kind = types.get(name, "text")
        if feature.HasField("string_stats"):
            columns[name] = Column(name, kind, share, feature.string_stats.unique, present)
        elif feature.HasField("num_stats"):
            stats = feature.num_stats
            columns[name] = Column(name, kind, share, None, present, stats.min, stats.max)
    return columns


# -- writing the draft --------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_./][A-Za-z0-9_./-]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", ".inf", ".nan"}


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as ``value``: plain where safe, else double-quoted."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return scalar(value)


def _comment(note: str) -> str:
    return f"  # {' '.join(note.split())}" if note else ""


def suggest_algorithm(rows: int, used: dict[str, Guess]) -> tuple[str, str]:
    """The algorithm drafted for data of ``rows`` rows and the ``used`` features, and why."""
    transforms = [g.spec if isinstance(g.spec, str) else g.spec["transform"] for g in used.values()]
    categorical = sum(t in ("vocabulary", "identity") for t in transforms)
    shape = f"{rows:,} rows, {categorical} of {len(used)} features categorical"
    if rows * len(used) > MAX_FOREST_VALUES:
        return DEFAULT_ALGORITHM, (
            f"{shape}: a network learns from one batch at a time, where a forest would hold "
            f"all {rows * len(used):,} values of the train split in memory"
        )
    return "gradient_boosted_trees", (
        f"{shape}: boosted trees are often the strongest model on tables of this size, "
        "and split on categories and raw numbers as they are"
    )


def project_name(folder: str) -> str:
    """A pipeline name from a folder name: lowercase letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", os.path.basename(os.path.abspath(folder)).lower())
    return name.strip("-")[:63].strip("-") or "project"


def render(
    name: str,
    data: str,
    rows: int,
    files: int,
    label: str,
    label_guess: LabelGuess,
    features: dict[str, Guess],
    slices: list[str],
) -> str:
    """The text of the drafted ``kubetfx.yaml``."""
    training, network = Training(), model_settings(DEFAULT_ALGORITHM)
    used = {column: guess for column, guess in features.items() if guess.spec is not None}
    ignored = {column: guess for column, guess in features.items() if guess.spec is None}
    algorithm, reason = suggest_algorithm(rows, used)
    model = model_settings(algorithm)
    lines = [
        f"# kubetfx project drafted by `kubetfx init` from {rows} rows in {files} CSV file"
        f"{'s' if files != 1 else ''}.",
        "# Review each line marked `check`, then: kubetfx run --config <this file>",
        f"name: {scalar(name)}",
        f"data: {scalar(data)}  # CSV files; a path relative to this file",
        f"schema: {SCHEMA_FILE}  # review it too: the data of every run is validated against it",
        "",
        "label:",
        f"  column: {scalar(label)}",
        f"  task: {label_guess.task}{_comment(label_guess.note)}",
    ]
    if label_guess.positive is not None:
        lines.append(f"  positive: {scalar(label_guess.positive)}")
    if label_guess.classes is not None:
        lines.append(f"  classes: {_flow(label_guess.classes)}")
    lines += ["", "# standardize or bucketize numbers; vocabulary or identity for categories"]
    lines.append("features:")
    for column, guess in used.items():
        lines.append(f"  {scalar(column)}: {_flow(guess.spec)}{_comment(guess.note)}")
    lines.append("")
    if ignored:
        lines.append("ignore:")
        for column, guess in ignored.items():
            lines.append(f"  - {scalar(column)}{_comment(guess.note)}")
    else:
        lines.append("ignore: []")
    lines += [
        "",
        "model:",
        *(f"  # {line}" for line in textwrap.wrap(reason + ".", 86)),
        *(
            f"  # {line}"
            for line in textwrap.wrap(
                "`kubetfx run --choose-algorithm` trains "
                + ", ".join(dict.fromkeys([*DEFAULT_CANDIDATES, model.algorithm]))
                + " side by side and keeps the best on this data.",
                86,
            )
        ),
        f"  algorithm: {model.algorithm}  # or "
        + ", ".join(a for a in (*ALGORITHMS, AUTO) if a != model.algorithm),
        *(
            f"  {name}: {_flow(value)}"
            for name, value in model.model_dump().items()
            if name != "algorithm"
        ),
        "",
        "training:",
        f"  train_steps: {training.train_steps}",
        f"  eval_steps: {training.eval_steps}",
        f"  batch_size: {training.batch_size}",
        "",
        "evaluation:",
        "  slices: []"
        + (_comment(f"metrics per value of a column, e.g. {_flow(slices[:2])}") if slices else ""),
        "  gate:",
        f"    metric: {label_guess.gate_metric}",
        f"    threshold: {label_guess.gate_threshold!r}{_comment(label_guess.gate_note)}",
        "    no_worse_than_serving: true",
        "",
        "# what `kubetfx run --tune` searches, of the algorithm's own settings; a setting left",
        "# out keeps its value above",
        "tuning:",
        "  max_trials: 10",
        f"  objective: {label_guess.gate_metric}  # or loss",
        "  learning_rate: {min: 0.0003, max: 0.01, log: true}  # a network's settings",
        f"  hidden_units: {_flow([network.hidden_units, [64, 32], [128, 64, 32]])}",
        "  dropout: [0.0, 0.1, 0.2]",
        "  num_trees: [100, 300, 500]  # a forest's settings",
        "  max_depth: [4, 6, 8]",
        "  shrinkage: [0.05, 0.1, 0.2]",
        "",
        "# every run logged to MLflow (or one run: kubetfx run --track)",
        "# tracking:",
        "#   uri: http://localhost:5000  # default: sqlite:///OUTPUT_DIR/mlflow.db",
    ]
    return "\n".join(lines) + "\n"


def require_label(schema, label: str, guess: LabelGuess) -> None:
    """Makes the label required in the drafted schema, and its classes its only values.

    A row without a label cannot be learnt from or judged: the data gate stops
    such data, rather than the Trainer training on a made-up label.
    """
    feature = next(f for f in schema.feature if f.name == label)
    if not feature.HasField("shape"):  # a fixed shape already asks for one value per row
        feature.value_count.min = 1
        feature.value_count.max = 1
    feature.presence.min_fraction = 1.0
    if guess.classes and all(isinstance(c, int) for c in guess.classes):
        feature.int_domain.min = min(guess.classes)
        feature.int_domain.max = max(guess.classes)


def _few_values(guess: Guess, column: Column | None) -> bool:
    """Whether a column's values are few enough to break metrics down by."""
    if isinstance(guess.spec, dict):
        return guess.spec.get("transform") == "identity"
    return guess.spec == "vocabulary" and (column.unique or 0) <= MAX_SLICE_VALUES


@dataclasses.dataclass(frozen=True)
class Draft:
    project_path: str
    schema_path: str
    task: str
    features: int
    ignored: int
    checks: int  # lines marked for a person to check


def draft_project(
    folder: str, data_root: str, label: str, task: str | None = None, overwrite: bool = False
) -> Draft:
    """Writes ``folder/kubetfx.yaml`` and ``folder/schema.pbtxt`` drafted from ``data_root``."""
    if task is not None and task not in TASKS:
        raise UserError(f"--task must be one of {', '.join(TASKS)}, got {task}")
    project_path = os.path.join(folder, PROJECT_FILE)
    schema_path = os.path.join(folder, SCHEMA_FILE)
    existing = [p for p in (project_path, schema_path) if os.path.exists(p)]
    if existing and not overwrite:
        raise UserError(
            f"{existing[0]} already exists; pass --force to replace it, or another folder"
        )
    files = preflight.csv_files(data_root)
    header = preflight.check_data(data_root)
    if label not in header:
        raise UserError(f"{files[0]} has no column {label}; its columns are: {', '.join(header)}")
    preflight.check_writable_dir(folder, flag="DIR")
    label_guess = guess_label(label, _label_counts(files, label), task)

    import tensorflow_data_validation as tfdv

    statistics = preflight.csv_statistics(data_root)
    schema = tfdv.infer_schema(statistics)
    allow_empty_cells(schema)
    columns = _columns(statistics, schema)
    features = {
        name: guess_feature(columns[name]) if name in columns else Guess(None, "empty in every row")
        for name in header
        if name != label
    }
    slices = [name for name, guess in features.items() if _few_values(guess, columns.get(name))]
    text = render(
        project_name(folder),
        os.path.relpath(os.path.abspath(data_root), os.path.abspath(folder)),
        statistics.datasets[0].num_examples,
        len(files),
        label,
        label_guess,
        features,
        slices,
    )
    if not any(guess.spec is not None for guess in features.values()):
        raise UserError(
            f"no column of {data_root} besides {label} can be a feature (all are empty, "
            "constant or ids); there is nothing to learn from"
        )
    require_label(schema, label, label_guess)
    # Written and read back in a scratch folder first: a draft that does not load
    # as a project replaces nothing.
    scratch = tempfile.mkdtemp(prefix=".kubetfx-init-", dir=folder)
    try:
        tfdv.write_schema_text(schema, os.path.join(scratch, SCHEMA_FILE))
        with open(os.path.join(scratch, PROJECT_FILE), "w", encoding="utf-8") as f:
            f.write(text)
        load_project(scratch)
        os.replace(os.path.join(scratch, SCHEMA_FILE), schema_path)
        os.replace(os.path.join(scratch, PROJECT_FILE), project_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return Draft(
        project_path,
        schema_path,
        label_guess.task,
        sum(guess.spec is not None for guess in features.values()),
        sum(guess.spec is None for guess in features.values()),
        text.count("# check:"),
    )
