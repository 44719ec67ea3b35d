"""The compiled package: what open-source KFP 2.x needs to accept and run it."""

import json

import pytest
import yaml

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import emulator
from kubetfx.pipelines.kfp import spec as contract


@pytest.fixture(scope="module")
def documents(compiled_package):
    with open(compiled_package) as f:
        return list(yaml.safe_load_all(f))


@pytest.fixture(scope="module")
def pipeline_spec(documents):
    return documents[0]


def test_the_kfp_client_accepts_the_package(compiled_package):
    from kfp.client.client import _extract_pipeline_yaml

    parsed = _extract_pipeline_yaml(str(compiled_package))
    assert parsed.pipeline_spec.schema_version == "2.1.0"
    assert "kubernetes" in parsed.platform_spec.platforms


def test_every_task_runs_the_kubetfx_entrypoint_without_unrunnable_nodes(pipeline_spec):
    executors = pipeline_spec["deploymentSpec"]["executors"]
    assert len(executors) == 10
    for label, executor in executors.items():
        container = executor["container"]  # no resolver or importer
        assert container["command"] == contract.ENTRYPOINT, label
        assert container["image"] == "kubetfx:0.1.0"
        assert "lifecycle" not in container, label
        assert "--json_serialized_inputs_spec_args" in container["args"]


def test_every_task_has_resource_requests_and_limits(pipeline_spec):
    for label, executor in pipeline_spec["deploymentSpec"]["executors"].items():
        resources = executor["container"]["resources"]
        assert resources["cpuRequest"] <= resources["cpuLimit"], label
        assert resources["memoryRequest"] <= resources["memoryLimit"], label
    trainer = pipeline_spec["deploymentSpec"]["executors"]["Trainer_executor"]
    assert trainer["container"]["resources"] == contract.HEAVY_RESOURCES


def test_beam_args_reach_each_executor_once(pipeline_spec):
    executors = pipeline_spec["deploymentSpec"]["executors"]
    for label in ("CsvExampleGen_executor", "StatisticsGen_executor", "Transform_executor"):
        assert executors[label]["container"]["args"].count("--direct_num_workers=1") == 1


def test_per_run_parameters_have_defaults_and_reach_their_tasks(pipeline_spec):
    parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["data_root"]["defaultValue"] == contract.BUNDLED_DATA
    assert parameters["train_steps"] == {
        "parameterType": "NUMBER_INTEGER",
        "defaultValue": 1000,
        "isOptional": True,
    }
    assert parameters["serving_dir"]["defaultValue"] == contract.SERVING_MOUNT
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    for name, bindings in contract.PARAMETER_BINDINGS.items():
        for task, input_name in bindings:
            assert tasks[task]["inputs"]["parameters"][input_name] == {
                "componentInputParameter": name
            }
            executor = pipeline_spec["deploymentSpec"]["executors"][f"{task}_executor"]
            args = executor["container"]["args"]
            inputs_spec = json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])
            assert input_name in inputs_spec["parameters"]


def test_dashboard_views_are_outputs_of_the_tfx_tasks(pipeline_spec):
    components = pipeline_spec["components"]
    for task, outputs in contract.VISUALIZATION_OUTPUTS.items():
        artifacts = components[task]["outputDefinitions"]["artifacts"]
        for name, title in outputs.items():
            assert artifacts[name]["artifactType"]["schemaTitle"] == title


def test_the_baseline_is_looked_up_on_every_run(pipeline_spec):
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    assert tasks["LatestPushedModel"]["cachingOptions"] == {"enableCache": False}
    assert tasks["Trainer"]["cachingOptions"] == {"enableCache": True}
    assert "DataGate" in tasks["Transform"]["dependentTasks"]


def test_the_serving_volume_is_mounted_where_models_are_read_and_pushed(documents):
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"LatestPushedModel_executor", "Pusher_executor"}
    for executor in executors.values():
        assert executor["pvcMount"] == [
            {"constant": contract.SERVING_PVC, "mountPath": contract.SERVING_MOUNT}
        ]


def test_the_emulator_refuses_what_the_backend_refuses(pipeline_spec):
    old = {**pipeline_spec, "schemaVersion": "2.0.0"}
    with pytest.raises(
        UserError,
        match="KFP only supports schema version 2.1.0, but the pipeline spec has version 2.0.0",
    ):
        emulator.check_spec(old)
    with_resolver = json.loads(json.dumps(pipeline_spec))
    with_resolver["deploymentSpec"]["executors"]["Trainer_executor"] = {
        "resolver": {"outputArtifactQueries": {}}
    }
    with pytest.raises(UserError, match="non-container and non-importer executor not implemented"):
        emulator.check_spec(with_resolver)


def test_parameters_are_typed_and_checked(pipeline_spec):
    assert emulator.parse_params(["train_steps=20", "data_root=/d"], pipeline_spec) == {
        "train_steps": 20,
        "data_root": "/d",
    }
    with pytest.raises(UserError, match="needs a NUMBER_INTEGER value"):
        emulator.parse_params(["train_steps=many"], pipeline_spec)
    with pytest.raises(UserError, match="epochs is not a parameter"):
        emulator.parse_params(["epochs=3"], pipeline_spec)


def test_tasks_run_after_what_they_depend_on(pipeline_spec):
    order = emulator.topological_order(pipeline_spec["root"]["dag"]["tasks"])
    assert order.index("CsvExampleGen") < order.index("StatisticsGen") < order.index("DataGate")
    assert order.index("DataGate") < order.index("Transform") < order.index("Trainer")
    assert order.index("LatestPushedModel") < order.index("Evaluator") < order.index("Pusher")


def test_the_repeated_beam_args_block_is_kept_once_with_its_values():
    from kubetfx.pipelines.kfp.compiler import _without_repeated_beam_args

    named = ["--executor_class_path", "a.B", "--json_serialized_invocation_args", "{{$}}"]
    beam = ["--direct_num_workers", "2", "--sdk_worker_parallelism", "2"]
    assert _without_repeated_beam_args(named + beam + beam) == named + beam
    assert _without_repeated_beam_args(named + beam) == named + beam


def test_an_unknown_dependency_is_named():
    tasks = {"A": {"dependentTasks": ["Nope"]}}
    with pytest.raises(UserError, match="task A depends on Nope, which is not a task"):
        emulator.topological_order(tasks)
