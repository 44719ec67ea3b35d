"""Task failures a user can act on.

A task raises ``TaskError`` when its message alone says what went wrong and
what to do; runners show it as ``<component> failed: <message>`` with no
exception type or traceback around it (the log keeps the traceback).
"""


class TaskError(Exception):
    """A task failed for a reason its message names, with what to change."""
