"""`kubetfx rollout check`: the same rows sent to both tracks, their answers and speed compared.

Rows from a folder of CSV files become serialized ``tf.Example``s as the
model's serving signature takes them (components/predictions.py), and go in
batches to each track's own Service, in TF Serving's REST predict format.
Per track: requests, errors, and latency percentiles; across tracks: the
share of rows whose predictions disagree (another class, or a value more than
``REGRESSION_TOLERANCE`` apart, relatively). The result is recorded on the
route for the canary's version, and ``promote`` refuses a canary whose check
failed or is missing (``problems``).

On a cluster each track is reached through ``kubectl port-forward`` to its
Service; ``--stable-url`` and ``--canary-url`` name other addresses.
"""

import base64
import contextlib
import csv
import dataclasses
import http.client
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from kubetfx.pipelines.errors import UserError

TRACKS = ("stable", "canary")
# promote refuses a canary above these, unless --force.
MAX_ERROR_RATE = 0.01
MAX_DISAGREEMENT = 0.10
# A check compares at least this many rows, or it does not pass.
MIN_ROWS = 100
# Regression predictions this far apart (relative to the larger, or near zero to
# the spread of the stable track's answers in the batch) disagree.
REGRESSION_TOLERANCE = 0.05
REST_PORT = 8501
SIGNATURE = "serving_default"


@dataclasses.dataclass(frozen=True)
class TrackStats:
    requests: int
    errors: int
    latency_ms: tuple[float, float, float]  # p50, p95, p99 of the answered requests

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclasses.dataclass(frozen=True)
class CanaryCheck:
    """What ``check`` found for one canary version."""

    version: str
    rows: int
    compared: int  # rows both tracks answered
    disagreement: float  # share of the compared rows
    stable: TrackStats
    canary: TrackStats

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "CanaryCheck":
        data = json.loads(text)
        tracks = {
            t: TrackStats(**{**data[t], "latency_ms": tuple(data[t]["latency_ms"])}) for t in TRACKS
        }
        return cls(
            str(data["version"]),
            int(data["rows"]),
            int(data["compared"]),
            float(data["disagreement"]),
            tracks["stable"],
            tracks["canary"],
        )

    def lines(self) -> list[str]:
        """The report: one line per track, then the agreement."""
        report = []
        for track in TRACKS:
            stats: TrackStats = getattr(self, track)
            p50, p95, p99 = stats.latency_ms
            report.append(
                f"  {track:<7} {stats.requests} requests, {stats.errors} failed "
                f"({stats.error_rate:.1%}); latency p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
                f"p99 {p99:.1f} ms"
            )
        report.append(
            f"  {self.compared:,} of {self.rows:,} rows answered by both; the predictions "
            f"disagree on {self.disagreement:.1%}"
        )
        return report


def problems(
    check: "CanaryCheck | None",
    canary_version: str,
    max_error_rate: float = MAX_ERROR_RATE,
    max_disagreement: float = MAX_DISAGREEMENT,
) -> list[str]:
    """Why the canary should not be promoted; empty when its check passed."""
    if check is None or check.version != canary_version:
        return [f"canary {canary_version} has not been checked"]
    found = []
    if check.canary.error_rate > max_error_rate:
        found.append(
            f"{check.canary.error_rate:.1%} of the canary's requests failed "
            f"(at most {max_error_rate:.1%})"
        )
    if not check.compared:
        found.append("no row was answered by both tracks")
    elif check.compared < MIN_ROWS:
        found.append(f"only {check.compared} rows were compared; a check needs {MIN_ROWS}")
    elif check.disagreement > max_disagreement:
        found.append(
            f"its predictions disagree with the stable track's on {check.disagreement:.1%} of "
            f"the rows (at most {max_disagreement:.1%})"
        )
    return found


# -- the requests ----------------------------------------------------------------------


def rest_body(examples: list[bytes]) -> bytes:
    """TF Serving's REST predict request: the row format, each serialized example base64."""
    instances = [{"b64": base64.b64encode(e).decode("ascii")} for e in examples]
    return json.dumps({"signature_name": SIGNATURE, "instances": instances}).encode()


def predict_url(base: str, model: str) -> str:
    return f"{base.rstrip('/')}/v1/models/{model}:predict"


def post(url: str, body: bytes, timeout: float) -> tuple[list | None, float]:
    """``(predictions or None on failure, seconds)`` of one request."""
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) given
            answer = json.loads(response.read())
        predictions = answer["predictions"]
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError, KeyError):
        return None, time.monotonic() - started
    except TypeError:  # an answer without a "predictions" list
        return None, time.monotonic() - started
    return predictions, time.monotonic() - started


def disagree(task: str, stable, canary):
    """Per row, whether the two tracks' outputs predict differently.

    A row either track answers with a value that is not a finite number
    (NaN, infinity) disagrees.
    """
    import numpy as np

    broken = ~(np.isfinite(stable).all(axis=1) & np.isfinite(canary).all(axis=1))
    with np.errstate(invalid="ignore"):
        if task == "regression":
            a, b = stable[:, 0], canary[:, 0]
            # Relative to the larger value, or near zero to the spread of the stable answers.
            spread = float(np.nanstd(a)) if np.isfinite(a).any() else 0.0
            scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), max(spread, 1e-9))
            differ = np.abs(a - b) > REGRESSION_TOLERANCE * scale
        elif task == "binary":
            differ = (stable[:, 0] >= 0.5) != (canary[:, 0] >= 0.5)
        else:
            differ = np.argmax(stable, axis=1) != np.argmax(canary, axis=1)
    return broken | differ


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 of request times, in milliseconds."""
    import numpy as np

    if not seconds:
        return (0.0, 0.0, 0.0)
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000.0, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def compare(
    batches: list[list[bytes]],
    urls: dict[str, str],
    task: str,
    version: str,
    timeout: float = 30.0,
) -> CanaryCheck:
    """Sends each batch to both tracks (``urls``: predict URL per track) and compares."""
    import numpy as np

    times: dict[str, list[float]] = {t: [] for t in TRACKS}
    errors = dict.fromkeys(TRACKS, 0)
    disagreeing = compared = 0
    for batch in batches:
        body = rest_body(batch)
        answers = {}
        for track in TRACKS:
            predictions, seconds = post(urls[track], body, timeout)
            try:
                scores = np.asarray(predictions, dtype=np.float64).reshape(len(batch), -1)
            except (TypeError, ValueError):  # no answer, or not one list of numbers per row
                errors[track] += 1
                continue
            times[track].append(seconds)
            answers[track] = scores
        if len(answers) == len(TRACKS) and answers["stable"].shape == answers["canary"].shape:
            compared += len(batch)
            disagreeing += int(disagree(task, answers["stable"], answers["canary"]).sum())
    stats = {t: TrackStats(len(batches), errors[t], percentiles(times[t])) for t in TRACKS}
    rows = sum(len(b) for b in batches)
    return CanaryCheck(
        version,
        rows,
        compared,
        disagreeing / compared if compared else 0.0,
        stats["stable"],
        stats["canary"],
    )


# -- the rows --------------------------------------------------------------------------


def examples_from_csv(
    files: list[str], types: dict[str, int], limit: int, batch_size: int
) -> list[list[bytes]]:
    """Up to ``limit`` rows of ``files`` as serialized examples, in batches."""
    try:
        return _batches(files, types, limit, batch_size)
    except UnicodeDecodeError as error:
        raise UserError(
            f"a file in the data is not UTF-8 text ({error.reason}); save it as UTF-8"
        ) from None


def _batches(
    files: list[str], types: dict[str, int], limit: int, batch_size: int
) -> list[list[bytes]]:
    from kubetfx.components.predictions import to_example

    examples: list[bytes] = []
    for path in files:
        with open(path, newline="", encoding="utf-8-sig", errors="strict") as f:
            reader = csv.reader(f)
            header = [name.strip() for name in next(reader, [])]
            for cells in reader:
                if not cells:
                    continue
                if len(cells) != len(header):
                    raise UserError(
                        f"{path} line {reader.line_num} has {len(cells)} fields but the header "
                        f"has {len(header)} columns; fix or remove that row"
                    )
                row = dict(zip(header, cells, strict=True))
                try:
                    examples.append(to_example(row, types).SerializeToString())
                except Exception as error:  # noqa: BLE001 - TaskError naming the column
                    raise UserError(f"{path} line {reader.line_num}: {error}") from None
                if len(examples) >= limit:
                    break
        if len(examples) >= limit:
            break
    return [examples[i : i + batch_size] for i in range(0, len(examples), batch_size)]


# -- reaching the tracks ---------------------------------------------------------------


@contextlib.contextmanager
def port_forwards(namespace: str, service_prefix: str) -> Iterator[dict[str, str]]:
    """A local address per track, forwarded by kubectl to the track's Service.

    kubectl writes a line for every connection it forwards; its output goes to
    files, so that a long check never blocks it on a full pipe.
    """
    processes: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="kubetfx-forward-") as folder:
        try:
            addresses = {}
            for track in TRACKS:
                out_path = os.path.join(folder, f"{track}.out")
                with open(out_path, "w") as out, open(out_path + ".err", "w") as err:
                    try:
                        process = subprocess.Popen(
                            [
                                "kubectl", "port-forward", "-n", namespace,
                                f"service/{service_prefix}-{track}", f":{REST_PORT}",
                            ],
                            stdout=out,
                            stderr=err,
                        )  # fmt: skip
                    except FileNotFoundError:
                        raise UserError(
                            "kubectl is not installed; give --stable-url and --canary-url instead"
                        ) from None
                processes.append(process)
                addresses[track] = f"http://127.0.0.1:{_forwarded_port(process, out_path, track)}"
            yield addresses
        finally:
            for process in processes:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _forwarded_port(process: subprocess.Popen, out_path: str, track: str) -> str:
    """The local port kubectl reports forwarding from, once it does (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(out_path) as f:
            port = re.search(r"127\.0\.0\.1:(\d+)", f.read())
        if port:
            return port.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    with open(out_path + ".err") as f:
        error = f.read().strip()
    reason = error.splitlines()[0] if error else "it reported no port within 30 s"
    raise UserError(
        f"kubectl port-forward to the {track} track's Service failed: {reason}; "
        "or give --stable-url and --canary-url"
    )
