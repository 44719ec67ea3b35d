"""``kubetfx init`` and ``kubetfx schema``: a project file and a schema, drafted from data."""

import click

from kubetfx.components.project import TASKS
from kubetfx.pipelines.cli.common import cli, fail, quiet
from kubetfx.pipelines.errors import UserError


@cli.command()
@click.argument("folder", metavar="DIR", type=click.Path())
@click.option("--data", "data_root", type=click.Path(), required=True, help="Folder of CSV files.")
@click.option("--label", required=True, help="The column the model learns to predict.")
@click.option(
    "--task",
    type=click.Choice(TASKS),
    default=None,
    help="What kind of label it is.  [default: guessed from the label's values]",
)
@click.option("--force", is_flag=True, help="Replace DIR/kubetfx.yaml and DIR/schema.pbtxt.")
def init(folder, data_root, label, task, force) -> None:
    """Draft a project from a folder of CSV files: DIR/kubetfx.yaml and DIR/schema.pbtxt.

    Reads the data once (TFDV statistics and schema inference), guesses the
    task from the label (text or few values: classification, binary for two;
    many numbers: regression) and how each column is prepared. Lines marked
    `check` are guesses to review before `kubetfx run --config DIR/kubetfx.yaml`.
    """
    from kubetfx.pipelines.project.draft import draft_project

    try:
        with quiet():
            draft = draft_project(folder, data_root, label, task=task, overwrite=force)
    except UserError as e:
        fail(e)
    click.echo(
        f"kubetfx: wrote {draft.project_path} ({draft.task}, {draft.features} features, "
        f"{draft.ignored} columns ignored) and {draft.schema_path}"
    )
    click.echo(
        f"kubetfx: review the {draft.checks} lines marked `check`, then: "
        f"kubetfx run --config {draft.project_path}"
    )


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
    pipeline validates new data against it (the project file's `schema`, or
    `kubetfx run --schema`). `kubetfx init` drafts one along with a project.
    """
    from kubetfx.pipelines.project.schema import infer_schema

    try:
        summary = infer_schema(data_root, output, overwrite=force)
    except UserError as e:
        fail(e)
    click.echo(f"kubetfx: wrote {output}: {summary}; review it before use")
