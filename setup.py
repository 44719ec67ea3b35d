"""Packaging for kubetfx.

The top-level folders map onto one installed namespace: ``components/`` is
``kubetfx.components`` (code that runs inside a pipeline task), ``pipelines/``
is ``kubetfx.pipelines`` (pipeline wiring, runners, run history and the CLI)
and ``projects/`` is ``kubetfx.projects`` (the project files that ship, the
Chicago taxi one first).
Exact versions of every dependency live in ``requirements.lock``.
"""

from setuptools import find_packages, setup

setup(
    name="kubetfx",
    version="0.1.0",
    description="TFX pipelines that run locally and on open-source Kubeflow Pipelines 2.x",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10,<3.11",
    # Every package under the three folders, so a new subpackage cannot be left out.
    packages=[
        f"kubetfx.{name}"
        for name in find_packages(include=["components*", "pipelines*", "projects*"])
    ],
    package_dir={
        "kubetfx.components": "components",
        "kubetfx.pipelines": "pipelines",
        "kubetfx.projects": "projects",
    },
    package_data={"kubetfx.projects": ["*/kubetfx.yaml", "*/*.pbtxt"]},
    install_requires=[
        "tfx[kfp]==1.16.0",
        "apache-beam[gcp]==2.59.0",
        "tf-keras==2.16.0",
        "click>=8.0",
        "pydantic>=2.0",
        "pyyaml>=6.0",
        "matplotlib>=3.8",
        "networkx>=3.0",
    ],
    entry_points={"console_scripts": ["kubetfx=kubetfx.pipelines.cli:main"]},
)
