"""Code that runs inside kubetfx pipeline tasks, and kubetfx's TFX components.

Everything here is loaded by TFX executors, locally or in the container image:
the project model they are configured by, the generic tf.Transform
``preprocessing_fn`` and Trainer ``run_fn``, the evaluation config, kubetfx's
own components and executors, the Kubeflow task entrypoint and the dashboard
views.

The names in ``__all__`` are public: kubetfx's components and executors, for
use in a TFX pipeline of your own (docs/python-api.md). The modules behind them
may change between releases.
"""

import os

from kubetfx import _exports

# TFX's Keras code is written for Keras 2. TensorFlow 2.16 and later default to
# Keras 3 unless this is set before tf.keras is first used, and the Trainer
# then fails with "`inputs` not connected to `outputs`".
os.environ["TF_USE_LEGACY_KERAS"] = "1"

# Each public name and the module that defines it, imported on first use:
# importing one module of this package must not import them all.
_HOMES = {
    # Components.
    "AlgorithmChoice": "kubetfx.components.algorithm_choice",
    "DataGate": "kubetfx.components.data_gate",
    "LatestPushedModel": "kubetfx.components.baseline",
    "Predictions": "kubetfx.components.batch_predictions",
    "ReviewedSchema": "kubetfx.components.schema_import",
    "Tracker": "kubetfx.components.tracking",
    # Executors that replace TFX's own in a stock component.
    "BulkInferrerExecutor": "kubetfx.components.batch_predictions",
    "CsvExampleGenExecutor": "kubetfx.components.csv_example_gen",
    "EvaluatorExecutor": "kubetfx.components.evaluator",
    "PusherExecutor": "kubetfx.components.pusher",
    # The project model of a kubetfx.yaml, which the user functions are configured by.
    "Project": "kubetfx.components.project",
}
# Public names whose defining module calls them something else.
_ALIASES = {
    "CsvExampleGenExecutor": "Executor",
    "EvaluatorExecutor": "Executor",
    "PusherExecutor": "Executor",
}
# The user functions, as TFX takes them: module paths for Transform's
# preprocessing_fn, the Trainer's run_fn and the Tuner's tuner_fn. Each reads
# the project's settings from the component's custom_config.
PREPROCESSING_FN = "kubetfx.components.preprocessing.preprocessing_fn"
RUN_FN = "kubetfx.components.model.run_fn"
TUNER_FN = "kubetfx.components.tuning.tuner_fn"

__all__ = sorted([*_HOMES, "PREPROCESSING_FN", "RUN_FN", "TUNER_FN"])

__getattr__, __dir__ = _exports.lazy(globals(), _HOMES, _ALIASES)
