"""Settings of one pipeline run, and where its outputs go."""

import dataclasses
import hashlib
import importlib.util
import os
from importlib import resources

from kubetfx.components.eval_config import DEFAULT_MIN_ACCURACY

PIPELINE_NAME = "kubetfx-taxi"
DEFAULT_OUTPUT_DIR = "kubetfx_output"
DEFAULT_TRAIN_STEPS = 1000
DEFAULT_EVAL_STEPS = 100


def bundled_taxi_data() -> str:
    """The Chicago taxi sample (15,002 rows) that ships inside the ``tfx`` package."""
    # Located without importing tfx, which would load TensorFlow.
    tfx_dir = importlib.util.find_spec("tfx").submodule_search_locations[0]
    return os.path.join(tfx_dir, "examples", "chicago_taxi_pipeline", "data", "simple")


def bundled_schema() -> str:
    """The reviewed taxi schema that ships with ``kubetfx.components``."""
    return str(resources.files("kubetfx.components") / "schema" / "taxi.schema.pbtxt")


def code_fingerprint(*modules: str) -> str:
    """A digest of component modules, so that cached results go stale when they change.

    Transform and Trainer load the user functions by module path, which TFX's
    cache key does not cover; this digest of the modules a component runs
    (e.g. ``"preprocessing.py"``) goes into its ``custom_config``.
    """
    package = resources.files("kubetfx.components")
    digest = hashlib.sha256()
    for name in sorted(modules):
        digest.update(name.encode())
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything that varies between runs of the taxi pipeline."""

    data_root: str = dataclasses.field(default_factory=bundled_taxi_data)
    output_dir: str = DEFAULT_OUTPUT_DIR
    train_steps: int = DEFAULT_TRAIN_STEPS
    eval_steps: int = DEFAULT_EVAL_STEPS
    min_accuracy: float = DEFAULT_MIN_ACCURACY
    schema_file: str = dataclasses.field(default_factory=bundled_schema)
    beam_args: tuple[str, ...] = ()
    pipeline_name: str = PIPELINE_NAME
    # Where models are pushed; default: serving/ in the output folder.
    push_destination: str | None = None

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.output_dir, "pipeline_root")

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.output_dir, "metadata.db")

    @property
    def serving_dir(self) -> str:
        return self.push_destination or os.path.join(self.output_dir, "serving")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.output_dir, "logs")

    def absolute(self) -> "PipelineConfig":
        """The same config with every path made absolute (TFX stores them in metadata)."""
        return dataclasses.replace(
            self,
            data_root=os.path.abspath(self.data_root),
            output_dir=os.path.abspath(self.output_dir),
            schema_file=os.path.abspath(self.schema_file),
        )
