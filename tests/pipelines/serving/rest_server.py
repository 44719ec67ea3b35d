"""A local HTTP server that speaks TF Serving's REST predict API, for checks without a cluster.

It decodes a request as TF Serving does (``{"instances": [{"b64": ...}]}``,
the row format of a model with one string input) and answers
``{"predictions": [...]}`` with what ``answer`` gives for the serialized
examples: a SavedModel's serving signature in the end-to-end tests, a rule of
the test's own in the unit tests. ``answer`` returning None is an HTTP 500.
"""

import base64
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[list[bytes]], "list[list[float]] | None"]
_PREDICT = re.compile(r"^/v1/models/([^/:]+)(?:/versions/\d+)?:predict$")


@contextlib.contextmanager
def rest_server(answer: Answer, model: str = "kubetfx") -> Iterator[str]:
    """Serves ``answer`` at ``/v1/models/<model>:predict``; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            matched = _PREDICT.match(self.path)
            if not matched or matched.group(1) != model:
                self._reply(404, {"error": f"Servable not found for request: {self.path}"})
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            examples = [base64.b64decode(i["b64"]) for i in body["instances"]]
            predictions = answer(examples)
            if predictions is None:
                self._reply(500, {"error": "Internal: the server failed"})
            else:
                self._reply(200, {"predictions": predictions})

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
