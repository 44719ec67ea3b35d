"""What a Beam step's failures through a job service mean, and TFX's sdist of itself turned off."""

import sys

import apache_beam
import pytest
from apache_beam.portability.api import beam_fn_api_pb2, beam_runner_api_pb2
from apache_beam.runners.worker import bundle_processor

from kubetfx.components import beam_workers

PORTABLE = (
    "--runner=PortableRunner",
    "--job_endpoint=localhost:18099",
    "--environment_type=EXTERNAL",
    "--environment_config=localhost:18050",
)
WORKERS = "the worker pool at localhost:18050, through the job service at localhost:18099"


def _job_failed(worker_text: str) -> RuntimeError:
    """A job that failed on its workers, as Beam's PortableRunner raises it."""
    return RuntimeError(
        "Pipeline job-3f1c failed in state FAILED: Traceback (most recent call last):\n"
        '  File "apache_beam/runners/worker/sdk_worker.py", line 311, in _execute\n'
        f"{worker_text}\n"
    )


def _version_mismatch() -> str:
    """Beam's own message, from a worker of the installed Beam given a 2.58.1 launcher's job."""
    descriptor = beam_fn_api_pb2.ProcessBundleDescriptor()
    descriptor.environments["env"].CopyFrom(
        beam_runner_api_pb2.Environment(
            capabilities=["beam:version:sdk_base:apache/beam_python3.10_sdk:2.58.1"]
        )
    )
    descriptor.transforms["t"].environment_id = "env"
    with pytest.raises(RuntimeError) as raised:
        bundle_processor._verify_descriptor_created_in_a_compatible_env(descriptor)
    return str(raised.value)


def test_the_job_service_and_worker_pool_are_read_from_beams_flags():
    service = beam_workers.job_service(PORTABLE)
    assert (service.runner, service.endpoint, service.pool) == (
        "PortableRunner",
        "localhost:18099",
        "localhost:18050",
    )
    assert service.workers == WORKERS
    flink = beam_workers.job_service(("--runner=FlinkRunner", "--job_endpoint=js:8099"))
    assert (flink.runner, flink.pool) == ("FlinkRunner", None)
    assert beam_workers.job_service(("--direct_num_workers=2",)) is None
    assert beam_workers.job_service(()) is None


def test_a_worker_of_another_beam_version_is_named_with_both_versions():
    message = beam_workers.explain(_job_failed(_version_mismatch()), PORTABLE)
    # The worker is this process: the installed Beam on the running Python.
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert message == (
        f"the Beam workers ({WORKERS}) run Beam {apache_beam.__version__} on Python {python}, "
        "but this pipeline was "
        "built with Beam 2.58.1 on Python 3.10: run the workers from the kubetfx image or "
        "venv that launches it"
    )


def test_a_worker_without_kubetfx_is_named_with_the_module_it_lacks():
    error = _job_failed("ModuleNotFoundError: No module named 'kubetfx'")
    assert beam_workers.explain(error, PORTABLE) == (
        f"the Beam workers ({WORKERS}) cannot import kubetfx: start them from a Python "
        "that has kubetfx and the project's code (this venv, or the kubetfx image)"
    )


def test_a_pool_that_cannot_start_a_worker_gives_its_reason():
    error = RuntimeError(
        "Error starting worker: Traceback (most recent call last):\n"
        '  File "worker_pool_main.py", line 163, in StartWorker\n'
        "FileNotFoundError: [Errno 2] No such file or directory: 'python'\n"
    )
    assert beam_workers.explain(error, PORTABLE) == (
        f"the Beam worker pool ({WORKERS}) could not start a worker: "
        "FileNotFoundError: [Errno 2] No such file or directory: 'python'"
    )


def test_a_deadline_says_the_service_or_its_workers_are_gone():
    # As Beam's state stream ends when no worker ever connects (the traceback).
    error = RuntimeError(
        "<_MultiThreadedRendezvous of RPC that terminated with:\n"
        "\tstatus = StatusCode.DEADLINE_EXCEEDED\n"
        '\tdetails = "Stream removed (Deadline Exceeded)"\n>'
    )
    message = beam_workers.explain(error, PORTABLE)
    assert message.startswith(f"the Beam job service stopped answering or its workers ({WORKERS})")
    assert "first `python` on its PATH" in message


def test_the_cause_is_found_in_the_errors_a_failure_came_from():
    try:
        try:
            raise _job_failed("ModuleNotFoundError: No module named 'my_features'")
        except RuntimeError as inner:
            raise ValueError("Transform failed") from inner
    except ValueError as outer:
        message = beam_workers.explain(outer, PORTABLE)
    assert "cannot import my_features" in message


def test_failures_of_other_runs_and_other_causes_are_left_as_they_are():
    failed = _job_failed("ModuleNotFoundError: No module named 'kubetfx'")
    assert beam_workers.explain(failed, ("--direct_num_workers=2",)) is None
    assert beam_workers.explain(ValueError("bad schema"), PORTABLE) is None
    # A module missing in the launcher is not the workers'.
    assert beam_workers.explain(ModuleNotFoundError("No module named 'x'"), PORTABLE) is None


def _tfx_own_dependency_utils():
    """A fresh copy of TFX's dependency_utils, as TFX ships it, whatever this process patched."""
    import importlib.util

    spec = importlib.util.find_spec("tfx.utils.dependency_utils")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tfx_stages_no_sdist_of_itself_for_the_workers(monkeypatch):
    from tfx.components.statistics_gen.executor import Executor
    from tfx.dsl.components.base import base_beam_executor
    from tfx.utils import dependency_utils

    built = []
    own = _tfx_own_dependency_utils()  # an earlier test in this process may have patched TFX
    monkeypatch.setattr(own, "build_ephemeral_package", lambda: built.append(1) or "x")
    monkeypatch.setattr(  # restored after the test
        dependency_utils, "make_beam_dependency_flags", own.make_beam_dependency_flags
    )
    context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(PORTABLE))
    assert "--extra_package=x" in Executor(context)._beam_pipeline_args
    assert built == [1]  # TFX's own way, before

    beam_workers.use_installed_tfx()
    args = Executor(context)._beam_pipeline_args
    assert args[: len(PORTABLE)] == list(PORTABLE)
    assert not [a for a in args if a.startswith("--extra_package")]
    assert built == [1]
