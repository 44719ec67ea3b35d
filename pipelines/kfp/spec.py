"""What the compiled spec contains, shared by the compiler and the emulator."""

from kubetfx import __version__
from kubetfx.components.candidates import NODE as CHOICE_TASK
from kubetfx.components.candidates import TRAINER_NODE, candidate_node
from kubetfx.components.kfp_contract import (  # noqa: F401
    CODE_DIGEST_ARG,
    DATA_FINGERPRINT_INPUT,
    DATA_INPUT,
    FINGERPRINT_OUTPUT,
    OBJECT_STORE_SCHEMES,
    OVERRIDE_PREFIX,
    PACKAGE_SCHEME,
    TRACKER_NODE,
)
from kubetfx.components.project import ALGORITHMS, Project

# The image every task runs in, unless compile is given another: kubetfx's own,
# as `make image` tags it.
DEFAULT_IMAGE = f"kubetfx:{__version__}"

# The pipelines of a project: from CSV files to a pushed model, and new rows
# scored by the model serving now.
PIPELINES = ("train", "predict")

# Data from the object store (data_root is minio://, s3:// or gs://). An
# importer turns the URI into an artifact, which the launcher stages into the
# tasks that take it with its own credentials
# (component/importer_launcher.go, launcher_v2.go: downloadArtifacts). The
# fingerprint task hashes what is there on every run, so that CsvExampleGen's
# cache key follows the files and not the URI.
DATA_TASK = "Data"
DATA_OUTPUT = "data"
DATA_TYPE = {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}
FINGERPRINT_TASK = "DataFingerprint"
FINGERPRINT_COMMAND = ["python", "-m", "kubetfx.components.data_fingerprint"]
# The task that reads the data.
EXAMPLE_GEN_TASK = "CsvExampleGen"
# The predict pipeline's last task, which no train pipeline has.
PREDICTIONS_TASK = "Predictions"

# Tracking (compile --track): the Tracker logs the run under KFP's run id, and
# kubernetes/mlflow's server is where it logs by default. With
# --track-secret NAME, the task gets these keys of Secret NAME as environment
# variables of the same names, which MLflow's client reads (basic auth, as
# `mlflow server --app-name basic-auth` checks).
KFP_RUN_ID = "{{$.pipeline_job_uuid}}"
MLFLOW_SERVICE_URI = "http://mlflow.kubeflow.svc.cluster.local:5000"
MLFLOW_CREDENTIAL_KEYS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")

# Extra outputs that the KFP dashboard renders, added to TFX tasks by the
# compiler and written by the entrypoint: task -> {output name: schema title}.
VISUALIZATION_OUTPUTS = {
    "StatisticsGen": {"statistics_view": "system.HTML"},
    "ExampleValidator": {"anomalies_view": "system.Markdown"},
    "Evaluator": {"evaluation_view": "system.Markdown", "metrics": "system.Metrics"},
    "Predictions": {"predictions_view": "system.HTML", "prediction_metrics": "system.Metrics"},
    "Tuner": {"tuning_view": "system.Markdown", "best_trial": "system.Metrics"},
    CHOICE_TASK: {"choice_view": "system.Markdown", "candidate_scores": "system.Metrics"},
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

# With a job service's workers doing the Beam steps (--beam-runner portable,
# flink or spark), they read and write the task's staged artifacts: the Beam
# tasks mount this volume where the launcher stages them (/minio for a
# minio:// root), and kubernetes/flink mounts it at the same path beside each
# task manager and in the job server (Beam's staged artifacts, ./.beam-artifacts).
BEAM_WORK_PVC = "kubetfx-beam-work"

DEFAULT_PIPELINE_ROOT = "minio://mlpipeline/v2/artifacts"
ENTRYPOINT = ["python", "-m", "kubetfx.components.kfp_entrypoint"]

# The Trainers of model.algorithm: auto's candidates, one per algorithm, and
# every task that trains: those, or the one Trainer.
CANDIDATE_TASKS = tuple(candidate_node(algorithm) for algorithm in ALGORITHMS)
TRAINER_TASKS = (TRAINER_NODE, *CANDIDATE_TASKS)

# Kubernetes requests and limits per task (CPU cores, memory in GB), in the
# ResourceSpec fields KFP 2.x honours. Beam and TensorFlow tasks get more.
HEAVY_TASKS = (
    "CsvExampleGen",
    "StatisticsGen",
    "Transform",
    "Tuner",
    *TRAINER_TASKS,
    "Evaluator",
    "BulkInferrer",
    "Predictions",
)
HEAVY_RESOURCES = {"cpuRequest": 1.0, "cpuLimit": 2.0, "memoryRequest": 2.0, "memoryLimit": 4.0}
LIGHT_RESOURCES = {"cpuRequest": 0.25, "cpuLimit": 1.0, "memoryRequest": 1.0, "memoryLimit": 2.0}
