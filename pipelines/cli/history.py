"""``kubetfx runs``, ``status``, ``report`` and ``compare``: what runs did, from ML Metadata.

They read local runs (``kubetfx run``) and emulated ones (``kubetfx emulate``)
alike, never writing to the store. With --config they look in the project's
output folder and at its runs only.
"""

import os

import click

from kubetfx.components.candidates import NODE as CHOICE_NODE
from kubetfx.components.kfp_contract import TRACKED_RUN, TRACKING_NOTE
from kubetfx.pipelines.cli.common import (
    CONFIG,
    RUNS_DIR,
    cli,
    fail,
    kfp_connection,
    load,
    output_dir_for,
    quiet,
)
from kubetfx.pipelines.definition.settings import METADATA_FILE
from kubetfx.pipelines.errors import UserError


def _where(config_path: str | None, output_dir: str | None) -> tuple[str, str | None]:
    """The output folder to read, and the pipeline whose runs to show (None: all)."""
    pipeline_name = load(config_path).project.name if config_path else None
    return output_dir_for(config_path, output_dir), pipeline_name


@cli.command()
@CONFIG
@RUNS_DIR
@kfp_connection("List a Kubeflow Pipelines endpoint's runs instead.", required=False)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def runs(config_path, output_dir, connection, limit) -> None:
    """List pipeline runs, newest first: local or emulated ones, or a KFP endpoint's."""
    try:
        if connection is not None:
            _print_kfp_runs(connection, limit)
        else:
            _print_local_runs(*_where(config_path, output_dir), limit)
    except UserError as e:
        fail(e)


def _print_kfp_runs(connection, limit: int) -> None:
    from kubetfx.pipelines.kfp.submit import recent_runs

    rows = recent_runs(connection, limit)
    if not rows:
        click.echo("no runs")
        return
    click.echo(f"{'RUN ID':<38} {'STATE':<10} {'CREATED':<20} {'DURATION':>9}  NAME")
    for row in rows:
        click.echo(
            f"{row['run_id']:<38} {row['state']:<10} {row['created']:<20} "
            f"{row['duration']:>9}  {row['name']}"
        )


def _print_local_runs(output_dir: str, pipeline_name: str | None, limit: int) -> None:
    from kubetfx.pipelines.history import runs as runs_lib

    path = os.path.join(output_dir, METADATA_FILE)
    summaries = runs_lib.list_runs(path, pipeline_name)[:limit]
    if not summaries:
        click.echo(f"no runs in {path}")
        return
    short = max(len("SHORT"), *(len(run.short_id) for run in summaries))
    width = max(len("RUN ID"), *(len(run.run_id) for run in summaries))
    # The pipeline is named when the folder holds runs of more than one (train and predict).
    several = len({run.pipeline for run in summaries}) > 1
    states = max(len("STATE"), *(len(run.outcome) for run in summaries))
    state = f"{'STATE':<{states}}  PIPELINE" if several else "STATE"
    click.echo(
        f"{'RUN ID':<{width}} {'SHORT':<{short}} {'STARTED':<20} {'SECONDS':>8}  {'RAN':>3} "
        f"{'CACHED':>6}  {state}"
    )
    for run in summaries:
        started = run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else ""
        state = f"{run.outcome:<{states}}  {run.pipeline}" if several else run.outcome
        click.echo(
            f"{run.run_id:<{width}} {run.short_id:<{short}} {started:<20} {run.seconds:8.1f}  "
            f"{run.ran:>3} {run.cached:>6}  {state}"
        )


@cli.command()
@click.argument("run_id")
@CONFIG
@RUNS_DIR
def status(run_id, config_path, output_dir) -> None:
    """Show one run: each component's state, time, cache hit, outputs and error.

    RUN_ID is a run's id, any start of it that no other run's id shares (the
    SHORT column of `kubetfx runs`), latest, or latest~N for the run N before
    the latest.
    """
    from kubetfx.pipelines.history import runs as runs_lib

    output_dir, pipeline_name = _where(config_path, output_dir)
    try:
        run, types = runs_lib.get_run(
            os.path.join(output_dir, METADATA_FILE), run_id, pipeline_name
        )
    except UserError as e:
        fail(e)
    run_id = run.run_id
    source = f"run {run.base_run}" if run.base_run else "the cache"  # emulated: the cache
    reused = f", {len(run.reused)} taken from {source}" if run.reused else ""
    click.echo(
        f"run {run_id}: {run.outcome} ({run.seconds:.1f} s; {run.ran} ran, "
        f"{run.cached} cached{reused})"
    )
    width = max([20, *(len(e.node_id) for e in run.executions)])
    for execution in run.executions:
        if execution.node_id in run.reused:
            click.echo(f"  {execution.node_id:<{width}} taken from {source}")
            continue
        click.echo(
            f"  {execution.node_id:<{width}} {execution.state:<9} {execution.seconds:7.1f} s"
        )
        for key, artifacts in sorted(execution.outputs.items()):
            for artifact in artifacts:
                kind = types.get(artifact.type_id, "?")
                click.echo(f"      {key} ({kind}): {artifact.uri}")
        if execution.node_id == "Tuner" and execution.outputs.get("tuner_results"):
            for line in _trial_lines(execution):
                click.echo(f"      {line}")
        if execution.node_id == CHOICE_NODE and execution.outputs.get("model"):
            for line in _choice_lines(execution.outputs["model"][0]):
                click.echo(f"      {line}")
        for record in execution.outputs.get(TRACKED_RUN, []):
            if TRACKING_NOTE in record.custom_properties:
                click.echo(f"      {record.custom_properties[TRACKING_NOTE].string_value}")
        if execution.state == "failed":
            error = runs_lib.execution_error(execution) or runs_lib.logged_error(output_dir, run_id)
            click.echo(f"      error: {error}")
            if execution.log:
                click.echo(f"      log: {execution.log}")
    log = runs_lib.run_log(output_dir, run_id)
    if log:
        click.echo(f"log: {log}")


def _choice_lines(model) -> list[str]:
    """The choice among the candidates, as a text table, best first, and why."""
    from kubetfx.components.candidates import choice_rows, read_choice

    choice = read_choice(model)
    if choice is None:
        return []
    rows = choice_rows(choice)
    return [
        f"chosen: {choice.reason}",
        f"candidates, best first (scored on {choice.chosen.rows:,} eval rows):",
        *_table(rows),
    ]


def _table(rows: list[list[str]]) -> list[str]:
    """Rows of text cells as aligned lines, each indented by two spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _trial_lines(tuner) -> list[str]:
    """The Tuner's trials as a text table, best first, then the values the Trainer took."""
    with quiet():  # TensorFlow's import chatter
        from kubetfx.components import visualizations

    trials = visualizations.tuning_trials(tuner.outputs["tuner_results"][0].uri)
    chosen = {}
    if tuner.outputs.get("best_hyperparameters"):
        chosen = visualizations.tuned_values(tuner.outputs["best_hyperparameters"][0].uri)
    names = visualizations.searched_settings(trials)
    rows = [["trial", "score", *names]] + [
        [
            str(t["trial_id"]),
            f"{t['score']:.4f}",
            *(visualizations.shown_value(t.get(n, "")) for n in names),
        ]
        for t in trials
    ]
    lines = [f"trials, best first ({len(trials)}; the score is the tuning objective):"]
    lines += _table(rows)
    if chosen:
        values = ", ".join(f"{k} = {visualizations.shown_value(v)}" for k, v in chosen.items())
        lines.append(f"the Trainer trains with: {values}")
    return lines


@cli.command()
@click.argument("run_id")
@CONFIG
@RUNS_DIR
@click.option("--output", type=click.Path(), default=None, help="Where to write the page.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in a web browser.")
def report(run_id, config_path, output_dir, output, open_page) -> None:
    """Write a self-contained HTML report of one local or emulated run.

    The pipeline graph, data statistics, schema, anomalies, evaluation and
    the metrics against the previous blessed run. RUN_ID as `kubetfx status`
    takes it (latest, latest~N, a start of the id). [default output:
    OUTPUT_DIR/reports/RUN_ID.html]
    """
    from kubetfx.pipelines.history.report import write_report

    output_dir, pipeline_name = _where(config_path, output_dir)
    try:
        with quiet():
            path = write_report(output_dir, run_id, output, pipeline_name)
    except UserError as e:
        fail(e)
    click.echo(f"kubetfx: wrote {path}")
    if open_page:
        import webbrowser

        if not webbrowser.open(f"file://{os.path.abspath(path)}"):
            click.echo("kubetfx: no web browser found; open the file above", err=True)


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@CONFIG
@RUNS_DIR
def compare(run_a, run_b, config_path, output_dir) -> None:
    """Compare two runs: metrics, schema and data drift per feature.

    RUN_A and RUN_B as `kubetfx status` takes a run id (latest, latest~N, a
    start of the id).
    """
    from kubetfx.pipelines.history.compare import compare_runs

    output_dir, pipeline_name = _where(config_path, output_dir)
    try:
        with quiet():
            result = compare_runs(output_dir, run_a, run_b, pipeline_name)
    except UserError as e:
        fail(e)
    click.echo(f"model A: {result.models[0]}")
    click.echo(f"model B: {result.models[1]}")
    width = max([22, *(len(name) for name, _, _ in result.metrics)])
    click.echo(f"{'metrics (overall)':<{width + 2}} {'A':>10} {'B':>10} {'B - A':>10}")
    for name, a, b in result.metrics:
        delta = "" if a is None or b is None else f"{b - a:+10.4f}"
        a_text = "" if a is None else f"{a:10.4f}"
        b_text = "" if b is None else f"{b:10.4f}"
        click.echo(f"  {name:<{width}} {a_text:>10} {b_text:>10} {delta:>10}")
    click.echo("schema: " + ("unchanged" if not result.schema_changes else ""))
    for change in result.schema_changes:
        click.echo(f"  {change}")
    drifted = [d for d in result.drift if d[3]]
    click.echo(f"data drift: {len(drifted)} of {len(result.drift)} feature statistics changed")
    for feature, measure, value, _ in drifted:
        click.echo(f"  DRIFT {feature:<36} {measure} {value:.3f}")
