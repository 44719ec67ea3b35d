"""The emulated object store: a folder, ``<bucket>/<key>`` per object, as KFP's store holds them.

The launcher stages artifacts between it and a task's local mount
(``backend/src/v2/objectstore/object_store.go``: ``DownloadBlob``,
``UploadBlob``). Every path is checked to stay inside the folder.
"""

import os
import re
import shutil

from kubetfx.components.kfp_contract import OBJECT_STORE_SCHEMES
from kubetfx.pipelines.errors import UserError


class UploadFailed(Exception):
    """An output the store refuses; the launcher fails the task with this message."""


# S3's bucket naming rules, which MinIO and GCS share.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


def split_uri(uri: str) -> tuple[str, str]:
    """``minio://bucket/key`` → (bucket, key)."""
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    return bucket, key


def object_path(object_store: str, uri: str) -> str:
    """Where the emulated object store keeps the object at ``uri``, always inside it.

    A bucket that breaks the naming rules, or a key with an empty, ``.`` or
    ``..`` segment (``minio://b//etc/x``, ``minio://b/a/../../x``), is refused,
    as is a path that resolves (through links) outside ``object_store``.
    """
    if not uri.startswith(OBJECT_STORE_SCHEMES):
        raise UserError(f"{uri} is not an object-store URI (minio://, s3://, gs://)")
    bucket, key = split_uri(uri)
    segments = key.rstrip("/").split("/")
    if not _BUCKET.fullmatch(bucket) or any(s in ("", ".", "..") for s in segments):
        raise UserError(
            f"{uri} is not a valid object URI (bucket/key/...; no empty, . or .. parts)"
        )
    path = os.path.join(object_store, bucket, key)
    root = os.path.realpath(object_store)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise UserError(f"{uri} resolves outside the emulated object store {object_store}")
    return path


class ObjectStore:
    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def path(self, uri: str) -> str:
        return object_path(self.folder, uri)

    def download(self, uri: str, local_path: str) -> None:
        """object_store.go: DownloadBlob, every object under the URI to ``local_path``."""
        source = self.path(uri)
        if os.path.isdir(source):
            shutil.copytree(source, local_path, symlinks=True, dirs_exist_ok=True)
        elif os.path.exists(source):
            os.makedirs(os.path.dirname(local_path), exist_ok=True)
            shutil.copy2(source, local_path)

    def upload(self, local_path: str, uri: str) -> None:
        """object_store.go: UploadBlob, file by file; raises UploadFailed on a link.

        The store keeps files, not folders, so empty folders vanish. A symbolic
        link fails the upload: the backend cannot upload a link to a folder,
        and following one here could copy a host file into the store. A
        missing local path is only a warning there (launcher_v2.go), and
        uploads nothing.
        """
        target = self.path(uri)
        if os.path.islink(local_path):
            raise UploadFailed(f"{local_path} is a symbolic link")
        if os.path.isfile(local_path):
            self.upload_file(local_path, uri)
            return
        for root, dirs, files in os.walk(local_path):
            for name in dirs + files:
                if os.path.islink(os.path.join(root, name)):
                    raise UploadFailed(f"{os.path.join(root, name)} is a symbolic link")
            for name in files:
                source = os.path.join(root, name)
                destination = os.path.join(target, os.path.relpath(source, local_path))
                os.makedirs(os.path.dirname(destination), exist_ok=True)
                shutil.copyfile(source, destination, follow_symlinks=False)

    def upload_file(self, local_path: str, uri: str) -> None:
        target = self.path(uri)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(local_path, target, follow_symlinks=False)
