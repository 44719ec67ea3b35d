"""The ``kubetfx`` command group and what its commands share: options, errors, quiet."""

import contextlib
import functools
import os
import shlex
import sys

import click

from kubetfx import __version__
from kubetfx.pipelines.definition.settings import default_output_dir
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp.parameters import PARAMETERS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="kubetfx")
def cli() -> None:
    """TFX pipelines from your own CSV data, locally and on Kubeflow Pipelines.

    A project file (kubetfx.yaml, drafted by `kubetfx init`) names the data,
    the label and the task (binary, multiclass, regression) and how each
    feature is prepared. Every command takes it with --config; without one it
    uses the bundled Chicago taxi project. The pipeline: CsvExampleGen,
    StatisticsGen, the reviewed schema, ExampleValidator, a data gate,
    Transform, Trainer, Evaluator (against the model already pushed) and Pusher.
    """


CONFIG = click.option(
    "--config",
    "config_path",
    type=click.Path(),
    default=None,
    help="Project file (kubetfx.yaml).  [default: the bundled Chicago taxi project]",
)
PARAM = click.option(
    "--param",
    "params",
    multiple=True,
    help="Pipeline parameter, name=value; repeatable. "
    + "; ".join(f"{p.name}: {p.help}" for p in PARAMETERS.values())
    + ".",
)
NO_CACHE = click.option(
    "--no-cache",
    is_flag=True,
    help="Execute every task (of a partial run, every selected component) even if a cached "
    "result exists.",
)
_PARTIAL_OPTIONS = [
    click.option(
        "--to",
        "to_component",
        metavar="COMPONENT",
        default=None,
        help="Run up to and including this component, e.g. StatisticsGen to look at new data.",
    ),
    click.option(
        "--from",
        "from_component",
        metavar="COMPONENT",
        default=None,
        help="Run from this component to the end (or to --to), taking the outputs of the "
        "components before it from an earlier run.",
    ),
    click.option(
        "--only",
        metavar="COMPONENT[,COMPONENT...]",
        default=None,
        help="Run just these components (and any between them that take their outputs), "
        "taking the outputs of those they need from an earlier run.",
    ),
]


def with_options(command, options):
    """``command`` decorated with each of ``options``, listed in the order --help shows them."""
    for option in reversed(options):
        command = option(command)
    return command


def partial_options(command):
    """--to, --from and --only: run part of a pipeline (pipelines/definition/selection.py)."""
    return with_options(command, _PARTIAL_OPTIONS)


RUNS_DIR = click.option(
    "--output-dir",
    type=click.Path(),
    default=None,
    help="Output folder of `kubetfx run` or `kubetfx emulate` (holds metadata.db).  "
    "[default: kubetfx_output beside the project file; for the bundled project, "
    "./kubetfx_output]",
)


def kfp_connection(endpoint_help: str, required: bool = True):
    """Options that say where the KFP API is and how to sign in, passed as ``connection``.

    ``connection`` is a submit.Connection, or None when --endpoint is optional
    and not given. A bad combination exits with a one-line error.
    """
    options = [
        click.option("--endpoint", required=required, default=None, help=endpoint_help),
        click.option(
            "--token",
            envvar="KUBETFX_KFP_TOKEN",
            default=None,
            help="Bearer token for the KFP API (env KUBETFX_KFP_TOKEN).",
        ),
        click.option(
            "--token-file",
            envvar="KF_PIPELINES_SA_TOKEN_PATH",
            type=click.Path(),
            default=None,
            help="File holding the bearer token, read on each request, e.g. a projected "
            "service-account token (env KF_PIPELINES_SA_TOKEN_PATH, as the kfp client).",
        ),
        click.option(
            "--cookies",
            default=None,
            help="Cookie header for an authenticating proxy, e.g. authservice_session=... "
            "(the full Kubeflow platform with Dex).",
        ),
        click.option(
            "--namespace",
            envvar="KUBETFX_KFP_NAMESPACE",
            default=None,
            help="Your profile namespace in multi-user Kubeflow (env KUBETFX_KFP_NAMESPACE).",
        ),
        click.option(
            "--ca-bundle",
            type=click.Path(),
            default=None,
            help="CA certificates (PEM) to verify an https endpoint with.",
        ),
        click.option(
            "--insecure", is_flag=True, help="Do not verify the https endpoint's certificate."
        ),
    ]

    def decorate(command):
        @functools.wraps(command)
        def with_connection(*args, **kwargs):
            from kubetfx.pipelines.kfp.submit import Connection

            fields = {
                name: kwargs.pop(name)
                for name in (
                    "endpoint", "token", "token_file", "cookies", "namespace", "ca_bundle",
                    "insecure",
                )
            }  # fmt: skip
            connection = None
            if fields["endpoint"] is not None:
                try:
                    connection = Connection(**fields)
                except UserError as e:
                    fail(e)
            return command(*args, connection=connection, **kwargs)

        return with_options(with_connection, options)

    return decorate


ENDPOINT = kfp_connection("KFP dashboard or API URL, e.g. http://localhost:8080.")
BEAM_ARGS = click.option(
    "--beam-args",
    default="",
    help="Further Apache Beam pipeline options, after --beam-runner's, quoted as one string, "
    'e.g. "--max_parallelism=8".',
)


def beam_options(compiled: bool):
    """--beam-runner, its options (pipelines/definition/engine.py) and --beam-args.

    The command gets ``beam_args``: Beam's flags for the engine, then those of
    --beam-args, checked against Beam's own options; ``compiled`` for the
    flags of tasks that run in a cluster.
    """
    from kubetfx.pipelines.definition import engine

    options = [
        click.option(
            "--beam-runner",
            type=click.Choice(engine.RUNNERS),
            default="direct",
            show_default=True,
            help="The engine that runs the Beam steps (ExampleGen, StatisticsGen, Transform, "
            "Evaluator): Beam's DirectRunner in the step's own process, a job service with a "
            "worker pool, Flink, Spark or Dataflow.",
        ),
        *(
            click.option(
                option.flag,
                type=click.INT if option.field == "parallelism" else str,
                default=None,
                metavar=option.metavar,
                help=f"({', '.join(option.runners)}) {option.help}",
            )
            for option in engine.OPTIONS
        ),
        BEAM_ARGS,
    ]

    def decorate(command):
        @functools.wraps(command)
        def with_beam_args(*args, **kwargs):
            given = {option.field: kwargs.pop(option.field) for option in engine.OPTIONS}
            runner = kwargs.pop("beam_runner")
            extra = split_beam_args(kwargs.pop("beam_args"))
            try:
                chosen = engine.Engine(runner, **given)
                flags = engine.combine(chosen, extra, compiled=compiled)
                check_beam_args(flags)
            except UserError as e:
                fail(e)
            return command(*args, beam_args=flags, **kwargs)

        return with_options(with_beam_args, options)

    return decorate


def fail(error: Exception) -> None:
    click.echo(f"kubetfx: error: {error}", err=True)
    sys.exit(getattr(error, "exit_code", 1))


def load(config_path: str | None):
    """The project file named by --config, or the bundled one; exits on a bad file."""
    from kubetfx.pipelines.project.loader import load_project

    try:
        return load_project(config_path)
    except UserError as e:
        fail(e)


def output_dir_for(config_path: str | None, output_dir: str | None) -> str:
    """--output-dir if given, else the project's default output folder."""
    if output_dir is not None:
        return output_dir
    from kubetfx.pipelines.project.loader import PROJECT_FILE, bundled_project

    path = bundled_project() if config_path is None else os.path.abspath(config_path)
    if os.path.isdir(path):
        path = os.path.join(path, PROJECT_FILE)
    return default_output_dir(path, bundled=path == bundled_project())


def split_beam_args(text: str) -> tuple[str, ...]:
    """The --beam-args words (checked with the engine's, by ``check_beam_args``)."""
    try:
        return tuple(shlex.split(text))
    except ValueError as e:
        fail(UserError(f"--beam-args is not a valid shell-quoted string ({e})"))
        raise  # unreachable: fail exits


def check_beam_args(args: tuple[str, ...]) -> None:
    """Refuses flags Beam does not know (it would ignore them) and values it cannot parse."""
    if not args:
        return
    import contextlib
    import difflib
    import io
    import logging

    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):  # the import's FutureWarnings of Google clients
        from apache_beam.options.pipeline_options import PipelineOptions

    known = PipelineOptions([]).get_all_options()
    beam_logger = logging.getLogger("apache_beam.options.pipeline_options")
    level = beam_logger.level
    beam_logger.setLevel(logging.ERROR)  # Beam warns of unknown flags and goes on
    try:
        with contextlib.redirect_stderr(errors):
            given = PipelineOptions(list(args)).get_all_options(retain_unknown_options=True)
    except SystemExit:
        # argparse: "...: error: argument --direct_num_workers: invalid int value: 'x'"
        reason = errors.getvalue().strip().splitlines()[-1].split("error: ", 1)[-1]
        raise UserError(f"--beam-args: {reason}") from None
    finally:
        beam_logger.setLevel(level)
    unknown = sorted(set(given) - set(known))
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(known), n=3)
        hint = f" (did you mean {', '.join('--' + c for c in close)}?)" if close else ""
        raise UserError(f"--beam-args: --{name} is not a Beam pipeline option{hint}")


def echo_report_hint(run_id: str, config_path: str | None, output_dir: str | None) -> None:
    """The command that shows a run: with the same --config and --output-dir as given."""
    where = ""
    if config_path is not None:
        where += f" --config {shlex.quote(config_path)}"
    if output_dir is not None and output_dir != output_dir_for(config_path, None):
        where += f" --output-dir {shlex.quote(output_dir)}"
    click.echo(f"kubetfx: what happened, with charts: kubetfx report {run_id}{where} --open")


@contextlib.contextmanager
def quiet():
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
