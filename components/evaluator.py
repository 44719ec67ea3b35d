"""Evaluator executor that accepts an empty baseline and loads decision forests.

``LatestPushedModel`` always emits a Model artifact so that the pipeline graph
is the same on every runner; before the first push that artifact is empty.
TFX's Evaluator would fail loading it, so this executor drops an empty
baseline and the candidate is judged by the absolute thresholds alone.

A decision forest (components/forests.py) needs its inference ops registered
in each process that loads it, and TFMA loads models in the Beam workers,
which may be processes of their own. The Evaluator is given this module as
its ``module_path``, and TFX then builds each model's loader with
``custom_eval_shared_model``: TFMA's own, behind a step that registers the ops
wherever the loader runs.
"""

import functools
from typing import Any

from absl import logging
from tfx import types
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs

from kubetfx.components.baseline import has_model

MODULE_PATH = __name__  # the Evaluator's module_path


class Executor(tfx_evaluator.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = input_dict.get(key) or []
        if baselines and not all(has_model(model) for model in baselines):
            logging.info("The baseline model is empty; evaluating without a baseline.")
            input_dict = {k: v for k, v in input_dict.items() if k != key}
        return super().Do(input_dict, output_dict, exec_properties)


def custom_eval_shared_model(eval_saved_model_path: str, **kwargs):
    """TFMA's model loader for ``eval_saved_model_path``; a forest's registers its ops first."""
    import tensorflow_model_analysis as tfma

    from kubetfx.components import forests

    shared = tfma.default_eval_shared_model(eval_saved_model_path=eval_saved_model_path, **kwargs)
    if forests.is_forest(eval_saved_model_path):
        loader = shared.model_loader
        loader.construct_fn = functools.partial(_construct_with_ops, loader.construct_fn)
    return shared


def _construct_with_ops(construct_fn):
    """Runs where TFMA loads the model (a Beam worker): the ops first, then TFMA's loading."""
    from kubetfx.components import forests

    forests.load_ops()
    return construct_fn()
