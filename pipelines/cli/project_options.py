"""Options that replace a project's settings: for one `kubetfx run`, or in a compiled package.

Each option names the project setting it replaces; the project's own model
(components/project.py) holds the setting's type, default and bounds, and
checks the value the option gives.
"""

import os

import click

from kubetfx.components.project import (
    ALGORITHMS,
    AUTO,
    DEFAULT_CANDIDATES,
    UNTUNABLE_CHOICE,
    Auto,
    model_settings,
)
from kubetfx.pipelines.errors import UserError

# option -> the dotted project setting it replaces.
OPTION_SETTINGS = {
    "--data": "data",
    "--algorithm": "model",
    "--schema": "schema",
    "--train-steps": "training.train_steps",
    "--eval-steps": "training.eval_steps",
    "--min-accuracy": "evaluation.gate.threshold",
    "--max-trials": "tuning.max_trials",
    "--track": "tracking.uri",
}

ALGORITHM = click.option(
    "--algorithm",
    type=click.Choice([*ALGORITHMS, AUTO]),
    default=None,
    help="The model to train, with its settings from the project file when the file names "
    "this algorithm, else its defaults; auto chooses, as --choose-algorithm does.  "
    "[default: the project's model.algorithm, or the algorithm an earlier choice kept]",
)
CHOOSE_ALGORITHM = click.option(
    "--choose-algorithm",
    is_flag=True,
    help="Train candidates side by side and go on with the best on the eval split by the "
    "gate's metric; later runs train the chosen one. The candidates: the project's "
    "model.candidates, else " + ", ".join(DEFAULT_CANDIDATES) + " and the algorithm the "
    "project names, with its settings.",
)
SCHEMA = click.option(
    "--schema",
    "schema_file",
    type=click.Path(),
    default=None,
    help="Schema the data is validated against.  [default: the project's schema]",
)
TRAIN_STEPS = click.option(
    "--train-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Training steps.  [default: the project's training.train_steps]",
)
EVAL_STEPS = click.option(
    "--eval-steps",
    type=click.IntRange(min=1),
    default=None,
    help="Validation steps during training.  [default: the project's training.eval_steps]",
)
MIN_ACCURACY = click.option(
    "--min-accuracy",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Accuracy a model needs on the eval split to be pushed, for a project gated on "
    "accuracy.  [default: the project's evaluation.gate.threshold]",
)


TUNE = click.option(
    "--tune",
    is_flag=True,
    help="Search the project's tuning section (a Tuner before the Trainer), then train with "
    "the best values; later runs of the algorithm without --tune train with them too.",
)
MAX_TRIALS = click.option(
    "--max-trials",
    type=int,
    default=None,
    help="With --tune: at most this many trials.  [default: the project's tuning.max_trials]",
)


def tuning_options(command):
    """--tune and --max-trials."""
    for option in (MAX_TRIALS, TUNE):
        command = option(command)
    return command


def chosen_algorithm(algorithm: str | None, choose_algorithm: bool) -> str | None:
    """The --algorithm value that --algorithm and --choose-algorithm give together."""
    if choose_algorithm and algorithm not in (None, AUTO):
        raise UserError(
            f"--choose-algorithm chooses among candidates; --algorithm {algorithm} names one: "
            "pick one"
        )
    return AUTO if choose_algorithm else algorithm


def check_tuning(loaded, tune: bool, max_trials: int | None, algorithm: str | None = None) -> None:
    """Refuses tuning options that cannot apply, before anything else is done.

    ``algorithm`` is the --algorithm value, if one was given.
    """
    if max_trials is not None and not tune:
        raise UserError("--max-trials applies to a tuned run; add --tune")
    if not tune:
        return
    project = loaded.project
    if algorithm is not None and algorithm != project.model.algorithm:
        model = Auto(algorithm=AUTO) if algorithm == AUTO else model_settings(algorithm)
        project = project.model_copy(update={"model": model})
    if isinstance(project.model, Auto):
        raise UserError(f"--tune: {UNTUNABLE_CHOICE}")
    if project.tuning is None:
        from kubetfx.components.project import tunable_settings

        own = ", ".join(tunable_settings(project.model))
        raise UserError(
            f"--tune needs a tuning section in {loaded.path}: the settings to search "
            f"({own}) and max_trials (see README)"
        )
    if problem := project.untunable():
        raise UserError(f"--tune: {problem}")


TRACK = click.option(
    "--track",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URI]",
    help="Log the run to MLflow: its parameters, the Evaluator's metrics, the blessing and the "
    "pushed model. URI: an http(s) tracking server or sqlite:///PATH.  [default: the project's "
    "tracking.uri, else $MLFLOW_TRACKING_URI, else sqlite:///OUTPUT_DIR/mlflow.db]",
)


def with_tracking(loaded, track: str | None):
    """The project with tracking on when ``--track`` was given (``""``: without a URI)."""
    if track is None:
        return loaded
    if track:
        return with_options(loaded, {"--track": track})
    if loaded.project.tracking is None:
        return loaded.with_overrides({"tracking": {}})
    return loaded


def training_options(command):
    """--schema, --algorithm, --choose-algorithm, --train-steps, --eval-steps, --min-accuracy."""
    for option in (MIN_ACCURACY, EVAL_STEPS, TRAIN_STEPS, CHOOSE_ALGORITHM, ALGORITHM, SCHEMA):
        command = option(command)
    return command


def algorithm_settings(model, algorithm: str) -> dict:
    """The model settings ``--algorithm algorithm`` gives a project whose model is ``model``.

    The file's own settings of an algorithm stand for it, as a candidate's do.
    ``auto`` over a file that names one algorithm: the default candidates, with
    that algorithm and its settings among them.
    """
    if algorithm == model.algorithm:
        return model.model_dump()
    if isinstance(model, Auto):
        known = [c for c in model.candidates if c.algorithm == algorithm]
        return known[0].model_dump() if known else {"algorithm": algorithm}
    if algorithm != AUTO:
        return {"algorithm": algorithm}
    candidates = [
        model.model_dump() if name == model.algorithm else name for name in DEFAULT_CANDIDATES
    ]
    if model.algorithm not in DEFAULT_CANDIDATES:
        candidates.append(model.model_dump())
    return {"algorithm": AUTO, "candidates": candidates}


def with_options(loaded, given: dict[str, object]):
    """The project with the settings the options in ``given`` (option: value) replace.

    A value outside the setting's bounds fails with the option named.
    """
    changes = {}
    for option, value in given.items():
        if value is None:
            continue
        if option in ("--data", "--schema"):
            value = os.path.abspath(str(value))
        if option == "--algorithm":
            value = algorithm_settings(loaded.project.model, value)
        if option == "--min-accuracy":
            from kubetfx.components.project import ACCURACY_METRICS

            gate = loaded.project.evaluation.gate.metric
            if gate != ACCURACY_METRICS.get(loaded.project.label.task):
                raise UserError(
                    f"--min-accuracy sets an accuracy gate, but this project gates on {gate}; "
                    f"set evaluation.gate.threshold in {loaded.path}"
                )
        changes[OPTION_SETTINGS[option]] = value
    if not changes:
        return loaded
    options = {setting: option for option, setting in OPTION_SETTINGS.items() if setting in changes}
    return loaded.with_overrides(changes, options)
