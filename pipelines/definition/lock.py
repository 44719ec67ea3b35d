"""One writer per output folder: an OS file lock that a run holds while it runs.

A local run and an emulation hold it. The lock is ``flock`` on
``OUTPUT/.kubetfx.lock``; the OS releases it when the
process ends, however it ends, so a killed run never leaves the folder locked.
The file names the run and the process that hold it, for the message a second
run gets. Readers (``runs``, ``status``, ``report``, ``compare``) never take it;
they ask who holds it, so that a run recorded as running whose process is gone
shows as interrupted.
"""

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator

from kubetfx.pipelines.errors import UserError

LOCK_FILE = ".kubetfx.lock"


def holder(output_dir: str) -> dict | None:
    """The run and process holding the folder's lock, or None when no run holds it."""
    path = os.path.join(output_dir, LOCK_FILE)
    if not os.path.isfile(path):
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(path) as f:
                try:
                    return json.loads(f.read() or "{}")
                except ValueError:
                    return {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(output_dir: str, run_id: str) -> Iterator[None]:
    """Holds the output folder for run ``run_id``; refuses at once if another run holds it."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = holder(output_dir) or {}
            raise UserError(
                f"{output_dir} is in use by run {other.get('run_id', '?')} "
                f"(process {other.get('pid', '?')}); wait for it to end, or pass another "
                "--output-dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"run_id": run_id, "pid": os.getpid()}).encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
