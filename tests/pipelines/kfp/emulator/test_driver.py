"""The driver against golden ExecutorInputs: what KFP's driver pod gives each task.

``golden/driver_package.yaml`` has a task for every input source a flat DAG
has (a run parameter, a constant with a ``{{$.pipeline_*}}`` placeholder,
another task's output parameter and artifact) and the type conversions of
``resolve.go``. The producer's execution is published in a real ML Metadata
store, as the launcher publishes it; the consumer's ExecutorInput must then be
``golden/driver_consumer_executor_input.json``, byte for byte as JSON.
Set KUBETFX_UPDATE_GOLDEN=1 to write the golden files again after a deliberate
change, and read the diff.
"""

import json
import os
import pathlib

import pytest

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp.emulator.driver import (
    Driver,
    RunContext,
    go_number,
    pb_value_to_text,
    volume_mounts,
)
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore

GOLDEN = pathlib.Path(__file__).parent / "golden"
RUN_ID = "run-0001"


def _golden(name: str, actual: dict) -> dict:
    path = GOLDEN / name
    if os.environ.get("KUBETFX_UPDATE_GOLDEN"):
        path.write_text(json.dumps(actual, indent=2, sort_keys=True) + "\n")
    return json.loads(path.read_text())


@pytest.fixture
def package():
    return kfp_package.load_package(str(GOLDEN / "driver_package.yaml"))


def _driver(tmp_path, pipeline_spec, params):
    kfp_package.check_spec(pipeline_spec)
    store = EmulatorStore(str(tmp_path / "metadata.db"))
    parameters = kfp_package.root_parameters(pipeline_spec, params)
    store.start_run("golden", RUN_ID, parameters)
    uuids = iter(["uuid-producer", "uuid-consumer"])
    run = RunContext(
        pipeline_name="golden",
        pipeline_root="minio://mlpipeline/v2/artifacts",
        run_id=RUN_ID,
        display_name="golden run",
        created_utc="2026-11-28T08:00:00Z",
        parameters=parameters,
    )
    return Driver(run, store, new_uuid=lambda: next(uuids)), store


def _task(pipeline_spec, name):
    task = pipeline_spec["root"]["dag"]["tasks"][name]
    return task, pipeline_spec["components"][task["componentRef"]["name"]]


def _publish_producer(driver, store, pipeline_spec):
    task, component = _task(pipeline_spec, "Producer")
    executor_input = driver.executor_input("Producer", task, component)
    execution = store.start_execution(RUN_ID, "Producer", "fp", executor_input)
    outputs = executor_input["outputs"]["artifacts"]
    outputs["examples"]["artifacts"][0]["metadata"] = {"split_names": '["train", "eval"]'}
    store.publish_execution(
        RUN_ID,
        execution,
        outputs,
        succeeded=True,
        type_of=lambda artifact: artifact["type"]["schemaTitle"],
        parameters={"digest": "ab12"},
    )
    return executor_input


def test_the_producer_gets_its_output_uris_and_parameter_files(tmp_path, package):
    pipeline_spec, _ = package
    driver, store = _driver(tmp_path, pipeline_spec, {"steps": 250})
    executor_input = _publish_producer(driver, store, pipeline_spec)
    assert executor_input == _golden("driver_producer_executor_input.json", executor_input)


def test_the_consumer_gets_every_input_resolved_as_the_backend_resolves_it(tmp_path, package):
    pipeline_spec, _ = package
    driver, store = _driver(tmp_path, pipeline_spec, {"steps": 250})
    _publish_producer(driver, store, pipeline_spec)
    task, component = _task(pipeline_spec, "Consumer")
    executor_input = driver.executor_input("Consumer", task, component)
    assert executor_input == _golden("driver_consumer_executor_input.json", executor_input)
    values = executor_input["inputs"]["parameterValues"]
    # The run parameter, typed; the same value as text where the input is a STRING.
    assert values["steps"] == 250 and values["steps_text"] == "250"
    assert values["rate_text"] == "0.00000015"  # Go's 'f' format, not 1.5e-07
    assert values["flag_text"] == "true"  # strconv.FormatBool, not True
    assert values["task"] == "Consumer"
    assert values["label"] == "x-{{$.pipeline_task_name}}"  # not a whole-value placeholder
    assert values["digest"] == "ab12"


def test_a_producer_without_the_output_parameter_is_an_error(tmp_path, package):
    pipeline_spec, _ = package
    driver, _ = _driver(tmp_path, pipeline_spec, {"steps": 250})
    task, component = _task(pipeline_spec, "Consumer")
    with pytest.raises(UserError, match="task Producer has no output parameter digest"):
        driver.executor_input("Consumer", task, component)


def test_the_platform_spec_mounts_its_claims_under_the_volumes_folder(tmp_path, package):
    _, platform_spec = package
    mounts = volume_mounts(platform_spec, "exec-Consumer", str(tmp_path / "volumes"))
    assert mounts == {"/serving": str(tmp_path / "volumes" / "kubetfx-serving")}
    assert (tmp_path / "volumes" / "kubetfx-serving").is_dir()
    platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-Consumer"][
        "pvcMount"
    ][0]["constant"] = "../../etc"
    with pytest.raises(UserError, match="volume claim '../../etc' is not a valid claim name"):
        volume_mounts(platform_spec, "exec-Consumer", str(tmp_path / "volumes"))


@pytest.mark.parametrize(
    "value, text",
    [
        (100, "100"),
        (100.0, "100"),
        (1e21, "1000000000000000000000"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (2**53 + 1, "9007199254740992"),  # a protobuf Value holds a double
        (float("inf"), "+Inf"),
        (False, "false"),
        (None, ""),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
    ],
)
def test_values_become_text_as_go_formats_them(value, text):
    assert pb_value_to_text(value) == text


def test_go_number_round_trips():
    for value in (1 / 3, 123456789.125, 5e-324, 1.7976931348623157e308):
        assert float(go_number(value)) == value
