"""The Tuner's ``tuner_fn``: a search over the project's ``tuning`` section.

The search varies the settings of the section that the project's algorithm
has (``Tuning.searched_for``). Each trial trains the algorithm with the
trial's values on the train split and is scored on the eval split by the
project's objective (the loss, or a metric of the task):
- a network (components/networks.py) for the trial's steps, scored by Keras;
- a forest (components/forests.py) by YDF on the whole train split, scored
  with the same Keras losses and metrics on its outputs.
KerasTuner's random search picks the trials; TFX's Tuner writes the best
values, which the Trainer then trains with (``run_fn`` reads them as
``fn_args.hyperparameters``).

Why ``BaseTuner`` subclasses: keras-tuner 1.4 (the lock's) imports Keras 3,
and its ``Tuner`` refuses a ``tf_keras`` model in a type check
(keras-team/keras-tuner#1039). ``BaseTuner`` only asks ``run_trial`` for the
trial's score, so the models are built and trained here with ``tf_keras``,
and the lock keeps its pins (keras-tuner 1.3.5, which used ``tf.keras``, would
move them).
"""

import os
import tempfile
from typing import Any

import keras_tuner
import tensorflow as tf
from keras_tuner.engine import base_tuner
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from kubetfx.components import model as model_lib
from kubetfx.components.model import (
    HIDDEN_UNITS,
    hidden_units_text,
    with_hyperparameters,
)
from kubetfx.components.model_inputs import model_inputs
from kubetfx.components.networks import build_keras_model
from kubetfx.components.project import (
    TASK_METRICS,
    Algorithm,
    Forest,
    Preparation,
    Range,
    Tuning,
    model_settings,
)


def search_space(tuning: Tuning, settings: Algorithm) -> keras_tuner.HyperParameters:
    """The hyperparameters of the searched settings that ``settings``' algorithm has."""
    space = keras_tuner.HyperParameters()
    for name in tuning.searched_for(settings):
        value = getattr(tuning, name)
        if isinstance(value, Range):
            space.Float(name, value.min, value.max, sampling="log" if value.log else "linear")
        elif name == HIDDEN_UNITS:
            space.Choice(name, list(dict.fromkeys(hidden_units_text(u) for u in value)))
        else:
            space.Choice(name, sorted(set(value)))
    return space


def objective(tuning: Tuning, task: str) -> keras_tuner.Objective:
    """The eval-split measure the trials are ranked by, named as Keras logs it."""
    if tuning.objective == "loss":
        return keras_tuner.Objective("val_loss", direction="min")
    metric = next(m for m in TASK_METRICS[task] if m.name == tuning.objective)
    return keras_tuner.Objective(
        f"val_{metric.name}", direction="max" if metric.higher_is_better else "min"
    )


class _TrialsNotKept(base_tuner.BaseTuner):
    def save_model(self, trial_id, model, step=0) -> None:
        """Trial models are not kept: the Trainer trains the best values afresh."""

    def load_model(self, trial):
        raise NotImplementedError("trial models are not kept")


class ProjectTuner(_TrialsNotKept):
    """Builds, trains and scores the project's network for each trial, with ``tf_keras``."""

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


class ForestTuner(_TrialsNotKept):
    """Trains the project's forest for each trial with YDF and scores it on the eval split.

    ``train(values, scratch)`` gives the trial's forest; ``validation`` is the
    eval split as ``forests.read_split`` gives it.
    """

    def __init__(self, oracle, train, validation, task: str, **kwargs):
        super().__init__(oracle=oracle, **kwargs)
        self._train, self._validation, self._task = train, validation, task

    def run_trial(self, trial, *fit_args, **fit_kwargs) -> dict[str, float]:
        features, labels = self._validation
        with tempfile.TemporaryDirectory() as scratch:
            forest = self._train(trial.hyperparameters.values, scratch)
            return forest_scores(forest(features).numpy(), labels, self._task)


def forest_scores(outputs, labels, task: str) -> dict[str, float]:
    """A forest's eval-split measures as Keras logs a network's: ``val_loss`` and the metrics."""
    import numpy as np

    losses = {
        "binary": tf.keras.losses.BinaryCrossentropy(),
        "multiclass": tf.keras.losses.SparseCategoricalCrossentropy(),
        "regression": tf.keras.losses.MeanSquaredError(),
    }
    target = np.reshape(labels, [-1, 1]).astype(np.float32)
    scores = {"val_loss": float(losses[task](target, outputs))}
    for metric in TASK_METRICS[task]:
        measure = getattr(tf.keras.metrics, metric.tfma_class)()
        measure.update_state(target, outputs)
        scores[f"val_{metric.name}"] = float(measure.result())
    return scores


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
    task = preparation.label.task
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=objective(tuning, task),
        max_trials=tuning.max_trials,
        hyperparameters=search_space(tuning, settings),
        seed=int(config.get("seed", 0)),
    )
    where = {"directory": os.path.join(fn_args.working_dir, "trials"), "project_name": "kubetfx"}

    def split(files: list[str], size: int, repeat: bool = True) -> tf.data.Dataset:
        return model_lib.input_fn(files, fn_args.data_accessor, transform, size, label, repeat)

    if isinstance(settings, Forest):
        from kubetfx.components import forests

        train_split = split(fn_args.train_files, forests.READ_BATCH, repeat=False)
        validation = forests.read_split(
            split(fn_args.eval_files, forests.READ_BATCH, repeat=False),
            model_inputs(preparation, settings),
        )

        def train_forest(values: dict[str, Any], scratch: str):
            trial_settings, _ = with_hyperparameters(values, settings, fn_args.train_steps)
            return forests.train(preparation, trial_settings, train_split, scratch)

        tuner = ForestTuner(oracle, train_forest, validation, task, **where)
        return TunerFnResult(tuner=tuner, fit_kwargs={})

    train = split(fn_args.train_files, batch_size)
    validation = split(fn_args.eval_files, batch_size)
    sizes = model_lib.category_sizes(preparation, transform)
    scale = model_lib.label_scale(train) if task == "regression" else (0.0, 1.0)

    def build(values: dict[str, Any]) -> tuple[tf.keras.Model, int]:
        trial_settings, steps = with_hyperparameters(values, settings, fn_args.train_steps)
        return build_keras_model(preparation, trial_settings, sizes, scale), steps

    tuner = ProjectTuner(oracle, build, train, validation, fn_args.eval_steps, **where)
    return TunerFnResult(tuner=tuner, fit_kwargs={})
