"""Progress of a long data step: rows done, rate and time left, logged as it goes.

A data-heavy executor makes one ``Progress`` per input it reads and calls
``add`` after each block. At most every ``every`` seconds it logs one line,
``progress: CsvExampleGen data.csv: 250,000 rows, 31%, 48,000 rows/s, about
15 s left``, through the standard logging module: in the task's log on any
runner, and on the terminal of ``kubetfx run``, whose reporter follows these
records (``MESSAGE``) to redraw the running component's line.
"""

import logging
import time

MESSAGE = "progress: %s"


class Progress:
    def __init__(self, label: str, total_bytes: int | None, every: float = 5.0):
        self._label = label
        self._total = total_bytes or None
        self._every = every
        self._started = time.monotonic()
        self._last = self._started
        self.rows = 0

    def add(self, rows: int, bytes_done: int | None = None) -> None:
        self.rows += rows
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            logging.info(MESSAGE, self.describe(bytes_done, now))

    def describe(self, bytes_done: int | None, now: float | None = None) -> str:
        """``label: rows, share done, rate, time left`` (the last two once measurable)."""
        elapsed = (now or time.monotonic()) - self._started
        parts = [f"{self._label}: {self.rows:,} rows"]
        share = min(bytes_done / self._total, 1.0) if self._total and bytes_done else None
        if share is not None:
            parts.append(f"{share:.0%}")
        if elapsed > 0 and self.rows:
            parts.append(f"{self.rows / elapsed:,.0f} rows/s")
        if share and elapsed > 0:
            parts.append(f"about {elapsed * (1 - share) / share:,.0f} s left")
        return ", ".join(parts)
