"""What a Beam step needs from the workers that run it, and what their failures mean.

kubetfx's Beam steps run on workers that hold kubetfx and its TFX already:
Beam's DirectRunner in the task itself, a worker pool started from the same
venv or image (``portable``, ``flink``, ``spark``), or Dataflow workers
running the kubetfx image. TFX does not know that: given any Beam flags, each
Beam component builds an sdist of the whole installed tfx package to stage to
the workers (1.5 s and 49 MB left in the temp folder, each time), which a worker
pool never installs. ``use_installed_tfx`` turns that off.

The failures of a run through a job service come back as gRPC errors and
worker tracebacks; ``explain`` turns the typical ones into a line that names
the cause.
"""

import dataclasses
import re

# Beam's version capability: "beam:version:sdk_base:apache/beam_python3.10_sdk:2.59.0".
_SDK_VERSION = re.compile(r"beam_python(\d+\.\d+)_sdk:([\w.]+)")
# How Beam's PortableRunner reports a job that failed on the workers.
_JOB_FAILED = re.compile(r"Pipeline \S+ failed in state FAILED")


@dataclasses.dataclass(frozen=True)
class JobService:
    """Where a run through a Beam job service sends its work, read from Beam's flags."""

    runner: str  # Beam's runner name, e.g. PortableRunner
    endpoint: str
    pool: str | None  # the external worker pool, if the workers are one's

    @property
    def workers(self) -> str:
        """The workers, as an error names them."""
        if self.pool:
            return f"the worker pool at {self.pool}, through the job service at {self.endpoint}"
        return f"the workers of the job service at {self.endpoint}"


def flag_name(arg: str) -> str:
    """``--name=value`` or ``--name`` as Beam's option name (dashes as underscores)."""
    return arg.lstrip("-").split("=", 1)[0].replace("-", "_")


def job_service(beam_args) -> JobService | None:
    """The job service ``beam_args`` send the work to, or None (DirectRunner, Dataflow)."""
    if not any(flag_name(str(a)) == "job_endpoint" for a in beam_args):
        return None
    from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions

    options = PipelineOptions(list(beam_args))
    portable = options.view_as(PortableOptions)
    runner = options.get_all_options().get("runner") or "PortableRunner"
    if not portable.job_endpoint or portable.job_endpoint == "embed":
        return None
    pool = portable.environment_config if portable.environment_type == "EXTERNAL" else None
    return JobService(runner.rsplit(".", 1)[-1], portable.job_endpoint, pool)


def on_dataflow(beam_args) -> bool:
    """Whether ``beam_args`` send the work to Google Cloud Dataflow."""
    return any(str(a).rsplit("=", 1)[-1] == "DataflowRunner" for a in beam_args)


def use_installed_tfx() -> None:
    """Stops TFX from staging an sdist of itself for Beam's workers, which have TFX."""
    from tfx.utils import dependency_utils

    dependency_utils.make_beam_dependency_flags = _as_given


def _as_given(beam_pipeline_args: list[str]) -> list[str]:
    return list(beam_pipeline_args)


def _versions(capability: str) -> str:
    found = _SDK_VERSION.search(capability)
    return f"Beam {found[2]} on Python {found[1]}" if found else capability


def explain(error: BaseException, beam_args) -> str | None:
    """One line naming the cause of a Beam step's failure through a job service, or None."""
    service = job_service(beam_args)
    if service is None:
        return None
    engine = service.workers
    text = _full_text(error)
    mismatch = re.search(
        r"not compatible.*Submission environment: (\S+?)\.? Runtime environment: (\S+?)\.?$",
        text,
        re.S | re.M,
    )
    if mismatch:
        built, running = (_versions(c) for c in mismatch.groups())
        return (
            f"the Beam workers ({engine}) run {running}, but this pipeline was built with "
            f"{built}: run the workers from the kubetfx image or venv that launches it"
        )
    missing = re.search(r"No module named '([\w.]+)'", text)
    if missing and _JOB_FAILED.search(text):
        return (
            f"the Beam workers ({engine}) cannot import {missing[1]}: start them from a "
            "Python that has kubetfx and the project's code (this venv, or the kubetfx image)"
        )
    started = re.search(r"Error starting worker: (.*)", text, re.S)
    if started:
        reason = started[1].strip().splitlines()[-1]
        return f"the Beam worker pool ({engine}) could not start a worker: {reason}"
    if "StatusCode.DEADLINE_EXCEEDED" in text or "StatusCode.UNAVAILABLE" in text:
        return (
            f"the Beam job service stopped answering or its workers ({engine}) never "
            "connected: check that both are running; a worker pool starts workers with "
            "the first `python` on its PATH, which must have kubetfx"
        )
    return None


def _full_text(error: BaseException) -> str:
    """The error's text with the texts of the errors it came from."""
    parts = []
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        parts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(parts)
