"""Live progress of a LocalDagRunner run: which component runs, and for how long.

LocalDagRunner offers no callbacks, but its launcher logs each step through
absl. ``ProgressReporter`` is a logging handler that follows those records
(TFX 1.16's messages in ``orchestration/local/local_dag_runner.py`` and
``orchestration/portable/launcher.py``) and prints one line per component.
On a terminal it also shows the running data step's progress records.
"""

import dataclasses
import logging
import time
from typing import IO

from kubetfx.components import progress as data_progress

# Format strings of the TFX log records that mark each step.
_COMPONENT_STARTED = "Component %s is running."
_COMPONENT_FINISHED = "Component %s is finished."
_CACHED_EXECUTION = "A cached execution %d is used."
_NEW_EXECUTION = "Going to run a new execution %d"
_SKIPPED = "Skipping execution for %s"


@dataclasses.dataclass
class ComponentProgress:
    node_id: str
    started: float
    finished: float | None = None
    outcome: str = "running"  # running, ran, cached, skipped, failed

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


class ProgressReporter(logging.Handler):
    """Prints ``  Component ..... ran  12.3 s`` as each component finishes."""

    def __init__(self, out: IO[str], live: bool):
        super().__init__(level=logging.INFO)
        self._out = out
        self._live = live  # the terminal can redraw the current line
        self.components: list[ComponentProgress] = []

    @property
    def current(self) -> ComponentProgress | None:
        if self.components and self.components[-1].finished is None:
            return self.components[-1]
        return None

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg
        if message == _COMPONENT_STARTED:
            self.components.append(ComponentProgress(str(record.args[0]), time.monotonic()))
            if self._live:
                self._write(f"  {self.components[-1].node_id:<20} running…", end="")
        elif self.current is None:
            return
        elif message == _CACHED_EXECUTION:
            self.current.outcome = "cached"
        elif message == _NEW_EXECUTION:
            self.current.outcome = "ran"
        elif message == _SKIPPED:
            self.current.outcome = "skipped"
        elif message == _COMPONENT_FINISHED:
            self._finish(self.current)
        elif message == data_progress.MESSAGE and self._live:
            # A data step's rows, rate and time left (kubetfx.components.progress).
            text = record.args[0]
            self._write(f"\r\x1b[K  {self.current.node_id:<20} running… {text}", end="")

    def fail_current(self, outcome: str = "failed") -> str | None:
        """Ends the running component with ``outcome`` (failed, interrupted); returns its id."""
        current = self.current
        if current is None:
            return None
        current.outcome = outcome
        self._finish(current)
        return current.node_id

    def _finish(self, component: ComponentProgress) -> None:
        component.finished = time.monotonic()
        if component.outcome == "running":
            component.outcome = "ran"
        line = f"  {component.node_id:<20} {component.outcome:<8} {component.seconds:6.1f} s"
        self._write(("\r\x1b[K" if self._live else "") + line)

    def _write(self, text: str, end: str = "\n") -> None:
        self._out.write(text + end)
        self._out.flush()
