"""The Beam engine that runs the data-heavy steps, and the few options each one needs.

``kubetfx run`` and ``kubetfx compile`` take ``--beam-runner`` with these
options and pass Beam the flags built here, checked against Beam's own option
classes, ahead of anything given with ``--beam-args``:

- ``direct``: Beam's DirectRunner in the launching process (the default);
  ``--parallelism N`` runs N worker processes.
- ``portable``: a Beam job service (Beam's own, or a Flink or Spark job server)
  with its work done by an external worker pool, both named by address.
- ``flink`` / ``spark``: the job server of a Flink or Spark cluster, whose
  task managers each have a Beam worker pool beside them (``kubernetes/flink``).
- ``dataflow``: Google Cloud Dataflow, its workers running an image with kubetfx.

Every engine but ``direct`` runs the work in other processes, which must hold
the same Beam, Python and kubetfx as the launcher and see the same paths.
"""

import dataclasses
import urllib.parse

from kubetfx.components.beam_workers import flag_name
from kubetfx.pipelines.errors import UserError

RUNNERS = ("direct", "portable", "flink", "spark", "dataflow")
# Engines reached through a job service and an external worker pool.
JOB_SERVICE_RUNNERS = ("portable", "flink", "spark")
BEAM_RUNNER_NAMES = {
    "direct": "DirectRunner",
    "portable": "PortableRunner",
    "flink": "FlinkRunner",
    "spark": "SparkRunner",
    "dataflow": "DataflowRunner",
}
# A job service on this machine (Beam's own, or a port-forwarded job server).
LOCAL_JOB_ENDPOINT = "localhost:8099"
# The Flink overlay's Beam job server (kubernetes/flink), as compiled tasks reach it.
FLINK_JOB_ENDPOINT = "kubetfx-flink-job-server.kubeflow:8099"
# The worker pool: on this machine for ``portable``; beside each task manager on a cluster.
WORKER_POOL = "localhost:50000"
# Written instead of an address: the launching process runs the work itself.
LOOPBACK = "loopback"
# Beam stops waiting for a job's state after --job_server_timeout (60 s by
# default), failing any job that runs longer with DEADLINE_EXCEEDED: a day.
JOB_TIMEOUT_SECONDS = 86400


@dataclasses.dataclass(frozen=True)
class Option:
    """A ``--beam-runner`` option: its field in Engine, the engines it applies to, its help."""

    field: str
    runners: tuple[str, ...]
    help: str
    metavar: str

    @property
    def flag(self) -> str:
        return "--" + self.field.replace("_", "-")


OPTIONS = (
    Option(
        "parallelism",
        ("direct", "portable", "flink", "dataflow"),
        "How many workers run the Beam steps at once: direct and portable, worker "
        "processes; flink, the job's parallelism; dataflow, the most workers.  "
        "[default: the engine's own: 1 for direct]",
        "N",
    ),
    Option(
        "job_endpoint",
        JOB_SERVICE_RUNNERS,
        f"The Beam job service, HOST:PORT.  [default: {LOCAL_JOB_ENDPOINT}; compiled with "
        f"flink: {FLINK_JOB_ENDPOINT}, the job server of kubernetes/flink]",
        "HOST:PORT",
    ),
    Option(
        "worker_pool",
        JOB_SERVICE_RUNNERS,
        f"The Beam worker pool, HOST:PORT as the job service sees it, or '{LOOPBACK}' to do "
        f"the work in the launching process.  [default: {WORKER_POOL}]",
        "HOST:PORT",
    ),
    Option(
        "flink_master",
        ("flink",),
        "The Flink cluster's REST address, HOST:PORT.  [default: the job server's own]",
        "HOST:PORT",
    ),
    Option(
        "spark_master",
        ("spark",),
        "The Spark master URL, e.g. spark://HOST:7077.  [default: the job server's own]",
        "URL",
    ),
    Option("gcp_project", ("dataflow",), "The Google Cloud project Dataflow runs in.", "ID"),
    Option("region", ("dataflow",), "The Dataflow region, e.g. europe-west1.", "REGION"),
    Option(
        "temp_location",
        ("dataflow",),
        "A gs:// folder for Dataflow's temporary and staged files.",
        "GS_PATH",
    ),
    Option(
        "worker_image",
        ("dataflow",),
        "The image Dataflow's workers run: one with kubetfx and Beam's boot entrypoint "
        "(see kubernetes/README.md).",
        "IMAGE",
    ),
)


@dataclasses.dataclass(frozen=True)
class Engine:
    """An engine and its options, as given; ``beam_args`` turns them into Beam's flags."""

    runner: str = "direct"
    parallelism: int | None = None
    job_endpoint: str | None = None
    worker_pool: str | None = None
    flink_master: str | None = None
    spark_master: str | None = None
    gcp_project: str | None = None
    region: str | None = None
    temp_location: str | None = None
    worker_image: str | None = None

    def __post_init__(self):
        if self.runner not in RUNNERS:
            raise UserError(f"--beam-runner {self.runner}: choose one of {', '.join(RUNNERS)}")
        for option in OPTIONS:
            if getattr(self, option.field) is not None and self.runner not in option.runners:
                raise UserError(
                    f"{option.flag} applies to --beam-runner {' or '.join(option.runners)}, "
                    f"not {self.runner}"
                )
        if self.parallelism is not None and self.parallelism < 1:
            raise UserError(f"--parallelism {self.parallelism}: give 1 or more workers")
        for option in OPTIONS:
            if option.field in ("job_endpoint", "flink_master"):
                address = getattr(self, option.field)
                if address is not None and not _is_host_port(address):
                    raise UserError(f"{option.flag} {address}: give HOST:PORT, e.g. localhost:8099")
        pool = self.worker_pool
        if pool is not None and pool != LOOPBACK and not _is_host_port(pool):
            raise UserError(
                f"--worker-pool {pool}: give HOST:PORT, e.g. {WORKER_POOL}, or {LOOPBACK}"
            )
        if self.runner == "dataflow":
            needed = [o for o in OPTIONS if o.runners == ("dataflow",)]
            missing = [o.flag for o in needed if not getattr(self, o.field)]
            if missing:
                raise UserError(f"--beam-runner dataflow needs {', '.join(missing)}")
            if not self.temp_location.startswith("gs://"):
                raise UserError(
                    f"--temp-location {self.temp_location}: Dataflow needs a gs:// folder"
                )

    def endpoint(self, compiled: bool) -> str | None:
        """The job service the launcher submits to, for the engines that have one."""
        if self.runner not in JOB_SERVICE_RUNNERS:
            return None
        if self.job_endpoint:
            return self.job_endpoint
        if compiled and self.runner == "flink":
            return FLINK_JOB_ENDPOINT
        if compiled and self.runner == "spark":
            raise UserError(
                "--beam-runner spark in a compiled pipeline needs --job-endpoint: the Spark "
                "job server's address as the pipeline's tasks reach it"
            )
        return LOCAL_JOB_ENDPOINT

    def beam_args(self, compiled: bool = False) -> tuple[str, ...]:
        """Beam's flags for this engine; ``compiled`` for tasks that run in a cluster."""
        if self.runner == "direct":
            if self.parallelism is None:
                return ()
            args = [f"--direct_num_workers={self.parallelism}"]
            if self.parallelism > 1:
                args.append("--direct_running_mode=multi_processing")
            return tuple(args)
        args = [f"--runner={BEAM_RUNNER_NAMES[self.runner]}"]
        if self.runner == "dataflow":
            args += [
                f"--project={self.gcp_project}",
                f"--region={self.region}",
                f"--temp_location={self.temp_location}",
                f"--sdk_container_image={self.worker_image}",
            ]
            if self.parallelism is not None:
                args.append(f"--max_num_workers={self.parallelism}")
            return tuple(args)
        args += [f"--job_endpoint={self.endpoint(compiled)}"]
        args += [f"--job_server_timeout={JOB_TIMEOUT_SECONDS}"]
        if self.worker_pool == LOOPBACK:
            args.append("--environment_type=LOOPBACK")
        else:
            args += [
                "--environment_type=EXTERNAL",
                f"--environment_config={self.worker_pool or WORKER_POOL}",
            ]
        if self.flink_master:
            args.append(f"--flink_master={self.flink_master}")
        if self.spark_master:
            args.append(f"--spark_master_url={self.spark_master}")
        if self.parallelism is not None:
            flag = "parallelism" if self.runner == "flink" else "direct_num_workers"
            args.append(f"--{flag}={self.parallelism}")
        return tuple(args)


def _is_host_port(address: str) -> bool:
    parsed = urllib.parse.urlsplit("//" + address)
    try:
        return bool(parsed.hostname) and parsed.port is not None and not parsed.path
    except ValueError:  # a port that is not a number
        return False


def combine(engine: Engine, beam_args: tuple[str, ...], compiled: bool = False) -> tuple[str, ...]:
    """The engine's flags, then ``--beam-args``; refuses a flag the engine already sets.

    Without ``--beam-runner`` or ``--parallelism`` the engine sets no flag, and
    ``--beam-args`` stand as given (a runner chosen by flag is the user's to configure).
    """
    own = engine.beam_args(compiled)
    set_by_engine = {flag_name(a) for a in own}
    for arg in beam_args:
        if arg.startswith("-") and flag_name(arg) in set_by_engine:
            raise UserError(
                f"--beam-args sets --{flag_name(arg)}, which --beam-runner {engine.runner} "
                "sets from its options; give it once"
            )
    return own + beam_args
