"""Beam's own job service and external worker pool, each in a process of its own, for the tests.

They speak the Job API and the Fn API as a Flink or Spark job server and the
worker-pool sidecar of kubernetes/flink do.
"""

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.mlflow_server import free_port, stop

VENV_BIN = str(Path(sys.executable).parent)


def _wait_for_port(process: subprocess.Popen, port: int, log: Path, timeout_s: float) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert process.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, f"nothing listens on port {port}: {log}"
        time.sleep(0.5)


@contextlib.contextmanager
def _service(command: list[str], port: int, log: Path, path: str) -> Iterator[str]:
    with open(log, "w") as out:
        env = {**os.environ, "PATH": path}
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            _wait_for_port(process, port, log, timeout_s=120)
            yield f"localhost:{port}"
        finally:
            stop(process)


@contextlib.contextmanager
def job_service(folder: Path) -> Iterator[str]:
    """``local_job_service_main`` on a free port; yields its HOST:PORT."""
    port = free_port()
    command = [
        sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
        "--port", str(port), "--staging_dir", str(folder / "staging"),
    ]  # fmt: skip
    with _service(command, port, folder / f"job-service-{port}.log", os.environ["PATH"]) as at:
        yield at


@contextlib.contextmanager
def worker_pool(folder: Path, path: str | None = None) -> Iterator[str]:
    """``worker_pool_main`` on a free port; its workers run the first ``python`` on ``path``.

    ``path`` defaults to this venv's bin first on PATH, as kubernetes/README.md says.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
        "--service_port", str(port),
    ]  # fmt: skip
    path = path or os.pathsep.join([VENV_BIN, os.environ["PATH"]])
    with _service(command, port, folder / f"worker-pool-{port}.log", path) as at:
        yield at


def path_without_beam(folder: Path) -> str:
    """A PATH whose ``python`` cannot import Beam: the pool's workers die at once."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    python = bin_dir / "python"
    python.write_text("#!/bin/sh\necho 'No module named apache_beam' >&2\nexit 1\n")
    python.chmod(0o755)
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
