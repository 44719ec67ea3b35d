"""Errors a user can act on. Their message says what is wrong and how to fix it."""


class UserError(Exception):
    """Bad input from the user: the run cannot start or cannot go on."""

    exit_code = 2


class PipelineFailed(Exception):
    """A pipeline task failed; the message names it and what it reported."""

    exit_code = 1


class DataGateStopped(PipelineFailed):
    """The data gate stopped the run before training."""

    exit_code = 3


class RunInterrupted(PipelineFailed):
    """The run was stopped by SIGINT or SIGTERM; the exit code is 128 + the signal's number."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number
