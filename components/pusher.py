"""Pusher executor that publishes a model version atomically.

TFX's filesystem Pusher copies straight into ``<destination>/<version>/``, so
a model server polling the destination can see a half-written version. This
executor copies into a hidden staging folder beside it, flushes every file and
folder to disk, and renames it into place, so a version is either absent or
complete, also after a crash or power loss; older versions are never touched,
and an unblessed model changes nothing at the destination. A model identical
to the newest pushed version is not pushed again, so re-running a pipeline
whose training was cached adds no duplicate version.

A push holds an OS lock (``flock``) on the destination folder itself from
choosing the version number to the rename, so two pipelines pushing to one folder never
publish the same version, and a staging folder found while holding it was left
by a push that was killed: it is removed. A failed copy (a full disk, say)
removes its staging folder and leaves the destination as it was.
"""

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as tfx_pusher
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils

from kubetfx.components.baseline import latest_pushed_version
from kubetfx.components.errors import TaskError
from kubetfx.components.failpoints import failpoint

# Set on the pushed_model artifact when the model was already serving.
SERVING_VERSION_KEY = "serving_version"
STAGING_PREFIX = ".staging-"
PUSH_LOCK_FILE = ".kubetfx-push.lock"  # only where the folder itself cannot be locked


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
        version, new = publish(model_path, base_dir)
        if not new:
            logging.info("The model is already serving as version %s; not pushed again.", version)
            self._MarkNotPushed(model_push)
            model_push.set_string_custom_property(SERVING_VERSION_KEY, version)
            return
        serving_path = os.path.join(base_dir, version)
        logging.info("Model pushed to %s.", serving_path)
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push, pushed_destination=serving_path, pushed_version=version)
        model_push.set_string_custom_property(SERVING_VERSION_KEY, version)


def publish(model_path: str, base_dir: str) -> "tuple[str, bool]":
    """Publishes ``model_path`` as a new version under ``base_dir``.

    Returns the version's name and True, or the newest version's name and
    False when that version is this very model.
    """
    with _push_lock(base_dir):
        serving = latest_pushed_version(base_dir)
        if serving and model_digest(model_path) == model_digest(os.path.join(base_dir, serving)):
            return serving, False
        version = _new_version(base_dir)
        staging_path = os.path.join(base_dir, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
        try:
            _copy_durably(model_path, staging_path)
            failpoint("pusher-staged")
            fileio.rename(staging_path, os.path.join(base_dir, version))
        except BaseException as error:
            _remove(staging_path)
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                raise TaskError(
                    f"no space left on the device of {base_dir} for model version {version} "
                    f"({_megabytes(_size(model_path))} needed); nothing was changed there: "
                    "free some space, then re-run"
                ) from error
            raise
        _fsync_dir(base_dir)  # the rename itself, on disk
        return version, True


def _is_local(path: str) -> bool:
    return "://" not in path


@contextlib.contextmanager
def _push_lock(base_dir: str) -> Iterator[None]:
    """Holds the destination's push lock; removes staging folders of killed pushes."""
    fileio.makedirs(base_dir)
    if not _is_local(base_dir):
        # An object store has no locks: pushes to one are not serialized.
        yield
        return
    fd = _locked(base_dir)
    try:
        for name in os.listdir(base_dir):
            if name.startswith(STAGING_PREFIX):
                logging.info("Removing %s, left by a push that did not finish.", name)
                _remove(os.path.join(base_dir, name))
        yield
    finally:
        os.close(fd)


def _locked(base_dir: str) -> int:
    """A descriptor holding the exclusive lock of ``base_dir``, waiting for it if need be.

    The folder is the lock, so that nothing but versions appears in it. NFS
    cannot lock a folder (its flock is a write lock on an open file): there, a
    hidden lock file in the folder is the lock.
    """
    for path, flags in (
        (base_dir, os.O_RDONLY | os.O_DIRECTORY),
        (os.path.join(base_dir, PUSH_LOCK_FILE), os.O_RDWR | os.O_CREAT),
    ):
        fd = os.open(path, flags, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException as error:
            os.close(fd)
            if not isinstance(error, OSError):
                raise
            failure = error
            continue
        return fd
    raise failure


def _copy_durably(source: str, destination: str) -> None:
    """Copies a folder and forces every copied file and folder to disk."""
    if not (_is_local(source) and _is_local(destination)):
        io_utils.copy_dir(source, destination)
        return
    # Not shutil.copytree: it gathers errors into one shutil.Error, hiding ENOSPC.
    for root, _, files in os.walk(source):
        target = os.path.join(destination, os.path.relpath(root, source))
        os.makedirs(target, exist_ok=True)
        for name in files:
            _copy_file_durably(os.path.join(root, name), os.path.join(target, name))
    for root, _, _ in os.walk(destination, topdown=False):
        _fsync_dir(root)


def _copy_file_durably(source: str, destination: str) -> None:
    shutil.copyfile(source, destination)
    with open(destination, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: str) -> None:
    if _is_local(path):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove(path: str) -> None:
    if fileio.exists(path):
        fileio.rmtree(path)


def _size(folder: str) -> int:
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _, files in os.walk(folder)
        for name in files
    )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


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


def _new_version(base_dir: str) -> str:
    """A version named by the current Unix time, later than any already there."""
    version = int(time.time())
    existing = [int(n.rstrip("/")) for n in fileio.listdir(base_dir) if n.rstrip("/").isdigit()]
    if existing:
        version = max(version, max(existing) + 1)
    return str(version)
