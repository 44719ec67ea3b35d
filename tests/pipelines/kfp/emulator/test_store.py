"""The emulated object store and ML Metadata: paths stay inside, records kept as KFP does."""

import os

import pytest

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore


@pytest.mark.parametrize(
    "uri",
    [
        "minio://mlpipeline//tmp/x",  # an empty segment makes an absolute key
        "minio://mlpipeline/a/../../../x",
        "minio://mlpipeline/./x",
        "minio://../x",
        "minio://Bad_Bucket/x",
        "minio://mlpipeline",
        "file:///etc/passwd",
        "/etc/passwd",
    ],
)
def test_an_object_uri_cannot_name_a_path_outside_the_store(tmp_path, uri):
    with pytest.raises(UserError):
        object_path(str(tmp_path / "object_store"), uri)


def test_a_link_inside_the_store_is_not_followed_out(tmp_path):
    store = tmp_path / "object_store"
    (store / "mlpipeline").mkdir(parents=True)
    os.symlink(tmp_path, store / "mlpipeline" / "out")
    with pytest.raises(UserError, match="resolves outside the emulated object store"):
        object_path(str(store), "minio://mlpipeline/out/secret")
    path = object_path(str(store), "minio://mlpipeline/datasets/taxi/")
    assert path == str(store / "mlpipeline" / "datasets" / "taxi") + "/"


def test_the_importer_keeps_one_artifact_per_uri_unless_told_to_reimport(tmp_path):
    store = EmulatorStore(str(tmp_path / "metadata.db"))
    uri = "minio://mlpipeline/datasets/taxi/"

    def imported(run, uri=uri, reimport=False):
        store.start_run("p", run, {})
        outputs = store.import_artifact(run, "Data", "data", uri, "system.Dataset", {}, reimport)
        (artifact,) = outputs["data"]
        assert artifact["uri"] == uri
        return artifact

    first = imported("r1")
    assert imported("r2")["name"] == first["name"]  # client.go: FindMatchedArtifact
    assert imported("r3", reimport=True)["name"] != first["name"]
    assert imported("r4", uri=uri + "more/")["name"] != first["name"]
    assert first["metadata"]["display_name"] == "data"
    assert '"fromEnv": "true"' in first["metadata"]["store_session_info"]


def test_output_parameters_are_published_and_kept_by_a_cache_hit(tmp_path):
    store = EmulatorStore(str(tmp_path / "metadata.db"))
    store.start_run("p", "r1", {})
    execution = store.start_execution("r1", "DataFingerprint", "key", {"inputs": {}})
    store.publish_execution("r1", execution, {}, True, str, {"fingerprint": "ab12"})
    assert store.output_parameters("r1", "DataFingerprint") == {"fingerprint": "ab12"}
    store.start_run("p", "r2", {})
    assert store.find_cached("p", "key") == execution
    store.record_cached("r2", "DataFingerprint", "key", execution, {"inputs": {}})
    assert store.output_parameters("r2", "DataFingerprint") == {"fingerprint": "ab12"}
    assert store.output_parameters("r2", "Trainer") == {}
