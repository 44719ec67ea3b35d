"""Evaluator executor that accepts an empty baseline.

``LatestPushedModel`` always emits a Model artifact so that the pipeline graph
is the same on every runner; before the first push that artifact is empty.
TFX's Evaluator would fail loading it, so this executor drops an empty
baseline and the candidate is judged by the absolute thresholds alone.
"""

from typing import Any

from absl import logging
from tfx import types
from tfx.components.evaluator import executor as tfx_evaluator
from tfx.types import standard_component_specs

from kubetfx.components.baseline import has_model


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
