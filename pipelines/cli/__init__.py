"""The ``kubetfx`` command line: a thin layer over ``kubetfx.pipelines``.

One module per group of commands: ``project`` (init, schema), ``run``,
``kfp`` (compile, emulate, submit) and ``history`` (runs, status, report,
compare); ``common`` holds the group and what they share.
"""

from kubetfx.pipelines.cli import history, kfp, project, run  # noqa: F401 - they add commands
from kubetfx.pipelines.cli.common import cli


def main() -> None:
    cli(prog_name="kubetfx")
