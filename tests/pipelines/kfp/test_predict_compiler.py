"""The compiled predict pipeline: new rows validated and scored by the model serving now."""

import json

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import spec as contract
from tests.conftest import TAXI, TAXI_DATA_URI, run_kubetfx

PREDICT_TASKS = {
    "Data",
    "DataFingerprint",
    "CsvExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "DataGate",
    "LatestPushedModel",
    "BulkInferrer",
    "Predictions",
}


@pytest.fixture(scope="module")
def documents(predict_package):
    with open(predict_package) as f:
        return list(yaml.safe_load_all(f))


@pytest.fixture(scope="module")
def spec(documents):
    return documents[0]


def _exec_property(spec, task, name):
    """A TFX exec property as compiled into the task's constant inputs."""
    return spec["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]["runtimeValue"][
        "constant"
    ]


def test_the_backend_and_the_kfp_client_accept_it(spec, documents, predict_package):
    from kfp.client.client import _extract_pipeline_yaml

    kfp_package.check_spec(spec, documents[1])
    parsed = _extract_pipeline_yaml(str(predict_package))
    assert parsed.pipeline_spec.pipeline_info.name == "kubetfx-taxi-predict"
    assert set(spec["root"]["dag"]["tasks"]) == PREDICT_TASKS


def test_it_scores_with_the_model_serving_now_without_a_resolver(spec):
    tasks = spec["root"]["dag"]["tasks"]
    executors = spec["deploymentSpec"]["executors"]
    assert "importer" in executors["Data_executor"]  # the data's URI; every other task runs code
    assert {label for label, e in executors.items() if "container" not in e} == {"Data_executor"}
    inferrer = tasks["BulkInferrer"]["inputs"]["artifacts"]
    assert inferrer["model"]["taskOutputArtifact"]["producerTask"] == "LatestPushedModel"
    assert inferrer["examples"]["taskOutputArtifact"]["producerTask"] == "CsvExampleGen"
    assert "DataGate" in tasks["BulkInferrer"]["dependentTasks"]  # no scoring of bad data
    assert tasks["LatestPushedModel"]["cachingOptions"] == {"enableCache": False}
    container = executors["BulkInferrer_executor"]["container"]
    executor_class = container["args"][container["args"].index("--executor_class_path") + 1]
    assert executor_class == "kubetfx.components.batch_predictions.BulkInferrerExecutor"


def test_its_parameters_are_the_data_and_the_serving_folder(spec):
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {"data_root", "serving_dir"}  # no training, no train_steps
    assert parameters["data_root"]["defaultValue"] == TAXI_DATA_URI
    assert parameters["serving_dir"]["defaultValue"] == contract.SERVING_MOUNT
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["LatestPushedModel"]["inputs"]["parameters"]["serving_dir"] == {
        "componentInputParameter": "serving_dir"
    }


def test_every_row_is_one_split_and_the_label_is_not_needed(spec):
    custom_config = json.loads(_exec_property(spec, "CsvExampleGen", "custom_config"))
    features = [f for f in TAXI.project.features if f != TAXI.project.label.column]
    # Only the model's features are typed: ids and other columns pass through as written.
    assert custom_config["custom_config"]["value"]["typed_columns"] == features
    output_config = json.loads(_exec_property(spec, "CsvExampleGen", "output_config"))
    assert output_config == {"split_config": {"splits": [{"hash_buckets": 1, "name": "predict"}]}}
    schema = text_format.Parse(
        _exec_property(spec, "ImportSchemaGen", "schema_text"), schema_pb2.Schema()
    )
    features = [f for f in TAXI.project.features if f != TAXI.project.label.column]
    assert [f.name for f in schema.feature] == [
        f.name
        for f in text_format.Parse(TAXI.schema_text, schema_pb2.Schema()).feature
        if f.name in features
    ]
    assert TAXI.project.label.column not in {f.name for f in schema.feature}
    options = json.loads(_exec_property(spec, "StatisticsGen", "stats_options_json"))
    assert options["_feature_allowlist"] == features  # key columns are not validated


def test_the_predictions_are_a_table_with_dashboard_views(spec):
    outputs = spec["components"]["Predictions"]["outputDefinitions"]["artifacts"]
    titles = {name: o["artifactType"].get("schemaTitle") for name, o in outputs.items()}
    assert titles["predictions_view"] == "system.HTML"
    assert titles["prediction_metrics"] == "system.Metrics"
    assert "title: kubetfx.Predictions" in outputs["predictions"]["artifactType"]["instanceSchema"]


def test_only_the_model_lookup_mounts_the_serving_volume(documents):
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"LatestPushedModel_executor"}


def test_training_options_are_refused_for_the_predict_pipeline(tmp_path):
    result = run_kubetfx(
        "compile",
        "--pipeline",
        "predict",
        "--train-steps",
        "5",
        "--output",
        str(tmp_path / "p.yaml"),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "kubetfx: error: --train-steps set training, which the predict pipeline does not do; "
        "leave it out, or compile --pipeline train"
    )
    assert not (tmp_path / "p.yaml").exists()
