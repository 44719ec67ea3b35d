"""The Tuner's ``tuner_fn``: a search over the project's ``tuning`` section.

Each trial builds the generic Keras model (components/model.py) with the
trial's learning rate, hidden layer sizes and dropout, trains it for the
trial's steps on the train split, and is scored on the eval split by the
project's objective (the loss, or a metric of the task). KerasTuner's random
search picks the trials; TFX's Tuner writes the best values, which the
Trainer then trains with (``run_fn`` reads them as ``fn_args.hyperparameters``).

Why a ``BaseTuner`` subclass: keras-tuner 1.4 (the lock's) imports Keras 3,
and its ``Tuner`` refuses a ``tf_keras`` model in a type check
(keras-team/keras-tuner#1039). ``BaseTuner`` only asks ``run_trial`` for the
trial's score, so the model is built and trained here with ``tf_keras``, and
the lock keeps its pins (keras-tuner 1.3.5, which used ``tf.keras``, would move
them).
"""

import os
from typing import Any

import keras_tuner
import tensorflow as tf
from keras_tuner.engine import base_tuner
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from kubetfx.components import model as model_lib
from kubetfx.components.model import (
    DROPOUT,
    HIDDEN_UNITS,
    LEARNING_RATE,
    TRAIN_STEPS,
    hidden_units_text,
    with_hyperparameters,
)
from kubetfx.components.networks import build_keras_model
from kubetfx.components.project import (
    TASK_METRICS,
    Preparation,
    Range,
    Tuning,
    model_settings,
)


def search_space(tuning: Tuning) -> keras_tuner.HyperParameters:
    """The hyperparameters of the searched settings."""
    space = keras_tuner.HyperParameters()
    for name in (LEARNING_RATE, DROPOUT):
        value = getattr(tuning, name)
        if isinstance(value, Range):
            space.Float(name, value.min, value.max, sampling="log" if value.log else "linear")
        elif value is not None:
            space.Choice(name, sorted(set(value)))
    if tuning.train_steps is not None:
        space.Choice(TRAIN_STEPS, sorted(set(tuning.train_steps)))
    if tuning.hidden_units is not None:
        choices = list(dict.fromkeys(hidden_units_text(u) for u in tuning.hidden_units))
        space.Choice(HIDDEN_UNITS, choices)
    return space


def objective(tuning: Tuning, task: str) -> keras_tuner.Objective:
    """The eval-split measure the trials are ranked by, named as Keras logs it."""
    if tuning.objective == "loss":
        return keras_tuner.Objective("val_loss", direction="min")
    metric = next(m for m in TASK_METRICS[task] if m.name == tuning.objective)
    return keras_tuner.Objective(
        f"val_{metric.name}", direction="max" if metric.higher_is_better else "min"
    )


class ProjectTuner(base_tuner.BaseTuner):
    """Builds, trains and scores the project's model for each trial, with ``tf_keras``."""

    def __init__(self, oracle, build, train, validation, eval_steps: int, **kwargs):
        super().__init__(oracle=oracle, **kwargs)
        self._build, self._train, self._validation = build, train, validation
        self._eval_steps = eval_steps

    def run_trial(self, trial, *fit_args, **fit_kwargs) -> dict[str, float]:
        model, steps = self._build(trial.hyperparameters.values)
        model.fit(self._train, steps_per_epoch=steps, epochs=1, verbose=0)
        scores = model.evaluate(
            self._validation, steps=self._eval_steps, return_dict=True, verbose=0
        )
        # Keras logs the eval split's measures with a val_ prefix in training.
        return {f"val_{name}": float(value) for name, value in scores.items()}

    def save_model(self, trial_id, model, step=0) -> None:
        """Trial models are not kept: the Trainer trains the best values afresh."""

    def load_model(self, trial):
        raise NotImplementedError("trial models are not kept")


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
    """The search, for TFX's Tuner; ``fn_args.custom_config`` as the Trainer's, plus ``tuning``."""
    model_lib.require_keras_2()
    config = fn_args.custom_config or {}
    preparation = Preparation.model_validate(config["preparation"])
    settings = model_settings(config.get("model"))
    tuning = Tuning.model_validate(config["tuning"])
    batch_size = int(config.get("batch_size", model_lib.DEFAULT_BATCH_SIZE))
    import tensorflow_transform as tft

    transform = tft.TFTransformOutput(fn_args.transform_graph_path)
    label = preparation.label.column
    train = model_lib.input_fn(
        fn_args.train_files, fn_args.data_accessor, transform, batch_size, label
    )
    validation = model_lib.input_fn(
        fn_args.eval_files, fn_args.data_accessor, transform, batch_size, label
    )
    sizes = model_lib.category_sizes(preparation, transform)
    scale = model_lib.label_scale(train) if preparation.label.task == "regression" else (0.0, 1.0)

    def build(values: dict[str, Any]) -> tuple[tf.keras.Model, int]:
        trial_settings, steps = with_hyperparameters(values, settings, fn_args.train_steps)
        return build_keras_model(preparation, trial_settings, sizes, scale), steps

    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=objective(tuning, preparation.label.task),
        max_trials=tuning.max_trials,
        hyperparameters=search_space(tuning),
        seed=int(config.get("seed", 0)),
    )
    tuner = ProjectTuner(
        oracle,
        build,
        train,
        validation,
        fn_args.eval_steps,
        directory=os.path.join(fn_args.working_dir, "trials"),
        project_name="kubetfx",
    )
    return TunerFnResult(tuner=tuner, fit_kwargs={})
