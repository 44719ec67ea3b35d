"""A gradual, reversible shift of online traffic from the serving model to a new one.

The state of a rollout is three facts: the version the stable track serves,
the version the canary track serves, and the canary's share of requests; and
a fourth, what ``kubetfx rollout check`` found for the canary. They live in
the cluster, on the HTTPRoute that splits the requests (its weights, and
annotations naming the versions and holding the check), so every command
starts from what is deployed, or from a rendered manifest given with
``--from``. ``promote`` refuses a canary whose check failed or is missing
(pipelines/serving/check.py), unless forced.

Each command computes the next state (``start``, ``set_percent``,
``promote``, ``rollback``), renders ``kubernetes/serving/`` with it as a
kustomize overlay (each track's model config pinned to its version, the
route's weights) and applies the result with kubectl, or prints it. A new
version is rolled out, and ready, before any weight moves to it.
"""

import dataclasses
import json
import os
import subprocess
import tempfile

import yaml

from kubetfx.pipelines.errors import UserError

ROUTE = "kubetfx-serving"
NAMESPACE = "kubeflow"
MODEL_NAME = "kubetfx"
STABLE_ANNOTATION = "kubetfx.dev/stable-version"
CANARY_ANNOTATION = "kubetfx.dev/canary-version"
CHECK_ANNOTATION = "kubetfx.dev/canary-check"
TRACKS = ("stable", "canary")
_ROUTE_TARGET = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": ROUTE}


@dataclasses.dataclass(frozen=True)
class Rollout:
    stable: str
    canary: str
    percent: int  # the canary's share of requests, 0 to 100
    check: str = ""  # the canary's check (CanaryCheck as JSON), "" before any

    def describe(self) -> str:
        if self.canary == self.stable:
            return f"version {self.stable} serves all requests (no canary)"
        if self.percent == 0:
            return f"version {self.stable} serves all requests; canary {self.canary} is drained"
        return (
            f"version {self.stable} serves {100 - self.percent}% of requests, "
            f"canary {self.canary} {self.percent}%"
        )


def check_version(version: str) -> str:
    if not version.isdigit():
        raise UserError(f"model version {version!r} is not a version: a pushed folder's number")
    return version


def check_percent(percent: int) -> int:
    if not 0 <= percent <= 100:
        raise UserError(f"--percent {percent} is not between 0 and 100")
    return percent


def start(current: Rollout | None, version: str, percent: int) -> Rollout:
    """The canary serves ``version`` with ``percent`` of requests; the first version is stable."""
    check_version(version)
    check_percent(percent)
    if current is None:
        return Rollout(version, version, 0)
    if current.canary != current.stable and current.percent > 0:
        raise UserError(
            f"canary {current.canary} takes {current.percent}% of requests; promote it or roll "
            "it back before starting another"
        )
    if version == current.stable:
        raise UserError(f"version {version} is the stable version already")
    return Rollout(current.stable, version, percent)


def set_percent(current: Rollout | None, percent: int) -> Rollout:
    check_percent(percent)
    canary = canary_of(current, "set a canary's share")
    return dataclasses.replace(canary, percent=percent)


def promote(
    current: Rollout | None,
    force: bool = False,
    max_error_rate: float | None = None,
    max_disagreement: float | None = None,
) -> Rollout:
    """The canary's version becomes stable and takes every request.

    Refused (CanaryRefused, exit 3) when the canary's check is missing or
    failed, unless ``force``.
    """
    from kubetfx.pipelines.serving import check as checks

    canary = canary_of(current, "promote")
    if force:
        return Rollout(canary.canary, canary.canary, 0)
    found = checks.problems(
        _recorded_check(canary.check),
        canary.canary,
        checks.MAX_ERROR_RATE if max_error_rate is None else max_error_rate,
        checks.MAX_DISAGREEMENT if max_disagreement is None else max_disagreement,
    )
    if found:
        raise CanaryRefused(
            f"not promoting canary {canary.canary}: {'; '.join(found)}; run `kubetfx rollout "
            "check --data DIR`, roll it back, or pass --force"
        )
    return Rollout(canary.canary, canary.canary, 0)


def _recorded_check(text: str):
    """The check recorded on the route; None when there is none or it cannot be read."""
    from kubetfx.pipelines.serving import check as checks

    if not text:
        return None
    try:
        return checks.CanaryCheck.from_json(text)
    except (ValueError, KeyError, TypeError):
        return None  # written by hand or by another version: the canary counts as unchecked


def record_check(current: Rollout | None, result: str, version: str) -> Rollout:
    """The state with a check of canary ``version`` recorded (``result``: CanaryCheck JSON)."""
    canary = canary_of(current, "check")
    if canary.canary != version:
        raise UserError(f"the canary serves {canary.canary} now, not the checked {version}")
    return dataclasses.replace(canary, check=result)


def rollback(current: Rollout | None) -> Rollout:
    """The canary gets no requests at once; the stable track is untouched.

    Its check is dropped: taking requests again, it is checked again first.
    """
    canary = canary_of(current, "roll back")
    return dataclasses.replace(canary, percent=0, check="")


class CanaryRefused(UserError):
    """promote refused: the canary's check failed or is missing."""

    exit_code = 3


def canary_of(current: Rollout | None, action: str) -> Rollout:
    """``current``, refused with what to do when it has no canary to ``action``."""
    if current is None:
        raise UserError(f"nothing is served yet, so there is nothing to {action}")
    if current.canary == current.stable:
        raise UserError(f"there is no canary to {action}: start one with `kubetfx rollout start`")
    return current


# -- reading the state ---------------------------------------------------------------


def from_route(route: dict) -> Rollout:
    """The state recorded on the HTTPRoute: its version annotations and backend weights."""
    try:
        annotations = (route.get("metadata") or {}).get("annotations") or {}
        weights = {
            ref["name"]: int(ref.get("weight", 1))
            for rule in (route.get("spec") or {}).get("rules") or []
            for ref in rule.get("backendRefs") or []
        }
        stable, canary = annotations[STABLE_ANNOTATION], annotations[CANARY_ANNOTATION]
        canary_weight = weights[f"{ROUTE}-canary"]
        total = canary_weight + weights[f"{ROUTE}-stable"]
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise UserError(
            f"the HTTPRoute {ROUTE} was not written by kubetfx ({type(error).__name__}: {error})"
        ) from None
    percent = round(100 * canary_weight / total) if total else 0
    return Rollout(stable, canary, percent, annotations.get(CHECK_ANNOTATION) or "")


def from_manifest(path: str) -> Rollout:
    """The state in a rendered manifest (the output of a `--dry-run`, say)."""
    try:
        with open(path, encoding="utf-8") as f:
            documents = [d for d in yaml.safe_load_all(f) if d]
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"cannot read --from {path} ({error})") from None
    routes = [
        d
        for d in documents
        if isinstance(d, dict) and d.get("kind") == "HTTPRoute" and _named(d, ROUTE)
    ]
    if not routes:
        raise UserError(f"--from {path} has no HTTPRoute {ROUTE}")
    return from_route(routes[0])


def from_cluster(namespace: str = NAMESPACE) -> Rollout | None:
    """The deployed state, or None when nothing is deployed."""
    result = _kubectl("get", "httproute", ROUTE, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise UserError(f"kubectl cannot read the HTTPRoute: {_first_line(result.stderr)}")
    return from_route(json.loads(result.stdout))


def readiness(namespace: str = NAMESPACE) -> dict[str, str]:
    """Each track's ready replicas, as ``ready/wanted``."""
    ready = {}
    for track in TRACKS:
        result = _kubectl("get", "deployment", f"{ROUTE}-{track}", "-n", namespace, "-o", "json")
        status = json.loads(result.stdout).get("status", {})
        ready[track] = f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)}"
    return ready


def _named(document: dict, name: str) -> bool:
    return isinstance(document.get("metadata"), dict) and document["metadata"].get("name") == name


# -- rendering and applying --------------------------------------------------------------


def model_config(version: str) -> str:
    """TF Serving's model config: the one model, pinned to ``version``."""
    return (
        "model_config_list {\n  config {\n"
        f'    name: "{MODEL_NAME}"\n    base_path: "/models/{MODEL_NAME}"\n'
        '    model_platform: "tensorflow"\n'
        f"    model_version_policy {{ specific {{ versions: {int(version)} }} }}\n"
        "  }\n}\n"
    )


def overlay(rollout: Rollout, manifests: str, folder: str) -> dict:
    """The kustomization, in ``folder``, that sets the versions and weights on ``manifests``."""
    weights = {"stable": 100 - rollout.percent, "canary": rollout.percent}
    versions = {"stable": rollout.stable, "canary": rollout.canary}
    patch = [
        {
            "op": "replace",
            "path": f"/spec/rules/0/backendRefs/{index}/weight",
            "value": weights[track],
        }
        for index, track in enumerate(TRACKS)
    ] + [
        # "add" sets a member whether the base has it or not.
        {"op": "add", "path": f"/metadata/annotations/{_pointer(key)}", "value": value}
        for key, value in (
            (STABLE_ANNOTATION, rollout.stable),
            (CANARY_ANNOTATION, rollout.canary),
            (CHECK_ANNOTATION, rollout.check),
        )
    ]
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(manifests, folder)],
        "configMapGenerator": [
            {
                "name": f"{ROUTE}-{track}",
                "namespace": NAMESPACE,
                "behavior": "replace",
                "literals": [f"models.config={model_config(versions[track])}"],
            }
            for track in TRACKS
        ],
        "patches": [{"target": _ROUTE_TARGET, "patch": yaml.safe_dump(patch)}],
    }


def _pointer(key: str) -> str:
    """``key`` as one JSON Pointer step."""
    return key.replace("~", "~0").replace("/", "~1")


def render(rollout: Rollout, manifests: str) -> str:
    """The manifests of ``rollout``, rendered by kustomize."""
    if not os.path.isfile(os.path.join(manifests, "kustomization.yaml")):
        raise UserError(
            f"{manifests} has no kustomization.yaml; pass --manifests with kubetfx's "
            "kubernetes/serving folder"
        )
    with tempfile.TemporaryDirectory(prefix="kubetfx-rollout-") as folder:
        with open(os.path.join(folder, "kustomization.yaml"), "w", encoding="utf-8") as f:
            yaml.safe_dump(overlay(rollout, os.path.abspath(manifests), folder), f)
        return _kubectl("kustomize", folder).stdout


def apply(
    current: Rollout | None,
    state: Rollout,
    manifests: str,
    namespace: str = NAMESPACE,
    timeout: str = "600s",
) -> None:
    """Moves the cluster from ``current`` to ``state``: versions first, then weights.

    A track that changes version is rolled out at the weights it has now, and
    the weights change only once both tracks are ready, so no request reaches
    a version that is still loading, or one that never loads.
    """
    if current is not None and (current.stable, current.canary) != (state.stable, state.canary):
        _kubectl(
            "apply",
            "-f",
            "-",
            stdin=render(dataclasses.replace(state, percent=current.percent), manifests),
        )
        for track in TRACKS:
            deployment = f"deployment/{ROUTE}-{track}"
            ready = _kubectl(
                "rollout",
                "status",
                deployment,
                "-n",
                namespace,
                f"--timeout={timeout}",
                check=False,
            )
            if ready.returncode != 0:
                raise UserError(
                    f"the {track} track did not become ready within {timeout} "
                    f"({_first_line(ready.stderr)}); the weights are unchanged: see `kubectl -n "
                    f"{namespace} describe {deployment}`, or `kubetfx rollout rollback`"
                )
    _kubectl("apply", "-f", "-", stdin=render(state, manifests))


def _kubectl(*args: str, stdin: str | None = None, check: bool = True):
    try:
        result = subprocess.run(
            ["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=900
        )
    except FileNotFoundError:
        raise UserError("kubectl is not installed; rollout renders and applies with it") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"kubectl {args[0]} did not answer within 15 minutes") from None
    if check and result.returncode != 0:
        raise UserError(f"kubectl {args[0]} failed: {_first_line(result.stderr)}")
    return result


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else "no message"
