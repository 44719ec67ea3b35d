"""What the Evaluator measures, and when a model is good enough to push.

A candidate is blessed when its binary accuracy reaches ``min_accuracy`` on the
eval split and, if a model is already pushed, is no worse than that baseline.
"""

from typing import TYPE_CHECKING

from kubetfx.components import features

if TYPE_CHECKING:
    import tensorflow_model_analysis as tfma

DEFAULT_MIN_ACCURACY = 0.6
# A candidate may trail the baseline by at most this much accuracy.
DEFAULT_MAX_ACCURACY_DROP = 1e-10


def make_eval_config(
    min_accuracy: float = DEFAULT_MIN_ACCURACY,
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP,
) -> "tfma.EvalConfig":
    """The TFMA config: metrics overall and per slice, with the blessing thresholds."""
    # Imported here so that reading the defaults above does not load TensorFlow.
    import tensorflow_model_analysis as tfma

    if not 0.0 <= min_accuracy <= 1.0:
        raise ValueError(f"min_accuracy must be between 0 and 1, got {min_accuracy}")
    if max_accuracy_drop < 0:
        raise ValueError(f"max_accuracy_drop must not be negative, got {max_accuracy_drop}")
    accuracy_threshold = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_accuracy}),
        # Only applies when the Evaluator has a baseline model to compare with.
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -max_accuracy_drop},
        ),
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key=features.TRANSFORMED_LABEL_KEY,
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[tfma.SlicingSpec()]
        + [tfma.SlicingSpec(feature_keys=[key]) for key in features.SLICE_FEATURE_KEYS],
        metrics_specs=[
            tfma.MetricsSpec(
                metrics=[
                    tfma.MetricConfig(class_name="ExampleCount"),
                    tfma.MetricConfig(class_name="BinaryAccuracy", threshold=accuracy_threshold),
                    tfma.MetricConfig(class_name="AUC"),
                    tfma.MetricConfig(class_name="Precision"),
                    tfma.MetricConfig(class_name="Recall"),
                ]
            )
        ],
    )
