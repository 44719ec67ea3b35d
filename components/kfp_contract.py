"""Conventions between compiled Kubeflow specs and the task entrypoint.

Kept free of heavy imports: the compiler, the emulator and the entrypoint all
read it.
"""

import importlib.util
import os

# A task input parameter named override__<exec property>__<field>[__<field>...]
# sets one field inside a JSON-encoded proto exec property, e.g.
# override__train_args__num_steps. KFP can bind a pipeline parameter to a task
# input, but not to a field inside TFX's proto-valued properties.
OVERRIDE_PREFIX = "override__"

# package://<importable package>/<path>: a file or folder that ships inside an
# installed Python package, resolved where the task runs (the image).
PACKAGE_SCHEME = "package://"


def resolve_package_path(value: str) -> str:
    """``package://pkg.name/rel/path`` → the absolute path of that file or folder here."""
    if not value.startswith(PACKAGE_SCHEME):
        return value
    package, _, relative = value[len(PACKAGE_SCHEME) :].partition("/")
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{value}: no installed package {package} here")
    path = os.path.join(list(spec.submodule_search_locations)[0], relative)
    if not os.path.exists(path):
        raise ValueError(f"{value}: {path} does not exist")
    return path


# The schemes of the backend's object store (objectstore/config.go:
# ParseBucketConfigForArtifactURI accepts these and mem://).
OBJECT_STORE_SCHEMES = ("minio://", "s3://", "gs://")

# CsvExampleGen's input artifact holding the CSV folder staged from the object
# store, and the parameter carrying its content's fingerprint (which only
# exists to key KFP's cache on the data).
DATA_INPUT = "data"
DATA_FINGERPRINT_INPUT = "data_fingerprint"
# The DataFingerprint task's output parameter that feeds it.
FINGERPRINT_OUTPUT = "fingerprint"

# The node id of the Tracker (components/tracking.py), which runs last in a
# tracked run and which run parameters also feed; its output, and the property
# of that output with one line for the user: where MLflow holds the run, or why not.
TRACKER_NODE = "Tracker"
TRACKED_RUN = "tracked_run"
TRACKING_NOTE = "note"

# Every compiled task's arguments carry a digest of the kubetfx code it runs.
# KFP's cache key covers the image reference and the arguments, not the files
# inside the image: without it, an image rebuilt under the same tag with other
# code would reuse outputs cached by the old code. The tasks ignore its value.
CODE_DIGEST_ARG = "--kubetfx_code_digest"

# Output artifacts whose type is one of these are rendered by the KFP dashboard;
# the entrypoint writes them after the TFX executor.
VISUALIZATION_TYPES = (
    "system.HTML",
    "system.Markdown",
    "system.Metrics",
    "system.ClassificationMetrics",
)


# kubetfx's own artifact types, by the title TFX compiles them under (their
# TYPE_NAME), and the class that the entrypoint restores an artifact of that
# title to. TFX would import the title itself as a class path.
ARTIFACT_CLASSES = {
    "kubetfx.Predictions": "kubetfx.components.batch_predictions.PredictionsArtifact",
    "kubetfx.TrackedRun": "kubetfx.components.tracking.TrackedRun",
}


def schema_title(title: str, instance_schema: str) -> str:
    """An artifact type's name: its schema title, else the ``title:`` of its instance schema.

    Specs name types either way (``ArtifactTypeSchema``); "" when neither does.
    """
    if title:
        return title
    for line in instance_schema.splitlines():
        if line.startswith("title:"):
            return line.split(":", 1)[1].strip()
    return ""
