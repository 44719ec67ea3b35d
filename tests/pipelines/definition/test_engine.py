"""--beam-runner and its options: each engine's flags, read by Beam's own option classes."""

import pytest
from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    SparkRunnerOptions,
    StandardOptions,
    WorkerOptions,
)
from apache_beam.options.pipeline_options_validator import PipelineOptionsValidator

from kubetfx.pipelines.cli.common import check_beam_args
from kubetfx.pipelines.definition.engine import (
    FLINK_JOB_ENDPOINT,
    JOB_TIMEOUT_SECONDS,
    Engine,
    combine,
)
from kubetfx.pipelines.errors import UserError

DATAFLOW = Engine(
    "dataflow",
    gcp_project="my-project",
    region="europe-west1",
    temp_location="gs://my-bucket/tmp",
    worker_image="europe-docker.pkg.dev/my-project/ml/kubetfx:0.1.0",
    parallelism=8,
)


def _options(engine: Engine, compiled: bool = False) -> PipelineOptions:
    args = engine.beam_args(compiled)
    check_beam_args(args)  # every flag is one Beam knows, with a value it parses
    return PipelineOptions(list(args))


def test_direct_is_beams_default_and_parallelism_runs_worker_processes():
    assert Engine().beam_args() == ()
    assert Engine(parallelism=1).beam_args() == ("--direct_num_workers=1",)
    options = _options(Engine(parallelism=2))
    assert options.view_as(DirectOptions).direct_num_workers == 2
    assert options.view_as(DirectOptions).direct_running_mode == "multi_processing"


def test_portable_sends_the_work_to_a_job_service_and_its_worker_pool():
    options = _options(Engine("portable", job_endpoint="localhost:18099", parallelism=2))
    portable = options.view_as(PortableOptions)
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    assert portable.job_endpoint == "localhost:18099"
    assert (portable.environment_type, portable.environment_config) == (
        "EXTERNAL",
        "localhost:50000",
    )
    # Beam's own deadline (60 s) would fail every job that runs longer.
    assert portable.job_server_timeout == JOB_TIMEOUT_SECONDS
    assert options.view_as(DirectOptions).direct_num_workers == 2  # Beam's job service's


def test_loopback_does_the_work_in_the_launching_process():
    options = _options(Engine("portable", worker_pool="loopback"))
    assert options.view_as(PortableOptions).environment_type == "LOOPBACK"
    assert options.view_as(PortableOptions).environment_config is None


def test_flink_compiled_targets_the_overlays_job_server_and_locally_this_machine():
    engine = Engine("flink", flink_master="kubetfx-flink-rest:8081", parallelism=4)
    compiled = _options(engine, compiled=True)
    assert compiled.view_as(StandardOptions).runner == "FlinkRunner"
    assert compiled.view_as(PortableOptions).job_endpoint == FLINK_JOB_ENDPOINT
    assert compiled.view_as(FlinkRunnerOptions).flink_master == "kubetfx-flink-rest:8081"
    assert compiled.view_as(FlinkRunnerOptions).parallelism == 4
    assert compiled.view_as(PortableOptions).environment_config == "localhost:50000"
    local = _options(engine)
    assert local.view_as(PortableOptions).job_endpoint == "localhost:8099"


def test_spark_names_its_master_and_needs_a_job_endpoint_when_compiled():
    engine = Engine("spark", spark_master="spark://spark-master:7077")
    options = _options(engine)
    assert options.view_as(StandardOptions).runner == "SparkRunner"
    assert options.view_as(SparkRunnerOptions).spark_master_url == "spark://spark-master:7077"
    with pytest.raises(UserError, match="needs --job-endpoint"):
        engine.beam_args(compiled=True)
    given = Engine("spark", job_endpoint="beam-spark-job-server.spark:8099")
    assert _options(given, compiled=True).view_as(PortableOptions).job_endpoint == (
        "beam-spark-job-server.spark:8099"
    )


def test_dataflow_options_pass_beams_own_validation():
    from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner

    options = _options(DATAFLOW)
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == (
        "my-project",
        "europe-west1",
        "gs://my-bucket/tmp",
    )
    assert options.view_as(WorkerOptions).max_num_workers == 8
    assert options.view_as(WorkerOptions).sdk_container_image.endswith("kubetfx:0.1.0")
    assert PipelineOptionsValidator(options, DataflowRunner()).validate() == []


@pytest.mark.parametrize(
    ("engine", "message"),
    [
        (
            dict(runner="dataflow", gcp_project="p"),
            "needs --region, --temp-location, --worker-image",
        ),
        (
            dict(
                runner="dataflow",
                gcp_project="p",
                region="r",
                temp_location="/tmp/x",
                worker_image="i",
            ),
            "--temp-location /tmp/x: Dataflow needs a gs:// folder",
        ),
        (dict(runner="direct", job_endpoint="localhost:8099"), "--job-endpoint applies to"),
        (dict(runner="flink", spark_master="spark://x:7077"), "--spark-master applies to"),
        (dict(runner="spark", parallelism=2), "--parallelism applies to"),
        (dict(runner="portable", job_endpoint="localhost"), "give HOST:PORT"),
        (dict(runner="portable", worker_pool="pool:port"), "give HOST:PORT"),
        (dict(runner="direct", parallelism=0), "give 1 or more workers"),
    ],
)
def test_options_that_cannot_work_are_refused_in_one_line(engine, message):
    with pytest.raises(UserError, match=message):
        Engine(**engine)


def test_beam_args_come_after_the_engines_and_may_not_set_its_flags_again():
    engine = Engine("portable")
    combined = combine(engine, ("--sdk_worker_parallelism=2",))
    assert combined[-1] == "--sdk_worker_parallelism=2"
    assert combined[:-1] == engine.beam_args()
    with pytest.raises(UserError, match="--beam-args sets --job_endpoint"):
        combine(engine, ("--job-endpoint=other:1",))
    # Without --beam-runner the flags stand as given: a runner chosen by hand.
    by_hand = ("--runner=PortableRunner", "--job_endpoint=localhost:1")
    assert combine(Engine(), by_hand) == by_hand
