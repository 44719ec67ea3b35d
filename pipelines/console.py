"""Keeping the terminal for kubetfx's own messages.

TFX, Beam and TensorFlow log a great deal, partly from C++ and partly by
printing; a user wants to see progress and results, with the details in a file.
"""

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator
from typing import IO


@contextlib.contextmanager
def output_to_log(log_path: str, verbose: bool, out: IO[str]) -> Iterator[IO[str]]:
    """Sends logging, stdout and stderr to ``log_path``; yields a stream to the terminal.

    Redirection happens at the file-descriptor level, because TensorFlow and
    Beam write from C++ and from Keras straight to fds 1 and 2.
    """
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(logging.INFO)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    if verbose:
        file_handler = logging.FileHandler(log_path)
        root.addHandler(file_handler)
        try:
            yield out
        finally:
            root.removeHandler(file_handler)
            file_handler.close()
            root.setLevel(previous_level)
        return

    sys.stdout.flush()
    sys.stderr.flush()
    saved_stdout, saved_stderr = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved_stdout), "w", buffering=1) if out is sys.stdout else out
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_stdout, 1)
        os.dup2(saved_stderr, 2)
        for fd in (saved_stdout, saved_stderr, log_fd):
            os.close(fd)
        if terminal is not out:
            terminal.close()
        root.setLevel(previous_level)


def last_exception(log_path: str) -> str:
    """The last exception in a log, with its continuation lines, as one line."""
    with open(log_path, errors="replace") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    pattern = re.compile(r"^[\w.]+(Error|Exception|Exit)\b.*?: ")
    starts = [i for i, line in enumerate(lines) if pattern.match(line)]
    if not starts:
        return (lines or ["no output"])[-1][-400:]
    message = [lines[starts[-1]]]
    for line in lines[starts[-1] + 1 :]:
        if not line[:1].isspace():
            break
        message.append(line.strip())
    return "; ".join(message)[-2000:]
