"""Progress of a data step: the line it logs."""

from kubetfx.components.progress import Progress


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
