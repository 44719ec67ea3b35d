"""Live progress of a LocalDagRunner run, read from ML Metadata as the run writes it.

TFX records each component's execution in ML Metadata: registered when the
component starts, then published as complete, cached or failed. While the
run goes on, ``ProgressReporter`` reads the run's executions from the store
every half second, in a thread of its own, and prints one line as each
component ends, timed by the store's own timestamps. On a terminal it also
shows the running component with its time so far and, for kubetfx's own data
steps, their rows (``kubetfx.components.progress``), drawn by rich. Nothing
here reads the wording of TFX's or Beam's log messages.
"""

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import IO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from kubetfx.components import progress as data_progress

# How often the store is read while the run goes on.
POLL_SECONDS = 0.5
# What each ending state of an execution (ML Metadata's) means for its component.
OUTCOMES = {"complete": "ran", "cached": "cached", "failed": "failed", "canceled": "stopped"}


@dataclasses.dataclass
class ComponentProgress:
    node_id: str
    started: float  # seconds since the epoch
    finished: float | None = None
    outcome: str = "running"  # running, ran, cached, failed, stopped

    @property
    def seconds(self) -> float:
        return (self.finished or time.time()) - self.started


class ProgressReporter(logging.Handler):
    """Prints ``  Component ..... ran  12.3 s`` as each component of run ``run_id`` ends.

    Use it as a context manager around the run, added to the root logger for
    the data steps' progress records. ``nodes`` are the components the run
    runs, in order; others (a partial run takes them from an earlier run, and
    records them in the store as cached) get no line.
    """

    def __init__(
        self,
        out: IO[str],
        live: bool,
        metadata_path: str,
        run_id: str,
        nodes: Iterable[str],
    ):
        super().__init__(level=logging.INFO)
        self._metadata_path = metadata_path
        self._run_id = run_id
        self._nodes = list(nodes)
        self._width = max([20, *(len(n) for n in self._nodes)])
        self.components: list[ComponentProgress] = []
        self._by_execution: dict[int, ComponentProgress] = {}
        self._rows: dict[str, str] = {}  # the running data step's last progress text
        self._store = None
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # No wrapping, markup or highlighting: the lines are the run's record.
        self._console = Console(
            file=out, force_terminal=live, highlight=False, soft_wrap=True, width=200
        )
        self._live = (
            Live(
                console=self._console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                get_renderable=self._running_line,
            )
            if live
            else None
        )

    @property
    def current(self) -> ComponentProgress | None:
        running = [c for c in self.components if c.finished is None]
        return running[-1] if running else None

    def __enter__(self) -> "ProgressReporter":
        if self._live is not None:
            self._live.start()
        self._thread = threading.Thread(target=self._follow, name="kubetfx-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        self.poll()  # what the run published after the last look
        if self._live is not None:
            self._live.stop()

    def emit(self, record: logging.LogRecord) -> None:
        """Keeps the last progress record of a kubetfx data step, for the running line."""
        if record.msg == data_progress.MESSAGE and record.args:
            current = self.current
            if current is not None:
                self._rows[current.node_id] = str(record.args[0])

    def fail_current(self, outcome: str = "failed") -> str | None:
        """Ends the component the run stopped in with ``outcome``; returns its id.

        That is the one the store says failed, else the one still running, else
        the first not yet begun (it failed before TFX recorded it); None when
        every component had ended.
        """
        self.poll()
        failed = [c for c in self.components if c.outcome in ("failed", "stopped")]
        if failed:
            return failed[-1].node_id
        current = self.current
        if current is None:
            begun = {c.node_id for c in self.components}
            waiting = [node for node in self._nodes if node not in begun]
            if not waiting:
                return None
            ended = [c.finished for c in self.components if c.finished]
            current = ComponentProgress(waiting[0], max(ended, default=time.time()))
            self.components.append(current)
        current.outcome = outcome
        self._finish(current, time.time())
        return current.node_id

    def poll(self) -> None:
        """Reads the run's executions and prints a line for each component that ended."""
        with self._lock:
            for execution_id, node_id, state, created, updated in self._read():
                component = self._by_execution.get(execution_id)
                if component is None:
                    if node_id not in self._nodes:
                        continue
                    component = ComponentProgress(node_id, created / 1000)
                    self._by_execution[execution_id] = component
                    self.components.append(component)
                if component.finished is None and state in OUTCOMES:
                    component.outcome = OUTCOMES[state]
                    self._finish(component, updated / 1000)

    def _follow(self) -> None:
        while not self._stopped.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - a missed look is made good by the next
                logging.debug("Could not read the run's progress.", exc_info=True)

    def _read(self) -> list[tuple[int, str, str, int, int]]:
        """(execution id, node id, state, created ms, updated ms) of the run, in order."""
        from ml_metadata import errors as mlmd_errors

        from kubetfx.pipelines.history import metadata

        if not os.path.isfile(self._metadata_path):
            return []  # the run's first component has not yet created the store
        try:
            if self._store is None:
                self._store = metadata.connect(self._metadata_path)
            store = self._store
            run = store.get_context_by_type_and_name("pipeline_run", self._run_id)
            if run is None:
                return []
            executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)
            node_type = store.get_context_type("node").id
        except (mlmd_errors.StatusError, RuntimeError):
            return []  # no store or no run yet: the run has not registered a component
        found = []
        for execution in executions:
            known = self._by_execution.get(execution.id)
            node_id = (
                known.node_id if known else metadata.tfx_node_id(store, execution.id, node_type)
            )
            found.append(
                (
                    execution.id,
                    node_id,
                    metadata.state_name(execution),
                    execution.create_time_since_epoch,
                    execution.last_update_time_since_epoch,
                )
            )
        return found

    def _finish(self, component: ComponentProgress, finished: float) -> None:
        component.finished = max(finished, component.started)
        self._rows.pop(component.node_id, None)
        line = (
            f"  {component.node_id:<{self._width}} {component.outcome:<8} "
            f"{component.seconds:6.1f} s"
        )
        self._console.print(Text(line), soft_wrap=True)

    def _running_line(self) -> Text:
        current = self.current
        if current is None:
            return Text("")
        rows = self._rows.get(current.node_id)
        line = f"  {current.node_id:<{self._width}} running… {current.seconds:4.0f} s"
        return Text(line + (f"  {rows}" if rows else ""))
