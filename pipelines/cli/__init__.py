"""The ``kubetfx`` command line: a thin layer over ``kubetfx.pipelines``."""

import contextlib
import os
import shlex
import sys
import time
from importlib import metadata as importlib_metadata

import click

from kubetfx.pipelines.definition import settings as config_lib
from kubetfx.pipelines.errors import PipelineFailed, UserError

_PARAM = click.option(
    "--param", "params", multiple=True, help="Pipeline parameter, name=value; repeatable."
)
_NO_CACHE = click.option(
    "--no-cache", is_flag=True, help="Run every task even if a cached result exists."
)
_RUNS_DIR = click.option(
    "--output-dir",
    type=click.Path(),
    default=config_lib.DEFAULT_OUTPUT_DIR,
    show_default=True,
    help="Output folder of `kubetfx run` or `kubetfx emulate` (holds metadata.db).",
)
_ENDPOINT = click.option(
    "--endpoint", required=True, help="KFP dashboard or API URL, e.g. http://localhost:8080."
)


def _version() -> str:
    return importlib_metadata.version("kubetfx")


def _fail(error: Exception) -> None:
    click.echo(f"kubetfx: error: {error}", err=True)
    sys.exit(getattr(error, "exit_code", 1))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(_version(), "--version", prog_name="kubetfx")
def cli() -> None:
    """Run the kubetfx TFX pipeline locally, and manage its schema.

    The pipeline trains a Chicago taxi tip classifier: CsvExampleGen,
    StatisticsGen, ImportSchemaGen, ExampleValidator, a data gate, Transform,
    Trainer, Evaluator (against the model already pushed) and Pusher.
    """


@cli.command()
@click.option(
    "--data",
    "data_root",
    type=click.Path(),
    default=None,
    help="Folder of CSV files in the Chicago taxi format.  "
    "[default: the taxi sample in the tfx package]",
)
@click.option(
    "--output-dir",
    type=click.Path(),
    default=config_lib.DEFAULT_OUTPUT_DIR,
    show_default=True,
    help="Holds metadata.db, pipeline_root/, logs/ and serving/<version>/ with the pushed model.",
)
@click.option(
    "--train-steps",
    type=click.IntRange(min=1),
    default=config_lib.DEFAULT_TRAIN_STEPS,
    show_default=True,
    help="Training steps.",
)
@click.option(
    "--eval-steps",
    type=click.IntRange(min=1),
    default=config_lib.DEFAULT_EVAL_STEPS,
    show_default=True,
    help="Validation steps during training.",
)
@click.option(
    "--min-accuracy",
    type=click.FloatRange(0.0, 1.0),
    default=config_lib.DEFAULT_MIN_ACCURACY,
    show_default=True,
    help="Binary accuracy a model needs on the eval split to be pushed.",
)
@click.option(
    "--schema",
    "schema_file",
    type=click.Path(),
    default=None,
    help="Schema the data is validated against.  [default: the reviewed taxi schema]",
)
@click.option(
    "--beam-args",
    default="",
    help='Apache Beam pipeline options, quoted as one string, e.g. "--direct_num_workers=2".',
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Show TFX, Beam and TensorFlow logs on the terminal."
)
def run(
    data_root, output_dir, train_steps, eval_steps, min_accuracy, schema_file, beam_args, verbose
) -> None:
    """Run the taxi pipeline locally with TFX's LocalDagRunner.

    Caching is on: a re-run with unchanged data and code reuses earlier
    results. A model is pushed to OUTPUT_DIR/serving/ only if the Evaluator
    blesses it; the run stops before training if the data breaks the schema.
    """
    from kubetfx.pipelines.local import runner as local

    overrides = {}
    if data_root is not None:
        overrides["data_root"] = data_root
    if schema_file is not None:
        overrides["schema_file"] = schema_file
    try:
        run_config = config_lib.PipelineConfig(
            output_dir=output_dir,
            train_steps=train_steps,
            eval_steps=eval_steps,
            min_accuracy=min_accuracy,
            beam_args=tuple(shlex.split(beam_args)),
            **overrides,
        )
    except ValueError as e:
        _fail(UserError(f"--beam-args is not a valid shell-quoted string ({e})"))
    click.echo(f"kubetfx: running {run_config.pipeline_name} on {run_config.data_root}")
    started = time.monotonic()
    try:
        outcome = local.run(run_config, verbose=verbose)
    except (UserError, PipelineFailed) as e:
        _fail(e)
    elapsed = time.monotonic() - started
    cached = sum(c.outcome == "cached" for c in outcome.components)
    click.echo(
        f"kubetfx: run {outcome.run_id} finished in {elapsed:.1f} s "
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
    _echo_report_hint(outcome.run_id, output_dir)


def _echo_report_hint(run_id: str, output_dir: str) -> None:
    folder = ""
    if output_dir != config_lib.DEFAULT_OUTPUT_DIR:
        folder = f" --output-dir {shlex.quote(output_dir)}"
    click.echo(f"kubetfx: what happened, with charts: kubetfx report {run_id}{folder} --open")


@cli.command()
@click.option("--data", "data_root", type=click.Path(), required=True, help="Folder of CSV files.")
@click.option(
    "--output",
    type=click.Path(),
    default="schema.pbtxt",
    show_default=True,
    help="Where to write the text-format schema.",
)
@click.option("--force", is_flag=True, help="Replace --output if it exists.")
def schema(data_root, output, force) -> None:
    """Infer a starting schema from a folder of CSV files.

    Review it (types, domains, which features are required) before the
    pipeline validates new data against it with `kubetfx run --schema`.
    """
    from kubetfx.pipelines.project.schema import infer_schema

    try:
        summary = infer_schema(data_root, output, overwrite=force)
    except UserError as e:
        _fail(e)
    click.echo(f"kubetfx: wrote {output}: {summary}; review it before use")


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
    help="Container image every task runs in.  [default: kubetfx:<version>]",
)
@click.option(
    "--pipeline-root",
    default="minio://mlpipeline/v2/artifacts",
    show_default=True,
    help="Where KFP stores the artifacts; pass the same to `kubetfx submit`.",
)
@click.option("--beam-args", default="", help="Beam pipeline options for every Beam task.")
def compile_command(output, image, pipeline_root, beam_args) -> None:
    """Compile the taxi pipeline for Kubeflow Pipelines 2.x.

    Writes a PipelineSpec (schema 2.1.0) with a Kubernetes platform spec that
    open-source KFP runs as it is. Per-run parameters: data_root,
    train_steps, serving_dir.
    """
    from kubetfx.pipelines.kfp.compiler import compile_pipeline

    try:
        args = tuple(shlex.split(beam_args))
    except ValueError as e:
        _fail(UserError(f"--beam-args is not a valid shell-quoted string ({e})"))
    image = image or f"kubetfx:{_version()}"
    try:
        with _quiet():
            spec = compile_pipeline(
                output, image=image, pipeline_root=pipeline_root, beam_args=args
            )
    except UserError as e:
        _fail(e)
    tasks = len(spec["root"]["dag"]["tasks"])
    parameters = ", ".join(spec["root"]["inputDefinitions"]["parameters"])
    click.echo(f"kubetfx: wrote {output}: {tasks} tasks in {image}; parameters: {parameters}")


@cli.command()
@click.argument("package", type=click.Path())
@click.option(
    "--output-dir",
    type=click.Path(),
    default="kubetfx_emulated",
    show_default=True,
    help="Holds the emulated object store, metadata.db, logs/ and volumes/.",
)
@_PARAM
@click.option("--docker", "docker_image", default=None, help="Run each task in this image.")
@_NO_CACHE
def emulate(package, output_dir, params, docker_image, no_cache) -> None:
    """Run a compiled pipeline package locally, as the KFP 2.x backend would.

    Each task gets the ExecutorInput the KFP driver builds, its inputs staged
    from an object store to a local mount, and its outputs uploaded back by
    the URIs it reports; caching follows KFP's cache keys. A pre-flight check
    before `kubetfx submit`.
    """
    from kubetfx.pipelines.kfp.emulator import emulate as run_emulation

    try:
        run = run_emulation(
            package,
            output_dir,
            list(params),
            docker_image=docker_image,
            enable_cache=not no_cache,
        )
    except (UserError, PipelineFailed) as e:
        _fail(e)
    _echo_report_hint(run.run_id, output_dir)


@cli.command()
@click.argument("package", type=click.Path())
@_ENDPOINT
@click.option(
    "--experiment", default="kubetfx", show_default=True, help="Experiment to file the run under."
)
@click.option("--run-name", default=None, help="Run name.  [default: package name and time]")
@_PARAM
@click.option(
    "--pipeline-root",
    default="minio://mlpipeline/v2/artifacts",
    show_default=True,
    help="Where KFP stores the run's artifacts.",
)
@_NO_CACHE
@click.option(
    "--wait", is_flag=True, help="Follow the run to its end; exit non-zero unless it succeeds."
)
def submit(package, endpoint, experiment, run_name, params, pipeline_root, no_cache, wait) -> None:
    """Submit a compiled pipeline package to Kubeflow Pipelines."""
    from kubetfx.pipelines.kfp import emulator
    from kubetfx.pipelines.kfp import submit as kfp_submit

    try:
        pipeline_spec, _ = emulator.load_package(package)
        emulator.check_spec(pipeline_spec)
        values = emulator.parse_params(list(params), pipeline_spec)
        client, run_id = kfp_submit.submit(
            package,
            endpoint,
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
        _fail(e)


@cli.command()
@_RUNS_DIR
@click.option("--endpoint", default=None, help="List a Kubeflow Pipelines endpoint's runs instead.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def runs(output_dir, endpoint, limit) -> None:
    """List pipeline runs, newest first: local or emulated ones, or a KFP endpoint's."""
    try:
        if endpoint:
            _print_kfp_runs(endpoint, limit)
        else:
            _print_local_runs(output_dir, limit)
    except UserError as e:
        _fail(e)


def _print_kfp_runs(endpoint: str, limit: int) -> None:
    from kubetfx.pipelines.kfp.submit import recent_runs

    rows = recent_runs(endpoint, limit)
    if not rows:
        click.echo("no runs")
        return
    click.echo(f"{'RUN ID':<38} {'STATE':<10} {'CREATED':<20} {'DURATION':>9}  NAME")
    for row in rows:
        click.echo(
            f"{row['run_id']:<38} {row['state']:<10} {row['created']:<20} "
            f"{row['duration']:>9}  {row['name']}"
        )


def _print_local_runs(output_dir: str, limit: int) -> None:
    from kubetfx.pipelines.history import runs as runs_lib

    path = os.path.join(output_dir, "metadata.db")
    summaries = runs_lib.list_runs(path, config_lib.PIPELINE_NAME)[:limit]
    if not summaries:
        click.echo(f"no runs in {path}")
        return
    width = max(len("RUN ID"), *(len(run.run_id) for run in summaries))
    header = f"{'RUN ID':<{width}} {'STARTED':<20} {'SECONDS':>8}  {'RAN':>3} {'CACHED':>6}  STATE"
    click.echo(header)
    for run in summaries:
        started = run.started.strftime("%Y-%m-%d %H:%M:%S") if run.started else ""
        click.echo(
            f"{run.run_id:<{width}} {started:<20} {run.seconds:8.1f}  "
            f"{run.ran:>3} {run.cached:>6}  {run.state}"
        )


@cli.command()
@click.argument("run_id")
@_RUNS_DIR
def status(run_id, output_dir) -> None:
    """Show one run: each component's state, time, cache hit, outputs and error."""
    from kubetfx.pipelines.history import runs as runs_lib

    try:
        run, types = runs_lib.get_run(
            os.path.join(output_dir, "metadata.db"), config_lib.PIPELINE_NAME, run_id
        )
    except UserError as e:
        _fail(e)
    click.echo(
        f"run {run.run_id}: {run.state} ({run.seconds:.1f} s; {run.ran} ran, {run.cached} cached)"
    )
    for execution in run.executions:
        click.echo(f"  {execution.node_id:<20} {execution.state:<9} {execution.seconds:7.1f} s")
        for key, artifacts in sorted(execution.outputs.items()):
            for artifact in artifacts:
                kind = types.get(artifact.type_id, "?")
                click.echo(f"      {key} ({kind}): {artifact.uri}")
        if execution.state == "failed":
            error = runs_lib.execution_error(execution) or runs_lib.logged_error(output_dir, run_id)
            click.echo(f"      error: {error}")
            if execution.log:
                click.echo(f"      log: {execution.log}")
    log = runs_lib.run_log(output_dir, run_id)
    if log:
        click.echo(f"log: {log}")


@cli.command()
@click.argument("run_id")
@_RUNS_DIR
@click.option("--output", type=click.Path(), default=None, help="Where to write the page.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in a web browser.")
def report(run_id, output_dir, output, open_page) -> None:
    """Write a self-contained HTML report of one local or emulated run.

    The pipeline graph, data statistics, schema, anomalies, evaluation and
    the metrics against the previous blessed run. [default output:
    OUTPUT_DIR/reports/RUN_ID.html]
    """
    from kubetfx.pipelines.history.report import write_report

    try:
        with _quiet():
            path = write_report(output_dir, config_lib.PIPELINE_NAME, run_id, output)
    except UserError as e:
        _fail(e)
    click.echo(f"kubetfx: wrote {path}")
    if open_page:
        import webbrowser

        if not webbrowser.open(f"file://{os.path.abspath(path)}"):
            click.echo("kubetfx: no web browser found; open the file above", err=True)


@cli.command()
@click.argument("run_a")
@click.argument("run_b")
@_RUNS_DIR
def compare(run_a, run_b, output_dir) -> None:
    """Compare two runs: metrics, schema and data drift per feature."""
    from kubetfx.pipelines.history.compare import compare_runs

    try:
        with _quiet():
            result = compare_runs(output_dir, config_lib.PIPELINE_NAME, run_a, run_b)
    except UserError as e:
        _fail(e)
    click.echo(f"metrics (overall)        {'A':>10} {'B':>10} {'B - A':>10}")
    for name, a, b in result.metrics:
        delta = "" if a is None or b is None else f"{b - a:+10.4f}"
        a_text = "" if a is None else f"{a:10.4f}"
        b_text = "" if b is None else f"{b:10.4f}"
        click.echo(f"  {name:<22} {a_text:>10} {b_text:>10} {delta:>10}")
    click.echo("schema: " + ("unchanged" if not result.schema_changes else ""))
    for change in result.schema_changes:
        click.echo(f"  {change}")
    drifted = [d for d in result.drift if d[3]]
    click.echo(f"data drift: {len(drifted)} of {len(result.drift)} feature statistics changed")
    for feature, measure, value, _ in drifted:
        click.echo(f"  DRIFT {feature:<36} {measure} {value:.3f}")


@contextlib.contextmanager
def _quiet():
    """Keeps TFX's import and compile chatter off the terminal."""
    import tempfile

    from kubetfx.pipelines.console import output_to_log

    with tempfile.NamedTemporaryFile(prefix="kubetfx-", suffix=".log", delete=False) as log:
        pass
    try:
        with output_to_log(log.name, verbose=False, out=sys.stdout):
            yield
    except UserError:
        os.remove(log.name)  # the error's own line says all there is
        raise
    except Exception:
        click.echo(f"kubetfx: details in {log.name}", err=True)
        raise
    os.remove(log.name)


def main() -> None:
    cli(prog_name="kubetfx")
