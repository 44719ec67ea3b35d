"""Named points where a test can stop a task at a chosen moment.

Off unless ``KUBETFX_FAILPOINT`` is set, as ``NAME:MARKER_FILE``: when the
running code reaches ``failpoint(NAME)``, it creates ``MARKER_FILE`` and waits
there (up to ten minutes) so the test can send a signal at exactly that point,
for example between a model's copy and its rename in the Pusher. Any other
name, or no variable, costs one dictionary lookup.
"""

import os
import time

ENV = "KUBETFX_FAILPOINT"
WAIT_SECONDS = 600


def failpoint(name: str) -> None:
    setting = os.environ.get(ENV, "")
    point, _, marker = setting.partition(":")
    if point != name or not marker:
        return
    with open(marker, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(WAIT_SECONDS)
