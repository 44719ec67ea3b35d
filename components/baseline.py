"""LatestPushedModel: the model currently at the push destination, as a baseline.

TFX usually finds the baseline with a Resolver node that queries ML Metadata;
the Kubeflow Pipelines backend cannot run Resolver nodes. The model that is
serving is the baseline that matters anyway, and the push destination is
reachable from every runner, so this component snapshots it into a Model
artifact that the Evaluator compares the candidate against.

With nothing pushed yet the artifact is empty, and the Evaluator (see
``kubetfx.components.evaluator``) evaluates the candidate on its own.
"""

import os
from typing import Any

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

SAVED_MODEL_FILE = "saved_model.pb"


def latest_pushed_version(serving_dir: str) -> str | None:
    """Name of the newest complete model version under ``serving_dir``, if any.

    Versions are the integer-named folders a Pusher writes; one without a
    ``saved_model.pb`` is ignored.
    """
    if not fileio.exists(serving_dir):
        return None
    versions = [
        name.rstrip("/")
        for name in fileio.listdir(serving_dir)
        if name.rstrip("/").isdigit()
        and fileio.exists(os.path.join(serving_dir, name.rstrip("/"), SAVED_MODEL_FILE))
    ]
    return max(versions, key=int) if versions else None


def has_model(model: types.Artifact) -> bool:
    """Whether a Model artifact holds a SavedModel."""
    path = path_utils.serving_model_path(model.uri, path_utils.is_old_model_artifact(model))
    return fileio.exists(os.path.join(path, SAVED_MODEL_FILE))


class LatestPushedModelExecutor(base_executor.BaseExecutor):
    """Copies the newest pushed version into the output Model artifact."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        serving_dir = exec_properties["serving_dir"]
        model = artifact_utils.get_single_instance(output_dict["model"])
        version = latest_pushed_version(serving_dir)
        if version is None:
            logging.info("No model is pushed under %s yet; there is no baseline.", serving_dir)
            model.set_int_custom_property("has_model", 0)
            return
        source = os.path.join(serving_dir, version)
        io_utils.copy_dir(source, path_utils.serving_model_dir(model.uri))
        model.set_int_custom_property("has_model", 1)
        model.set_string_custom_property("pushed_version", version)
        model.set_string_custom_property("source_uri", source)
        logging.info("Baseline is the pushed model %s.", source)


class LatestPushedModelSpec(types.ComponentSpec):
    PARAMETERS = {
        "serving_dir": ExecutionParameter(type=str),
        # Newest version seen when the pipeline was built: part of the cache key,
        # so a new push invalidates the cached baseline and the evaluation.
        "expected_version": ExecutionParameter(type=str, optional=True),
    }
    INPUTS: dict[str, Any] = {}
    OUTPUTS = {"model": ChannelParameter(type=standard_artifacts.Model)}


class LatestPushedModel(base_component.BaseComponent):
    """Emits the model currently pushed to ``serving_dir`` as a Model artifact."""

    SPEC_CLASS = LatestPushedModelSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(LatestPushedModelExecutor)

    def __init__(self, serving_dir: str, expected_version: str | None = None):
        super().__init__(
            spec=LatestPushedModelSpec(
                serving_dir=serving_dir,
                expected_version=expected_version or "",
                model=types.Channel(type=standard_artifacts.Model),
            )
        )
