"""The checks the KFP v2 dashboard makes before it draws a system.ClassificationMetrics artifact.

As in kubeflow/pipelines ``frontend/src/components/viewers/MetricsVisualizations.tsx``:
the artifact needs a ``display_name``; the backend stores lists and structs
wrapped (``{"list": ...}``, ``{"struct": ...}``), and the page reads
``confidenceMetrics.list`` (threshold, false positive rate and recall, each a
number) and ``confusionMatrix.struct`` (as many rows as class names, each as
long). Anything else shows an error banner instead of the picture.
"""

import numbers


def classification_pictures(metadata: dict) -> tuple[list[dict], dict | None]:
    """The ROC points and the confusion matrix the dashboard would draw; fails where it would."""
    assert metadata.get("display_name"), "the dashboard skips an artifact without display_name"
    curve = []
    if "confidenceMetrics" in metadata:
        curve = metadata["confidenceMetrics"]["list"]
        for point in curve:
            assert set(point) >= {"confidenceThreshold", "falsePositiveRate", "recall"}, point
            assert all(isinstance(v, numbers.Number) for v in point.values()), point
    matrix = None
    if "confusionMatrix" in metadata:
        matrix = metadata["confusionMatrix"]["struct"]
        names = [spec["displayName"] for spec in matrix["annotationSpecs"]]
        assert all(isinstance(name, str) for name in names)
        assert len(matrix["rows"]) == len(names)
        for row in matrix["rows"]:
            assert len(row["row"]) == len(names)
            assert all(isinstance(v, numbers.Number) for v in row["row"])
    assert curve or matrix, "neither a ROC curve nor a confusion matrix"
    return curve, matrix
