"""Runs the pipeline on this machine with TFX's LocalDagRunner.

Beam's DirectRunner executes the data-heavy steps and ML Metadata lives in a
SQLite file in the output folder. The terminal shows one line per component;
everything TFX, Beam and TensorFlow print goes to a log file instead, unless
``verbose``.
"""

import dataclasses
import datetime
import logging
import os
import sys
from typing import IO

from kubetfx.components import features
from kubetfx.pipelines import preflight
from kubetfx.pipelines.console import output_to_log
from kubetfx.pipelines.definition.settings import PipelineConfig
from kubetfx.pipelines.errors import DataGateStopped, PipelineFailed, UserError
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.local.progress import ComponentProgress, ProgressReporter


@dataclasses.dataclass
class RunOutcome:
    """What a finished run did."""

    run_id: str
    components: list[ComponentProgress]
    blessed: bool | None
    pushed_to: str | None  # the new serving version folder, if this run pushed a model
    serving_version: str | None  # the version that serves this run's model, if any
    evaluation_failures: list[str]  # the thresholds an unblessed model missed
    log_path: str


def check_inputs(config: PipelineConfig) -> None:
    """Fails with a UserError before anything runs if an input is unusable."""
    preflight.check_data(config.data_root, features.REQUIRED_COLUMNS, features.LABEL_KEY)
    if not os.path.isfile(config.schema_file):
        raise UserError(
            f"schema file {config.schema_file} does not exist; pass --schema with a schema .pbtxt"
        )
    preflight.check_writable_dir(config.output_dir)
    preflight.check_metadata_layout(config.metadata_path, "tfx")
    preflight.check_writable_dir(config.log_dir)


def run(config: PipelineConfig, out: IO[str] = sys.stdout, verbose: bool = False) -> RunOutcome:
    """Runs the taxi pipeline to the end, printing progress to ``out``.

    Raises DataGateStopped when the data fails validation and PipelineFailed
    when a component fails; a model is pushed only if the Evaluator blessed it.
    """
    config = config.absolute()
    check_inputs(config)
    started_log = os.path.join(
        config.log_dir, f"run-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.log"
    )

    with output_to_log(started_log, verbose, out) as terminal:
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        from kubetfx.pipelines.definition.pipeline import create_pipeline

        pipeline = create_pipeline(config)
        reporter = ProgressReporter(terminal, live=terminal.isatty())
        absl_logger = logging.getLogger("absl")
        absl_logger.addHandler(reporter)
        failure = None
        try:
            LocalDagRunner().run(pipeline)
        except Exception as error:  # noqa: BLE001 - every failure is reported below
            logging.exception("The pipeline failed.")
            failure = (error, reporter.fail_current() or "the pipeline")
        finally:
            absl_logger.removeHandler(reporter)
        # The log is named after the run id, which the runner picks: status finds it there.
        run_id = None
        if os.path.isfile(config.metadata_path):
            store = metadata.connect(config.metadata_path)
            run_id = metadata.latest_run(store, config.pipeline_name)
        log_path = run_log_path(config.log_dir, run_id) if run_id else started_log
        os.replace(started_log, log_path)
        if failure:
            error, component = failure
            raise _as_pipeline_error(error, component, log_path) from error
        return _outcome(config, reporter.components, log_path)


def run_log_path(log_dir: str, run_id: str) -> str:
    """Where the log of local run ``run_id`` is kept."""
    return os.path.join(log_dir, f"run-{run_id}.log")


def _as_pipeline_error(error: Exception, component: str, log_path: str) -> PipelineFailed:
    from kubetfx.components.data_gate import DataValidationError

    if isinstance(error, DataValidationError):
        return DataGateStopped(f"stopped before training: {error}")
    summary = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    return PipelineFailed(
        f"{component} failed: {type(error).__name__}: {summary} (full log: {log_path})"
    )


def _outcome(
    config: PipelineConfig, components: list[ComponentProgress], log_path: str
) -> RunOutcome:
    from kubetfx.components.pusher import SERVING_VERSION_KEY

    store = metadata.connect(config.metadata_path)
    run_id = metadata.latest_run(store, config.pipeline_name) or ""
    executions = {
        e.node_id: e for e in metadata.run_executions(store, config.pipeline_name, run_id)
    }
    blessed = pushed_to = serving_version = None
    failures: list[str] = []
    if "Evaluator" in executions:
        evaluator = executions["Evaluator"]
        blessed = evaluator.blessed
        evaluations = evaluator.outputs.get("evaluation", [])
        if evaluations and not blessed:
            failures = evaluation_failures(evaluations[0].uri)
    if "Pusher" in executions:
        pushed = executions["Pusher"].outputs.get("pushed_model", [])
        properties = pushed[0].custom_properties if pushed else {}
        pusher_ran = executions["Pusher"].state == "complete"
        if pusher_ran and "pushed" in properties and properties["pushed"].int_value:
            pushed_to = properties["pushed_destination"].string_value
        if SERVING_VERSION_KEY in properties:
            serving_version = properties[SERVING_VERSION_KEY].string_value
    return RunOutcome(run_id, components, blessed, pushed_to, serving_version, failures, log_path)


def evaluation_failures(evaluation_uri: str) -> list[str]:
    """Each threshold the model missed, as ``slice: metric = value (why)``."""
    from kubetfx.components.visualizations import threshold_failures

    return [
        f"{f.slice}: {f.metric} = {f.value:.4f} ({f.message})"
        for f in threshold_failures(evaluation_uri)
    ]
