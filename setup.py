"""Packaging for kubetfx.

The top-level folders map onto one installed namespace: ``api/`` is the
``kubetfx`` package itself (the public Python API and ``python -m kubetfx``),
``components/`` is ``kubetfx.components`` (code that runs inside a pipeline
task), ``pipelines/`` is ``kubetfx.pipelines`` (pipeline wiring, runners, run
history and the CLI), ``projects/`` is ``kubetfx.projects`` (the project files
that ship, the Chicago taxi one first) and ``kubernetes/`` is
``kubetfx.kubernetes`` (the manifests and scripts, as data).

Two stacks, chosen by the Python version (see stacks/README.md): Python 3.10
installs TFX 1.16, Python 3.11-3.13 TFX 1.21. The requirements below keep a
plain ``pip install`` off combinations that do not work; the exact versions
CI tests are in each stack's lock (stacks/<stack>/requirements.lock).
"""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "api" / "__init__.py").read_text(), re.MULTILINE
).group(1)

TFX_1_16 = 'python_version < "3.11"'
TFX_1_21 = 'python_version >= "3.11"'

setup(
    name="kubetfx",
    version=VERSION,
    description="TFX pipelines that run locally and on open-source Kubeflow Pipelines 2.x",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.14",
    classifiers=[
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ],
    # Every package under the folders, so a new subpackage cannot be left out.
    packages=[
        "kubetfx",
        *(
            f"kubetfx.{name}"
            for name in find_packages(include=["components*", "pipelines*", "projects*"])
        ),
        "kubetfx.kubernetes",
    ],
    package_dir={
        "kubetfx": "api",
        "kubetfx.components": "components",
        "kubetfx.pipelines": "pipelines",
        "kubetfx.projects": "projects",
        "kubetfx.kubernetes": "kubernetes",
    },
    package_data={
        "kubetfx.projects": ["*/kubetfx.yaml", "*/*.pbtxt"],
        "kubetfx.kubernetes": ["**/*"],
    },
    install_requires=[
        # The TFX 1.16 stack: the newest for Python 3.10 and for glibc older than 2.39.
        f"tfx[kfp]==1.16.0; {TFX_1_16}",
        # Beam newer than 2.59 breaks tfx-bsl 1.16 ("No module named 'dill'").
        f"apache-beam[gcp]==2.59.0; {TFX_1_16}",
        f"tf-keras>=2.16,<2.17; {TFX_1_16}",
        # The TFX 1.21 stack. TFX's kfp extra leaves kfp out on Python 3.12 and later.
        f"tfx==1.21.0; {TFX_1_21}",
        f"kfp>=2.6,<2.17; {TFX_1_21}",
        f"tf-keras>=2.21,<2.22; {TFX_1_21}",
        # TensorFlow 2.21 no longer brings TensorBoard; the Trainer's callback writes for it.
        f"tensorboard>=2.20; {TFX_1_21}",
        # Decision forests: YDF trains them; TensorFlow runs them with inference ops from
        # TensorFlow Decision Forests up to TF 2.17, from ydf-tf (matching TF) after.
        f"ydf>=0.9,<0.10; {TFX_1_16}",
        f"tensorflow-decision-forests>=1.9,<1.10; {TFX_1_16}",
        f"ydf>=0.16,<0.17; {TFX_1_21}",
        f"ydf-tf>=2.21,<2.22; {TFX_1_21}",
        # What kubetfx imports itself, at the versions its TFX allows.
        "tensorflow",
        "tensorflow-transform",
        "tensorflow-data-validation",
        "tensorflow-model-analysis",
        "tensorflow-metadata",
        "tensorflow-serving-api",
        "tfx-bsl",
        "ml-metadata",
        "apache-beam[gcp]",
        "kfp",
        "kfp-server-api",
        "keras-tuner",
        "absl-py",
        "protobuf",
        "numpy",
        "pyarrow",
        "grpcio",
        "urllib3",
        "click>=8.0",
        "pydantic>=2.0,<3",
        "pyyaml>=6.0",
        "matplotlib>=3.8",
        "networkx>=3.0",
        "markdown>=3.4",
        "rich>=13",
    ],
    extras_require={
        # Experiment tracking (kubetfx run --track): MLflow's client, its SQLite
        # store for runs tracked without a server, and `mlflow ui`.
        "mlflow": ["mlflow>=3.1,<4"],
    },
    entry_points={"console_scripts": ["kubetfx=kubetfx.pipelines.cli:main"]},
)
