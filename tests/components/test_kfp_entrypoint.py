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
