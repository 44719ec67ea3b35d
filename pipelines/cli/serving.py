"""``kubetfx rollout``: move online traffic to a new model version gradually, or back at once."""

import os

import click

from kubetfx.pipelines.cli.common import cli, fail
from kubetfx.pipelines.errors import UserError

# kubernetes/serving/ of this checkout.
MANIFESTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "kubernetes",
    "serving",
)

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
@DRY_RUN
@FROM
@MANIFESTS_OPTION
def promote(dry_run, from_file, manifests) -> None:
    """Make the canary's version the stable one, serving every request."""
    from kubetfx.pipelines.serving import rollout as lib

    _change(lib.promote, dry_run, from_file, manifests)


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
