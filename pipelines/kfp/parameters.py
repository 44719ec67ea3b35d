"""The compiled pipeline's run parameters, each defined once.

A parameter's name, KFP type, the project setting that gives its default and
bounds, the task inputs it sets, and the checks a value must pass. The
compiler writes them into the spec; emulate and submit type and check the
values given with ``--param`` against them, before anything runs.
"""

import dataclasses
import os
from collections.abc import Callable
from typing import Annotated, Any

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import spec as contract


@dataclasses.dataclass(frozen=True)
class RunParameter:
    name: str
    parameter_type: str  # the KFP ParameterType
    # (task, input parameter of the task) pairs the value is given to.
    bindings: tuple[tuple[str, str], ...]
    description: str
    # The project setting (dotted) it replaces for a run; its type's bounds apply.
    setting: str | None = None
    # Further checks of a value: (value, pipeline spec) -> what is wrong with it
    # (worded to follow "--param name=value"), or None.
    check: Callable[[Any, dict[str, Any]], str | None] | None = None

    @property
    def help(self) -> str:
        """The description, with the bounds of the setting it replaces."""
        if not self.setting:
            return self.description
        low = high = None
        for bound in _project_field(self.setting).metadata:
            low = getattr(bound, "ge", low)
            high = getattr(bound, "le", high)
        return f"{self.description}, {low} to {high} (the project's {self.setting})"

    def validate(self, value: Any, pipeline_spec: dict[str, Any], given_as: str = "") -> None:
        """Refuses a value outside the setting's bounds or failing the parameter's check.

        ``given_as`` names where the value came from, in the error; default
        ``--param name=value``.
        """
        given_as = given_as or f"--param {self.name}={value}"
        if self.setting:
            from pydantic import TypeAdapter, ValidationError

            field = _project_field(self.setting)
            try:
                TypeAdapter(Annotated[field.annotation, field]).validate_python(value, strict=True)
            except ValidationError as e:
                reason = e.errors()[0]["msg"]
                raise UserError(f"{given_as}: {reason}") from None
        problem = self.check(value, pipeline_spec) if self.check else None
        if problem:
            raise UserError(f"{given_as} {problem}")


def _project_field(dotted: str):
    """The pydantic field of a project setting, e.g. ``training.train_steps``."""
    from kubetfx.components.project import Project

    model: Any = Project
    *parents, leaf = dotted.split(".")
    for part in parents:
        model = model.model_fields[part].annotation
    return model.model_fields[leaf]


def _data_root_problem(value: str, pipeline_spec: dict[str, Any]) -> str | None:
    """A data_root of the kind the package reads: object store or inside the image."""
    from_store = contract.DATA_TASK in pipeline_spec["root"]["dag"]["tasks"]
    if from_store and not value.startswith(contract.OBJECT_STORE_SCHEMES):
        return (
            "is not in the object store, where this package reads its data: give a minio://, "
            "s3:// or gs:// folder (kubernetes/scripts/upload-data.sh copies one there)"
        )
    if not from_store and value.startswith(contract.OBJECT_STORE_SCHEMES):
        return (
            "is in the object store, but this package reads its data inside the image; "
            f"compile it with --data {value} to read from the object store"
        )
    return None


def _serving_dir_problem(value: str, pipeline_spec: dict[str, Any]) -> str | None:
    """A serving_dir inside the mounted volume: a model pushed elsewhere would be lost."""
    mount = contract.SERVING_MOUNT
    normal = os.path.normpath(value)
    if value.startswith("/") and (normal == mount or normal.startswith(mount + "/")):
        return None
    return (
        f"is outside the serving volume mounted at {mount}: a model pushed there is lost with "
        f"the task's pod; use {mount} or a folder in it"
    )


def _gcs_folder_problem(value: str, pipeline_spec: dict[str, Any]) -> str | None:
    """On Vertex AI, pushed models go to Cloud Storage."""
    return (
        None if value.startswith("gs://") else "is not a gs:// folder, where Vertex AI tasks push"
    )


DATA_ROOT = RunParameter(
    name="data_root",
    parameter_type="STRING",
    bindings=((contract.EXAMPLE_GEN_TASK, "input_base"), (contract.TRACKER_NODE, "data")),
    description="Folder of CSV files: minio://, s3:// or gs:// for a package compiled with "
    "--data in the object store, else package:// inside the image",
    check=_data_root_problem,
)
TRAIN_STEPS = RunParameter(
    name="train_steps",
    parameter_type="NUMBER_INTEGER",
    bindings=(
        *((task, "override__train_args__num_steps") for task in contract.TRAINER_TASKS),
        (contract.TRACKER_NODE, "train_steps"),
    ),
    description="Training steps",
    setting="training.train_steps",
)
SERVING_DIR = RunParameter(
    name="serving_dir",
    parameter_type="STRING",
    bindings=(
        ("LatestPushedModel", "serving_dir"),
        ("Pusher", "override__push_destination__filesystem__base_directory"),
    ),
    description=f"Folder of pushed models, in the serving volume at {contract.SERVING_MOUNT}",
    check=_serving_dir_problem,
)
PARAMETERS = {p.name: p for p in (DATA_ROOT, TRAIN_STEPS, SERVING_DIR)}
# On Vertex AI (compile --target vertex), models are pushed to a gs:// folder.
SERVING_DIR_GCS = dataclasses.replace(
    SERVING_DIR, description="Folder of pushed models, gs://", check=_gcs_folder_problem
)
# With data in the object store, data_root is the URI the Data importer imports.
DATA_ROOT_FROM_STORE = dataclasses.replace(
    DATA_ROOT, bindings=((contract.DATA_TASK, "uri"), (contract.TRACKER_NODE, "data"))
)
