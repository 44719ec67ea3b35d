"""The launcher against golden files: what runs around a task's command in its pod.

It takes the ExecutorInput the driver gave the consumer
(``golden/driver_consumer_executor_input.json``), stages the input artifact
from the object store, replaces ``{{$}}`` in the command with the ExecutorInput
(defaults added), runs a real subprocess that answers with
``golden/launcher_executor_output.json``, and uploads the outputs. What the
command received and what the launcher returns must match
``golden/launcher_received_executor_input.json`` and
``golden/launcher_result.json``. KUBETFX_UPDATE_GOLDEN=1 writes them again.
"""

import json
import os
import pathlib
import re

import pytest

from kubetfx.pipelines.kfp.emulator.launcher import Launcher
from kubetfx.pipelines.kfp.emulator.object_store import ObjectStore
from kubetfx.pipelines.kfp.emulator.runners import SubprocessRunner

GOLDEN = pathlib.Path(__file__).parent / "golden"
ROOT = "minio://mlpipeline/v2/artifacts"
MODEL_URI = f"{ROOT}/golden/run-0001/Consumer/uuid-consumer/model"
EXAMPLES_URI = f"{ROOT}/golden/run-0001/Producer/uuid-producer/examples"

# The task: records what it was given, copies the staged input into its output,
# and answers with the golden ExecutorOutput.
TASK = """
import json, os, shutil, sys
executor_input = json.loads(sys.argv[1])
local = lambda uri: os.environ["ARTIFACT_LOCAL_PATH"] + "/minio/" + uri[len("minio://"):]
model = local(executor_input["outputs"]["artifacts"]["model"]["artifacts"][0]["uri"])
examples = executor_input["inputs"]["artifacts"]["examples"]["artifacts"][0]["uri"]
os.makedirs(model + "/empty")
with open(model + "/received.json", "w") as f:
    json.dump(executor_input, f)
shutil.copy(local(examples) + "/train/rows.csv", model + "/rows.csv")
with open(executor_input["outputs"]["outputFile"], "w") as f:
    f.write(sys.argv[2])
"""


def _golden(name: str, actual=None):
    path = GOLDEN / name
    if actual is not None and os.environ.get("KUBETFX_UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    return json.loads(path.read_text())


def _component():
    import yaml

    spec = yaml.safe_load_all((GOLDEN / "driver_package.yaml").read_text())
    return next(spec)["components"]["comp-Consumer"]


@pytest.fixture
def launched(tmp_path):
    store = ObjectStore(str(tmp_path / "object_store"))
    rows = pathlib.Path(store.path(EXAMPLES_URI)) / "train" / "rows.csv"
    rows.parent.mkdir(parents=True)
    rows.write_text("a,b\n1,2\n")
    launcher = Launcher(store, ROOT, SubprocessRunner(), str(tmp_path / "pods"))
    executor_output = (GOLDEN / "launcher_executor_output.json").read_text()
    container = {"command": ["python", "-c", TASK], "args": ["{{$}}", executor_output]}
    log = tmp_path / "task.log"
    result = launcher.launch(
        "Consumer",
        _golden("driver_consumer_executor_input.json"),
        _component(),
        container,
        {},
        str(log),
    )
    return store, result, log


def test_the_outputs_are_merged_from_the_executor_output_and_uploaded(launched):
    store, (succeeded, outputs, parameters), log = launched
    assert succeeded, log.read_text()
    assert {"outputs": outputs, "parameters": parameters} == _golden(
        "launcher_result.json", {"outputs": outputs, "parameters": parameters}
    )
    model = pathlib.Path(store.path(MODEL_URI))
    assert (model / "rows.csv").read_text() == "a,b\n1,2\n"  # staged in, uploaded back
    assert not (model / "empty").exists()  # the store keeps files, not folders
    assert pathlib.Path(store.path(outputs["executor-logs"]["artifacts"][0]["uri"])).is_file()


def test_the_command_gets_the_executor_input_with_defaults_added(launched, tmp_path):
    store, _, _ = launched
    received = json.loads((pathlib.Path(store.path(MODEL_URI)) / "received.json").read_text())
    # The task's own folder stands in for the pod's root; it differs on each launch.
    pods = re.escape(str(tmp_path / "pods"))
    output_file = received["outputs"]["outputFile"]
    received["outputs"]["outputFile"] = re.sub(
        f"^{pods}/Consumer-[0-9a-f]{{8}}/", "<pod>/", output_file
    )
    assert received == _golden("launcher_received_executor_input.json", received)
    assert received["inputs"]["parameterValues"]["optional"] == "kept"  # addDefaultParams
