"""Where a task's command runs: a subprocess of this Python, or a container of an image.

Both present the task with what a KFP pod has: the launcher's local mount
(``/minio``, ``/s3``, ``/gcs``), the output parameter files
(``/tmp/kfp/outputs``) and the mounted volumes. A subprocess shares this
machine's filesystem, so those paths are moved under the task's own folder
(``$ARTIFACT_LOCAL_PATH``, which kubetfx's entrypoint reads); a container
gets them as bind mounts.
"""

import os
import subprocess
import sys
from typing import IO, Any, Protocol

from kubetfx.pipelines.errors import UserError

# Mount points of a KFP task pod that the launcher fills.
POD_FOLDERS = ("minio", "s3", "gcs", "tmp/kfp/outputs")
_NOBODY = (65534, 65534)


class TaskRunner(Protocol):
    image: str  # what the cache key names as the task's image

    def prepare(self, executor_input: dict[str, Any], pod: str, mounts: dict[str, str]) -> None:
        """Adjusts the ExecutorInput, in place, to where the task sees its files."""

    def host_path(self, path: str, pod: str) -> str:
        """Where a path the task writes (in the ExecutorInput) is on this machine."""

    def run(
        self,
        command: list[str],
        pod: str,
        mounts: dict[str, str],
        resources: dict[str, Any],
        log: IO[str],
    ) -> int:
        """Runs the command to its end; its exit code."""


class SubprocessRunner:
    """The task as a subprocess of this Python environment, as the invoking user."""

    def __init__(self):
        self.image = f"local:{sys.executable}"

    def prepare(self, executor_input, pod, mounts) -> None:
        params = executor_input["inputs"]["parameterValues"]
        for key, value in params.items():
            for mount_path, host in mounts.items():
                if isinstance(value, str) and (
                    value == mount_path or value.startswith(mount_path + "/")
                ):
                    params[key] = host + value[len(mount_path) :]
        outputs = executor_input["outputs"]
        outputs["outputFile"] = os.path.join(pod, outputs["outputFile"].lstrip("/"))
        for parameter in outputs.get("parameters", {}).values():
            parameter["outputFile"] = os.path.join(pod, parameter["outputFile"].lstrip("/"))

    def host_path(self, path: str, pod: str) -> str:
        return path

    def run(self, command, pod, mounts, resources, log) -> int:
        env = {
            **os.environ,
            "ARTIFACT_LOCAL_PATH": pod,
            # The image has python on PATH; here it is this environment's.
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        }
        return subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env).returncode


class DockerRunner:
    """The task in a container of ``image``: no network, no capabilities, never root."""

    def __init__(self, image: str, docker: str | None = None):
        import shutil

        self.image = image
        self.docker = docker or os.environ.get("DOCKER", "docker")
        if not shutil.which(self.docker):
            raise UserError(f"--docker needs the docker command ({self.docker} is not installed)")

    def prepare(self, executor_input, pod, mounts) -> None:
        pass  # the container sees the pod's paths as they are

    def host_path(self, path: str, pod: str) -> str:
        return os.path.join(pod, path.lstrip("/"))

    def run(self, command, pod, mounts, resources, log) -> int:
        volumes = []
        for folder in POD_FOLDERS:
            os.makedirs(os.path.join(pod, folder), exist_ok=True)
            volumes += ["-v", f"{os.path.join(pod, folder)}:/{folder}"]
        for mount_path, host in mounts.items():
            volumes += ["-v", f"{host}:{mount_path}"]
        if os.getuid() == 0:
            # As on a cluster, the folders belong to the task's non-root user: the
            # image's own, or nobody when the image would run as root.
            uid, gid = self._image_user()
            if uid == 0:
                uid, gid = _NOBODY
            for folder in [pod, *mounts.values()]:
                _chown_tree(folder, uid, gid)
            user = ["--user", f"{uid}:{gid}"]
        else:
            user = ["--user", f"{os.getuid()}:{os.getgid()}", "-e", "HOME=/tmp"]
        confinement = ["--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        confinement += ["--network", "none"]
        # driver.go applies the limits to the pod; docker applies them to the container.
        limits = []
        if resources.get("cpuLimit"):
            limits += ["--cpus", str(resources["cpuLimit"])]
        if resources.get("memoryLimit"):
            limits += ["--memory", f"{int(resources['memoryLimit'] * 1024)}m"]
        docker = [
            self.docker, "run", "--rm", *confinement, *user, *volumes, *limits,
            "--entrypoint", command[0], self.image, *command[1:],
        ]  # fmt: skip
        return subprocess.run(docker, stdout=log, stderr=subprocess.STDOUT).returncode

    def _image_user(self) -> tuple[int, int]:
        """The numeric user and group the image runs as (root when it names none)."""
        result = subprocess.run(
            [self.docker, "image", "inspect", self.image, "--format", "{{.Config.User}}"],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode != 0:
            raise UserError(f"no image {self.image}: build it (make image) or pull it")
        user, _, group = result.stdout.strip().partition(":")
        if not user.isdigit():
            return (0, 0)
        return int(user), int(group) if group.isdigit() else int(user)


def _chown_tree(folder: str, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(folder):
        os.chown(root, uid, gid, follow_symlinks=False)
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
