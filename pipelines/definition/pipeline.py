"""The Chicago taxi pipeline: one definition for every runner.

CsvExampleGen → StatisticsGen → ImportSchemaGen → ExampleValidator → DataGate
→ Transform → Trainer → Evaluator (against LatestPushedModel) → Pusher.
"""

from tfx import v1 as tfx
from tfx.dsl.components.base import base_node, executor_spec
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2

from kubetfx.components import baseline, data_gate, eval_config, evaluator, pusher
from kubetfx.pipelines.definition.settings import PipelineConfig, code_fingerprint

PREPROCESSING_FN = "kubetfx.components.preprocessing.preprocessing_fn"
RUN_FN = "kubetfx.components.model.run_fn"
# The component modules each user function depends on (see code_fingerprint).
TRANSFORM_MODULES = ("features.py", "preprocessing.py")
TRAINER_MODULES = ("features.py", "model.py")


def create_components(
    config: PipelineConfig, pin_pushed_version: bool = True
) -> list[base_node.BaseNode]:
    """The pipeline's components, in execution order.

    With ``pin_pushed_version``, the model version serving now becomes part of
    LatestPushedModel's cache key, so a cached baseline is reused exactly until
    a new model is pushed. Runners that build the pipeline long before it runs
    (compiling for Kubeflow) turn this off and disable that task's cache.
    """
    example_gen = tfx.components.CsvExampleGen(
        input_base=config.data_root,
        input_config=example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")]
        ),
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.ImportSchemaGen(schema_file=config.schema_file)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = data_gate.DataGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={"code_fingerprint": code_fingerprint(*TRANSFORM_MODULES)},
    )
    transform.add_upstream_node(gate)

    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=config.train_steps),
        eval_args=tfx.proto.EvalArgs(num_steps=config.eval_steps),
        custom_config={"code_fingerprint": code_fingerprint(*TRAINER_MODULES)},
    )

    pushed_model = baseline.LatestPushedModel(
        serving_dir=config.serving_dir,
        expected_version=(
            baseline.latest_pushed_version(config.serving_dir) if pin_pushed_version else None
        ),
    )
    model_evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=pushed_model.outputs["model"],
        eval_config=eval_config.make_eval_config(min_accuracy=config.min_accuracy),
    )
    model_evaluator.executor_spec = executor_spec.BeamExecutorSpec(evaluator.Executor)

    model_pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=model_evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=config.serving_dir)
        ),
    )
    model_pusher.executor_spec = executor_spec.ExecutorClassSpec(pusher.Executor)

    return [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        gate,
        transform,
        trainer,
        pushed_model,
        model_evaluator,
        model_pusher,
    ]


def create_pipeline(
    config: PipelineConfig, metadata_connection_config: object | None = None
) -> tfx_pipeline.Pipeline:
    """The taxi pipeline with caching on, storing metadata where ``config`` says."""
    if metadata_connection_config is None:
        metadata_connection_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        )
    return tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
