"""The DataFingerprint task: a digest that follows the staged files, in KFP's task contract."""

import json

import pytest

from kubetfx.components import data_fingerprint
from kubetfx.components.kfp_contract import DATA_INPUT, FINGERPRINT_OUTPUT

URI = "minio://mlpipeline/datasets/churn/"


@pytest.fixture
def staged(tmp_path, monkeypatch):
    """The folder the launcher stages URI into (under $ARTIFACT_LOCAL_PATH here)."""
    monkeypatch.setenv("ARTIFACT_LOCAL_PATH", str(tmp_path / "pod"))
    folder = tmp_path / "pod" / "minio" / "mlpipeline" / "datasets" / "churn"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    return folder


def _executor_input(tmp_path):
    """An ExecutorInput as the KFP 2.17 driver writes it for this task."""
    return {
        "inputs": {"artifacts": {DATA_INPUT: {"artifacts": [{"name": "12", "uri": URI}]}}},
        "outputs": {
            "parameters": {FINGERPRINT_OUTPUT: {"outputFile": "/tmp/kfp/outputs/fingerprint"}},
            "outputFile": str(tmp_path / "pod" / "out" / "output_metadata.json"),
        },
    }


def _fingerprint(tmp_path) -> str:
    executor_input = _executor_input(tmp_path)
    assert data_fingerprint.main(["--executor_input", json.dumps(executor_input)]) == 0
    with open(executor_input["outputs"]["outputFile"]) as f:
        output = json.load(f)
    assert set(output) == {"parameterValues"}  # what launcher_v2.go parses strictly
    (value,) = output["parameterValues"].values()
    assert list(output["parameterValues"]) == [FINGERPRINT_OUTPUT]
    return value


def test_the_same_files_give_the_same_fingerprint(staged, tmp_path):
    first = _fingerprint(tmp_path)
    assert len(first) == 64 and int(first, 16) >= 0
    (staged / "a.csv").touch()  # a new download time is not new data
    assert _fingerprint(tmp_path) == first


@pytest.mark.parametrize(
    "change",
    [
        lambda folder: (folder / "a.csv").write_text("x,y\n1,3\n"),
        lambda folder: (folder / "b.csv").write_text("x,y\n"),
        lambda folder: (folder / "a.csv").rename(folder / "c.csv"),
        lambda folder: (folder / "sub").mkdir() or (folder / "sub" / "d.csv").write_text(""),
    ],
    ids=["edited", "added", "renamed", "nested"],
)
def test_new_files_at_the_same_uri_change_the_fingerprint(staged, tmp_path, change):
    before = _fingerprint(tmp_path)
    change(staged)
    assert _fingerprint(tmp_path) != before


def test_no_files_at_the_uri_fails_the_task_with_one_line(staged, tmp_path, capsys):
    (staged / "a.csv").unlink()
    executor_input = _executor_input(tmp_path)
    assert data_fingerprint.main(["--executor_input", json.dumps(executor_input)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.splitlines() == [error]
    assert f"no files at {URI}" in error and "upload-data.sh" in error
