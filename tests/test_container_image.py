"""The container image, run as Kubeflow runs it: no network, non-root, real TFX executors.

Needs a Docker engine and the image; `make image-test` (and CI) builds the
image and sets KUBETFX_IMAGE. Without it these tests are skipped.
"""

import io
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

import kubetfx
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.emulator import run as emulator
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore
from tests.conftest import TAXI_DATA_URI, image_locked_version, taxi_header, write_csv
from tests.mlflow_server import mlflow_server

IMAGE = os.environ.get("KUBETFX_IMAGE")
DOCKER = os.environ.get("DOCKER", "docker")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not IMAGE, reason="set KUBETFX_IMAGE to an image built from the Dockerfile"),
]


def _docker_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DOCKER, "run", "--rm", "--network", "none", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


STACK_LABEL = '{{index .Config.Labels "io.kubetfx.stack"}}'


def _image_stack() -> str:
    """The stack the image was built for (its io.kubetfx.stack label)."""
    inspected = subprocess.run(
        [
            DOCKER,
            "image",
            "inspect",
            IMAGE,
            "--format",
            '{{index .Config.Labels "io.kubetfx.stack"}}',
        ],
        capture_output=True,
        text=True,
    )
    assert inspected.returncode == 0, inspected.stderr
    return inspected.stdout.strip()


def test_cli_version_without_network():
    result = _docker_run(IMAGE, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"kubetfx, version {kubetfx.__version__}"


def test_runs_as_a_non_root_user():
    result = _docker_run("--entrypoint", "id", IMAGE, "-u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() != "0"


def test_the_stacks_tfx_keras_2_and_the_cpu_build_of_tensorflow():
    stack = _image_stack()
    code = (
        "import tensorflow as tf, tfx, importlib.metadata as m; "
        "print(tfx.__version__, tf.__version__, tf.keras.__name__.split('.')[0], "
        "'tensorflow-cpu' in {d.metadata['Name'].lower().replace('_', '-') "
        "for d in m.distributions()})"
    )
    result = _docker_run("--entrypoint", "python", IMAGE, "-c", code)
    assert result.returncode == 0, result.stderr
    tensorflow = image_locked_version(stack, "tensorflow")
    assert result.stdout.split() == [f"{stack}.0", tensorflow, "tf_keras", "True"]


# In the image: a SavedModel, then the Tracker's logging of it, as a tracked run does.
TRACK_IN_IMAGE = """
import sys, tensorflow as tf
from kubetfx.components import tracking

class Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def serve(self, x):
        return {"y": 2.0 * x}

module = Doubler()
tf.saved_model.save(module, "/tmp/model", signatures={"serving_default": module.serve})
record = {
    "params": {"train_steps": 10}, "metrics": {"auc": 0.5},
    "tags": {tracking.MODEL_KEY_TAG: "image-model"}, "model_dir": "/tmp/model",
}
print(tracking.log_run(record, sys.argv[1], "image", "run-in-image")[0])
"""


def test_the_tracker_logs_a_model_with_mlflows_client_alone(tmp_path):
    import mlflow

    with mlflow_server(tmp_path) as url:
        result = subprocess.run(
            [DOCKER, "run", "--rm", "--network", "host", "--entrypoint", "python", IMAGE,
             "-c", TRACK_IN_IMAGE, url],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        client = mlflow.MlflowClient(url)
        run = client.get_run(result.stdout.strip().splitlines()[-1])
        (logged,) = client.search_logged_models([run.info.experiment_id])
    assert run.data.params == {"train_steps": "10"} and run.data.metrics == {"auc": 0.5}
    assert logged.source_run_id == run.info.run_id
    # Uploaded through the server (the image has no store of its own) into its artifacts.
    (saved,) = (tmp_path / "artifacts").rglob("saved_model.pb")
    assert (saved.parent.parent / "MLmodel").is_file()
    probe = "import importlib.util as u; print(u.find_spec('sqlalchemy'), u.find_spec('flask'))"
    result = _docker_run("--entrypoint", "python", IMAGE, "-c", probe)
    assert result.stdout.split() == ["None", "None"]  # the tracking server stays out


def test_every_executor_of_the_pipeline_imports(compiled_package):
    with open(compiled_package) as f:
        pipeline_spec = next(yaml.safe_load_all(f))
    classes = []
    for executor in pipeline_spec["deploymentSpec"]["executors"].values():
        args = executor["container"]["args"]
        classes.append(args[args.index("--executor_class_path") + 1])
    code = (
        "import sys; from tfx.utils import import_utils; "
        "[import_utils.import_class_by_path(c) for c in sys.argv[1:]]; print('ok')"
    )
    result = _docker_run("--entrypoint", "python", IMAGE, "-c", code, *classes)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_the_whole_pipeline_runs_in_the_image_on_data_from_the_object_store(
    object_store_package, tmp_path, taxi_rows
):
    """As on a cluster: every task in the image, the data staged from the object store.

    The package is compiled here, by this environment's stack, which may not be
    the image's: users compile on their own machine and run on the cluster's image.
    """
    _emulate_in_image(object_store_package, tmp_path, taxi_rows)


def test_a_package_compiled_by_the_images_own_stack_runs_in_the_image(tmp_path, taxi_rows):
    compiled = tmp_path / "compiled"
    compiled.mkdir()
    compiled.chmod(0o777)  # the image's user writes the package
    result = _docker_run(
        "-v", f"{compiled}:/out", IMAGE,
        "compile", "--data", TAXI_DATA_URI, "--output", "/out/pipeline.yaml",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    _emulate_in_image(compiled / "pipeline.yaml", tmp_path, taxi_rows)


def _emulate_in_image(package: Path, tmp_path: Path, taxi_rows) -> None:
    """Emulates ``package`` with every task in the image on 2,000 taxi rows; checks the run."""
    out = tmp_path / "emulated"
    data = Path(object_path(str(out / "object_store"), TAXI_DATA_URI))
    write_csv(data / "part-1.csv", taxi_rows[:2000], taxi_header())
    printed = io.StringIO()
    run = emulator.emulate(
        str(package), str(out), ["train_steps=100"], docker_image=IMAGE, out=printed
    )
    assert [t.state for t in run.tasks] == ["complete"] * 12, printed.getvalue()
    (version,) = os.listdir(out / "volumes" / contract.SERVING_PVC)
    assert (out / "volumes" / contract.SERVING_PVC / version / "saved_model.pb").is_file()
    store = EmulatorStore(str(out / "metadata.db"))
    (blessing,) = store.task_outputs(run.run_id, "Evaluator")["blessing"]
    assert blessing["metadata"]["blessed"] == 1
    for task, view in (
        ("StatisticsGen", "statistics_view"),
        ("ExampleValidator", "anomalies_view"),
        ("Evaluator", "evaluation_view"),
    ):
        (artifact,) = store.task_outputs(run.run_id, task)[view]
        page = Path(object_path(str(out / "object_store"), artifact["uri"])).read_text()
        assert len(page) > 100, view
    (metrics,) = store.task_outputs(run.run_id, "Evaluator")["metrics"]
    assert 0.0 < metrics["metadata"]["binary_accuracy"] <= 1.0


def _documented_dockerfile() -> str:
    """The Dockerfile docs/user-code.md gives for a project with code of its own."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "user-code.md").read_text()
    return re.search(r"```Dockerfile\n(.*?)```", text, re.S).group(1)


def test_an_image_with_a_projects_own_code_builds_from_the_documented_dockerfile(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    dockerfile = _documented_dockerfile().replace("FROM kubetfx:0.1.0", f"FROM {IMAGE}")
    (project / "Dockerfile").write_text(dockerfile)
    (project / "my_features.py").write_text(
        "from kubetfx.components.preprocessing import prepare\n"
        "from kubetfx.components.project import Preparation\n\n\n"
        "def preprocessing_fn(inputs, custom_config):\n"
        "    return prepare(Preparation.model_validate(custom_config['preparation']), inputs)\n"
    )
    tag = "kubetfx-test/user-code:1"
    built = subprocess.run(
        [DOCKER, "build", "-t", tag, str(project)], capture_output=True, text=True, timeout=600
    )
    assert built.returncode == 0, built.stderr[-2000:]
    try:
        code = (
            "from tfx.utils import import_utils; "
            "f = import_utils.import_func_from_module('my_features', 'preprocessing_fn'); "
            "print(f.__module__)"
        )
        result = _docker_run("--entrypoint", "python", tag, "-c", code)
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.strip() == "my_features"
    finally:
        subprocess.run([DOCKER, "rmi", "-f", tag], capture_output=True)
