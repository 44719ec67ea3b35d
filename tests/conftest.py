"""Shared fixtures: real taxi data, sliced small, and the real ``kubetfx`` command."""

import contextlib
import csv
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from kubetfx.components.kfp_contract import resolve_package_path
from kubetfx.pipelines.project.loader import load_project

# The bundled Chicago taxi project, its schema and its sample data.
TAXI = load_project()
TAXI_SCHEMA = TAXI.project.schema_file
TAXI_CSV = Path(resolve_package_path(TAXI.project.data)) / "data.csv"
KUBETFX = str(Path(sys.executable).parent / "kubetfx")
ROOT = Path(__file__).resolve().parents[1]


def image_locked_version(stack: str, package: str) -> str:
    """The version of ``package`` in ``stack``'s image lock (the same for all its Pythons)."""
    lock = (ROOT / "stacks" / stack / "requirements-image.lock").read_text()
    (version,) = set(re.findall(rf"^{package}==(\S+)", lock, re.MULTILINE))
    return version


def read_taxi_rows(limit: int) -> list[dict[str, str]]:
    """The first ``limit`` rows of the taxi sample that ships with tfx."""
    with open(TAXI_CSV, newline="") as f:
        reader = csv.DictReader(f)
        return list(itertools.islice(reader, limit))


def taxi_header() -> list[str]:
    with open(TAXI_CSV, newline="") as f:
        return next(csv.reader(f))


def write_csv(path: Path, rows: Sequence[dict[str, str]], header: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(header))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_kubetfx(*args: str, cwd: Path = None) -> subprocess.CompletedProcess:
    """Runs the installed console script, as a user would."""
    return subprocess.run(
        [KUBETFX, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=1800,
    )


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. "256k") mounted at ``path``: a disk that fills up for real.

    Needs root, as CI runs; skips the test where mounting is not allowed.
    """
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


@pytest.fixture(scope="session")
def taxi_rows() -> list[dict[str, str]]:
    return read_taxi_rows(3000)


# Where the emulation tests put the taxi slice, in the emulator's object store.
TAXI_DATA_URI = "minio://mlpipeline/datasets/taxi/"


# What every test compilation passes: one Beam worker. The Beam arguments are
# part of each task's command, so of KFP's cache key: packages compiled alike
# share cached tasks.
COMPILE_OPTIONS = ("--beam-args", "--direct_num_workers=1")


def _compile(tmp_path_factory, name: str, *options: str) -> Path:
    """The taxi project compiled by `kubetfx compile` with ``options``, one Beam worker."""
    path = tmp_path_factory.mktemp("compiled") / name
    result = run_kubetfx("compile", "--output", str(path), *COMPILE_OPTIONS, *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return path


@pytest.fixture(scope="session")
def object_store_package(tmp_path_factory) -> Path:
    """The taxi pipeline compiled to read its data from the object store."""
    return _compile(tmp_path_factory, "pipeline.yaml", "--data", TAXI_DATA_URI)


@pytest.fixture(scope="session")
def compiled_package(tmp_path_factory) -> Path:
    """The taxi pipeline compiled for KFP, as `kubetfx compile` writes it."""
    return _compile(tmp_path_factory, "pipeline.yaml")


@pytest.fixture(scope="session")
def predict_package(tmp_path_factory) -> Path:
    """The taxi project's predict pipeline, reading its data from the object store."""
    return _compile(
        tmp_path_factory, "predict.yaml", "--pipeline", "predict", "--data", TAXI_DATA_URI
    )


@pytest.fixture(scope="session")
def tuned_package(tmp_path_factory) -> Path:
    """The taxi pipeline with its Tuner (the project's tuning section), 2 trials."""
    return _compile(
        tmp_path_factory, "tuned.yaml", "--tune", "--max-trials", "2", "--data", TAXI_DATA_URI
    )
