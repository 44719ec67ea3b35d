"""KFP's task cache: the key of a task (``backend/src/v2/cacheutils/cache.go``) and reuse.

The key covers input artifacts by ML Metadata id, input parameter values,
output artifacts by name and type (not URI), output parameter types, and the
container's image and raw command and arguments; not the files inside the
image, hence the code digest every compiled task carries.
"""

import hashlib
import json
from typing import Any


def cache_fingerprint(
    executor_input: dict[str, Any],
    container: dict[str, Any],
    image: str | None = None,
    component: dict[str, Any] | None = None,
) -> str:
    """cache.go: GenerateCacheKey and GenerateFingerPrint."""
    outputs = {
        key: {
            "artifacts": [
                {k: v for k, v in a.items() if k != "uri"} for a in value["artifacts"][:1]
            ]
        }
        for key, value in executor_input["outputs"]["artifacts"].items()
    }
    output_parameters = (component or {}).get("outputDefinitions", {}).get("parameters", {})
    key = {
        "inputArtifactNames": {
            k: {"artifactNames": [a["name"] for a in v["artifacts"]]}
            for k, v in executor_input["inputs"]["artifacts"].items()
        },
        "inputParameterValues": executor_input["inputs"]["parameterValues"],
        "outputArtifactsSpec": outputs,
        "outputParametersSpec": {k: s["parameterType"] for k, s in output_parameters.items()},
        "containerSpec": {
            "image": image or container.get("image", ""),
            "cmdArgs": container.get("command", []) + container.get("args", []),
        },
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def reuse_error(executor_input: dict[str, Any], cached_outputs: dict[str, Any]) -> str | None:
    """driver/cache.go: collectOutputArtifactMetadataFromCache; the error, or None.

    A cache hit fails the task when one of its outputs is not among the cached
    execution's.
    """
    missing = sorted(set(executor_input["outputs"]["artifacts"]) - set(cached_outputs))
    if not missing:
        return None
    return (
        "failed collect output artifact metadata from cache: unable to find artifact with "
        f"name {missing[0]} in mlmd output artifacts"
    )
