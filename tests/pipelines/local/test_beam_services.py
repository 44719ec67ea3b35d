"""The checks before a run through a job service, against Beam's own job service and pools."""

import time

import pytest

from kubetfx.pipelines.definition.engine import Engine
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.local import beam_services
from tests.beam_services import job_service, path_without_beam, worker_pool
from tests.mlflow_server import free_port


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beam")
    with job_service(folder) as jobs, worker_pool(folder) as pool:
        yield folder, jobs, pool


def _flags(**options) -> tuple[str, ...]:
    return Engine("portable", **options).beam_args()


def test_a_job_service_with_a_pool_that_starts_workers_passes(services):
    _, jobs, pool = services
    started = time.monotonic()
    beam_services.check(_flags(job_endpoint=jobs, worker_pool=pool))
    assert time.monotonic() - started < beam_services.WORKER_START_SECONDS


def test_no_job_service_is_named_with_the_command_that_starts_one():
    port = free_port()
    with pytest.raises(UserError) as raised:
        beam_services.check(_flags(job_endpoint=f"localhost:{port}"))
    assert str(raised.value) == (
        f"no Beam job service answers at localhost:{port} (--job-endpoint): start one, e.g. "
        "`python -m apache_beam.runners.portability.local_job_service_main --port "
        f"{port}`, or port-forward the cluster's job server"
    )


def test_no_worker_pool_is_named(services):
    _, jobs, _ = services
    port = free_port()
    with pytest.raises(UserError, match=f"no Beam worker pool answers at localhost:{port}"):
        beam_services.check(_flags(job_endpoint=jobs, worker_pool=f"localhost:{port}"))


def test_a_pool_whose_python_lacks_beam_is_found_before_the_run(services, monkeypatch):
    folder, jobs, _ = services
    monkeypatch.setattr(beam_services, "WORKER_START_SECONDS", 10.0)
    with worker_pool(folder, path=path_without_beam(folder)) as broken:
        with pytest.raises(UserError) as raised:
            beam_services.check(_flags(job_endpoint=jobs, worker_pool=broken))
    assert str(raised.value).startswith(
        f"the Beam worker pool at {broken} started a worker that did not connect within 10 s: "
        "the pool starts workers with the first `python` on its PATH"
    )


def test_the_work_done_in_this_process_or_on_a_cluster_needs_no_pool_here(services):
    _, jobs, _ = services
    beam_services.check(_flags(job_endpoint=jobs, worker_pool="loopback"))
    # Flink's pool is beside its task managers: only the job service is checked.
    beam_services.check(Engine("flink", job_endpoint=jobs).beam_args())
    beam_services.check(Engine(parallelism=2).beam_args())  # DirectRunner: nothing to check


def test_a_run_here_cannot_send_its_work_to_dataflow():
    flags = Engine(
        "dataflow", gcp_project="p", region="r", temp_location="gs://b/t", worker_image="i"
    ).beam_args()
    with pytest.raises(UserError, match="Dataflow's workers cannot read this machine's files"):
        beam_services.check(flags)
