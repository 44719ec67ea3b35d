"""``kubetfx compile``, ``emulate`` and ``submit``: the pipeline on Kubeflow Pipelines 2.x."""

import click

from kubetfx.pipelines.cli.common import (
    CONFIG,
    ENDPOINT,
    NO_CACHE,
    PARAM,
    beam_options,
    cli,
    echo_report_hint,
    fail,
    load,
    partial_options,
    quiet,
)
from kubetfx.pipelines.cli.project_options import (
    check_tuning,
    chosen_algorithm,
    training_options,
    tuning_options,
    with_options,
)
from kubetfx.pipelines.errors import PipelineFailed, UserError
from kubetfx.pipelines.kfp.spec import (
    DEFAULT_IMAGE,
    MLFLOW_CREDENTIAL_KEYS,
    MLFLOW_SERVICE_URI,
    PIPELINES,
)


@cli.command("compile")
@click.option(
    "--output",
    type=click.Path(),
    default="pipeline.yaml",
    show_default=True,
    help="Pipeline package to write (.yaml).",
)
@click.option(
    "--image",
    default=None,
    help="Container image every task runs in; a reference by digest (name@sha256:...) "
    "keeps KFP's cache from reusing outputs of an image rebuilt under the same tag.  "
    "[default: kubetfx:<version>]",
)
@click.option(
    "--pipeline-root",
    default="minio://mlpipeline/v2/artifacts",
    show_default=True,
    help="Where KFP stores the artifacts; pass the same to `kubetfx submit`.",
)
@click.option(
    "--data",
    default=None,
    help="Default of data_root: a minio://, s3:// or gs:// folder of CSV files, which the "
    "tasks get from the object store, or a package:// path inside the image.  "
    "[default: the project's data]",
)
@click.option(
    "--serving-dir",
    default=None,
    help="Default of serving_dir, where the Pusher pushes: a folder in the serving volume "
    "for kfp, a gs:// folder for vertex.  [default: /serving; for vertex, "
    "PIPELINE_ROOT/serving]",
)
@click.option(
    "--target",
    type=click.Choice(["kfp", "vertex"]),
    default="kfp",
    show_default=True,
    help="kfp: the spec and a Kubernetes platform spec that mounts the serving volume, for "
    "open-source Kubeflow Pipelines. vertex: the spec alone, for Vertex AI's PipelineJob "
    "(gs:// pipeline root, data and serving folder; --image in a registry).",
)
@click.option(
    "--pipeline",
    type=click.Choice(PIPELINES),
    default="train",
    show_default=True,
    help="train: from the CSV files to a pushed model. predict: new CSV files (without the "
    "label) validated and scored by the model serving now (the newest in serving_dir), into "
    "a table of predictions.",
)
@training_options
@tuning_options
@click.option(
    "--hyperparameters",
    default=None,
    help="Train with a tuned run's values: the object-store URI of its best_hyperparameters "
    "artifact, imported into the run.  [default: the project's settings]",
)
@click.option(
    "--track",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URI]",
    help="Add the Tracker: each run logs its parameters, metrics, blessing and pushed model "
    "to the MLflow server at URI (train pipeline).  [default: the project's tracking.uri if "
    "it is a server, else kubernetes/mlflow's server, " + MLFLOW_SERVICE_URI + "]",
)
@click.option(
    "--track-secret",
    default=None,
    metavar="NAME",
    help="A Secret in the run's namespace with the tracking server's credentials, keys "
    + " and ".join(MLFLOW_CREDENTIAL_KEYS)
    + ", given to the Tracker as environment variables.",
)
@beam_options(compiled=True)
@CONFIG
def compile_command(
    output,
    pipeline,
    image,
    pipeline_root,
    data,
    serving_dir,
    target,
    algorithm,
    choose_algorithm,
    train_steps,
    eval_steps,
    min_accuracy,
    schema_file,
    tune,
    max_trials,
    hyperparameters,
    track,
    track_secret,
    beam_args,
    config_path,
) -> None:
    """Compile a project's train or predict pipeline for Kubeflow Pipelines 2.x.

    Writes a PipelineSpec (schema 2.1.0) with a Kubernetes platform spec that
    open-source KFP runs as it is. The project's settings and schema travel in
    the spec, so the stock image runs any project without code of its own; a
    project with its own code needs an image that holds it (--image).
    The training options replace the project's settings in the package;
    --train-steps sets the default of the train_steps parameter. Per-run
    parameters: data_root, train_steps (train only), serving_dir. With an
    object-store data_root, the data is imported as an artifact that the KFP
    launcher stages into the tasks with its own credentials, and
    CsvExampleGen's cache follows the files' contents. With --track, each run
    of the train pipeline ends by logging to an MLflow server.
    """
    from kubetfx.pipelines.kfp.compiler import compile_pipeline, pipeline_name

    loaded = load(config_path)
    try:
        given = {
            "--schema": schema_file,
            "--algorithm": chosen_algorithm(algorithm, choose_algorithm),
            "--train-steps": train_steps,
            "--eval-steps": eval_steps,
            "--min-accuracy": min_accuracy,
            "--max-trials": max_trials,
        }
        if tune:
            given["--tune"] = True
        if hyperparameters:
            given["--hyperparameters"] = hyperparameters
        training_only = [k for k, v in given.items() if v is not None and k != "--schema"]
        if choose_algorithm:  # given as --choose-algorithm, not as --algorithm
            training_only = [
                "--choose-algorithm" if k == "--algorithm" else k for k in training_only
            ]
        if pipeline == "predict" and training_only:
            raise UserError(
                f"{', '.join(training_only)} set training, which the predict pipeline does not "
                "do; leave it out, or compile --pipeline train"
            )
        check_tuning(loaded, tune, max_trials, given["--algorithm"])
        loaded = with_options(
            loaded, {k: v for k, v in given.items() if k not in ("--tune", "--hyperparameters")}
        )
        with quiet():
            spec = compile_pipeline(
                loaded,
                output,
                image=image or DEFAULT_IMAGE,
                custom_image=image is not None,
                pipeline_root=pipeline_root,
                beam_args=beam_args,
                data=data,
                serving_dir=serving_dir,
                target=target,
                pipeline=pipeline,
                tune=tune,
                hyperparameters=hyperparameters,
                track=track,
                track_secret=track_secret,
            )
    except UserError as e:
        fail(e)
    tasks = len(spec["root"]["dag"]["tasks"])
    parameters = ", ".join(spec["root"]["inputDefinitions"]["parameters"])
    image = image or DEFAULT_IMAGE
    click.echo(
        f"kubetfx: wrote {output}: {pipeline_name(loaded, pipeline)}, {tasks} tasks in {image}; "
        f"parameters: {parameters}"
    )
    if target == "vertex":
        click.echo(
            "kubetfx: run it with google.cloud.aiplatform.PipelineJob(template_path="
            f"{output!r}, ...).submit() (see docs/kfp.md)"
        )


@cli.command()
@click.argument("package", type=click.Path())
@click.option(
    "--output-dir",
    type=click.Path(),
    default="kubetfx_emulated",
    show_default=True,
    help="Holds the emulated object store, metadata.db, logs/ and volumes/.",
)
@PARAM
@click.option("--docker", "docker_image", default=None, help="Run each task in this image.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Independent tasks run at the same time, up to this many.",
)
@partial_options
@NO_CACHE
def emulate(
    package,
    output_dir,
    params,
    docker_image,
    parallelism,
    to_component,
    from_component,
    only,
    no_cache,
) -> None:
    """Run a compiled pipeline package locally, as the KFP 2.x backend would.

    Each task gets the ExecutorInput the KFP driver builds, its inputs staged
    from an object store to a local mount, and its outputs uploaded back by
    the URIs it reports; caching follows KFP's cache keys. A pre-flight check
    before `kubetfx submit`. Data for an object-store data_root goes in
    OUTPUT/object_store/<bucket>/<key> (see docs/kfp.md).

    Without --docker, the package's commands run on this machine as you, with
    your environment: emulate only packages you trust. With --docker, each
    task runs in the image with no network, no capabilities and a non-root
    user, and sees only its own staged files and mounted volumes.

    --to, --from and --only run part of the package (task names in any case),
    as a pre-flight for one changed task: the skipped tasks it needs must be
    cache hits, from an earlier emulation with the same inputs.
    """
    from kubetfx.pipelines.definition.selection import Selection
    from kubetfx.pipelines.kfp.emulator.run import emulate as run_emulation

    try:
        run = run_emulation(
            package,
            output_dir,
            list(params),
            docker_image=docker_image,
            enable_cache=not no_cache,
            parallelism=parallelism,
            selection=Selection.from_options(to_component, from_component, only),
        )
    except (UserError, PipelineFailed) as e:
        fail(e)
    if note := _tracking_note(output_dir, run.run_id):
        click.echo(f"kubetfx: {note}")
    echo_report_hint(run.run_id, None, output_dir)


def _tracking_note(output_dir: str, run_id: str) -> str | None:
    """What the run's Tracker task recorded: where MLflow holds the run, or why not."""
    import os

    from kubetfx.components.kfp_contract import TRACKED_RUN, TRACKER_NODE, TRACKING_NOTE
    from kubetfx.pipelines.definition.settings import METADATA_FILE
    from kubetfx.pipelines.kfp.emulator.store import EmulatorStore

    store = EmulatorStore(os.path.join(output_dir, METADATA_FILE))
    records = store.task_outputs(run_id, TRACKER_NODE).get(TRACKED_RUN, [])
    return records[0].get("metadata", {}).get(TRACKING_NOTE) if records else None


@cli.command()
@click.argument("package", type=click.Path())
@ENDPOINT
@click.option(
    "--experiment", default="kubetfx", show_default=True, help="Experiment to file the run under."
)
@click.option("--run-name", default=None, help="Run name.  [default: package name and time]")
@PARAM
@click.option(
    "--pipeline-root",
    default="minio://mlpipeline/v2/artifacts",
    show_default=True,
    help="Where KFP stores the run's artifacts.",
)
@NO_CACHE
@click.option(
    "--wait", is_flag=True, help="Follow the run to its end; exit non-zero unless it succeeds."
)
def submit(
    package, connection, experiment, run_name, params, pipeline_root, no_cache, wait
) -> None:
    """Submit a compiled pipeline package to Kubeflow Pipelines.

    For multi-user Kubeflow or an API behind an authenticating proxy, give a
    bearer token (--token, or --token-file with e.g. a service-account token),
    or the session cookie (--cookies), and your --namespace. An https endpoint
    is verified against the system's CAs, or --ca-bundle.
    """
    endpoint = connection.endpoint
    from kubetfx.pipelines.kfp import package as kfp_package
    from kubetfx.pipelines.kfp import submit as kfp_submit

    try:
        pipeline_spec, platform_spec = kfp_package.load_package(package)
        kfp_package.check_spec(pipeline_spec, platform_spec)
        values = kfp_package.parse_params(list(params), pipeline_spec)
        kfp_package.root_parameters(pipeline_spec, values)  # the defaults pass the same checks
        client, run_id = kfp_submit.submit(
            package,
            connection,
            values,
            experiment=experiment,
            run_name=run_name,
            pipeline_root=pipeline_root,
            enable_caching=False if no_cache else None,
        )
        click.echo(f"kubetfx: created run {run_id}: {endpoint.rstrip('/')}/#/runs/details/{run_id}")
        if wait:
            kfp_submit.follow(client, run_id, endpoint)
            click.echo(f"kubetfx: run {run_id} succeeded")
    except (UserError, PipelineFailed) as e:
        fail(e)
