"""Pusher executor that publishes a model version atomically.

TFX's filesystem Pusher copies straight into ``<destination>/<version>/``, so
a model server polling the destination can see a half-written version. This
executor copies into a hidden staging folder beside it and renames it into
place, so a version is either absent or complete; older versions are never
touched, and an unblessed model changes nothing at the destination. A model
identical to the newest pushed version is not pushed again, so re-running a
pipeline whose training was cached adds no duplicate version.
"""

import hashlib
import os
import time
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from kubetfx.components.baseline import latest_pushed_version

# Set on the pushed_model artifact when the model was already serving.
SERVING_VERSION_KEY = "serving_version"


class Executor(tfx_pusher.Executor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY]
        )
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        push_destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], push_destination
        )
        if push_destination.WhichOneof("destination") != "filesystem":
            return super().Do(input_dict, output_dict, exec_properties)

        model_path = self.GetModelPath(input_dict)
        base_dir = push_destination.filesystem.base_directory
        serving = latest_pushed_version(base_dir)
        if serving and model_digest(model_path) == model_digest(os.path.join(base_dir, serving)):
            logging.info("The model is already serving as version %s; not pushed again.", serving)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(SERVING_VERSION_KEY, serving)
            return
        version, serving_path = _new_version_path(base_dir)
        staging_path = os.path.join(base_dir, f".staging-{version}")
        if fileio.exists(staging_path):
            fileio.rmtree(staging_path)
        io_utils.copy_dir(model_path, staging_path)
        fileio.rename(staging_path, serving_path)
        logging.info("Model pushed to %s.", serving_path)

        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
        model_push.set_string_custom_property(SERVING_VERSION_KEY, version)


def model_digest(model_dir: str) -> str:
    """SHA-256 over every file's relative path and bytes in a SavedModel folder."""
    digest = hashlib.sha256()
    for root, _, files in sorted(fileio.walk(model_dir)):
        for name in sorted(files):
            path = os.path.join(root, name)
            digest.update(os.path.relpath(path, model_dir).encode())
            with fileio.open(path, "rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _new_version_path(base_dir: str) -> "tuple[str, str]":
    """A version named by the current Unix time, later than any already there."""
    fileio.makedirs(base_dir)
    version = int(time.time())
    existing = [int(n.rstrip("/")) for n in fileio.listdir(base_dir) if n.rstrip("/").isdigit()]
    if existing:
        version = max(version, max(existing) + 1)
    return str(version), os.path.join(base_dir, str(version))
