"""What the Evaluator measures, and when a model is good enough to push.

The metrics follow the project's task (``project.TASK_METRICS``), overall and
per slice; classification adds the confusion matrices behind the ROC curve
and the confusion-matrix views, and per-class precision and recall for a
multiclass task. A candidate is blessed when the gate metric clears its
threshold on the eval split and, if the project asks and a model is already
pushed, is no worse than that baseline.
"""

import json
from typing import TYPE_CHECKING

from kubetfx.components.project import TASK_METRICS, Project, transformed_name

if TYPE_CHECKING:
    from tensorflow_model_analysis.proto import config_pb2

# The thresholds of the binary confusion matrices behind the ROC curve.
ROC_THRESHOLDS = 101  # TFMA puts them at i / 100: 0.5 among them, the accuracy gate's
# How much a candidate may trail the baseline and still count as no worse.
NO_WORSE_MARGIN = 1e-10


def make_eval_config(project: Project) -> "config_pb2.EvalConfig":
    """The TFMA config of ``project``: metrics overall and per slice, with the gate."""
    # Imported here so that reading a project does not load TensorFlow. The
    # messages come from TFMA's config module: TFMA 0.52 no longer exports them
    # all from its top-level package (BinarizationOptions among the missing).
    from tensorflow_model_analysis.proto import config_pb2

    task = project.label.task
    gate = project.evaluation.gate
    metric = project.gate_metric
    bound = {"value": gate.threshold}
    threshold = config_pb2.MetricThreshold(
        value_threshold=config_pb2.GenericValueThreshold(
            **({"lower_bound": bound} if metric.higher_is_better else {"upper_bound": bound})
        )
    )
    if gate.no_worse_than_serving:
        # Only applies when the Evaluator has a baseline model to compare with.
        threshold.change_threshold.CopyFrom(
            config_pb2.GenericChangeThreshold(
                direction=(
                    config_pb2.MetricDirection.HIGHER_IS_BETTER
                    if metric.higher_is_better
                    else config_pb2.MetricDirection.LOWER_IS_BETTER
                ),
                absolute={
                    "value": -NO_WORSE_MARGIN if metric.higher_is_better else NO_WORSE_MARGIN
                },
            )
        )
    metrics = [config_pb2.MetricConfig(class_name="ExampleCount")]
    for entry in TASK_METRICS[task]:
        metrics.append(
            config_pb2.MetricConfig(
                class_name=entry.tfma_class,
                threshold=threshold if entry.name == gate.metric else None,
            )
        )
    specs = [config_pb2.MetricsSpec(metrics=metrics)]
    if task == "binary":
        specs[0].metrics.append(
            config_pb2.MetricConfig(
                class_name="ConfusionMatrixPlot",
                config=json.dumps({"num_thresholds": ROC_THRESHOLDS}),
            )
        )
    elif task == "multiclass":
        specs[0].metrics.append(config_pb2.MetricConfig(class_name="MultiClassConfusionMatrixPlot"))
        specs.append(
            config_pb2.MetricsSpec(
                metrics=[
                    config_pb2.MetricConfig(class_name="Precision"),
                    config_pb2.MetricConfig(class_name="Recall"),
                ],
                binarize=config_pb2.BinarizationOptions(
                    class_ids={"values": list(range(len(project.label.classes or [])))}
                ),
            )
        )
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(
                signature_name="serving_default",
                label_key=transformed_name(project.label.column),
                prediction_key="outputs",
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[config_pb2.SlicingSpec()]
        + [config_pb2.SlicingSpec(feature_keys=[column]) for column in project.evaluation.slices],
        metrics_specs=specs,
    )
