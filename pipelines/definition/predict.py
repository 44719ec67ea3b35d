"""The predict pipeline: new rows scored by the model serving now.

CsvExampleGen (one split, every row; the model's features typed, the other
columns read as text) → StatisticsGen (the model's features) →
ImportSchemaGen (the reviewed schema, model features only: the label is not
needed) → ExampleValidator → DataGate; LatestPushedModel → BulkInferrer →
Predictions (the table and the prediction distribution).

BulkInferrer takes the model from LatestPushedModel, not from a Resolver,
which the Kubeflow Pipelines backend cannot run.
"""

from google.protobuf import text_format
from tensorflow_data_validation import StatsOptions
from tensorflow_metadata.proto.v0 import schema_pb2

# Not tfx.v1: it imports the Google Cloud AI Platform client (6 s) for its extensions.
from tfx import components as tfx_components
from tfx.dsl.components.base import base_node, executor_spec
from tfx.proto import example_gen_pb2

from kubetfx.components import baseline, batch_predictions, data_gate
from kubetfx.components.schema_import import ReviewedSchema, features_only
from kubetfx.pipelines.definition.pipeline import read_csv
from kubetfx.pipelines.definition.settings import RunSettings
from kubetfx.pipelines.project.loader import ProjectFile

# The one split of the rows to score.
SPLIT = "predict"


def model_features(loaded: ProjectFile) -> list[str]:
    """The columns the model reads: the project's features without the label."""
    project = loaded.project
    return [f for f in project.features if f != project.label.column]


def create_predict_components(
    loaded: ProjectFile, settings: RunSettings
) -> list[base_node.BaseNode]:
    """The predict pipeline's components, in execution order."""
    features = model_features(loaded)
    example_gen = read_csv(
        loaded.project.data,
        example_gen_pb2.Output(
            split_config=example_gen_pb2.SplitConfig(
                splits=[example_gen_pb2.SplitConfig.Split(name=SPLIT, hash_buckets=1)]
            )
        ),
        # Ids and other columns pass through to the predictions as written.
        typed=features,
    )
    statistics_gen = tfx_components.StatisticsGen(
        examples=example_gen.outputs["examples"],
        stats_options=StatsOptions(feature_allowlist=features),
    )
    schema = features_only(text_format.Parse(loaded.schema_text, schema_pb2.Schema()), features)
    schema_gen = ReviewedSchema(schema_text=text_format.MessageToString(schema))
    example_validator = tfx_components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = data_gate.DataGate(anomalies=example_validator.outputs["anomalies"])
    pushed_model = baseline.LatestPushedModel(serving_dir=settings.serving_dir)
    inferrer = tfx_components.BulkInferrer(
        examples=example_gen.outputs["examples"], model=pushed_model.outputs["model"]
    )
    inferrer.executor_spec = executor_spec.BeamExecutorSpec(batch_predictions.BulkInferrerExecutor)
    inferrer.add_upstream_node(gate)
    table = batch_predictions.Predictions(
        inference_result=inferrer.outputs["inference_result"],
        examples=example_gen.outputs["examples"],
        model=pushed_model.outputs["model"],
    )
    return [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        gate,
        pushed_model,
        inferrer,
        table,
    ]
