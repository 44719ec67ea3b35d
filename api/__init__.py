"""kubetfx: TFX pipelines from your own CSV data, locally and on Kubeflow Pipelines.

The public Python API, for people who write TFX pipelines of their own::

    import kubetfx

    project = kubetfx.load_project("my-project/kubetfx.yaml")
    pipeline = kubetfx.create_pipeline(project, kubetfx.RunSettings(output_dir="out"))

``create_pipeline`` returns the ``tfx`` pipeline object that ``kubetfx run``
runs; ``compile_pipeline`` writes the package that ``kubetfx compile`` writes.
Both take ``extend``, a function that adds components of your own to
kubetfx's. kubetfx's own TFX components are in ``kubetfx.components``.

What this module and ``kubetfx.components`` list in ``__all__`` is the public
API; every other module may change between releases. docs/python-api.md
shows it in use.
"""

import os

from kubetfx import _exports

# The one home of kubetfx's version: setup.py, the CLI's --version and the
# default image tag read it.
__version__ = "0.1.0"

# TFX's Keras code is written for Keras 2 (tf-keras). TensorFlow reads this
# when tf.keras is first used, so it is set before any pipeline is built.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

__all__ = [
    "PipelineFailed",
    "ProjectFile",
    "RunSettings",
    "UserError",
    "__version__",
    "compile_pipeline",
    "create_components",
    "create_pipeline",
    "kubernetes_dir",
    "load_project",
]

# Where each public name is defined. They are imported on first use: importing
# kubetfx (as the command line does) must not import TFX and TensorFlow.
_HOMES = {
    "PipelineFailed": "kubetfx.pipelines.errors",
    "ProjectFile": "kubetfx.pipelines.project.loader",
    "RunSettings": "kubetfx.pipelines.definition.settings",
    "UserError": "kubetfx.pipelines.errors",
    "compile_pipeline": "kubetfx.pipelines.kfp.compiler",
    "create_components": "kubetfx.pipelines.definition.pipeline",
    "create_pipeline": "kubetfx.pipelines.definition.pipeline",
    "kubernetes_dir": "kubetfx.pipelines.package_data",
    "load_project": "kubetfx.pipelines.project.loader",
}

__getattr__, __dir__ = _exports.lazy(globals(), _HOMES)
