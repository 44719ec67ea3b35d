"""The pipeline: one definition, built from a project, for every runner.

CsvExampleGen → StatisticsGen → ImportSchemaGen (the reviewed schema) →
ExampleValidator → DataGate → Transform → [Tuner] → Trainer → Evaluator
(against LatestPushedModel) → Pusher [→ Tracker, which logs the run to MLflow].

With ``--tune`` the Tuner searches the project's tuning section and the
Trainer trains with its best values; without, the Trainer trains with the
values of the last tuned run (imported), or the project's own.

With ``model.algorithm: auto`` a Trainer per candidate (TrainerLinear, ...)
takes Transform's outputs side by side, and AlgorithmChoice passes the best
model on to the Evaluator and the Pusher (components/algorithm_choice.py).
"""

from collections.abc import Callable, Sequence

# Not tfx.v1: it imports the Google Cloud AI Platform client (6 s) for its extensions.
from tfx import components as tfx_components
from tfx.dsl.components.base import base_node, executor_spec
from tfx.dsl.components.common.importer import Importer
from tfx.orchestration import metadata as tfx_metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2, pusher_pb2, trainer_pb2
from tfx.types import standard_artifacts

from kubetfx.components import (
    algorithm_choice,
    baseline,
    candidates,
    csv_example_gen,
    data_gate,
    eval_config,
    evaluator,
    pusher,
    tracking,
)
from kubetfx.components.project import UNTUNABLE_CHOICE, Auto
from kubetfx.components.schema_import import ReviewedSchema
from kubetfx.pipelines.definition import code
from kubetfx.pipelines.definition.settings import RunSettings
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.project.loader import ProjectFile

# The importer of the last tuned values, in runs that do not tune.
TUNED_NODE = "TunedHyperparameters"


def read_csv(
    data: str,
    output_config: example_gen_pb2.Output | None = None,
    typed: list[str] | None = None,
):
    """CsvExampleGen over every ``*.csv`` file in ``data``, run by kubetfx's executor.

    Without ``output_config`` the rows are hashed into train (2/3) and eval
    (1/3). With ``typed``, only those columns get a type inferred; the others
    are read as text, as written. The node id is CsvExampleGen either way.
    """
    from tfx.components.example_gen.component import FileBasedExampleGen

    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*.csv")]
    )
    spec = executor_spec.BeamExecutorSpec(csv_example_gen.Executor)
    if typed is None:
        example_gen = tfx_components.CsvExampleGen(
            input_base=data, input_config=input_config, output_config=output_config
        )
        example_gen.executor_spec = spec
        return example_gen
    # CsvExampleGen takes no custom_config; its parent does.
    return FileBasedExampleGen(
        input_base=data,
        input_config=input_config,
        output_config=output_config,
        custom_config=csv_example_gen.typed_columns_config(typed),
        custom_executor_spec=spec,
    ).with_id("CsvExampleGen")


# A function that takes kubetfx's components and returns the pipeline's: the
# same list with components of the user's own added (docs/python-api.md).
Extend = Callable[[list[base_node.BaseNode]], Sequence[base_node.BaseNode]]


def create_components(
    loaded: ProjectFile,
    settings: RunSettings | None = None,
    pin_pushed_version: bool = True,
) -> list[base_node.BaseNode]:
    """The pipeline's components, in execution order.

    Each has a fixed id (CsvExampleGen, Trainer, ...), so a component of your
    own can take their outputs: ``by_id["Trainer"].outputs["model"]``.

    With ``pin_pushed_version``, the model version serving now becomes part of
    LatestPushedModel's cache key, so a cached baseline is reused exactly until
    a new model is pushed. Runners that build the pipeline long before it runs
    (compiling for Kubeflow) turn this off and disable that task's cache.
    """
    settings = settings or RunSettings()
    project = loaded.project
    preparation = project.preparation().model_dump(mode="json")
    preprocessing_fn, run_fn = code.user_functions(loaded)

    example_gen = read_csv(project.data)
    statistics_gen = tfx_components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = ReviewedSchema(schema_text=loaded.schema_text)
    example_validator = tfx_components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    gate = data_gate.DataGate(anomalies=example_validator.outputs["anomalies"])

    transform = tfx_components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=preprocessing_fn.module_path,
        # The pre- and post-transform statistics: two more passes over the data
        # that nothing downstream reads (StatisticsGen has the raw data's).
        disable_statistics=True,
        # TF1 graph mode: the same analyzers and outputs (to float32 rounding),
        # traced and saved in two thirds of the time of TF2's tf.function path.
        force_tf_compat_v1=True,
        custom_config={
            "preparation": preparation,
            "code_fingerprint": preprocessing_fn.fingerprint,
        },
    )
    transform.add_upstream_node(gate)

    # What the Tuner and the Trainer both read, and the settings both use.
    training_inputs = {
        "examples": transform.outputs["transformed_examples"],
        "transform_graph": transform.outputs["transform_graph"],
        "schema": schema_gen.outputs["schema"],
        "train_args": trainer_pb2.TrainArgs(num_steps=project.training.train_steps),
        "eval_args": trainer_pb2.EvalArgs(num_steps=project.training.eval_steps),
    }
    training_config = {
        "preparation": preparation,
        "model": project.model.model_dump(mode="json"),
        "batch_size": project.training.batch_size,
    }
    hyperparameters = None
    if isinstance(project.model, Auto):
        if settings.tune:
            raise UserError(f"--tune: {UNTUNABLE_CHOICE}")
        tuning_nodes = []  # candidates train with their own settings, not tuned ones
    elif settings.tune:
        tuner_fn = code.resolve(None, code.TUNER_FN)
        tuner = tfx_components.Tuner(
            tuner_fn=tuner_fn.module_path,
            **training_inputs,
            custom_config={
                **training_config,
                "tuning": project.tuning.model_dump(mode="json") if project.tuning else None,
                "code_fingerprint": tuner_fn.fingerprint,
            },
        )
        hyperparameters = tuner.outputs["best_hyperparameters"]
        tuning_nodes = [tuner]
    elif settings.hyperparameters:
        # The last tuned run's values; a new tuning is a new URI, so a new cache key.
        tuned = Importer(
            source_uri=settings.hyperparameters,
            artifact_type=standard_artifacts.HyperParameters,
        ).with_id(TUNED_NODE)
        hyperparameters = tuned.outputs["result"]
        tuning_nodes = [tuned]
    else:
        tuning_nodes = []

    if isinstance(project.model, Auto):
        training_nodes = choose_algorithm(
            project.model, loaded, training_inputs, training_config, run_fn
        )
    else:
        training_nodes = [
            tfx_components.Trainer(
                run_fn=run_fn.module_path,
                hyperparameters=hyperparameters,
                **training_inputs,
                custom_config={**training_config, "code_fingerprint": run_fn.fingerprint},
            )
        ]
    trained_model = training_nodes[-1].outputs["model"]

    pushed_model = baseline.LatestPushedModel(
        serving_dir=settings.serving_dir,
        expected_version=(
            baseline.latest_pushed_version(settings.serving_dir) if pin_pushed_version else None
        ),
    )
    model_evaluator = tfx_components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trained_model,
        baseline_model=pushed_model.outputs["model"],
        eval_config=eval_config.make_eval_config(project),
        module_path=evaluator.MODULE_PATH,  # loads decision forests in the Beam workers
    )
    model_evaluator.executor_spec = executor_spec.BeamExecutorSpec(evaluator.Executor)

    model_pusher = tfx_components.Pusher(
        model=trained_model,
        model_blessing=model_evaluator.outputs["blessing"],
        push_destination=pusher_pb2.PushDestination(
            filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=settings.serving_dir)
        ),
    )
    model_pusher.executor_spec = executor_spec.ExecutorClassSpec(pusher.Executor)

    tracking_nodes = []
    if settings.tracking_uri:
        tracking_nodes.append(
            tracking.Tracker(
                model=trained_model,
                evaluation=model_evaluator.outputs["evaluation"],
                blessing=model_evaluator.outputs["blessing"],
                pushed_model=model_pusher.outputs["pushed_model"],
                schema=schema_gen.outputs["schema"],
                hyperparameters=hyperparameters,
                tracking_uri=settings.tracking_uri,
                experiment=(project.tracking and project.tracking.experiment) or project.name,
                run_id=settings.run_id,
                data=project.data,
                train_steps=project.training.train_steps,
                settings=tracked_settings(loaded),
                artifact_location=(
                    settings.mlflow_artifacts
                    if settings.tracking_uri == settings.mlflow_store
                    else None
                ),
            )
        )

    return [
        example_gen,
        statistics_gen,
        schema_gen,
        example_validator,
        gate,
        transform,
        *tuning_nodes,
        *training_nodes,
        pushed_model,
        model_evaluator,
        model_pusher,
        *tracking_nodes,
    ]


def choose_algorithm(
    model: Auto, loaded: ProjectFile, training_inputs: dict, training_config: dict, run_fn
) -> list[base_node.BaseNode]:
    """A Trainer per candidate, then AlgorithmChoice, which outputs the best one's model."""
    metric = loaded.project.gate_metric
    trainers = {
        candidate.algorithm: tfx_components.Trainer(
            run_fn=run_fn.module_path,
            **training_inputs,
            custom_config={
                **training_config,
                "model": candidate.model_dump(mode="json"),
                "candidate": {"metric": metric.name},
                "code_fingerprint": run_fn.fingerprint,
            },
        ).with_id(candidates.candidate_node(candidate.algorithm))
        for candidate in model.candidates
    }
    choice = algorithm_choice.AlgorithmChoice(
        models={name: trainer.outputs["model"] for name, trainer in trainers.items()},
        candidates=[c.model_dump(mode="json") for c in model.candidates],
        metric=metric.name,
        higher_is_better=metric.higher_is_better,
        project_algorithm=loaded.file_algorithm or model.algorithm,
    )
    return [*trainers.values(), choice]


def tracked_settings(loaded: ProjectFile) -> dict:
    """What the Tracker logs of the project besides its inputs and run parameters."""
    project = loaded.project
    return {
        "project": project.name,
        "label": project.label.column,
        "task": project.label.task,
        "model": project.model.model_dump(mode="json"),
        "eval_steps": project.training.eval_steps,
        "batch_size": project.training.batch_size,
    }


def extended(
    components: list[base_node.BaseNode], extend: Extend | None
) -> list[base_node.BaseNode]:
    """``components`` with the user's own added by ``extend``; kubetfx's must all stay."""
    if extend is None:
        return components
    result = list(extend(list(components)))
    kept = {id(node) for node in result}
    missing = [node.id for node in components if id(node) not in kept]
    if missing:
        raise UserError(
            f"extend left out kubetfx's {', '.join(missing)}: return the components it is "
            "given, with your own added"
        )
    return result


def create_pipeline(
    loaded: ProjectFile,
    settings: RunSettings | None = None,
    metadata_connection_config: object | None = None,
    extend: Extend | None = None,
) -> tfx_pipeline.Pipeline:
    """The project's pipeline with caching on, storing metadata where ``settings`` says.

    This is the pipeline ``kubetfx run`` runs; any TFX runner runs it (set
    ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported, as importing
    kubetfx does). ``extend`` adds components of your own (``Extend``).
    Without ``settings``, the outputs go to ./kubetfx_output.
    """
    settings = (settings or RunSettings()).absolute()
    if metadata_connection_config is None:
        metadata_connection_config = tfx_metadata.sqlite_metadata_connection_config(
            settings.metadata_path
        )
    return tfx_pipeline.Pipeline(
        pipeline_name=loaded.project.name,
        pipeline_root=settings.pipeline_root,
        components=extended(create_components(loaded, settings), extend),
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(settings.beam_args),
    )
