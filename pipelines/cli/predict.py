"""``kubetfx predict``: a folder of CSV files scored by a pushed model."""

import datetime
import logging
import os

import click

from kubetfx.pipelines.cli.common import (
    CONFIG,
    beam_options,
    cli,
    fail,
    load,
    output_dir_for,
)
from kubetfx.pipelines.errors import PipelineFailed, UserError


@cli.command()
@CONFIG
@click.option(
    "--data",
    "data_root",
    type=click.Path(),
    required=True,
    help="Folder of CSV files to score: the model's feature columns, the label not needed.",
)
@click.option(
    "--output",
    type=click.Path(),
    required=True,
    help="File the predictions are written to: .csv, or .parquet for Parquet.",
)
@click.option(
    "--output-dir",
    type=click.Path(),
    default=None,
    help="The output folder of the runs whose serving/ holds the model.  [default: as for "
    "`kubetfx run`]",
)
@click.option(
    "--model",
    "version",
    default=None,
    help="Model version (a folder name in serving/).  [default: the newest]",
)
@click.option(
    "--keys",
    default=None,
    help="Comma-separated input columns copied to each output row.  [default: all]",
)
@click.option("--overwrite", is_flag=True, help="Replace --output if it exists.")
@beam_options(compiled=False)
@click.option(
    "--verbose", "-v", is_flag=True, help="Show TFX, Beam and TensorFlow logs on the terminal."
)
def predict(
    config_path, data_root, output, output_dir, version, keys, overwrite, beam_args, verbose
) -> None:
    """Score every row of the CSV files in DATA with a pushed model.

    The rows are first validated against the project's schema, as the data
    gate validates a run's data (exit 3 naming the features when they do not
    match). Each output row holds the key columns, then `prediction` (the
    class, or the value for regression) and, for a classifier, `probability`
    (that class's). Beam scores the rows, with the same --beam-args as
    `kubetfx run`.
    """
    from kubetfx.pipelines.console import output_to_log
    from kubetfx.pipelines.definition.settings import RunSettings, predict_log_path
    from kubetfx.pipelines.local import beam_services

    try:
        beam_services.check(beam_args)
    except UserError as e:
        fail(e)
    loaded = load(config_path)
    settings = RunSettings(output_dir=output_dir_for(config_path, output_dir)).absolute()
    started = datetime.datetime.now().isoformat(timespec="seconds")
    log_path = predict_log_path(settings.log_dir, started)
    try:
        os.makedirs(settings.log_dir, exist_ok=True)
        with output_to_log(log_path, verbose, click.get_text_stream("stdout")) as terminal:
            from kubetfx.pipelines.predict import batch  # TensorFlow's import chatter: logged

            try:
                done = batch.predict(
                    loaded,
                    data_root,
                    output,
                    settings.serving_dir,
                    version=version,
                    keys=[k.strip() for k in keys.split(",")] if keys else None,
                    overwrite=overwrite,
                    beam_args=beam_args,
                    out=terminal,
                )
            except Exception:
                logging.exception("kubetfx predict failed.")
                raise
    except (UserError, PipelineFailed) as e:
        fail(e)
    except Exception as e:  # noqa: BLE001 - one line, the traceback in the log
        from kubetfx.components.beam_workers import explain

        summary = str(e).strip().splitlines()[0] if str(e).strip() else ""
        reason = explain(e, beam_args) or f"{type(e).__name__}: {summary}"
        fail(PipelineFailed(f"predict failed: {reason} (full log: {log_path})"))
    rate = done.rows / done.seconds if done.seconds else 0
    click.echo(
        f"kubetfx: {done.rows:,} rows scored by model version {done.version} in "
        f"{done.seconds:.1f} s ({rate:,.0f} rows/s): {done.output}; log: {log_path}"
    )
    shares = ", ".join(
        f"{name} {share:.0%}"
        for name, share in zip(done.drift.current.buckets, done.drift.current.shares, strict=True)
    )
    click.echo(f"kubetfx: predictions: {shares}")
    click.echo(f"kubetfx: {done.drift.summary()}", err=done.drift.drifted)
