"""The choice stage in the compiled pipeline: a Trainer task per candidate, then AlgorithmChoice."""

import json

import pytest
import yaml

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.compiler import compile_pipeline
from tests.conftest import TAXI, TAXI_DATA_URI

CANDIDATES = {"TrainerLinear": "linear", "TrainerRandomForest": "random_forest"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    auto = {"algorithm": "auto", "candidates": ["linear", {"algorithm": "random_forest"}]}
    path = tmp_path_factory.mktemp("choice") / "auto.yaml"
    compile_pipeline(TAXI.with_overrides({"model": auto}), str(path), data=TAXI_DATA_URI)
    with open(path) as f:
        documents = list(yaml.safe_load_all(f))
    kfp_package.check_spec(documents[0], documents[1])
    return documents[0]


def _constant(task, name):
    return task["inputs"]["parameters"][name]["runtimeValue"]["constant"]


def test_each_candidate_is_a_heavy_trainer_task_on_the_shared_transform(spec):
    tasks = spec["root"]["dag"]["tasks"]
    assert "Trainer" not in tasks
    executors = spec["deploymentSpec"]["executors"]
    for name, algorithm in CANDIDATES.items():
        task = tasks[name]
        assert task["dependentTasks"] == ["ImportSchemaGen", "Transform"]
        config = json.loads(_constant(task, "custom_config"))
        assert config["model"]["algorithm"] == algorithm
        assert config["candidate"] == {"metric": TAXI.project.evaluation.gate.metric}
        container = executors[f"{name}_executor"]["container"]
        assert container["resources"] == contract.HEAVY_RESOURCES
        # train_steps, a run parameter, reaches every candidate
        assert task["inputs"]["parameters"]["override__train_args__num_steps"] == {
            "componentInputParameter": "train_steps"
        }


def test_the_choice_takes_every_candidate_and_feeds_the_evaluator_and_the_pusher(spec):
    tasks = spec["root"]["dag"]["tasks"]
    choice = tasks["AlgorithmChoice"]
    assert sorted(choice["dependentTasks"]) == sorted(CANDIDATES)
    for name, algorithm in CANDIDATES.items():
        assert choice["inputs"]["artifacts"][algorithm]["taskOutputArtifact"] == {
            "producerTask": name,
            "outputArtifactKey": "model",
        }
    assert json.loads(_constant(choice, "candidates"))[1] == {
        "algorithm": "random_forest",
        "num_trees": 300,
        "max_depth": 16,
        "min_examples": 5,
    }
    assert _constant(choice, "project_algorithm") == TAXI.project.model.algorithm
    for consumer in ("Evaluator", "Pusher"):
        model = tasks[consumer]["inputs"]["artifacts"]["model"]["taskOutputArtifact"]
        assert model == {"producerTask": "AlgorithmChoice", "outputArtifactKey": "model"}
    outputs = spec["components"]["AlgorithmChoice"]["outputDefinitions"]["artifacts"]
    assert outputs["choice_view"]["artifactType"]["schemaTitle"] == "system.Markdown"
    assert outputs["candidate_scores"]["artifactType"]["schemaTitle"] == "system.Metrics"


def test_a_choice_cannot_be_tuned(tmp_path):
    with pytest.raises(UserError, match="a search tunes one algorithm"):
        compile_pipeline(
            TAXI.with_overrides({"model": "auto"}),
            str(tmp_path / "p.yaml"),
            data=TAXI_DATA_URI,
            tune=True,
        )


def test_a_choice_takes_no_tuned_values(tmp_path):
    best = "minio://mlpipeline/v2/artifacts/kubetfx-taxi/run/Tuner/1/best_hyperparameters"
    with pytest.raises(UserError, match=r"^--hyperparameters gives one algorithm tuned values"):
        compile_pipeline(
            TAXI.with_overrides({"model": "auto"}),
            str(tmp_path / "p.yaml"),
            data=TAXI_DATA_URI,
            hyperparameters=best,
        )
