"""A local HTTP server that speaks the part of KFP's v2beta1 REST API the client uses.

It checks each request against the API (paths, methods, JSON fields) and
records it; it runs no pipeline. Contract tests use it, not end-to-end tests.
"""

import json
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/apis/v2beta1"


# Every server made, so that a fixture can assert none recorded a protocol problem.
INSTANCES: list["FakeKfpApi"] = []


class FakeKfpApi:
    """The API; with ``token``, every request must carry it (HTTP 401 otherwise), and with
    ``namespace`` (multi-user mode) experiments and run listings must name it. With
    ``tls`` (a (certificate, key) pair of files) it serves https."""

    def __init__(
        self,
        run_states=("RUNNING", "SUCCEEDED"),
        fail_with: int | None = None,
        token: str | None = None,
        namespace: str | None = None,
        tls: tuple[str, str] | None = None,
    ):
        self.requests: list[tuple[str, str, dict]] = []
        self.problems: list[str] = []
        self.experiments: dict[str, dict] = {}
        self.runs: dict[str, dict] = {}
        self.run_states = list(run_states)
        self.fail_with = fail_with
        self.token = token
        self.namespace = namespace
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        INSTANCES.append(self)

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urllib.parse.urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                query = dict(urllib.parse.parse_qsl(url.query))
                api.requests.append((method, url.path, {"query": query, "body": body}))
                if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
                    self._reply(401, {"error_message": "Unauthorized", "code": 16})
                    return
                if api.fail_with:
                    self._reply(api.fail_with, {"error_message": "denied", "code": 7})
                    return
                status, reply = api.route(method, url.path, query, body)
                self._reply(status, reply)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        return Handler

    def route(self, method, path, query, body):
        if (method, path) == ("GET", f"{API}/healthz"):
            return 200, {"multi_user": False}
        if (method, path) == ("GET", f"{API}/experiments"):
            predicates = json.loads(query.get("filter", "{}")).get("predicates", [])
            names = [p.get("string_value", p.get("stringValue")) for p in predicates]
            if not predicates or predicates[0].get("key") != "display_name":
                self.problems.append(f"experiment lookup without a display_name filter: {query}")
            self._check_namespace("experiment lookup", query.get("namespace"))
            found = [e for e in self.experiments.values() if e["display_name"] in names]
            return 200, {"experiments": found, "total_size": len(found)}
        if (method, path) == ("POST", f"{API}/experiments"):
            if not body.get("display_name"):
                self.problems.append(f"experiment without display_name: {body}")
            self._check_namespace("new experiment", body.get("namespace"))
            experiment = {"experiment_id": f"exp-{len(self.experiments) + 1}", **body}
            self.experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        if (method, path) == ("POST", f"{API}/runs"):
            return 200, self._create_run(body)
        if (method, path) == ("GET", f"{API}/runs"):
            self._check_namespace("run listing", query.get("namespace"))
            runs = sorted(self.runs.values(), key=lambda r: r["created_at"], reverse=True)
            return 200, {"runs": runs[: int(query.get("page_size", 20))]}
        if method == "GET" and path.startswith(f"{API}/runs/"):
            run = self.runs.get(path.rsplit("/", 1)[1])
            if run is None:
                return 404, {"error_message": "run not found"}
            state = self.run_states.pop(0) if len(self.run_states) > 1 else self.run_states[0]
            run["state"] = state
            tasks = ["CsvExampleGen", "Trainer"] if state != "PENDING" else []
            task_state = "RUNNING" if state == "RUNNING" else state
            run["run_details"] = {
                "task_details": [
                    {"task_id": name.lower(), "display_name": name, "state": task_state}
                    for name in tasks
                ]
            }
            if state in ("SUCCEEDED", "FAILED"):
                run["finished_at"] = "2026-01-01T00:05:00Z"
            if state == "FAILED":
                run["error"] = {"message": "task Trainer failed"}
            return 200, run
        self.problems.append(f"unexpected request {method} {path}")
        return 404, {"error_message": "not found"}

    def _check_namespace(self, what: str, given) -> None:
        """Multi-user mode: the API server refuses requests without the user's namespace."""
        if self.namespace and given != self.namespace:
            self.problems.append(f"{what} in namespace {given!r}, not {self.namespace!r}")

    def _create_run(self, body):
        spec = body.get("pipeline_spec", {})
        pipeline_spec = spec.get("pipeline_spec", spec)
        for field in ("display_name", "experiment_id", "runtime_config"):
            if field not in body:
                self.problems.append(f"run without {field}")
        if pipeline_spec.get("schemaVersion") != "2.1.0":
            self.problems.append(f"schemaVersion {pipeline_spec.get('schemaVersion')}")
        if body.get("experiment_id") not in self.experiments:
            self.problems.append(f"run in unknown experiment {body.get('experiment_id')}")
        run_id = f"run-{len(self.runs) + 1}"
        run = {
            **body,
            "run_id": run_id,
            "state": "PENDING",
            "created_at": f"2026-01-01T00:00:0{len(self.runs)}Z",
        }
        self.runs[run_id] = run
        return run
