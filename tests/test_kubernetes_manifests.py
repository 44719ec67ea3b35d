"""kubernetes/ and the Dockerfile, checked offline: rendering, schemas, security scans, scripts.

A cluster cannot run on the test machines; what can be checked without one is.
The scanners live in .venv-scan (`make venv` creates it).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "kubernetes"
SCAN_BIN = ROOT / ".venv-scan" / "bin"
KUBERNETES_VERSION = "1.32.0"
LOCAL_KUSTOMIZATIONS = ["kubetfx", "flink", "serving"]
# Custom resources: Kubernetes' own schemas do not cover them.
CUSTOM_GROUPS = ("flink.apache.org/", "gateway.networking.k8s.io/")
FLINK_ARGS = (
    "--runner=FlinkRunner --flink_master=kubetfx-flink-rest.kubeflow:8081 "
    "--environment_type=EXTERNAL --environment_config=localhost:50000"
)


def _tool(name: str) -> str:
    path = SCAN_BIN / name if (SCAN_BIN / name).exists() else shutil.which(name)
    assert path, f"{name} is not installed; run `make venv` (scanners) or install kubectl"
    return str(path)


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """kubectl kustomize output of each local kustomization, one file each."""
    folder = tmp_path_factory.mktemp("rendered")
    files = {}
    for name in LOCAL_KUSTOMIZATIONS:
        result = _run(_tool("kubectl"), "kustomize", str(KUBERNETES / name))
        assert result.returncode == 0, result.stderr
        files[name] = folder / f"{name}.yaml"
        files[name].write_text(result.stdout)
    return files


def _objects(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_local_kustomizations_render(rendered):
    kinds = {name: sorted(o["kind"] for o in _objects(path)) for name, path in rendered.items()}
    assert kinds == {
        "kubetfx": ["PersistentVolumeClaim"],
        "flink": ["FlinkDeployment"],
        "serving": sorted(
            ["ConfigMap", "Deployment", "NetworkPolicy", "Service"] * 2 + ["Gateway", "HTTPRoute"]
        ),
    }
    for path in rendered.values():
        for obj in _objects(path):
            assert obj["metadata"]["namespace"] == "kubeflow"
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "kubetfx"


def validate_core_objects(objects: list[dict], folder: Path) -> int:
    """Validates every built-in object strictly against Kubernetes' schemas; returns the count."""
    core = [o for o in objects if not o["apiVersion"].startswith(CUSTOM_GROUPS)]
    target = folder / "core.yaml"
    target.write_text(yaml.safe_dump_all(core))
    result = _run(_tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, str(target))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("passed for resource") == len(core), result.stdout
    return len(core)


def test_core_objects_validate_strictly_against_kubernetes_1_32(rendered, tmp_path):
    objects = [o for path in rendered.values() for o in _objects(path)]
    assert validate_core_objects(objects, tmp_path) == 1 + 8  # the volume; serving's tracks


def test_the_flink_session_cluster_is_bounded_and_runs_the_kubetfx_worker_pool(rendered):
    # A custom resource: Kubernetes' schemas do not cover it, so its structure is checked here.
    (flink,) = _objects(rendered["flink"])
    assert flink["apiVersion"] == "flink.apache.org/v1beta1"
    (worker,) = flink["spec"]["taskManager"]["podTemplate"]["spec"]["containers"]
    assert worker["image"].startswith("kubetfx:")
    assert worker["args"] == ["--service_port=50000"]
    assert set(worker["resources"]) == {"requests", "limits"}
    assert worker["securityContext"]["runAsNonRoot"] is True


def test_kfp_is_installed_from_the_pinned_release():
    kustomization = yaml.safe_load((KUBERNETES / "kfp" / "kustomization.yaml").read_text())
    remote = [r for r in kustomization["resources"] if r.startswith("github.com/")]
    assert remote == [
        "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=2.17.0"
    ]
    for path in [*KUBERNETES.rglob("*.yaml"), *KUBERNETES.rglob("*.sh")]:
        code = "\n".join(
            line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")
        )
        assert ":master" not in code and "ref=master" not in code, path
    assert "../kubetfx" in kustomization["resources"]


def test_kind_cluster_runs_kubernetes_1_32():
    config = yaml.safe_load((KUBERNETES / "kind" / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster" and config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    assert re.fullmatch(r"kindest/node:v1\.32\.\d+", config["nodes"][0]["image"])


def test_security_scan_of_the_manifests(rendered, tmp_path):
    for path in rendered.values():
        shutil.copy(path, tmp_path / path.name)
    result = _run(
        _tool("checkov"), "-d", str(tmp_path), "--framework", "kubernetes",
        "--skip-download", "--compact", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]


def test_security_scan_and_lint_of_the_dockerfile():
    lint = _run(_tool("hadolint"), str(ROOT / "Dockerfile"))
    assert lint.returncode == 0, lint.stdout
    scan = _run(
        _tool("checkov"), "-f", str(ROOT / "Dockerfile"), "--framework", "dockerfile",
        "--skip-download", "--compact", "--quiet",
    )  # fmt: skip
    assert scan.returncode == 0, scan.stdout[-4000:]


@pytest.mark.parametrize(
    "script", sorted(p.name for p in (KUBERNETES / "scripts").glob("*.sh") if p.name != "common.sh")
)
def test_each_script_names_the_tools_it_lacks(script, tmp_path):
    syntax = _run("bash", "-n", str(KUBERNETES / "scripts" / script))
    assert syntax.returncode == 0, syntax.stderr
    # A PATH with the shell and the basics, but none of the cluster tools.
    for tool in ("bash", "dirname", "basename", "grep", "cat"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    result = _run(
        "bash", str(KUBERNETES / "scripts" / script),
        env={"PATH": str(tmp_path), "HOME": str(tmp_path)},
    )  # fmt: skip
    assert result.returncode == 1
    assert re.search(r"missing [a-z0-9 ]+; install them", result.stderr), result.stderr


def test_flink_beam_args_reach_every_beam_executor(tmp_path):
    from tests.conftest import run_kubetfx

    package = tmp_path / "flink.yaml"
    result = run_kubetfx("compile", "--output", str(package), "--beam-args", FLINK_ARGS)
    assert result.returncode == 0, result.stderr
    executors = next(yaml.safe_load_all(package.read_text()))["deploymentSpec"]["executors"]
    for label in ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator"):
        args = executors[f"{label}_executor"]["container"]["args"]
        for flag in FLINK_ARGS.split():
            assert args.count(flag) == 1, (label, flag)
    assert os.path.getsize(package) > 0
