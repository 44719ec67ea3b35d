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
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

from kubetfx.pipelines.errors import UserError

TRACKS = ("stable", "canary")
# promote refuses a canary above these, unless --force.
MAX_ERROR_RATE = 0.01
MAX_DISAGREEMENT = 0.10
# Regression predictions this far apart (relative to the larger) disagree.
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
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError):
        return None, time.monotonic() - started
    return predictions, time.monotonic() - started


def disagree(task: str, stable, canary):
    """Per row, whether the two tracks' outputs predict differently."""
    import numpy as np

    if task == "regression":
        a, b = stable.reshape(-1), canary.reshape(-1)
        scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-9)
        return np.abs(a - b) > REGRESSION_TOLERANCE * scale
    if task == "binary":
        return (stable.reshape(-1) >= 0.5) != (canary.reshape(-1) >= 0.5)
    return np.argmax(stable, axis=1) != np.argmax(canary, axis=1)


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
            if predictions is None or len(predictions) != len(batch):
                errors[track] += 1
                continue
            times[track].append(seconds)
            answers[track] = np.asarray(predictions, dtype=np.float64).reshape(len(batch), -1)
        if len(answers) == len(TRACKS):
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
    from kubetfx.components.predictions import to_example

    examples: list[bytes] = []
    for path in files:
        with open(path, newline="", encoding="utf-8-sig") as f:
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
    """A local address per track, forwarded by kubectl to the track's Service."""
    processes = []
    try:
        addresses = {}
        for track in TRACKS:
            try:
                process = subprocess.Popen(
                    [
                        "kubectl",
                        "port-forward",
                        "-n",
                        namespace,
                        f"service/{service_prefix}-{track}",
                        f":{REST_PORT}",
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            except FileNotFoundError:
                raise UserError(
                    "kubectl is not installed; give --stable-url and --canary-url instead"
                ) from None
            processes.append(process)
            line = process.stdout.readline() if process.stdout else ""
            port = re.search(r"127\.0\.0\.1:(\d+)", line)
            if not port:
                process.terminate()
                error = (process.stderr.read() if process.stderr else "") or line
                reason = error.strip().splitlines()[0] if error.strip() else "no output"
                raise UserError(
                    f"kubectl port-forward to the {track} track's Service failed: {reason}; "
                    "or give --stable-url and --canary-url"
                )
            addresses[track] = f"http://127.0.0.1:{port.group(1)}"
        yield addresses
    finally:
        for process in processes:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
