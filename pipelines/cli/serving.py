"""``kubetfx rollout``: move online traffic to a new model version gradually, or back at once."""

import contextlib

import click

from kubetfx.pipelines.cli.common import CONFIG, cli, fail, load, quiet
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.package_data import kubernetes_dir
from kubetfx.pipelines.serving import check as checks

# kubernetes/serving/, installed with kubetfx.
MANIFESTS = str(kubernetes_dir() / "serving")

DRY_RUN = click.option(
    "--dry-run", is_flag=True, help="Print the manifests instead of applying them."
)
FROM = click.option(
    "--from",
    "from_file",
    type=click.Path(),
    default=None,
    help="Start from this rendered manifest (a --dry-run's output) instead of the cluster.",
)
MANIFESTS_OPTION = click.option(
    "--manifests",
    type=click.Path(),
    default=MANIFESTS,
    show_default=True,
    help="kubetfx's kubernetes/serving folder, rendered with kustomize.",
)
PERCENT = click.option(
    "--percent", type=click.IntRange(0, 100), required=True, help="The canary's share, 0-100."
)
MAX_ERROR_RATE = click.option(
    "--max-error-rate",
    type=click.FloatRange(0, 1),
    default=checks.MAX_ERROR_RATE,
    show_default=True,
    help="Most of the canary's check requests that may fail, as a share.",
)
MAX_DISAGREEMENT = click.option(
    "--max-disagreement",
    type=click.FloatRange(0, 1),
    default=checks.MAX_DISAGREEMENT,
    show_default=True,
    help="Most of the checked rows on which the canary may predict otherwise than the stable "
    "track, as a share.",
)


@cli.group()
def rollout() -> None:
    """Shift online traffic from the serving model version to a new one.

    TensorFlow Serving runs as two tracks, stable and canary, each serving one
    model version; one address splits requests between them by weight.
    """


def _change(next_state, dry_run: bool, from_file: str | None, manifests: str) -> None:
    from kubetfx.pipelines.serving import rollout as lib

    try:
        current = lib.from_manifest(from_file) if from_file else lib.from_cluster()
        state = next_state(current)
        if dry_run:
            click.echo(lib.render(state, manifests), nl=False)
            return
        lib.apply(current, state, manifests)
    except UserError as e:
        fail(e)
    click.echo(f"kubetfx: {state.describe()}")


@rollout.command()
@click.argument("version")
@PERCENT
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def start(version, percent, dry_run, from_file, manifests) -> None:
    """The canary serves VERSION and gets PERCENT of the requests.

    With nothing served yet, VERSION becomes the stable version.
    """
    from kubetfx.pipelines.serving import rollout as lib

    _change(lambda current: lib.start(current, version, percent), dry_run, from_file, manifests)


@rollout.command(name="set")
@PERCENT
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def set_(percent, dry_run, from_file, manifests) -> None:
    """Give the canary PERCENT of the requests."""
    from kubetfx.pipelines.serving import rollout as lib

    _change(lambda current: lib.set_percent(current, percent), dry_run, from_file, manifests)


@rollout.command()
@click.option("--force", is_flag=True, help="Promote without a passed check.")
@MAX_ERROR_RATE
@MAX_DISAGREEMENT
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def promote(force, max_error_rate, max_disagreement, dry_run, from_file, manifests) -> None:
    """Make the canary's version the stable one, serving every request.

    Refused (exit 3) unless `kubetfx rollout check` passed for the canary's
    version: at most --max-error-rate of its requests failed and it disagreed
    with the stable track on at most --max-disagreement of the rows; --force
    promotes anyway.
    """
    from kubetfx.pipelines.serving import rollout as lib

    _change(
        lambda current: lib.promote(current, force, max_error_rate, max_disagreement),
        dry_run,
        from_file,
        manifests,
    )


@rollout.command()
@click.option(
    "--data",
    "data_root",
    type=click.Path(),
    required=True,
    help="Folder of CSV files whose rows are sent to both tracks (the label is not needed).",
)
@click.option(
    "--rows",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Rows to send, from the first file on.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="Rows per request.",
)
@click.option("--stable-url", default=None, help="The stable track's REST address.")
@click.option("--canary-url", default=None, help="The canary track's REST address.")
@MAX_ERROR_RATE
@MAX_DISAGREEMENT
@CONFIG
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def check(
    data_root,
    rows,
    batch_size,
    stable_url,
    canary_url,
    max_error_rate,
    max_disagreement,
    config_path,
    dry_run,
    from_file,
    manifests,
) -> None:
    """Send the same rows to both tracks; compare their predictions and latency.

    Each track is reached through its own Service (kubectl port-forward), or
    at --stable-url and --canary-url, in TF Serving's REST predict format.
    Prints, per track, the failed requests and the latency percentiles, and
    the share of rows on which the predictions disagree; records the result on
    the route for `promote`. Exit 3 when the canary fails the check.
    """
    from kubetfx.pipelines.serving import rollout as lib

    if (stable_url is None) != (canary_url is None):
        fail(UserError("give both --stable-url and --canary-url, or neither"))
    loaded = load(config_path)
    try:
        current = lib.from_manifest(from_file) if from_file else lib.from_cluster()
        lib.canary_of(current, "check")
        with quiet():  # TensorFlow's import chatter
            batches = _examples(loaded, data_root, rows, batch_size)
        with (
            contextlib.nullcontext({"stable": stable_url, "canary": canary_url})
            if stable_url
            else checks.port_forwards(lib.NAMESPACE, lib.ROUTE)
        ) as addresses:
            urls = {t: checks.predict_url(addresses[t], lib.MODEL_NAME) for t in checks.TRACKS}
            result = checks.compare(batches, urls, loaded.project.label.task, current.canary)
        # Recorded on the state as it is now: a rollback meanwhile must not be undone.
        latest = lib.from_manifest(from_file) if from_file else lib.from_cluster()
        if latest is None or latest.describe() != current.describe():
            now = latest.describe() if latest else "nothing is served"
            raise UserError(
                f"the rollout changed while the check ran (now: {now}); nothing was recorded"
            )
        state = lib.record_check(latest, result.to_json(), current.canary)
        if dry_run:
            click.echo(lib.render(state, manifests), nl=False)
        else:
            lib.apply(current, state, manifests)
    except UserError as e:
        fail(e)
    report = click.echo if not dry_run else lambda line: click.echo(line, err=True)
    report(f"kubetfx: checked canary {current.canary} against stable {current.stable}:")
    for line in result.lines():
        report(line)
    found = checks.problems(result, current.canary, max_error_rate, max_disagreement)
    if found:
        fail(lib.CanaryRefused(f"canary {current.canary} fails the check: {'; '.join(found)}"))
    report(
        f"kubetfx: canary {current.canary} passes the check (at most {max_error_rate:.1%} of "
        f"requests failing, {max_disagreement:.1%} of rows disagreeing)"
    )


def _examples(loaded, data_root: str, rows: int, batch_size: int) -> list[list[bytes]]:
    """The rows to send, as the model's serving signature takes them, in batches."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    from kubetfx.components.predictions import feature_types
    from kubetfx.pipelines import preflight

    header = preflight.check_data(data_root)
    project = loaded.project
    features = [f for f in project.features if f != project.label.column]
    missing = [f for f in features if f not in header]
    if missing:
        raise UserError(
            f"the data in {data_root} lacks the model's feature columns {', '.join(missing)}"
        )
    schema = text_format.Parse(loaded.schema_text, schema_pb2.Schema())
    return checks.examples_from_csv(
        preflight.csv_files(data_root), feature_types(schema, features), rows, batch_size
    )


@rollout.command()
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def rollback(dry_run, from_file, manifests) -> None:
    """Take every request off the canary at once; the stable track is untouched."""
    from kubetfx.pipelines.serving import rollout as lib

    _change(lib.rollback, dry_run, from_file, manifests)


@rollout.command()
@FROM
def status(from_file) -> None:
    """Which version each track serves, their shares and, on a cluster, their readiness."""
    from kubetfx.pipelines.serving import rollout as lib

    try:
        current = lib.from_manifest(from_file) if from_file else lib.from_cluster()
        if current is None:
            click.echo("kubetfx: nothing is served: start with `kubetfx rollout start VERSION`")
            return
        click.echo(f"kubetfx: {current.describe()}")
        click.echo(f"  stable  version {current.stable:<12} {100 - current.percent:>3}%")
        click.echo(f"  canary  version {current.canary:<12} {current.percent:>3}%")
        if not from_file:
            for track, ready in lib.readiness().items():
                click.echo(f"  {track} pods ready: {ready}")
    except UserError as e:
        fail(e)
