"""Submitting compiled packages to a Kubeflow Pipelines 2.x endpoint, and following runs.

A thin layer over the ``kfp`` client (KFP's v2beta1 REST API) that turns its
failures into messages saying what to check.
"""

import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from kubetfx.pipelines.errors import PipelineFailed, UserError

FINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
PORT_FORWARD_HINT = "kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80"


def _explain(error: Exception, endpoint: str) -> UserError:
    """A one-line UserError for a failed call to ``endpoint``."""
    import urllib.error

    import kfp_server_api
    import urllib3

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


def probe(endpoint: str, timeout_seconds: float = 10.0) -> None:
    """Asks the API's health endpoint once, so a bad endpoint fails fast.

    The kfp client retries its own health check five times, five seconds apart.
    """
    import urllib.request

    url = f"{endpoint.rstrip('/')}/apis/v2beta1/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            response.read()
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, endpoint) from None


def connect(endpoint: str):
    """A kfp.Client for ``endpoint``; fails with a UserError if it does not answer."""
    import warnings

    import kfp

    if not endpoint.startswith(("http://", "https://")):
        raise UserError(f"--endpoint must be an http:// or https:// URL, got {endpoint}")
    probe(endpoint)
    # The client warns on every start that it needs KFP 2.0.0-beta.2 or later.
    warnings.filterwarnings("ignore", message="This client only works", category=FutureWarning)
    try:
        return kfp.Client(host=endpoint.rstrip("/"))
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, endpoint) from None


def submit(
    package_path: str,
    endpoint: str,
    params: Mapping[str, Any],
    experiment: str = "kubetfx",
    run_name: str | None = None,
    pipeline_root: str | None = None,
    enable_caching: bool | None = None,
) -> tuple[Any, str]:
    """Creates a run of the package; returns (client, run id)."""
    client = connect(endpoint)
    try:
        result = client.create_run_from_pipeline_package(
            package_path,
            arguments=dict(params),
            run_name=run_name,
            experiment_name=experiment,
            pipeline_root=pipeline_root,
            enable_caching=enable_caching,
        )
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, endpoint) from None
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


def recent_runs(endpoint: str, limit: int = 20) -> list[dict[str, str]]:
    """The newest runs: id, name, state, start and duration."""
    client = connect(endpoint)
    try:
        response = client.list_runs(page_size=limit, sort_by="created_at desc")
    except Exception as error:  # noqa: BLE001 - every failure is explained
        raise _explain(error, endpoint) from None
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
