"""Tuning in the compiled pipeline: the Tuner's task, or a tuned run's values imported."""

import json

import pytest
import yaml

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.compiler import compile_pipeline
from tests.conftest import TAXI, TAXI_DATA_URI

BEST = "minio://mlpipeline/v2/artifacts/kubetfx-taxi/run/Tuner/1/best_hyperparameters"


@pytest.fixture(scope="module")
def spec(tuned_package):
    with open(tuned_package) as f:
        documents = list(yaml.safe_load_all(f))
    kfp_package.check_spec(documents[0], documents[1])
    return documents[0]


def test_the_tuner_runs_between_transform_and_trainer_with_heavy_resources(spec):
    tasks = spec["root"]["dag"]["tasks"]
    trainer_inputs = tasks["Trainer"]["inputs"]["artifacts"]
    assert trainer_inputs["hyperparameters"]["taskOutputArtifact"] == {
        "producerTask": "Tuner",
        "outputArtifactKey": "best_hyperparameters",
    }
    assert (
        tasks["Tuner"]["inputs"]["artifacts"]["examples"]["taskOutputArtifact"]["producerTask"]
        == "Transform"
    )
    container = spec["deploymentSpec"]["executors"]["Tuner_executor"]["container"]
    assert container["resources"] == contract.HEAVY_RESOURCES
    config = json.loads(
        tasks["Tuner"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"]
    )
    assert config["tuning"]["max_trials"] == 2  # --max-trials over the project's 10
    assert config["tuning"]["objective"] == TAXI.project.tuning.objective
    # The search's code is part of its cache key, as the Trainer's is of its own.
    from kubetfx.pipelines.definition import code

    assert config["code_fingerprint"] == code.resolve(None, code.TUNER_FN).fingerprint
    assert "tuning.py" in code.GENERIC_MODULES[code.TUNER_FN]
    assert "predictions.py" in code.GENERIC_MODULES[code.GENERIC_RUN_FN]  # run_fn uses it


def test_the_dashboard_gets_the_trials_and_the_best_trial(spec):
    outputs = spec["components"]["Tuner"]["outputDefinitions"]["artifacts"]
    assert outputs["tuning_view"]["artifactType"]["schemaTitle"] == "system.Markdown"
    assert outputs["best_trial"]["artifactType"]["schemaTitle"] == "system.Metrics"


def test_a_tuned_runs_values_are_imported_for_the_trainer(tmp_path):
    path = tmp_path / "imported.yaml"
    compiled = compile_pipeline(TAXI, str(path), data=TAXI_DATA_URI, hyperparameters=BEST)
    tasks = compiled["root"]["dag"]["tasks"]
    assert "Tuner" not in tasks
    label = compiled["components"][tasks["TunedHyperparameters"]["componentRef"]["name"]][
        "executorLabel"
    ]
    importer = compiled["deploymentSpec"]["executors"][label]["importer"]
    assert importer["artifactUri"]["constant"] == BEST
    assert "HyperParameters" in json.dumps(importer["typeSchema"])
    assert (
        tasks["Trainer"]["inputs"]["artifacts"]["hyperparameters"]["taskOutputArtifact"][
            "producerTask"
        ]
        == "TunedHyperparameters"
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"hyperparameters": "/tmp/best"}, "is not in the object store"),
        ({"hyperparameters": BEST, "tune": True}, "pick one"),
    ],
)
def test_tuned_values_from_elsewhere_are_refused(tmp_path, options, message):
    with pytest.raises(UserError, match=message):
        compile_pipeline(TAXI, str(tmp_path / "p.yaml"), data=TAXI_DATA_URI, **options)
