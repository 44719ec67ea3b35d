"""A real MLflow tracking server for the tests, its store and artifacts in a folder."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(folder: Path, timeout_s: float = 180) -> Iterator[str]:
    """``mlflow server`` as kubernetes/mlflow runs it, on a free local port; yields its URL."""
    port = free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed below
    command = [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"), "--serve-artifacts",
    ]  # fmt: skip
    # The job runner serves MLflow's GenAI evaluations; the pipeline uses none.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "mlflow server did not start in time"
            time.sleep(1)
        yield url
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen) -> None:
    """Asks a server process to stop, then kills it if it has not within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
