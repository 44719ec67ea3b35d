"""kubernetes/ and the Dockerfile, checked offline: rendering, schemas, security scans, scripts.

A cluster cannot run on the test machines; what can be checked without one is.
The scanners live in .venv-scan (`make venv` creates it).
"""

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "kubernetes"
SCAN_BIN = ROOT / ".venv-scan" / "bin"
KUBERNETES_VERSION = "1.32.0"
LOCAL_KUSTOMIZATIONS = ["kubetfx", "flink", "serving", "mlflow"]
# Custom resources: Kubernetes' own schemas do not cover them.
CUSTOM_GROUPS = ("flink.apache.org/", "gateway.networking.k8s.io/")


def image_beam_version() -> str:
    """The Beam in the kubetfx image: the lock of the stack the Dockerfile builds by default."""
    from tests.conftest import image_locked_version

    (stack,) = re.findall(r"^ARG STACK=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    return image_locked_version(stack, "apache-beam")


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
        "flink": [
            "Deployment",
            "FlinkDeployment",
            "NetworkPolicy",
            "PersistentVolumeClaim",
            "Service",
        ],
        "serving": sorted(
            ["ConfigMap", "Deployment", "NetworkPolicy", "Service"] * 2 + ["Gateway", "HTTPRoute"]
        ),
        "mlflow": ["Deployment", "NetworkPolicy", "PersistentVolumeClaim", "Service"],
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
    # The volume; serving's tracks; the tracking server and its volume; Beam's
    # job server, its Service and NetworkPolicy and the work volume.
    assert validate_core_objects(objects, tmp_path) == 1 + 8 + 4 + 4


def test_the_flink_session_cluster_is_bounded_and_runs_the_kubetfx_worker_pool(rendered):
    # A custom resource: Kubernetes' schemas do not cover it, so its structure is checked here.
    flink = _by_kind(rendered["flink"])["FlinkDeployment"]
    assert flink["apiVersion"] == "flink.apache.org/v1beta1"
    pod = flink["spec"]["taskManager"]["podTemplate"]["spec"]
    main, worker = pod["containers"]
    assert main["name"] == "flink-main-container"  # the operator's, with a mount added
    assert worker["image"].startswith("kubetfx:")
    assert worker["args"] == ["--service_port=50000"]
    assert set(worker["resources"]) == {"requests", "limits"}
    assert worker["securityContext"]["runAsNonRoot"] is True


def _by_kind(path: Path) -> dict[str, dict]:
    objects = _objects(path)
    by_kind = {o["kind"]: o for o in objects}
    assert len(by_kind) == len(objects), "one object of each kind"
    return by_kind


def _server_flags(container: dict) -> dict[str, str | bool]:
    """`mlflow server`'s options in the container's command and args: --name=value or a flag."""
    tokens = [*container["command"], *container.get("args", [])]
    assert tokens[:2] == ["mlflow", "server"], tokens
    flags: dict[str, str | bool] = {}
    rest = tokens[2:]
    while rest:
        token = rest.pop(0)
        assert token.startswith("--"), token
        name, equals, value = token.partition("=")
        if not equals and rest and not rest[0].startswith("--"):
            value = rest.pop(0)
        assert name not in flags, f"{name} given twice"
        flags[name] = value or True
    return flags


def _volume_at(path: str, container: dict, pod: dict) -> tuple[dict, dict]:
    """The (mount, volume) that holds the absolute ``path`` in the container: the deepest mount."""
    target = PurePosixPath(path)
    assert target.is_absolute(), path
    mounts = [m for m in container["volumeMounts"] if target.is_relative_to(m["mountPath"])]
    assert mounts, f"{path} is on the container's read-only root filesystem"
    mount = max(mounts, key=lambda m: len(PurePosixPath(m["mountPath"]).parts))
    (volume,) = (v for v in pod["volumes"] if v["name"] == mount["name"])
    return mount, volume


def test_the_mlflow_server_serves_artifacts_and_keeps_its_store_on_its_volume(rendered):
    objects = _by_kind(rendered["mlflow"])
    deployment, claim = objects["Deployment"], objects["PersistentVolumeClaim"]
    pod = deployment["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["image"] == "ghcr.io/mlflow/mlflow:v3.17.2"  # the lock's mlflow
    flags = _server_flags(server)
    assert flags["--serve-artifacts"] is True and "--no-serve-artifacts" not in flags
    assert "--default-artifact-root" not in flags  # new experiments: mlflow-artifacts:/, proxied
    assert "--artifacts-only" not in flags
    assert (flags["--host"], flags["--port"]) == ("0.0.0.0", "5000")
    backend = flags["--backend-store-uri"]
    assert backend.startswith("sqlite:////"), backend  # an absolute path
    stores = {
        "backend": backend.removeprefix("sqlite:///"),
        "artifacts": flags["--artifacts-destination"],
    }
    for store, path in stores.items():
        mount, volume = _volume_at(path, server, pod)
        assert volume.get("persistentVolumeClaim", {}).get("claimName") == "kubetfx-mlflow", store
        assert not mount.get("readOnly") and not volume["persistentVolumeClaim"].get("readOnly")
    assert claim["metadata"]["name"] == "kubetfx-mlflow"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # One writer on a ReadWriteOnce volume: the old pod is gone before the new one starts.
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    # Not root, no capability; with a read-only root, what the server writes is on a
    # volume: its HOME, its working folder and the temporary files.
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert server["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert set(server["resources"]) == {"requests", "limits"}
    (home,) = (e["value"] for e in server["env"] if e["name"] == "HOME")
    for path in (home, server["workingDir"], "/tmp"):
        _volume_at(path, server, pod)


def test_the_mlflow_service_reaches_the_server_and_its_probes_ask_for_health(rendered):
    objects = _by_kind(rendered["mlflow"])
    deployment, service = objects["Deployment"], objects["Service"]
    pod = deployment["spec"]["template"]
    (server,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    assert service["metadata"]["name"] == "mlflow"
    assert service["spec"]["type"] == "ClusterIP"
    selector = service["spec"]["selector"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    (port,) = service["spec"]["ports"]
    assert port["port"] == 5000 and ports.get(port["targetPort"], port["targetPort"]) == 5000
    for probe in ("readinessProbe", "livenessProbe"):
        get = server[probe]["httpGet"]
        assert get["path"] == "/health"
        assert ports.get(get["port"], get["port"]) == 5000
    policy = objects["NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == selector
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == [5000]


def test_the_mlflow_server_accepts_its_service_names_and_a_port_forward(rendered):
    # MLflow's own Host check, at the image's version (the lock's mlflow), on the rendered list.
    from mlflow.server.security_utils import is_allowed_host_header, is_health_endpoint

    (server,) = _by_kind(rendered["mlflow"])["Deployment"]["spec"]["template"]["spec"]["containers"]
    allowed = [host.strip() for host in _server_flags(server)["--allowed-hosts"].split(",")]
    assert "*" not in allowed
    for host in (
        "mlflow.kubeflow.svc.cluster.local:5000",
        "mlflow.kubeflow.svc:5000",
        "mlflow.kubeflow:5000",
        "mlflow:5000",
        "localhost:5000",
        "127.0.0.1:5000",
        "localhost:5001",  # a port-forward to another local port
    ):
        assert is_allowed_host_header(allowed, host), host
    for host in ("evil.example.com", "evil.example.com:5000", "mlflow.example.com:5000", ""):
        assert not is_allowed_host_header(allowed, host), host
    # The kubelet's probes send the pod's IP as Host: the health endpoint is exempt.
    assert not is_allowed_host_header(allowed, "10.244.0.7:5000")
    assert is_health_endpoint("/health")


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


def test_a_flink_package_and_the_flink_overlay_agree(rendered, tmp_path):
    """What `kubetfx compile --beam-runner flink` sends to, the overlay serves and mounts."""
    from kubetfx.pipelines.definition.engine import FLINK_JOB_ENDPOINT, WORKER_POOL
    from kubetfx.pipelines.kfp import spec as contract
    from tests.conftest import run_kubetfx

    package = tmp_path / "flink.yaml"
    result = run_kubetfx("compile", "--output", str(package), "--beam-runner", "flink")
    assert result.returncode == 0, result.stderr
    spec, platform = yaml.safe_load_all(package.read_text())
    args = spec["deploymentSpec"]["executors"]["Transform_executor"]["container"]["args"]
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    (work,) = executors["Transform_executor"]["pvcMount"]

    objects = _by_kind(rendered["flink"])
    service, server = objects["Service"], objects["Deployment"]
    host, port = FLINK_JOB_ENDPOINT.split(":")
    assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}"
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]
    assert f"--job_endpoint={FLINK_JOB_ENDPOINT}" in args
    # The worker pool beside each task manager, where the job server's tasks look for it.
    assert f"--environment_config={WORKER_POOL}" in args
    flink = objects["FlinkDeployment"]
    pod = flink["spec"]["taskManager"]["podTemplate"]["spec"]
    main, worker = pod["containers"]
    assert worker["ports"] == [{"containerPort": int(WORKER_POOL.split(":")[1])}]
    # One volume, at the path where the launcher stages the task's artifacts, on every side.
    assert objects["PersistentVolumeClaim"]["metadata"]["name"] == contract.BEAM_WORK_PVC
    assert work == {"constant": contract.BEAM_WORK_PVC, "mountPath": "/minio"}
    server_pod = server["spec"]["template"]["spec"]
    (job_server,) = server_pod["containers"]
    for container, in_pod in ((main, pod), (worker, pod), (job_server, server_pod)):
        mount, volume = _volume_at("/minio/mlpipeline", container, in_pod)
        assert mount["mountPath"] == work["mountPath"], container["name"]
        assert volume["persistentVolumeClaim"]["claimName"] == contract.BEAM_WORK_PVC
    assert "--artifacts-dir=/minio/.beam-artifacts" in job_server["args"]
    # The job server's Beam is the tasks' Beam, the image's; its Flink is the session cluster's.
    image = job_server["image"]
    assert image.endswith(f":{image_beam_version()}"), image
    flink_version = flink["spec"]["flinkVersion"].removeprefix("v").replace("_", ".")
    assert f"beam_flink{flink_version}_job_server" in image
    assert flink["spec"]["image"].startswith(f"flink:{flink_version}.")
