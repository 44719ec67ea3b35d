"""Runs a project's pipeline on this machine with TFX's LocalDagRunner.

Beam's DirectRunner executes the data-heavy steps and ML Metadata lives in a
SQLite file in the output folder. The terminal shows one line per component;
everything TFX, Beam and TensorFlow print goes to a log file instead, unless
``verbose``.
"""

import _thread
import dataclasses
import datetime
import logging
import os
import signal
import sys
import threading
import time
from typing import IO

from kubetfx.components import extras
from kubetfx.components.kfp_contract import resolve_package_path
from kubetfx.components.project import Auto
from kubetfx.pipelines import preflight
from kubetfx.pipelines.console import output_to_log
from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.definition.selection import SELECTION_PROPERTY, TAKEN_PROPERTY, Selection
from kubetfx.pipelines.definition.settings import RunSettings, run_log_path
from kubetfx.pipelines.errors import DataGateStopped, PipelineFailed, RunInterrupted, UserError
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.local import beam_services, partial
from kubetfx.pipelines.local.progress import ComponentProgress, ProgressReporter
from kubetfx.pipelines.project.loader import ProjectFile, check_columns


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
    tracking_note: str | None = None  # where MLflow holds the run, or why it does not
    seconds: float = 0.0  # wall time, as recorded with the run


def local_data(loaded: ProjectFile) -> ProjectFile:
    """The project with its data as a folder on this machine (``package://`` resolved)."""
    data = loaded.project.data
    try:
        resolved = resolve_package_path(data)
    except ValueError as error:
        raise loaded.error(("data",), str(error)) from None
    return loaded if resolved == data else loaded.with_overrides({"data": resolved})


def check_inputs(loaded: ProjectFile, settings: RunSettings) -> None:
    """Fails with a UserError before anything runs if an input is unusable."""
    beam_services.check(settings.beam_args)
    header = preflight.check_data(loaded.project.data)
    check_columns(loaded, header, loaded.project.data)
    preflight.check_writable_dir(settings.output_dir)
    preflight.check_free_space(loaded.project.data, settings.output_dir, settings.metadata_path)
    preflight.check_metadata_layout(settings.metadata_path, "tfx")
    preflight.check_project_store(settings.metadata_path, loaded.project.name)
    preflight.check_writable_dir(settings.log_dir)


def tracking_uri(loaded: ProjectFile, settings: RunSettings) -> str | None:
    """Where MLflow tracks the run, for a project with a tracking section; else None.

    The section's uri, else MLflow's own MLFLOW_TRACKING_URI, else a SQLite
    store in the output folder.
    """
    if loaded.project.tracking is None:
        return None
    return (
        loaded.project.tracking.uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or settings.mlflow_store
    )


def with_kept_choice(loaded: ProjectFile, metadata_path: str) -> tuple[ProjectFile, str | None]:
    """The project training the algorithm an earlier run chose, and a line saying so.

    The choice (``algorithm: auto``, ``--choose-algorithm``) is kept while the
    project file names the algorithm it named when the choice was made, and no
    ``--algorithm`` is given; the chosen candidate's settings come with it.
    """
    model = loaded.project.model
    if "model" in loaded.options or isinstance(model, Auto):
        return loaded, None
    choice = metadata.latest_choice(metadata_path, loaded.project.name)
    if choice is None or choice.project_algorithm != loaded.file_algorithm:
        return loaded, None
    chosen = choice.chosen.algorithm
    if chosen == model.algorithm:
        return loaded, None  # the file's own settings of it stand
    kept = loaded.with_overrides(
        {"model": choice.chosen.settings}, {"model": "the algorithm an earlier run chose"}
    )
    others = ", ".join(c.algorithm for c in choice.candidates[1:])
    return kept, (
        f"trains {chosen}, which an earlier run chose over {others} ({choice.metric} "
        f"{choice.chosen.value:.4f}); --algorithm, or another algorithm in the project file, "
        "trains another"
    )


def _python_path(folders: list[str]) -> None:
    """Makes the project's own code files importable here and in Beam's worker processes."""
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(folders + paths))


def run(
    loaded: ProjectFile,
    settings: RunSettings,
    out: IO[str] = sys.stdout,
    verbose: bool = False,
    selection: Selection | None = None,
    no_cache: bool = False,
) -> RunOutcome:
    """Runs the project's pipeline, or the part ``selection`` names, printing progress to ``out``.

    Raises DataGateStopped when the data fails validation and PipelineFailed
    when a component fails; a model is pushed only if the Evaluator blessed it.
    With ``no_cache`` the components that run execute even where TFX's cache
    holds their outputs.
    """
    from kubetfx.pipelines.definition.code import user_functions

    started = time.monotonic()
    loaded = local_data(loaded)
    settings = settings.absolute()
    check_inputs(loaded, settings)
    _python_path([f.folder for f in user_functions(loaded) if f.folder])
    # The run's id, chosen here in TFX's own format, names its log from the start.
    run_id = datetime.datetime.now().isoformat()
    log_path = run_log_path(settings.log_dir, run_id)
    settings = dataclasses.replace(
        settings, run_id=run_id, tracking_uri=tracking_uri(loaded, settings)
    )
    if settings.tracking_uri:
        if problem := extras.missing_mlflow(settings.tracking_uri):
            raise UserError(problem)

    with (
        lock.exclusive(settings.output_dir, run_id),
        output_to_log(log_path, verbose, out) as terminal,
    ):
        from tfx.dsl.compiler import constants
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner
        from tfx.orchestration.portable import runtime_parameter_utils
        from tfx.orchestration.portable.tfx_runner import _make_pipeline_proto

        from kubetfx.components.beam_workers import use_installed_tfx
        from kubetfx.pipelines.definition.pipeline import create_pipeline

        use_installed_tfx()
        # What LocalDagRunner.run does, with the run id given here rather than
        # picked inside (run_with_ir then finds it substituted already).
        loaded, kept = with_kept_choice(loaded, settings.metadata_path)
        if kept:
            terminal.write(f"kubetfx: {kept}\n")
        model = loaded.project.model
        if settings.tune and (problem := loaded.project.untunable()):
            raise UserError(f"--tune: {problem}")  # the kept algorithm's own settings
        if not settings.tune and not isinstance(model, Auto):
            # Train with the last tuned values of this algorithm, if there are any.
            tuned = metadata.latest_tuned(
                settings.metadata_path, loaded.project.name, model.algorithm
            )
            settings = dataclasses.replace(settings, hyperparameters=tuned)
        pipeline = _make_pipeline_proto(create_pipeline(loaded, settings))
        runtime_parameter_utils.substitute_runtime_parameter(
            pipeline, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id}
        )
        selection = selection or Selection()
        plan = partial.mark(pipeline, selection, settings.metadata_path, no_cache)
        if selection:
            terminal.write(_describe(plan))
        nodes = [
            node.pipeline_node.node_info.id
            for node in pipeline.nodes
            if not node.pipeline_node.execution_options.HasField("skip")
        ]
        reporter = ProgressReporter(
            terminal, terminal.isatty(), settings.metadata_path, run_id, nodes
        )
        root_logger = logging.getLogger()
        root_logger.addHandler(reporter)
        failure = None
        stop_signals = _StopSignals()
        previous_handlers = {
            number: signal.signal(number, stop_signals.handle) for number in _StopSignals.NUMBERS
        }
        try:
            with reporter:
                LocalDagRunner().run_with_ir(pipeline)
        except BaseException as error:  # noqa: BLE001 - a signal may surface as any error
            stop_signals.taken = True
            signal_number = stop_signals.stopped_by(error)
            if signal_number is None:
                if not isinstance(error, Exception):
                    raise
                logging.exception("The pipeline failed.")
                failure = (error, reporter.fail_current() or "the pipeline")
            else:
                logging.warning("Interrupted by signal %d.", signal_number, exc_info=True)
                metadata.cancel_unfinished(
                    settings.metadata_path, run_id, failed_since_ms=stop_signals.received_ms
                )
                component = reporter.fail_current("stopped") or "the pipeline"
                raise RunInterrupted(
                    f"interrupted during {component}; re-run to resume: completed components "
                    f"come from the cache (log: {log_path})",
                    signal_number,
                ) from None
        finally:
            stop_signals.taken = True
            for number, handler in previous_handlers.items():
                signal.signal(number, handler)
            root_logger.removeHandler(reporter)
            seconds = round(time.monotonic() - started, 1)  # as printed and recorded
            _record(settings.metadata_path, run_id, plan, seconds)
        if failure:
            error, component = failure
            raise _as_pipeline_error(error, component, log_path, settings.beam_args) from error
        outcome = _outcome(settings, run_id, reporter.components, log_path)
        return dataclasses.replace(outcome, seconds=seconds)


def _describe(plan: partial.Plan) -> str:
    """The terminal's account of a partial run before it starts."""
    text = f"partial run {plan.selection}: runs {', '.join(plan.run)}"
    if plan.reused:
        text += f"; takes {', '.join(plan.reused)} from run {plan.base_run}"
    return text + "\n"


def _record(metadata_path: str, run_id: str, plan: partial.Plan, seconds: float) -> None:
    """Records the run's wall time and selection with it in ML Metadata, where TFX made a record."""
    properties: dict[str, str | float] = {metadata.WALL_SECONDS: seconds}
    if plan.selection:
        properties[SELECTION_PROPERTY] = plan.selection
        properties[TAKEN_PROPERTY] = ",".join(plan.reused)
    try:
        metadata.record_run(metadata_path, run_id, properties)
    except Exception:  # noqa: BLE001 - the record is an addition; the run's outcome stands
        logging.exception("Could not record the run's wall time and selection.")


class _Terminated(BaseException):
    """SIGINT or SIGTERM, raised in the main thread."""

    def __init__(self, signal_number: int):
        super().__init__(signal_number)
        self.signal_number = signal_number


class _StopSignals:
    """Turns SIGINT and SIGTERM into ``_Terminated``, and insists until the run stops.

    Python raises a signal's exception wherever the main thread is, and one
    raised inside a finalizer (``__del__``, as TensorFlow's objects run while
    a model trains) is printed and dropped: the run would go on as if never
    signalled. So after the first signal, a thread raises it again in the
    main thread every second until the runner has ``taken`` it.
    """

    NUMBERS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal_number: int | None = None
        self.received_ms: int | None = None  # when the first signal came, as ML Metadata counts
        self.taken = False

    def handle(self, signal_number, frame) -> None:
        if self.taken:
            return
        if self.signal_number is None:
            self.signal_number = signal_number
            self.received_ms = int(time.time() * 1000)
            threading.Thread(target=self._insist, daemon=True).start()
        raise _Terminated(self.signal_number)

    def stopped_by(self, error: BaseException) -> int | None:
        """The signal that ended the run with ``error``; None if it ended on its own.

        Once a signal has come, whatever the run raises is its doing: raised
        inside a C extension, the signal's exception can come out as another
        (a ``SystemError`` from CPython, an error TFX wraps it in).
        """
        if self.signal_number is not None:
            return self.signal_number
        if isinstance(error, _Terminated):
            return error.signal_number
        if isinstance(error, KeyboardInterrupt):
            return signal.SIGINT
        return None

    def _insist(self) -> None:
        while True:
            time.sleep(1)
            if self.taken:
                return
            _thread.interrupt_main(self.signal_number)


def _as_pipeline_error(
    error: Exception, component: str, log_path: str, beam_args: tuple[str, ...] = ()
) -> PipelineFailed:
    from kubetfx.components.beam_workers import explain
    from kubetfx.components.data_gate import DataValidationError
    from kubetfx.components.errors import TaskError

    if isinstance(error, DataValidationError):
        return DataGateStopped(f"stopped before training: {error}")
    if isinstance(error, TaskError):
        return PipelineFailed(f"{component} failed: {error} (full log: {log_path})")
    cause = explain(error, beam_args)
    if cause:
        return PipelineFailed(f"{component} failed: {cause} (full log: {log_path})")
    summary = str(error).strip().splitlines()[-1] if str(error).strip() else ""
    return PipelineFailed(
        f"{component} failed: {type(error).__name__}: {summary} (full log: {log_path})"
    )


def _outcome(
    settings: RunSettings,
    run_id: str,
    components: list[ComponentProgress],
    log_path: str,
) -> RunOutcome:
    from kubetfx.components.kfp_contract import TRACKED_RUN, TRACKER_NODE, TRACKING_NOTE
    from kubetfx.components.pusher import SERVING_VERSION_KEY

    store = metadata.connect(settings.metadata_path)
    executions = {e.node_id: e for e in metadata.run_executions(store, run_id)}
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
    tracking_note = None
    if TRACKER_NODE in executions:
        records = executions[TRACKER_NODE].outputs.get(TRACKED_RUN, [])
        if records and TRACKING_NOTE in records[0].custom_properties:
            tracking_note = records[0].custom_properties[TRACKING_NOTE].string_value
    return RunOutcome(
        run_id, components, blessed, pushed_to, serving_version, failures, log_path, tracking_note
    )


def evaluation_failures(evaluation_uri: str) -> list[str]:
    """Each threshold the model missed, as ``slice: metric = value (why)``."""
    from kubetfx.components.visualizations import threshold_failures

    return [
        f"{f.slice}: {f.metric} = {f.value:.4f} ({f.message})"
        for f in threshold_failures(evaluation_uri)
    ]
