"""The task entrypoint's handling of the backend's conventions."""

import json

import pytest

from kubetfx.components import kfp_entrypoint
from kubetfx.components.kfp_contract import resolve_package_path, schema_title


def test_object_store_uris_map_to_the_launcher_mount():
    assert (
        kfp_entrypoint.local_path_for_uri("minio://mlpipeline/v2/a/b", "/")
        == "/minio/mlpipeline/v2/a/b"
    )
    assert kfp_entrypoint.local_path_for_uri("s3://bucket/k", "/root") == "/root/s3/bucket/k"
    assert kfp_entrypoint.local_path_for_uri("gs://b/k", "/") == "/gcs/b/k"
    assert kfp_entrypoint.local_path_for_uri("/already/local", "/x") == "/already/local"


def test_overrides_set_fields_inside_proto_properties():
    properties = {
        "train_args": json.dumps({"num_steps": 1000}),
        "push_destination": json.dumps({"filesystem": {"base_directory": "/serving"}}),
        "override__train_args__num_steps": 20,
        "override__push_destination__filesystem__base_directory": "/mnt/models",
    }
    result = kfp_entrypoint.apply_overrides(properties)
    assert set(result) == {"train_args", "push_destination"}
    assert json.loads(result["train_args"]) == {"num_steps": 20}
    assert json.loads(result["push_destination"]) == {
        "filesystem": {"base_directory": "/mnt/models"}
    }


def test_an_override_of_a_missing_property_is_an_error():
    with pytest.raises(ValueError, match="overrides no exec property"):
        kfp_entrypoint.apply_overrides({"override__eval_args__num_steps": 3})


def test_package_paths_resolve_to_installed_files():
    path = resolve_package_path("package://kubetfx.projects/taxi/schema.pbtxt")
    assert path.endswith("taxi/schema.pbtxt")
    with open(path) as f:
        assert 'name: "tips"' in f.read()
    assert resolve_package_path("/plain/path") == "/plain/path"
    with pytest.raises(ValueError, match="nothing.txt does not exist"):
        resolve_package_path("package://kubetfx.components/nothing.txt")
    with pytest.raises(ValueError, match="no installed package no_such_package"):
        resolve_package_path("package://no_such_package/x")


def test_backend_metadata_wrappers_are_removed():
    assert kfp_entrypoint._unwrap({"struct": {"train": 1}}) == {"train": 1}
    assert kfp_entrypoint._unwrap({"list": ["a"]}) == ["a"]
    assert kfp_entrypoint._unwrap(3.0) == 3.0
    # Only the backend's own top-level wrapper goes; values inside stay as written.
    nested = {"struct": {"opts": {"list": [1, 2]}}}
    assert kfp_entrypoint._unwrap(nested) == {"opts": {"list": [1, 2]}}


def test_an_artifact_type_is_named_by_its_schema_title_or_its_instance_schema():
    assert schema_title("tfx.Examples", "") == "tfx.Examples"
    instance = "title: tfx.Model\ntype: object\nproperties:\n"
    assert schema_title("", instance) == "tfx.Model"
    assert schema_title("", "") == ""  # as the backend hands input artifacts back


def _driver_input(package, task_name, root, artifacts, extra_parameters):
    """The ExecutorInput the 2.17 driver builds for one task of a compiled package."""
    import yaml

    with open(package) as f:
        spec = next(yaml.safe_load_all(f))
    task = spec["root"]["dag"]["tasks"][task_name]
    component = spec["components"][task["componentRef"]["name"]]
    container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    parameters = {
        key: value["runtimeValue"]["constant"]
        for key, value in task["inputs"]["parameters"].items()
        if "runtimeValue" in value
    }
    outputs = {
        key: {"artifacts": [{"name": key, "uri": f"{root}/{key}", "type": d["artifactType"]}]}
        for key, d in component["outputDefinitions"]["artifacts"].items()
    }
    executor_input = {
        "inputs": {"parameterValues": {**parameters, **extra_parameters}, "artifacts": artifacts},
        "outputs": {"artifacts": outputs, "outputFile": "/minio/out/output_metadata.json"},
    }
    args = container["args"]
    return executor_input, args


def test_csv_example_gen_reads_the_data_artifact_the_launcher_staged(
    object_store_package, tmp_path, monkeypatch
):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    monkeypatch.setenv("ARTIFACT_LOCAL_PATH", str(tmp_path))
    staged = tmp_path / "minio" / "mlpipeline" / "datasets" / "taxi"
    staged.mkdir(parents=True)
    rows = ["a,b", *[f"{i},{i % 3}" for i in range(30)]]
    (staged / "part.csv").write_text("\n".join(rows) + "\n")
    root = "minio://mlpipeline/v2/artifacts/kubetfx-taxi/run/CsvExampleGen/1"
    data = {"artifacts": [{"name": "4", "uri": "minio://mlpipeline/datasets/taxi/"}]}
    executor_input, args = _driver_input(
        object_store_package, "CsvExampleGen", root, {"data": data}, {"data_fingerprint": "ab"}
    )
    parsed = pipeline_spec_pb2.ExecutorInput()
    json_format.ParseDict(executor_input, parsed)
    parsed.outputs.output_file = str(tmp_path / "out" / "output_metadata.json")
    inputs_spec = pipeline_spec_pb2.ComponentInputsSpec()
    json_format.Parse(args[args.index("--json_serialized_inputs_spec_args") + 1], inputs_spec)
    executor_class = args[args.index("--executor_class_path") + 1]

    kfp_entrypoint.run_task(parsed, inputs_spec, executor_class, ["--direct_num_workers=1"])

    with open(parsed.outputs.output_file) as f:
        output = json.load(f)
    (examples,) = output["artifacts"]["examples"]["artifacts"]
    assert examples["uri"] == f"{root}/examples"  # written back as given: the launcher uploads it
    assert "data" not in output["artifacts"]
    assert examples["metadata"]["input_fingerprint"].startswith("split:single_split,num_files:1")
    assert "data_fingerprint" not in json.dumps(examples["metadata"])
    written = tmp_path / "minio" / "mlpipeline" / "v2" / "artifacts" / "kubetfx-taxi"
    assert list(written.rglob("Split-train/*.gz")) and list(written.rglob("Split-eval/*.gz"))


def test_the_code_digest_argument_is_not_a_beam_option():
    args, beam_args = kfp_entrypoint.parse_args(
        [
            "--executor_class_path", "a.B",
            "--json_serialized_invocation_args", "{}",
            "--direct_num_workers=1",
            "--kubetfx_code_digest", "0123abcd",
        ]
    )  # fmt: skip
    assert beam_args == ["--direct_num_workers=1"]
    assert args.kubetfx_code_digest == "0123abcd"
