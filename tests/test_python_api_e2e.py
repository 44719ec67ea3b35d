"""docs/python-api.md's example, run as written: a component of the user's own added to
kubetfx's pipeline, run with TFX's LocalDagRunner and compiled for Kubeflow Pipelines.

The example's shell commands run in a shell and its Python files are written
under the names their first line gives, in the order the page shows them, in
a fresh folder holding a CSV folder of synthetic customers (my-data/).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubetfx.pipelines.history import metadata
from tests import datasets

pytestmark = pytest.mark.e2e

PAGE = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def example_steps() -> list[tuple[str, str]]:
    """The fenced blocks of the page's Example section, in order: (language, text)."""
    text = PAGE.read_text()
    section = text.split("\n## Example\n", 1)[1].split("\n## ", 1)[0]
    return FENCE.findall(section)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The folder the example ran in, after every step of it succeeded."""
    folder = tmp_path_factory.mktemp("python-api")
    datasets.churn(folder / "my-data")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    steps = example_steps()
    assert [language for language, _ in steps] == ["sh", "python", "python", "sh"]
    for language, text in steps:
        if language == "python":
            name = text.splitlines()[0].removeprefix("# ").strip()
            (folder / name).write_text(text)
            continue
        for command in text.strip().splitlines():
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=1800,
            )
            assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return folder


def test_the_users_component_ran_after_kubetfxs_trainer_on_their_model(example):
    store = metadata.connect(str(example / "churn-output" / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    assert {"CsvExampleGen", "Transform", "Trainer", "Evaluator", "Pusher"} <= set(executions)
    size = executions["ModelSize"]
    assert size.state == "complete"
    assert size.started_ms >= executions["Trainer"].updated_ms
    (model_bytes,) = size.outputs["model_bytes"]
    model = executions["Trainer"].outputs["model"][0].uri
    on_disk = sum(f.stat().st_size for f in Path(model).rglob("*") if f.is_file())
    # A TFX Integer artifact's value is the file at its URI, as decimal text.
    assert int(Path(model_bytes.uri).read_text()) == on_disk > 0


def test_the_project_settings_set_from_python_reached_the_trainer(example):
    store = metadata.connect(str(example / "churn-output" / "metadata.db"))
    executions = {e.node_id: e for e in metadata.run_executions(store, metadata.latest_run(store))}
    train_args = executions["Trainer"].properties
    assert '"num_steps": 200' in train_args["train_args"].string_value


def test_the_compiled_package_has_the_users_task_in_their_image_and_kubetfxs_adjustments(
    example,
):
    spec, platform = yaml.safe_load_all((example / "churn-pipeline.yaml").read_text())
    tasks = spec["root"]["dag"]["tasks"]
    assert {"Data", "DataFingerprint", "CsvExampleGen", "Trainer", "ModelSize"} <= set(tasks)
    assert tasks["ModelSize"]["dependentTasks"] == ["Trainer"]
    assert spec["schemaVersion"] == "2.1.0"
    executors = spec["deploymentSpec"]["executors"]
    label = spec["components"][tasks["ModelSize"]["componentRef"]["name"]]["executorLabel"]
    container = executors[label]["container"]
    assert container["image"] == "registry.example.com/churn-kubetfx:1"
    assert "churn_components.ModelSize_Executor" in " ".join(container["args"])
    assert "lifecycle" not in container and container["resources"]
    assert platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
