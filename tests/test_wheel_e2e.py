"""kubetfx as a user installs it: a wheel built from this checkout, installed into a fresh
virtual environment and run from a folder that is not the checkout.

The wheel's own requirements are resolved afresh (no lock), as ``pip install``
would, by uv (pip's resolver over the same metadata, with uv's cache: a plain
pip download of TensorFlow would take most of a CI run). The environment has
no extras, so MLflow is missing.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import kubetfx
from tests import datasets

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=1800, **kwargs)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(folder to work in, the fresh venv's bin folder, its environment variables)."""
    root = tmp_path_factory.mktemp("wheel")
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    built = _run(uv, "build", "--wheel", "--out-dir", str(root / "dist"), str(ROOT))
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("kubetfx-*.whl")
    assert wheel.name == f"kubetfx-{kubetfx.__version__}-py3-none-any.whl"

    # A venv as `python -m venv` makes it, with pip (TFX installs user code with it).
    venv = root / "venv"
    made = _run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv))
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    added = _run(uv, "pip", "install", "--python", str(python), "--compile-bytecode", str(wheel))
    assert added.returncode == 0, added.stderr

    work = root / "work"
    datasets.churn(work / "data", rows=300)
    # Nothing of the checkout or of the test's own environment on the path.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    return work, venv / "bin", env


def _kubetfx(installed, *args: str) -> subprocess.CompletedProcess:
    work, bin_dir, env = installed
    return _run(str(bin_dir / "kubetfx"), *args, cwd=work, env=env)


def test_the_installed_package_is_the_wheels_with_its_data_and_the_command_runs(installed):
    work, bin_dir, env = installed
    code = (
        "import kubetfx, kubetfx.components;"
        "print(kubetfx.__file__); print(kubetfx.kubernetes_dir());"
        "from kubetfx.pipelines.project.loader import bundled_project; print(bundled_project())"
    )
    where = _run(str(bin_dir / "python"), "-c", code, cwd=work, env=env)
    assert where.returncode == 0, where.stderr
    package, manifests, taxi = where.stdout.split()
    site = str(bin_dir.parent / "lib")
    assert package.startswith(site) and manifests.startswith(site) and taxi.startswith(site)
    assert (Path(manifests) / "serving" / "kustomization.yaml").is_file()
    assert os.access(Path(manifests) / "scripts" / "cluster-up.sh", os.X_OK)

    for command in ([str(bin_dir / "kubetfx")], [str(bin_dir / "python"), "-m", "kubetfx"]):
        version = _run(*command, "--version", cwd=work, env=env)
        assert version.returncode == 0, version.stderr
        assert version.stdout.strip() == f"kubetfx, version {kubetfx.__version__}"


@pytest.fixture(scope="module")
def drafted(installed) -> subprocess.CompletedProcess:
    """``kubetfx init churn`` of the folder of CSV files, once."""
    init = _kubetfx(installed, "init", "churn", "--data", "data", "--label", "churned")
    assert init.returncode == 0, init.stderr
    return init


def test_init_and_a_partial_run_on_the_users_own_csv(installed, drafted):
    work, _, _ = installed
    assert "(binary," in drafted.stdout
    run = _kubetfx(installed, "run", "--config", "churn", "--to", "StatisticsGen")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "StatisticsGen" in run.stdout and "CsvExampleGen" in run.stdout
    statistics = list((work / "churn" / "kubetfx_output" / "pipeline_root").glob("StatisticsGen"))
    assert statistics, "StatisticsGen wrote nothing"


def test_compile_for_data_in_the_object_store(installed, drafted):
    work, _, _ = installed
    compiled = _kubetfx(
        installed,
        "compile",
        "--config",
        "churn",
        "--data",
        "minio://mlpipeline/datasets/churn/",
        "--output",
        "churn.yaml",
    )
    assert compiled.returncode == 0, compiled.stderr
    spec, _ = yaml.safe_load_all((work / "churn.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {"Data", "DataFingerprint", "CsvExampleGen", "Pusher"} <= set(tasks)
    executors = spec["deploymentSpec"]["executors"].values()
    images = {e["container"]["image"] for e in executors if "container" in e}  # not importers
    assert images == {f"kubetfx:{kubetfx.__version__}"}


def test_a_rollout_dry_run_renders_the_packaged_manifests(installed):
    work, bin_dir, env = installed
    serving = _run(
        str(bin_dir / "python"), "-c", "import kubetfx; print(kubetfx.kubernetes_dir())", env=env
    ).stdout.strip()
    base = _run(shutil.which("kubectl"), "kustomize", f"{serving}/serving")
    assert base.returncode == 0, base.stderr
    (work / "base.yaml").write_text(base.stdout)
    started = _kubetfx(
        installed, "rollout", "start", "7", "--percent", "10", "--dry-run", "--from", "base.yaml"
    )
    assert started.returncode == 0, started.stderr
    weights = [
        (ref["name"], ref["weight"])
        for document in yaml.safe_load_all(started.stdout)
        if document and document.get("kind") == "HTTPRoute"
        for rule in document["spec"]["rules"]
        for ref in rule["backendRefs"]
    ]
    assert sorted(w for _, w in weights) == [10, 90]


def test_tracking_without_the_mlflow_extra_is_one_line_naming_it(installed, drafted):
    tracked = _kubetfx(installed, "run", "--config", "churn", "--track", "--to", "StatisticsGen")
    assert tracked.returncode == 2
    assert tracked.stderr.strip().splitlines() == [
        "kubetfx: error: tracking to a local store needs MLflow, which is not installed here: "
        "pip install 'kubetfx[mlflow]'"
    ]
