"""Where a run's outputs go: the layout of an output folder.

One output folder holds one project's runs: ``metadata.db`` (ML Metadata),
``pipeline_root/`` (artifacts), ``logs/run-<run id>.log`` (and
``logs/predict-<time>.log`` for each ``kubetfx predict``),
``serving/<version>/`` (the pushed models) and, for tracked runs without a
tracking server, MLflow's ``mlflow.db`` and ``mlflow-artifacts/``.
"""

import dataclasses
import os

DEFAULT_OUTPUT_DIR = "kubetfx_output"
METADATA_FILE = "metadata.db"
MLFLOW_FILE = "mlflow.db"
MLFLOW_ARTIFACTS = "mlflow-artifacts"
# A project's predict pipeline is named after the project with this suffix.
PREDICT_SUFFIX = "-predict"


def project_pipelines(project_name: str) -> set[str]:
    """The names of a project's pipelines: train's (the project's own) and predict's."""
    return {project_name, project_name + PREDICT_SUFFIX}


def default_output_dir(project_path: str, bundled: bool) -> str:
    """``kubetfx_output/`` beside the project file; for the bundled project, in this folder."""
    if bundled:
        return DEFAULT_OUTPUT_DIR
    return os.path.join(os.path.dirname(project_path), DEFAULT_OUTPUT_DIR)


def run_log_path(log_dir: str, run_id: str) -> str:
    """Where the log of local run ``run_id`` is kept."""
    return os.path.join(log_dir, f"run-{run_id}.log")


def predict_log_path(log_dir: str, started: str) -> str:
    """Where the log of a ``kubetfx predict`` started at ``started`` (ISO time) is kept."""
    return os.path.join(log_dir, f"predict-{started}.log")


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run needs besides its project: where outputs go, and Beam's options."""

    output_dir: str = DEFAULT_OUTPUT_DIR
    beam_args: tuple[str, ...] = ()
    # Where models are pushed; default: serving/ in the output folder.
    push_destination: str | None = None
    # Tune before training (the project's tuning section).
    tune: bool = False
    # Without tuning: the tuned values to train with (a HyperParameters artifact's URI).
    hyperparameters: str | None = None
    # MLflow's tracking URI when the run is tracked (a Tracker after the Pusher).
    tracking_uri: str | None = None
    # The run's id, known before the pipeline is built; the Tracker logs it.
    run_id: str = ""

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, METADATA_FILE)

    @property
    def serving_dir(self) -> str:
        return self.push_destination or os.path.join(self.output_dir, "serving")

    @property
    def mlflow_store(self) -> str:
        """The tracking URI of a run tracked without a server: SQLite in the output folder."""
        return "sqlite:///" + os.path.join(self.output_dir, MLFLOW_FILE)

    @property
    def mlflow_artifacts(self) -> str:
        return os.path.join(self.output_dir, MLFLOW_ARTIFACTS)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.output_dir, "logs")

    def absolute(self) -> "RunSettings":
        """The same settings with the output folder made absolute (TFX stores paths)."""
        push = self.push_destination
        return dataclasses.replace(
            self,
            output_dir=os.path.abspath(self.output_dir),
            push_destination=os.path.abspath(push) if push else None,
        )
