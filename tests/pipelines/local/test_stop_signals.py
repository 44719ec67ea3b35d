"""A stop signal reaches the run even when the first one lands in a finalizer."""

import signal
import time

import pytest

from kubetfx.pipelines.local import runner


class _RaisesInItsFinalizer:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # the handler's exception is printed and dropped


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_the_signal_is_raised_again_until_the_runner_takes_it(number):
    stops = runner._StopSignals()  # noqa: SLF001
    previous = {n: signal.signal(n, stops.handle) for n in runner._StopSignals.NUMBERS}  # noqa: SLF001
    try:
        with pytest.raises(runner._Terminated) as raised:  # noqa: SLF001
            if number == signal.SIGINT:
                _RaisesInItsFinalizer()  # dropped here; raised again within a second
            else:
                signal.raise_signal(number)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.05)
        assert raised.value.signal_number == number
        stops.taken = True
        time.sleep(1.5)  # taken: no more raises
    finally:
        stops.taken = True
        for n, handler in previous.items():
            signal.signal(n, handler)


def test_whatever_the_run_raises_after_a_signal_is_the_signals_doing():
    """Raised inside a C extension, a signal's exception can come out as another error."""
    stops = runner._StopSignals()  # noqa: SLF001
    error = SystemError("Objects/listobject.c:336: bad argument to internal function")
    assert stops.stopped_by(error) is None  # no signal: the run failed on its own
    assert stops.stopped_by(KeyboardInterrupt()) == signal.SIGINT
    assert stops.stopped_by(runner._Terminated(signal.SIGTERM)) == signal.SIGTERM  # noqa: SLF001

    previous = signal.signal(signal.SIGTERM, stops.handle)
    try:
        with pytest.raises(runner._Terminated):  # noqa: SLF001
            signal.raise_signal(signal.SIGTERM)
    finally:
        stops.taken = True
        signal.signal(signal.SIGTERM, previous)
    assert stops.stopped_by(error) == signal.SIGTERM
    assert stops.received_ms is not None and abs(stops.received_ms - time.time() * 1000) < 5000
