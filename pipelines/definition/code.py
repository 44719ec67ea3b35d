"""The code Transform and Trainer run: kubetfx's generic functions, or the project's own.

Both components load their function by module path, which TFX's cache key
does not cover; a digest of the code is added to their ``custom_config`` so
that cached results go stale when the code changes. A project names its own
function as ``package.module.function`` (importable where the task runs) or
``/path/file.py:function`` (a file beside the project file: its folder is put
on the Python path of a local run, and an image for Kubeflow must hold it).
"""

import dataclasses
import hashlib
import importlib.util
import os
from importlib import resources

from kubetfx import components
from kubetfx.pipelines.project.loader import ProjectFile

GENERIC_PREPROCESSING_FN = components.PREPROCESSING_FN
GENERIC_RUN_FN = components.RUN_FN
# The Tuner's search (the project's tuning section); a project cannot replace it.
TUNER_FN = components.TUNER_FN
# The component modules each generic function is made of.
GENERIC_MODULES = {
    GENERIC_PREPROCESSING_FN: ("project.py", "preprocessing.py"),
    GENERIC_RUN_FN: (
        "project.py",
        "preprocessing.py",
        "model_inputs.py",
        "model.py",
        "networks.py",
        "forests.py",
        "predictions.py",
        "candidates.py",  # where a candidate's score goes
    ),
    TUNER_FN: (
        "project.py",
        "preprocessing.py",
        "model_inputs.py",
        "model.py",
        "networks.py",
        "forests.py",
        "predictions.py",
        "tuning.py",
    ),
}


@dataclasses.dataclass(frozen=True)
class UserFunction:
    """A function as TFX loads it, with the digest of its code."""

    module_path: str  # package.module.function
    fingerprint: str
    folder: str | None = None  # to put on the Python path, for a file beside the project
    file: str | None = None  # that file

    @property
    def generic(self) -> bool:
        return self.module_path in GENERIC_MODULES


def _same_file(origin: str | None, path: str) -> bool:
    return bool(origin) and os.path.exists(origin) and os.path.samefile(origin, path)


def _digest(*chunks: bytes) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()[:16]


def resolve(reference: str | None, generic: str) -> UserFunction:
    """The function a project names, or ``generic`` when it names none.

    Raises ValueError saying what to fix when the named code cannot be found.
    """
    if reference is None:
        package = resources.files("kubetfx.components")
        modules = sorted(GENERIC_MODULES[generic])
        return UserFunction(
            generic,
            _digest(*(name.encode() + (package / name).read_bytes() for name in modules)),
        )
    if ":" in reference:
        path, _, function = reference.rpartition(":")
        if not os.path.isfile(path):
            raise ValueError(f"{path} does not exist")
        module = os.path.splitext(os.path.basename(path))[0]
        if not module.isidentifier():
            raise ValueError(
                f"{os.path.basename(path)} cannot be imported as a module; "
                "name the file like a Python module (letters, digits, underscores)"
            )
        try:
            other = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            other = None
        if other is not None and not _same_file(other.origin, path):
            raise ValueError(
                f"{os.path.basename(path)} has the name of the module {module} "
                f"({other.origin}), which Python would import instead: rename the file"
            )
        with open(path, "rb") as f:
            fingerprint = _digest(f.read())
        return UserFunction(f"{module}.{function}", fingerprint, os.path.dirname(path), path)
    module, _, function = reference.rpartition(".")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise ValueError(
            f"module {module} is not importable here; install it, or name a "
            f"file beside the project file as file.py:{function}"
        )
    with open(spec.origin, "rb") as f:
        return UserFunction(reference, _digest(f.read()), file=spec.origin)


def user_functions(loaded: ProjectFile) -> tuple[UserFunction, UserFunction]:
    """The ``preprocessing_fn`` and ``run_fn`` the project runs."""
    found = []
    for setting, generic in (
        ("preprocessing_fn", GENERIC_PREPROCESSING_FN),
        ("run_fn", GENERIC_RUN_FN),
    ):
        try:
            found.append(resolve(getattr(loaded.project.code, setting), generic))
        except ValueError as error:
            raise loaded.error(("code", setting), str(error)) from None
    return found[0], found[1]
