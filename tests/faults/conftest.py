"""The fault suite's summary: one row per fault, printed at the end of the test session."""

import dataclasses

import pytest


@dataclasses.dataclass
class FaultRow:
    fault: str  # e.g. "SIGKILL during Trainer"
    outcome: str  # what the faulted run did and left
    reused: str  # what the next run took from the cache
    recovered_in: str  # the next run, from its start to the end of the component stopped


ROWS: list[FaultRow] = []


@pytest.fixture(scope="session")
def fault_summary() -> list[FaultRow]:
    return ROWS


def pytest_terminal_summary(terminalreporter) -> None:
    if not ROWS:
        return
    headers = ("fault", "outcome", "reused by the next run", "recovered in")
    cells = [(r.fault, r.outcome, r.reused, r.recovered_in) for r in ROWS]
    widths = [max(len(row[i]) for row in [headers, *cells]) for i in range(len(headers))]
    terminalreporter.section("fault-injection summary")
    for row in [headers, tuple("-" * w for w in widths), *cells]:
        padded = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        terminalreporter.write_line(" | ".join(padded))
