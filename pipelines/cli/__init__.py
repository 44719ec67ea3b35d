"""The ``kubetfx`` command line: a thin layer over ``kubetfx.pipelines``.

One module per group of commands: ``project`` (init, schema), ``run``, ``predict``,
``kfp`` (compile, emulate, submit) and ``history`` (runs, status, report,
compare); ``common`` holds the group and what they share.
"""

from kubetfx.pipelines.cli import (  # noqa: F401 - they add commands
    history,
    kfp,
    predict,
    project,
    run,
)
from kubetfx.pipelines.cli.common import cli


def main() -> None:
    cli(prog_name="kubetfx")
