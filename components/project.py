"""A project: everything that differs between datasets, as a typed model.

A project names its data, the label and the task, how each column becomes a
model input, the model's size, how long it trains, and the gate a model must
pass to be pushed. ``kubetfx.pipelines.project`` reads it from a
``kubetfx.yaml`` file; the Transform and Trainer tasks get the parts they need
through ``custom_config`` and read them back with the classes here, so each
setting's name, type, default and bounds are written down once.

Errors that involve more than one setting are raised as ``ProjectError`` with
the path of the setting at fault, so that the file's reader can name its line.
"""

import hashlib
import re
from typing import Annotated, Any, Literal, NamedTuple, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

TASKS = ("binary", "multiclass", "regression")
Task = Literal["binary", "multiclass", "regression"]


class Metric(NamedTuple):
    """A metric the Evaluator computes for a task: its name in TFMA's output."""

    name: str
    tfma_class: str  # TFMA's metric, or a Keras metric TFMA wraps
    higher_is_better: bool
    bounded: bool  # a share between 0 and 1


# The metrics each task is evaluated with; any of them can gate the push.
TASK_METRICS: dict[str, tuple[Metric, ...]] = {
    "binary": (
        Metric("binary_accuracy", "BinaryAccuracy", True, True),
        Metric("auc", "AUC", True, True),
        Metric("precision", "Precision", True, True),
        Metric("recall", "Recall", True, True),
    ),
    "multiclass": (Metric("sparse_categorical_accuracy", "SparseCategoricalAccuracy", True, True),),
    "regression": (
        Metric("root_mean_squared_error", "RootMeanSquaredError", False, False),
        Metric("mean_absolute_error", "MeanAbsoluteError", False, False),
        Metric("mean_squared_error", "MeanSquaredError", False, False),
    ),
}
# The metric that gates a task's model unless the project names another.
ACCURACY_METRICS = {"binary": "binary_accuracy", "multiclass": "sparse_categorical_accuracy"}


class ProjectError(Exception):
    """A setting that contradicts another; ``loc`` is the path of the one at fault."""

    def __init__(self, loc: tuple[str | int, ...], message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- the label ----------------------------------------------------------------


class Threshold(_Settings):
    """A binary label from a number: positive where ``label > greater_than (× times)``."""

    greater_than: float
    times: str | None = Field(None, min_length=1)  # another column the bound is scaled by

    def describe(self, column: str) -> str:
        scale = f" × {self.times}" if self.times else ""
        return f"{column} > {self.greater_than:g}{scale}"


LabelValue = StrictStr | StrictInt | StrictFloat


class Label(_Settings):
    column: str = Field(min_length=1)
    task: Task
    # binary: the value of the positive class, or a threshold on a numeric label.
    positive: LabelValue | Threshold | None = None
    # multiclass: every class, in the order of the model's outputs.
    classes: list[StrictStr | StrictInt] | None = Field(None, min_length=2, max_length=1000)

    @model_validator(mode="after")
    def _fits_the_task(self) -> "Label":
        if self.task == "binary" and self.positive is None:
            raise ProjectError(
                ("label", "task"),
                "a binary task needs label.positive: the value of the positive class "
                '(e.g. 1 or "yes"), or {greater_than: X} for a numeric label',
            )
        if self.task == "multiclass" and self.classes is None:
            raise ProjectError(
                ("label", "task"), "a multiclass task needs label.classes: the list of classes"
            )
        if self.task != "binary" and self.positive is not None:
            raise ProjectError(
                ("label", "positive"), f"only a binary task has a positive class, not {self.task}"
            )
        if self.task != "multiclass" and self.classes is not None:
            raise ProjectError(
                ("label", "classes"), f"only a multiclass task lists classes, not {self.task}"
            )
        if self.classes is not None:
            seen = [str(c) for c in self.classes]
            repeated = sorted({c for c in seen if seen.count(c) > 1})
            if repeated:
                raise ProjectError(("label", "classes"), f"classes repeat: {', '.join(repeated)}")
        return self

    def class_names(self) -> list[str]:
        """Names of the classes in the order of the model's outputs; [] for regression."""
        if self.task == "multiclass":
            return [str(c) for c in self.classes or []]
        if self.task == "binary":
            if isinstance(self.positive, Threshold):
                positive = self.positive.describe(self.column)
            else:
                positive = f"{self.column} = {self.positive}"
            return [f"not ({positive})", positive]
        return []

    def columns(self) -> list[str]:
        """The raw columns the label is computed from."""
        extra = self.positive.times if isinstance(self.positive, Threshold) else None
        return [self.column] + ([extra] if extra else [])


# -- features -----------------------------------------------------------------


class Standardize(_Settings):
    """A number scaled to zero mean and unit variance; a missing value becomes the mean."""

    transform: Literal["standardize"]


class Bucketize(_Settings):
    """A number cut into ``buckets`` ranges of about equal counts (quantiles)."""

    transform: Literal["bucketize"]
    buckets: int = Field(10, ge=2, le=1000)


class Vocabulary(_Settings):
    """Text or integer codes: the ``top_k`` most frequent values, the rest hashed."""

    transform: Literal["vocabulary"]
    top_k: int = Field(1000, ge=1, le=100_000)
    oov_buckets: int = Field(10, ge=1, le=1000)


class Identity(_Settings):
    """Integer codes from 0 to ``size - 1`` used as they are; others share one extra code."""

    transform: Literal["identity"]
    size: int = Field(ge=2, le=100_000)


def _shorthand(value: Any) -> Any:
    """``fare: standardize`` is ``fare: {transform: standardize}``."""
    return {"transform": value} if isinstance(value, str) else value


Feature = Annotated[
    Standardize | Bucketize | Vocabulary | Identity,
    Field(discriminator="transform"),
    BeforeValidator(_shorthand),
]
NUMERIC_TRANSFORMS = ("standardize", "bucketize")


class Preparation(_Settings):
    """What Transform and Trainer need: the label, and how each feature is prepared."""

    label: Label
    features: dict[str, Feature] = Field(min_length=1)

    @model_validator(mode="after")
    def _label_is_not_a_feature(self) -> "Preparation":
        if self.label.column in self.features:
            raise ProjectError(
                ("features", self.label.column),
                f"{self.label.column} is the label; remove it from features",
            )
        return self


def transformed_name(column: str) -> str:
    """The model input made from raw column ``column``: a valid TensorFlow name.

    Column names that are not already one (spaces, punctuation, non-ASCII) are
    reduced to one and given a digest of the original, so names stay unique.
    """
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", column):
        return f"{column}_xf"
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", column).strip("_")
    slug = slug if slug[:1].isalpha() else f"f_{slug}"
    return f"{slug}_{hashlib.sha256(column.encode()).hexdigest()[:8]}_xf"


def label_weight_name(column: str) -> str:
    """The transformed feature that weighs each row's label: 0 for none to learn from."""
    return transformed_name(column).removesuffix("_xf") + "_weight_xf"


# -- training and evaluation ----------------------------------------------------


HiddenUnits = Annotated[
    list[Annotated[int, Field(ge=1, le=65_536)]], Field(min_length=1, max_length=16)
]
LearningRate = Annotated[float, Field(gt=0.0, le=1.0)]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0)]
TrainSteps = Annotated[int, Field(ge=1, le=10_000_000)]


# -- the model: an algorithm and its own settings ---------------------------------


class Network(_Settings):
    """A Keras model, trained for ``training.train_steps`` batches."""


class Forest(_Settings):
    """A decision forest, trained by YDF on the whole train split."""


class Linear(Network):
    """One weighted sum of the standardized numbers and the one-hot categories."""

    algorithm: Literal["linear"]
    learning_rate: LearningRate = 0.001


class Dnn(Network):
    """Dense layers over the standardized numbers and the one-hot categories."""

    algorithm: Literal["dnn"]
    hidden_units: HiddenUnits = [100, 70, 50, 25]
    learning_rate: LearningRate = 0.001
    dropout: Dropout = 0.0  # the share of each hidden layer's outputs dropped in training


class WideAndDeep(Network):
    """Dense layers over the standardized numbers, beside a linear part over the categories."""

    algorithm: Literal["wide_and_deep"]
    hidden_units: HiddenUnits = [100, 70, 50, 25]
    learning_rate: LearningRate = 0.001
    dropout: Dropout = 0.0


NumTrees = Annotated[int, Field(ge=1, le=10_000)]
MaxDepth = Annotated[int, Field(ge=2, le=64)]  # YDF counts the root: 2 is one split
MinExamples = Annotated[int, Field(ge=1, le=1_000_000)]  # the fewest training rows in a leaf
Shrinkage = Annotated[float, Field(gt=0.0, le=1.0)]  # each new tree's weight


class GradientBoostedTrees(Forest):
    """Trees grown one after another, each fitting what the ones before it got wrong."""

    algorithm: Literal["gradient_boosted_trees"]
    num_trees: NumTrees = 300
    max_depth: MaxDepth = 6
    shrinkage: Shrinkage = 0.1
    min_examples: MinExamples = 5


class RandomForest(Forest):
    """Deep trees grown apart on samples of the rows, their answers averaged."""

    algorithm: Literal["random_forest"]
    num_trees: NumTrees = 300
    max_depth: MaxDepth = 16
    min_examples: MinExamples = 5


def _algorithm_shorthand(value: Any) -> Any:
    """``model: linear`` is ``model: {algorithm: linear}``; no algorithm is the default's."""
    if isinstance(value, str):
        return {"algorithm": value}
    if isinstance(value, dict) and "algorithm" not in value:
        return {"algorithm": DEFAULT_ALGORITHM, **value}
    return value


Algorithm = Linear | Dnn | WideAndDeep | GradientBoostedTrees | RandomForest
# Each algorithm's settings by its name in the file.
ALGORITHMS: dict[str, type[Algorithm]] = {
    get_args(cls.model_fields["algorithm"].annotation)[0]: cls for cls in get_args(Algorithm)
}
NETWORK_ALGORITHMS = tuple(name for name, cls in ALGORITHMS.items() if issubclass(cls, Network))
FOREST_ALGORITHMS = tuple(name for name, cls in ALGORITHMS.items() if issubclass(cls, Forest))
DEFAULT_ALGORITHM = "wide_and_deep"  # what a project file without ``model.algorithm`` trains
AlgorithmSettings = Annotated[
    Algorithm, Field(discriminator="algorithm"), BeforeValidator(_algorithm_shorthand)
]
_MODEL_SETTINGS = TypeAdapter(AlgorithmSettings)


def model_settings(value: Any = None) -> Algorithm:
    """A model's settings from their mapping (as ``custom_config["model"]`` holds them)."""
    return _MODEL_SETTINGS.validate_python({} if value is None else value)


# ``algorithm: auto``: the choice stage, and the candidates it trains unless the file lists its own.
AUTO = "auto"
DEFAULT_CANDIDATES = ("linear", "wide_and_deep", "gradient_boosted_trees")


class Auto(_Settings):
    """Candidates trained side by side; the best on the eval split by the gate's metric goes on.

    Each candidate is an algorithm's name, or its settings as ``model`` takes them.
    """

    algorithm: Literal["auto"]
    candidates: list[AlgorithmSettings] = Field(
        default_factory=lambda: [model_settings(a) for a in DEFAULT_CANDIDATES],
        min_length=2,
        max_length=len(ALGORITHMS),
    )

    @field_validator("candidates")
    @classmethod
    def _each_algorithm_once(cls, candidates: list[Algorithm]) -> list[Algorithm]:
        names = [c.algorithm for c in candidates]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"each algorithm can be a candidate once; {twice[0]} is listed twice")
        return candidates

    def candidate(self, algorithm: str) -> Algorithm:
        """The settings of the candidate ``algorithm``."""
        return next(c for c in self.candidates if c.algorithm == algorithm)


UNTUNABLE_CHOICE = (
    "a search tunes one algorithm, and this run chooses among candidates: choose first "
    "(run --choose-algorithm), then tune the chosen one (run --tune)"
)
ModelSettings = Annotated[
    Algorithm | Auto, Field(discriminator="algorithm"), BeforeValidator(_algorithm_shorthand)
]


class Training(_Settings):
    train_steps: TrainSteps = 1000
    eval_steps: int = Field(100, ge=1, le=1_000_000)
    batch_size: int = Field(64, ge=1, le=65_536)


class Range(_Settings):
    """Values from ``min`` to ``max``, sampled evenly, or evenly in their logarithm."""

    min: float
    max: float
    log: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "Range":
        # ValueError: pydantic names the range's place in the file.
        if not self.min < self.max:
            raise ValueError(f"max ({self.max}) must be above min ({self.min})")
        if self.log and self.min <= 0:
            raise ValueError("a log range needs a min above 0")
        return self


class Tuning(_Settings):
    """The search ``kubetfx run --tune`` runs: each setting a list of values or a range.

    A setting left out is not searched: the model's or training's own value holds.
    """

    max_trials: int = Field(10, ge=1, le=1000)
    # The eval-split measure the trials are ranked by: "loss", or a metric of the task.
    objective: str = "loss"
    # the networks'
    learning_rate: Range | list[LearningRate] | None = None
    train_steps: list[TrainSteps] | None = Field(None, min_length=1)
    hidden_units: list[HiddenUnits] | None = Field(None, min_length=1)
    dropout: Range | list[Dropout] | None = None
    # the forests'
    num_trees: list[NumTrees] | None = Field(None, min_length=1)
    max_depth: list[MaxDepth] | None = Field(None, min_length=1)
    min_examples: list[MinExamples] | None = Field(None, min_length=1)
    shrinkage: Range | list[Shrinkage] | None = None

    @model_validator(mode="after")
    def _within_bounds(self) -> "Tuning":
        for name, within in (
            ("learning_rate", "above 0 and at most 1"),
            ("dropout", "from 0 up to, not including, 1"),
            ("shrinkage", "above 0 and at most 1"),
        ):
            value = getattr(self, name)
            if isinstance(value, list) and not value:
                raise ValueError(f"{name} needs at least one value")
            if isinstance(value, Range):
                low_ok = value.min >= 0 if name == "dropout" else value.min > 0
                high_ok = value.max < 1 if name == "dropout" else value.max <= 1
                if not (low_ok and high_ok):
                    raise ValueError(f"{name} must lie {within}")
        if not self.searched:
            raise ValueError(
                "name at least one setting to search: " + ", ".join(TUNABLE[:-1]) + " or "
                f"{TUNABLE[-1]}"
            )
        return self

    @property
    def searched(self) -> list[str]:
        """The settings the search varies."""
        return [n for n in TUNABLE if getattr(self, n) is not None]

    def searched_for(self, settings: "Algorithm") -> list[str]:
        """The searched settings that ``settings``' algorithm has; the search varies these."""
        own = tunable_settings(settings)
        return [n for n in self.searched if n in own]


TUNABLE = (
    "learning_rate",
    "train_steps",
    "hidden_units",
    "dropout",
    "num_trees",
    "max_depth",
    "min_examples",
    "shrinkage",
)


def tunable_settings(settings: Algorithm) -> list[str]:
    """What a search can vary for ``settings``' algorithm: its own, and a network's train steps."""
    own = set(type(settings).model_fields)
    return [
        n for n in TUNABLE if n in own or (n == "train_steps" and isinstance(settings, Network))
    ]


# Where MLflow keeps runs: a tracking server, or a database. MLflow's plain
# file store is deprecated and refuses to start by default in current releases.
_TRACKING_URI = (
    r"^(?:https?://\S+|(?:sqlite|postgresql|mysql|mssql)(?:\+\w+)?://\S*|databricks\S*)$"
)


def tracking_uri_problem(uri: str) -> str | None:
    """Why MLflow cannot track to ``uri``, or None."""
    if re.match(_TRACKING_URI, uri):
        return None
    if uri.startswith("file:") or "://" not in uri:
        return (
            f"{uri} is a folder: MLflow's file store is deprecated; give sqlite:///PATH/mlflow.db "
            "or an http(s):// tracking server"
        )
    return f"{uri} is not an MLflow tracking URI: give http(s)://HOST:PORT or sqlite:///PATH"


class Tracking(_Settings):
    """Where ``kubetfx run`` logs each run in MLflow; the section's presence turns it on."""

    # Default: $MLFLOW_TRACKING_URI, else sqlite:///OUTPUT/mlflow.db.
    uri: str | None = Field(None, min_length=1)
    experiment: str | None = Field(None, min_length=1, max_length=500)  # default: the project name

    @field_validator("uri")
    @classmethod
    def _known_store(cls, uri: str | None) -> str | None:
        if uri and (problem := tracking_uri_problem(uri)):
            raise ValueError(problem)
        return uri


class Gate(_Settings):
    """The bar a model must clear to be pushed."""

    metric: str
    # at least this for a metric where higher is better, at most for an error
    threshold: float
    no_worse_than_serving: bool = True


class Evaluation(_Settings):
    slices: list[str] = []  # raw columns to break the metrics down by
    gate: Gate


_FUNCTION_PATH = r"(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*|[^:]+\.py:[A-Za-z_]\w*"
_FUNCTION_WORDS = "a function: package.module.function, or file.py:function"


class Code(_Settings):
    """The user's own functions: ``package.module.function``, or ``file.py:function``."""

    preprocessing_fn: str | None = Field(
        None, pattern=f"^(?:{_FUNCTION_PATH})$", description=_FUNCTION_WORDS
    )
    run_fn: str | None = Field(None, pattern=f"^(?:{_FUNCTION_PATH})$", description=_FUNCTION_WORDS)


_PIPELINE_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


class Project(Preparation):
    """A whole project file."""

    # The pipeline's name in ML Metadata and Kubeflow Pipelines.
    name: str = Field(
        pattern=_PIPELINE_NAME,
        description="a pipeline name: lowercase letters, digits and dashes, at most 63",
    )
    data: str = Field(min_length=1)  # a folder of CSV files, or package://<package>/<path>
    schema_file: str = Field(alias="schema", min_length=1)
    ignore: list[str] = []
    model: ModelSettings = Field(default_factory=model_settings)
    training: Training = Training()
    evaluation: Evaluation
    code: Code = Code()
    tuning: Tuning | None = None
    tracking: Tracking | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> "Project":
        for index, column in enumerate(self.ignore):
            if column in self.features or column == self.label.column:
                role = "the label" if column == self.label.column else "a feature"
                raise ProjectError(("ignore", index), f"{column} is {role}; it cannot be ignored")
        task = self.label.task
        metrics = {m.name: m for m in TASK_METRICS[task]}
        gate = self.evaluation.gate
        if gate.metric not in metrics:
            raise ProjectError(
                ("evaluation", "gate", "metric"),
                f"{gate.metric} is not a metric of a {task} task; use one of " + ", ".join(metrics),
            )
        if metrics[gate.metric].bounded and not 0.0 <= gate.threshold <= 1.0:
            raise ProjectError(
                ("evaluation", "gate", "threshold"),
                f"{gate.metric} lies between 0 and 1, so must its threshold (got {gate.threshold})",
            )
        if self.tuning and self.tuning.objective not in ("loss", *metrics):
            raise ProjectError(
                ("tuning", "objective"),
                f"{self.tuning.objective} is not a measure of a {task} task; use loss or one of "
                + ", ".join(metrics),
            )
        if isinstance(self.model, Auto) and self.code.run_fn:
            raise ProjectError(
                ("model", "algorithm"),
                "auto trains its candidates with kubetfx's run_fn, which scores each one; this "
                "project names its own code.run_fn: name one algorithm, or remove code.run_fn",
            )
        if not metrics[gate.metric].bounded and gate.threshold < 0:
            raise ProjectError(
                ("evaluation", "gate", "threshold"),
                f"{gate.metric} is never negative; the threshold is {gate.threshold}",
            )
        return self

    def untunable(self) -> str | None:
        """Why the tuning section has nothing to search for this project's algorithm, or None."""
        if isinstance(self.model, Auto):
            return UNTUNABLE_CHOICE
        if self.tuning is None or self.tuning.searched_for(self.model):
            return None
        return (
            f"the tuning section searches none of {self.model.algorithm}'s settings; add some of: "
            + ", ".join(tunable_settings(self.model))
        )

    @property
    def gate_metric(self) -> Metric:
        return next(
            m for m in TASK_METRICS[self.label.task] if m.name == self.evaluation.gate.metric
        )

    def preparation(self) -> Preparation:
        return Preparation(label=self.label, features=self.features)

    def columns(self) -> list[str]:
        """Every raw column the pipeline reads: label, features, slices."""
        wanted = self.label.columns() + list(self.features) + self.evaluation.slices
        return list(dict.fromkeys(wanted))
