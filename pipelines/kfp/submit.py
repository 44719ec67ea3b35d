"""Submitting compiled packages to a Kubeflow Pipelines 2.x endpoint, and following runs.

A thin layer over the ``kfp`` client (KFP's v2beta1 REST API) that turns its
failures into messages saying what to check. It authenticates as the client
does: a bearer token (given, or read from a token file such as a projected
service-account token), session cookies (the full Kubeflow platform behind
Dex), a namespace for multi-user mode, and TLS with a CA bundle or, when asked
explicitly, without verification.
"""

import dataclasses
import os
import ssl
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from kubetfx.pipelines.errors import PipelineFailed, UserError

FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
PORT_FORWARD_HINT = "kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80"


@dataclasses.dataclass(frozen=True)
class Connection:
    """Where the KFP API is and how to authenticate to it."""

    endpoint: str
    token: str | None = None
    token_file: str | None = None
    cookies: str | None = None
    namespace: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False

    def __post_init__(self):
        if not self.endpoint.startswith(("http://", "https://")):
            raise UserError(f"--endpoint must be an http:// or https:// URL, got {self.endpoint}")
        if self.token and self.token_file:
            raise UserError("give --token or --token-file, not both")
        if self.ca_bundle and self.insecure:
            raise UserError("give --ca-bundle or --insecure, not both")
        if self.ca_bundle and not os.path.isfile(self.ca_bundle):
            raise UserError(f"--ca-bundle {self.ca_bundle} is not a file")

    def bearer_token(self) -> str | None:
        """The token to send: given, or read now from the token file (it may be rotated)."""
        if not self.token_file:
            return self.token
        try:
            with open(self.token_file) as f:
                token = f.read().strip()
        except OSError as e:
            raise UserError(f"cannot read the token file {self.token_file}: {e.strerror}") from None
        if not token:
            raise UserError(f"the token file {self.token_file} is empty")
        return token

    def headers(self) -> dict[str, str]:
        headers = {}
        token = self.bearer_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.cookies:
            headers["Cookie"] = self.cookies
        return headers

    def ssl_context(self) -> ssl.SSLContext:
        if self.insecure:
            return ssl._create_unverified_context()  # noqa: S323 - asked for with --insecure
        return ssl.create_default_context(cafile=self.ca_bundle)

    def client_arguments(self) -> dict[str, Any]:
        """kfp.Client's arguments for the same endpoint and credentials."""
        from kfp.client import set_volume_credentials

        arguments: dict[str, Any] = {"host": self.endpoint.rstrip("/")}
        if self.token:
            arguments["existing_token"] = self.token
        elif self.token_file:
            self.bearer_token()  # a missing or empty file fails here, in one line
            arguments["credentials"] = set_volume_credentials.ServiceAccountTokenVolumeCredentials(
                self.token_file
            )
        if self.cookies:
            arguments["cookies"] = self.cookies
        if self.namespace:
            arguments["namespace"] = self.namespace
        if self.ca_bundle:
            arguments["ssl_ca_cert"] = self.ca_bundle
        if self.insecure:
            arguments["verify_ssl"] = False
        return arguments


def _tls_error(error: BaseException) -> BaseException | None:
    """The TLS failure behind ``error``, if that is what it is."""
    import urllib3

    seen: BaseException | None = error
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError | urllib3.exceptions.SSLError):
            return seen
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__context__
    return None


def _explain(error: Exception, endpoint: str) -> UserError:
    """A one-line UserError for a failed call to ``endpoint``."""
    import urllib.error

    import kfp_server_api
    import urllib3

    tls = _tls_error(error)
    if tls is not None:
        detail = str(getattr(tls, "reason", "") or tls).splitlines()[0]
        return UserError(
            f"TLS error talking to Kubeflow Pipelines at {endpoint} ({detail}); pass "
            "--ca-bundle with the CA that signed its certificate, or --insecure to skip "
            "the check"
        )
    status = None
    if isinstance(error, kfp_server_api.ApiException | urllib.error.HTTPError):
        status = getattr(error, "status", None) or getattr(error, "code", None)
    if status is not None:
        if status in (401, 403):
            return UserError(
                f"Kubeflow Pipelines at {endpoint} refused the request (HTTP {status}); "
                "check your credentials and that your account may use this namespace"
            )
        if status == 404:
            return UserError(
                f"no Kubeflow Pipelines API at {endpoint} (HTTP 404); point --endpoint at the "
                "KFP dashboard or API server, e.g. http://localhost:8080"
            )
        body = getattr(error, "body", "") or ""
        return UserError(f"Kubeflow Pipelines at {endpoint} answered HTTP {status}: {body}")
    if isinstance(error, urllib3.exceptions.HTTPError | OSError):
        return UserError(
            f"cannot reach Kubeflow Pipelines at {endpoint}; check the URL, and that "
            f"`{PORT_FORWARD_HINT}` is running for a local cluster"
        )
    return UserError(f"Kubeflow Pipelines at {endpoint}: {error}")


def probe(connection: Connection, timeout_seconds: float = 10.0) -> None:
    """Asks the API's health endpoint once, with the credentials, so a bad endpoint fails fast.

    The kfp client retries its own health check five times, five seconds apart.
    """
    import urllib.request

    url = f"{connection.endpoint.rstrip('/')}/apis/v2beta1/healthz"
    request = urllib.request.Request(url, headers=connection.headers())
    context = connection.ssl_context() if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds, context=context) as reply:
            reply.read()
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, connection.endpoint) from None


def connect(connection: Connection):
    """A kfp.Client for the connection; fails with a UserError if it does not answer."""
    import warnings

    import kfp

    probe(connection)
    # The client warns on every start that it needs KFP 2.0.0-beta.2 or later.
    warnings.filterwarnings("ignore", message="This client only works", category=FutureWarning)
    try:
        return kfp.Client(**connection.client_arguments())
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, connection.endpoint) from None


def submit(
    package_path: str,
    connection: Connection,
    params: Mapping[str, Any],
    experiment: str = "kubetfx",
    run_name: str | None = None,
    pipeline_root: str | None = None,
    enable_caching: bool | None = None,
) -> tuple[Any, str]:
    """Creates a run of the package (in the connection's namespace); returns (client, run id)."""
    client = connect(connection)
    try:
        result = client.create_run_from_pipeline_package(
            package_path,
            arguments=dict(params),
            run_name=run_name,
            experiment_name=experiment,
            namespace=connection.namespace,
            pipeline_root=pipeline_root,
            enable_caching=enable_caching,
        )
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, connection.endpoint) from None
    return client, result.run_id


def follow(
    client,
    run_id: str,
    endpoint: str,
    out: IO[str] = sys.stdout,
    poll_seconds: float = 5.0,
    timeout_seconds: float | None = None,
) -> str:
    """Prints each task's state as it changes until the run ends; returns the run state.

    Raises PipelineFailed when the run does not succeed.
    """
    started = time.monotonic()
    seen: dict[str, str] = {}
    while True:
        try:
            run = client.get_run(run_id)
        except Exception as error:  # noqa: BLE001 - every failure is explained
            raise _explain(error, endpoint) from None
        for task in (run.run_details.task_details if run.run_details else None) or []:
            name = task.display_name or task.task_id
            if seen.get(name) != task.state:
                seen[name] = task.state
                out.write(f"  {name:<24} {str(task.state).lower()}\n")
                out.flush()
        state = str(run.state)
        if state in FINAL_STATES:
            if state != "SUCCEEDED":
                detail = f": {run.error.message}" if run.error and run.error.message else ""
                raise PipelineFailed(f"run {run_id} ended {state.lower()}{detail}")
            return state
        if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
            raise PipelineFailed(
                f"run {run_id} still {state.lower()} after {timeout_seconds:.0f} s"
            )
        time.sleep(poll_seconds)


def recent_runs(connection: Connection, limit: int = 20) -> list[dict[str, str]]:
    """The newest runs (of the connection's namespace): id, name, state, start and duration."""
    client = connect(connection)
    try:
        response = client.list_runs(
            page_size=limit, sort_by="created_at desc", namespace=connection.namespace
        )
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, connection.endpoint) from None
    rows = []
    for run in response.runs or []:
        created, finished = run.created_at, run.finished_at
        duration = ""
        if created and finished and finished > created:
            duration = f"{(finished - created).total_seconds():.0f} s"
        rows.append(
            {
                "run_id": run.run_id,
                "name": run.display_name or "",
                "state": str(run.state or ""),
                "created": created.strftime("%Y-%m-%d %H:%M:%S") if created else "",
                "duration": duration,
            }
        )
    return rows
