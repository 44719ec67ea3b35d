"""The ``kubetfx`` command line: a thin layer over ``kubetfx.pipelines``.

One module per group of commands: ``project`` (init, schema), ``run``, ``predict``,
``kfp`` (compile, emulate, submit), ``history`` (runs, status, report,
compare) and ``serving`` (rollout); ``common`` holds the group and what they share.
"""

from kubetfx.pipelines.cli import (  # noqa: F401 - they add commands
    history,
    kfp,
    predict,
    project,
    run,
    serving,
)
from kubetfx.pipelines.cli.common import cli


def main() -> None:
    cli(prog_name="kubetfx")
