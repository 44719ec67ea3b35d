"""``kubetfx run``: a project's pipeline on this machine."""

import click

from kubetfx.pipelines.cli.common import (
    CONFIG,
    NO_CACHE,
    beam_options,
    cli,
    echo_report_hint,
    fail,
    load,
    output_dir_for,
    partial_options,
)
from kubetfx.pipelines.cli.project_options import (
    TRACK,
    check_tuning,
    chosen_algorithm,
    training_options,
    tuning_options,
    with_options,
    with_tracking,
)
from kubetfx.pipelines.errors import PipelineFailed, UserError


@cli.command()
@CONFIG
@click.option(
    "--data",
    "data_root",
    type=click.Path(),
    default=None,
    help="Folder of CSV files with the project's columns.  [default: the project's data]",
)
@click.option(
    "--output-dir",
    type=click.Path(),
    default=None,
    help="Holds metadata.db, pipeline_root/, logs/ and serving/<version>/ with the pushed "
    "model.  [default: kubetfx_output beside the project file; for the bundled project, "
    "./kubetfx_output]",
)
@training_options
@tuning_options
@TRACK
@beam_options(compiled=False)
@partial_options
@NO_CACHE
@click.option(
    "--verbose", "-v", is_flag=True, help="Show TFX, Beam and TensorFlow logs on the terminal."
)
def run(
    config_path,
    data_root,
    output_dir,
    algorithm,
    choose_algorithm,
    train_steps,
    eval_steps,
    min_accuracy,
    schema_file,
    tune,
    max_trials,
    track,
    beam_args: tuple[str, ...],
    to_component,
    from_component,
    only,
    no_cache,
    verbose,
) -> None:
    """Run a project's pipeline locally with TFX's LocalDagRunner.

    Options given here replace the project file's settings for this run.
    Caching is on: a re-run with unchanged data, settings and code reuses
    earlier results. A model is pushed to OUTPUT_DIR/serving/ only if the
    Evaluator blesses it; the run stops before training if the data breaks the
    schema. With --track, or a tracking section in the project file, the run
    is logged to MLflow; `mlflow ui --backend-store-uri
    sqlite:///OUTPUT_DIR/mlflow.db` shows runs tracked without a server.

    --to, --from and --only run part of the pipeline (component names in any
    case); the run is listed like any other, marked with its selection.
    """
    from kubetfx.pipelines.definition.selection import Selection
    from kubetfx.pipelines.definition.settings import RunSettings
    from kubetfx.pipelines.local import runner

    try:
        selection = Selection.from_options(to_component, from_component, only)
    except UserError as e:
        fail(e)
    loaded = load(config_path)
    try:
        given = {
            "--data": data_root,
            "--schema": schema_file,
            "--algorithm": chosen_algorithm(algorithm, choose_algorithm),
            "--train-steps": train_steps,
            "--eval-steps": eval_steps,
            "--min-accuracy": min_accuracy,
            "--max-trials": max_trials,
        }
        check_tuning(loaded, tune, max_trials, given["--algorithm"])
        loaded = with_tracking(with_options(loaded, given), track)
    except UserError as e:
        fail(e)
    try:
        loaded = runner.local_data(loaded)
    except UserError as e:
        fail(e)
    settings = RunSettings(
        output_dir=output_dir_for(config_path, output_dir), beam_args=beam_args, tune=tune
    )
    click.echo(f"kubetfx: running {loaded.project.name} on {loaded.project.data}")
    try:
        outcome = runner.run(
            loaded, settings, verbose=verbose, selection=selection, no_cache=no_cache
        )
    except (UserError, PipelineFailed) as e:
        fail(e)
    cached = sum(c.outcome == "cached" for c in outcome.components)
    click.echo(
        f"kubetfx: run {outcome.run_id} finished in {outcome.seconds:.1f} s "
        f"({len(outcome.components) - cached} ran, {cached} cached); log: {outcome.log_path}"
    )
    if outcome.pushed_to:
        click.echo(f"kubetfx: model blessed and pushed to {outcome.pushed_to}")
    elif outcome.blessed is False:
        click.echo("kubetfx: model not blessed, nothing pushed; the serving folder is unchanged")
        for failure in outcome.evaluation_failures:
            click.echo(f"  {failure}")
    elif outcome.serving_version:
        click.echo(f"kubetfx: model blessed; already serving as version {outcome.serving_version}")
    elif outcome.blessed:
        click.echo("kubetfx: model blessed; the Pusher was not among the components run")
    if outcome.tracking_note:
        click.echo(f"kubetfx: {outcome.tracking_note}")
    echo_report_hint(outcome.run_id, config_path, output_dir)
