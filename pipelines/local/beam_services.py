"""Before a run through a Beam job service: is it there, and can its worker pool start a worker?

Without these checks a missing job service costs a minute before Beam says
``FutureTimeoutError``, and a worker pool that cannot start workers leaves the
job waiting for them. The worker pool is asked to start one worker, which must
connect back within ``WORKER_START_SECONDS``; this is done only for a pool on
this machine, since one beside a cluster's task managers is reachable only by them.
"""

import socket
import threading
import uuid
from concurrent import futures

from kubetfx.components.beam_workers import job_service, on_dataflow
from kubetfx.pipelines.errors import UserError

CONNECT_SECONDS = 5.0
# A worker imports Beam before it connects: 2 s here, more on a busy machine.
WORKER_START_SECONDS = 30.0
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", socket.gethostname()}


def check(beam_args: "tuple[str, ...]") -> None:
    """Raises UserError naming what is missing: the job service, or workers that start.

    A run on this machine cannot send its work to Dataflow, which cannot see its
    files. Reads Beam's own flags, whether ``--beam-runner`` or ``--beam-args`` gave them.
    """
    if on_dataflow(beam_args):
        raise UserError(
            "Dataflow's workers cannot read this machine's files: compile the pipeline with "
            "--beam-runner dataflow and a gs:// --pipeline-root, and run it there"
        )
    service = job_service(beam_args)
    if service is None:
        return
    endpoint, pool = service.endpoint, service.pool
    if not _answers(endpoint):
        raise UserError(
            f"no Beam job service answers at {endpoint} (--job-endpoint): start one, e.g. "
            f"`python -m apache_beam.runners.portability.local_job_service_main --port "
            f"{_port(endpoint)}`, or port-forward the cluster's job server"
        )
    if service.runner != "PortableRunner" or pool is None:
        return  # a cluster's pool is beside its task managers; LOOPBACK works in this process
    if not (_is_local(endpoint) and _is_local(pool)):
        return
    if not _answers(pool):
        raise UserError(
            f"no Beam worker pool answers at {pool} (--worker-pool): start one from this "
            "venv, e.g. `PATH=.venv/bin:$PATH python -m "
            f"apache_beam.runners.worker.worker_pool_main --service_port {_port(pool)}`"
        )
    start_worker(pool, WORKER_START_SECONDS)


def start_worker(pool: str, seconds: float) -> None:
    """Asks the worker pool at ``pool`` for a worker and waits for it to connect back."""
    import grpc
    from apache_beam.portability.api import beam_fn_api_pb2, beam_fn_api_pb2_grpc, endpoints_pb2

    connected = threading.Event()

    class Control(beam_fn_api_pb2_grpc.BeamFnControlServicer):
        def Control(self, request_iterator, context):  # noqa: N802 - gRPC's name
            connected.set()
            return iter(())  # no work: the worker's control stream ends and it stops

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    beam_fn_api_pb2_grpc.add_BeamFnControlServicer_to_server(Control(), server)
    port = server.add_insecure_port("localhost:0")
    server.start()
    worker_id = f"kubetfx-check-{uuid.uuid4().hex[:8]}"
    try:
        with grpc.insecure_channel(pool) as channel:
            stub = beam_fn_api_pb2_grpc.BeamFnExternalWorkerPoolStub(channel)
            response = stub.StartWorker(
                beam_fn_api_pb2.StartWorkerRequest(
                    worker_id=worker_id,
                    control_endpoint=endpoints_pb2.ApiServiceDescriptor(url=f"localhost:{port}"),
                ),
                timeout=CONNECT_SECONDS,
            )
            if response.error:
                reason = response.error.strip().splitlines()[-1]
                raise UserError(f"the Beam worker pool at {pool} cannot start a worker: {reason}")
            started = connected.wait(seconds)
            stub.StopWorker(
                beam_fn_api_pb2.StopWorkerRequest(worker_id=worker_id), timeout=CONNECT_SECONDS
            )
    finally:
        server.stop(None)
    if not started:
        raise UserError(
            f"the Beam worker pool at {pool} started a worker that did not connect within "
            f"{seconds:.0f} s: the pool starts workers with the first `python` on its PATH, "
            "which must have kubetfx (start the pool with this venv's bin first on PATH); "
            "the pool's output says why"
        )


def _answers(address: str) -> bool:
    import grpc

    with grpc.insecure_channel(address) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_SECONDS)
        except grpc.FutureTimeoutError:
            return False
    return True


def _host(address: str) -> str:
    return address.rsplit(":", 1)[0].strip("[]")


def _port(address: str) -> str:
    return address.rsplit(":", 1)[1]


def _is_local(address: str) -> bool:
    host = _host(address)
    return host in _LOCAL_HOSTS or host.startswith("127.")
