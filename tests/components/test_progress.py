"""Progress of a data step: the line it logs, and the terminal line that shows it."""

import io
import logging

from kubetfx.components.progress import MESSAGE, Progress
from kubetfx.pipelines.local.progress import ProgressReporter


def test_the_line_has_rows_share_rate_and_time_left():
    progress = Progress("CsvExampleGen data.csv", total_bytes=1000)
    progress.rows = 250_000
    started = progress._started  # noqa: SLF001
    assert progress.describe(250, now=started + 5) == (
        "CsvExampleGen data.csv: 250,000 rows, 25%, 50,000 rows/s, about 15 s left"
    )
    unknown_size = Progress("x", total_bytes=None)
    unknown_size.rows = 10
    assert unknown_size.describe(None, now=unknown_size._started + 2) == "x: 10 rows, 5 rows/s"  # noqa: SLF001


def _record(message, *args):
    return logging.LogRecord("absl", logging.INFO, __file__, 1, message, args, None)


def test_a_terminal_shows_the_running_component_s_progress_and_a_log_does_not():
    for live in (True, False):
        out = io.StringIO()
        reporter = ProgressReporter(out, live=live)
        reporter.emit(_record("Component %s is running.", "CsvExampleGen"))
        reporter.emit(_record(MESSAGE, "CsvExampleGen data.csv: 10 rows"))
        reporter.emit(_record("Component %s is finished.", "CsvExampleGen"))
        shown = out.getvalue()
        assert ("running… CsvExampleGen data.csv: 10 rows" in shown) is live
        assert shown.rstrip().endswith("s") and "CsvExampleGen        ran" in shown
