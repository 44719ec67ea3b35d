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
