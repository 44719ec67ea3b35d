"""One writer per output folder: the OS lock a run holds, and what a second run gets."""

import multiprocessing
import os

import pytest
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from kubetfx.pipelines.definition import lock
from kubetfx.pipelines.errors import UserError


def _hold(output_dir, ready, release):
    with lock.exclusive(output_dir, "2026-11-28T09:00:00.000001"):
        ready.set()
        release.wait(30)


@pytest.fixture
def held(tmp_path):
    """The folder held by another process, as a running `kubetfx run` holds it."""
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    process = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    process.start()
    assert ready.wait(30)
    yield process
    release.set()
    process.join(30)


def test_a_second_writer_is_refused_naming_the_run_and_process(tmp_path, held):
    assert lock.holder(str(tmp_path)) == {"run_id": "2026-11-28T09:00:00.000001", "pid": held.pid}
    with pytest.raises(
        UserError, match=f"in use by run 2026-11-28T09:00:00.000001 \\(process {held.pid}\\)"
    ):
        with lock.exclusive(str(tmp_path), "mine"):
            pass


def test_kubetfx_run_exits_2_at_once_on_a_folder_in_use(tmp_path, held):
    result = CliRunner().invoke(cli, ["run", "--output-dir", str(tmp_path)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()[-1:]
    assert f"is in use by run 2026-11-28T09:00:00.000001 (process {held.pid})" in line
    assert not os.path.exists(tmp_path / "metadata.db")  # nothing was written


def test_the_lock_goes_with_the_process_that_held_it(tmp_path):
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    process = multiprocessing.Process(target=_hold, args=(str(tmp_path), ready, release))
    process.start()
    assert ready.wait(30)
    process.kill()  # no clean-up runs: the OS releases the lock
    process.join(30)
    assert lock.holder(str(tmp_path)) is None
    with lock.exclusive(str(tmp_path), "next"):
        assert lock.holder(str(tmp_path)) == {"run_id": "next", "pid": os.getpid()}
    assert lock.holder(str(tmp_path)) is None
