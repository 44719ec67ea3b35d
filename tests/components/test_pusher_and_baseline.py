"""Pushing a model atomically, and reading the pushed model back as a baseline."""

import errno
import multiprocessing
import os
import shutil

import pytest
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import path_utils, proto_utils

from kubetfx.components import baseline, pusher
from kubetfx.components.errors import TaskError


def _trained_model(root, content=b"graph-v1"):
    """A Model artifact laid out as the Trainer writes it."""
    model = standard_artifacts.Model()
    model.uri = str(root)
    serving = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(serving, "variables"))
    with open(os.path.join(serving, "saved_model.pb"), "wb") as f:
        f.write(content)
    with open(os.path.join(serving, "variables", "variables.index"), "wb") as f:
        f.write(content + b"-index")
    return model


def _push(tmp_path, model, serving_dir, blessed=True):
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp_path / "blessing")
    blessing.set_int_custom_property("blessed", int(blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = str(tmp_path / f"pushed-{len(os.listdir(tmp_path))}")
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=str(serving_dir))
    )
    pusher.Executor().Do(
        {"model": [model], "model_blessing": [blessing]},
        {"pushed_model": [pushed]},
        {"push_destination": proto_utils.proto_to_json(destination)},
    )
    return pushed


def _versions(serving_dir):
    return sorted(os.listdir(serving_dir)) if os.path.exists(serving_dir) else []


def test_unblessed_model_changes_nothing(tmp_path):
    serving = tmp_path / "serving"
    pushed = _push(tmp_path, _trained_model(tmp_path / "m"), serving, blessed=False)
    assert _versions(serving) == []
    assert pushed.get_int_custom_property("pushed") == 0


def test_blessed_model_lands_complete_with_no_staging_left(tmp_path):
    serving = tmp_path / "serving"
    pushed = _push(tmp_path, _trained_model(tmp_path / "m"), serving)
    (version,) = _versions(serving)
    assert version.isdigit()
    assert (serving / version / "saved_model.pb").read_bytes() == b"graph-v1"
    assert (serving / version / "variables" / "variables.index").exists()
    assert pushed.get_int_custom_property("pushed") == 1
    assert pushed.get_string_custom_property("pushed_destination") == str(serving / version)


def test_same_model_is_not_pushed_twice_and_older_versions_stay(tmp_path):
    serving = tmp_path / "serving"
    _push(tmp_path, _trained_model(tmp_path / "m1", b"graph-v1"), serving)
    first = _versions(serving)
    repeat = _push(tmp_path, _trained_model(tmp_path / "m1-copy", b"graph-v1"), serving)
    assert _versions(serving) == first
    assert repeat.get_int_custom_property("pushed") == 0
    assert repeat.get_string_custom_property(pusher.SERVING_VERSION_KEY) == first[0]

    _push(tmp_path, _trained_model(tmp_path / "m2", b"graph-v2"), serving)
    versions = _versions(serving)
    assert len(versions) == 2 and versions[0] == first[0]
    assert int(versions[1]) > int(versions[0])
    assert (serving / versions[0] / "saved_model.pb").read_bytes() == b"graph-v1"


def test_a_staging_folder_left_by_a_killed_push_is_removed_by_the_next_push(tmp_path):
    serving = tmp_path / "serving"
    _push(tmp_path, _trained_model(tmp_path / "m1", b"graph-v1"), serving)
    (first,) = _versions(serving)
    stale = serving / f"{pusher.STAGING_PREFIX}{int(first) + 1}-0badc0de"
    shutil.copytree(serving / first, stale)
    (stale / "saved_model.pb").write_bytes(b"half")
    _push(tmp_path, _trained_model(tmp_path / "m2", b"graph-v2"), serving)
    versions = _versions(serving)
    assert not [v for v in versions if v.startswith(".staging")], versions
    assert [v for v in versions if v.isdigit()][0] == first
    assert (serving / first / "saved_model.pb").read_bytes() == b"graph-v1"


def test_a_copy_that_runs_out_of_space_leaves_the_destination_as_it_was(tmp_path, monkeypatch):
    serving = tmp_path / "serving"
    _push(tmp_path, _trained_model(tmp_path / "m1", b"graph-v1"), serving)
    before = _versions(serving)
    copied = []

    def copy_until_full(source, destination):
        if copied:
            raise OSError(errno.ENOSPC, "No space left on device", destination)
        copied.append(destination)
        shutil.copyfile(source, destination)

    monkeypatch.setattr(pusher, "_copy_file_durably", copy_until_full)
    with pytest.raises(TaskError, match=r"^no space left on the device of .*serving for model"):
        _push(tmp_path, _trained_model(tmp_path / "m2", b"graph-v2"), serving)
    assert copied, "the copy wrote one file before the disk was full"
    assert _versions(serving) == before
    assert (serving / before[-1] / "saved_model.pb").read_bytes() == b"graph-v1"


def _publish_in_process(args):
    model_root, serving = args
    model = _trained_model(model_root, os.path.basename(model_root).encode())
    return pusher.publish(path_utils.serving_model_path(model.uri), serving)


def test_concurrent_pushes_publish_distinct_complete_versions(tmp_path):
    serving = str(tmp_path / "serving")
    jobs = [(str(tmp_path / f"model-{i}"), serving) for i in range(4)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        published = pool.map(_publish_in_process, jobs)
    versions = [version for version, new in published]
    assert all(new for _, new in published)
    assert len(set(versions)) == 4
    assert sorted(v for v in _versions(tmp_path / "serving") if v.isdigit()) == sorted(versions)
    contents = {open(os.path.join(serving, v, "saved_model.pb"), "rb").read() for v in versions}
    assert contents == {f"model-{i}".encode() for i in range(4)}


def test_latest_version_skips_incomplete_and_foreign_folders(tmp_path):
    serving = tmp_path / "serving"
    assert baseline.latest_pushed_version(str(serving)) is None
    for name, complete in [("100", True), ("200", True), ("300", False), ("notes", True)]:
        os.makedirs(serving / name)
        if complete:
            (serving / name / "saved_model.pb").write_bytes(b"x")
    (serving / ".staging-400").mkdir()
    assert baseline.latest_pushed_version(str(serving)) == "200"


@pytest.mark.parametrize("pushed_before", [False, True])
def test_baseline_snapshot_of_the_serving_model(tmp_path, pushed_before):
    serving = tmp_path / "serving"
    if pushed_before:
        _push(tmp_path, _trained_model(tmp_path / "m", b"serving-graph"), serving)
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "baseline")
    baseline.LatestPushedModelExecutor().Do({}, {"model": [model]}, {"serving_dir": str(serving)})
    assert baseline.has_model(model) == pushed_before
    assert model.get_int_custom_property("has_model") == int(pushed_before)
    if pushed_before:
        copied = path_utils.serving_model_path(model.uri)
        assert open(os.path.join(copied, "saved_model.pb"), "rb").read() == b"serving-graph"
