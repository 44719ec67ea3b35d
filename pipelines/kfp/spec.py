"""What the compiled spec contains, shared by the compiler and the emulator."""

from kubetfx.components.kfp_contract import OVERRIDE_PREFIX, PACKAGE_SCHEME  # noqa: F401
from kubetfx.components.project import Project

# Pipeline parameters users set per run, with the task inputs they feed.
# Each binding is (task, input parameter of that task).
PARAMETER_BINDINGS = {
    "data_root": [("CsvExampleGen", "input_base")],
    "train_steps": [("Trainer", "override__train_args__num_steps")],
    "serving_dir": [
        ("LatestPushedModel", "serving_dir"),
        ("Pusher", "override__push_destination__filesystem__base_directory"),
    ],
}

# Extra outputs that the KFP dashboard renders, added to TFX tasks by the
# compiler and written by the entrypoint: task -> {output name: schema title}.
VISUALIZATION_OUTPUTS = {
    "StatisticsGen": {"statistics_view": "system.HTML"},
    "ExampleValidator": {"anomalies_view": "system.Markdown"},
    "Evaluator": {"evaluation_view": "system.Markdown", "metrics": "system.Metrics"},
}
# The ROC curve and confusion matrix, which the dashboard draws, of a classifier.
CLASSIFICATION_OUTPUT = {"classification_metrics": "system.ClassificationMetrics"}


def visualization_outputs(project: Project) -> dict[str, dict[str, str]]:
    """The dashboard's outputs of a project's tasks: the task's views follow its task."""
    views = {task: dict(outputs) for task, outputs in VISUALIZATION_OUTPUTS.items()}
    if project.label.task in ("binary", "multiclass"):
        views["Evaluator"].update(CLASSIFICATION_OUTPUT)
    return views


# The serving volume: a PersistentVolumeClaim mounted into the tasks that read
# or write pushed models.
SERVING_PVC = "kubetfx-serving"
SERVING_MOUNT = "/serving"
SERVING_TASKS = ("LatestPushedModel", "Pusher")

DEFAULT_PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"
ENTRYPOINT = ["python", "-m", "kubetfx.components.kfp_entrypoint"]

# Kubernetes requests and limits per task (CPU cores, memory in GB), in the
# ResourceSpec fields KFP 2.x honours. Beam and TensorFlow tasks get more.
HEAVY_TASKS = ("CsvExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator")
HEAVY_RESOURCES = {"cpuRequest": 1.0, "cpuLimit": 2.0, "memoryRequest": 2.0, "memoryLimit": 4.0}
LIGHT_RESOURCES = {"cpuRequest": 0.25, "cpuLimit": 1.0, "memoryRequest": 1.0, "memoryLimit": 2.0}
