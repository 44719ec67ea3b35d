"""Contract tests: the submit path against a local server that checks KFP's v2beta1 API.

No pipeline runs here; the fake server only checks that requests follow the
API. Real clusters are exercised by hand (see the README).
"""

import io

import pytest
import yaml
from click.testing import CliRunner

from kubetfx.pipelines.cli import cli
from kubetfx.pipelines.errors import PipelineFailed, UserError
from kubetfx.pipelines.kfp import submit
from tests.pipelines.kfp.fake_kfp_api import FakeKfpApi


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """A small 2.1.0 package with the parameters and platform spec kubetfx writes."""
    path = tmp_path_factory.mktemp("pkg") / "pipeline.yaml"
    spec = {
        "pipelineInfo": {"name": "kubetfx-taxi"},
        "schemaVersion": "2.1.0",
        "sdkVersion": "kubetfx",
        "components": {"Hello": {"executorLabel": "Hello_executor"}},
        "deploymentSpec": {
            "executors": {"Hello_executor": {"container": {"image": "kubetfx:0.1.0"}}}
        },
        "root": {
            "dag": {
                "tasks": {
                    "Hello": {"componentRef": {"name": "Hello"}, "taskInfo": {"name": "Hello"}}
                }
            },
            "inputDefinitions": {
                "parameters": {
                    "train_steps": {
                        "parameterType": "NUMBER_INTEGER",
                        "defaultValue": 1000,
                        "isOptional": True,
                    },
                    "data_root": {
                        "parameterType": "STRING",
                        "defaultValue": "/data",
                        "isOptional": True,
                    },
                }
            },
        },
    }
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {}}}}}
    path.write_text(yaml.safe_dump_all([spec, platform]))
    return str(path)


def test_submit_creates_an_experiment_and_a_run_with_typed_parameters(package):
    with FakeKfpApi() as api:
        client, run_id = submit.submit(
            package,
            api.endpoint,
            {"train_steps": 200, "data_root": "/mnt/data"},
            experiment="taxi",
            run_name="nightly",
            pipeline_root="minio://mlpipeline/v2/artifacts",
        )
        assert api.problems == []
        (create,) = (r for r in api.requests if r[:2] == ("POST", "/apis/v2beta1/runs"))
        body = create[2]["body"]
        assert body["display_name"] == "nightly"
        assert body["runtime_config"]["parameters"] == {
            "train_steps": 200,
            "data_root": "/mnt/data",
        }
        assert body["runtime_config"]["pipeline_root"] == "minio://mlpipeline/v2/artifacts"
        assert "platform_spec" in body["pipeline_spec"]
        assert api.experiments[body["experiment_id"]]["display_name"] == "taxi"
        assert run_id == "run-1"


def test_wait_prints_task_states_and_returns_on_success(package):
    with FakeKfpApi(run_states=["PENDING", "RUNNING", "SUCCEEDED"]) as api:
        client, run_id = submit.submit(package, api.endpoint, {})
        out = io.StringIO()
        assert submit.follow(client, run_id, api.endpoint, out=out, poll_seconds=0) == "SUCCEEDED"
        lines = out.getvalue().splitlines()
        assert "CsvExampleGen" in lines[0] and lines[0].endswith("running")
        assert any(line.endswith("succeeded") for line in lines)
        assert api.problems == []


def test_a_failed_run_raises_with_the_backend_error(package):
    with FakeKfpApi(run_states=["RUNNING", "FAILED"]) as api:
        client, run_id = submit.submit(package, api.endpoint, {})
        with pytest.raises(PipelineFailed, match="ended failed: task Trainer failed"):
            submit.follow(client, run_id, api.endpoint, out=io.StringIO(), poll_seconds=0)


def test_runs_lists_newest_first_with_duration(package):
    with FakeKfpApi(run_states=["SUCCEEDED"]) as api:
        first = submit.submit(package, api.endpoint, {}, run_name="first")
        submit.submit(package, api.endpoint, {}, run_name="second")
        submit.follow(first[0], first[1], api.endpoint, out=io.StringIO(), poll_seconds=0)
        rows = submit.recent_runs(api.endpoint, limit=5)
        assert [row["name"] for row in rows] == ["second", "first"]
        assert rows[1]["duration"] == "300 s"
        (listing,) = (r for r in api.requests if r[:2] == ("GET", "/apis/v2beta1/runs"))
        assert listing[2]["query"]["sort_by"] == "created_at desc"


@pytest.mark.parametrize(
    "status, expected",
    [
        (401, "refused the request (HTTP 401)"),
        (403, "refused the request (HTTP 403)"),
        (404, "no Kubeflow Pipelines API"),
    ],
)
def test_http_errors_become_one_line_advice(package, status, expected):
    with FakeKfpApi(fail_with=status) as api:
        result = CliRunner().invoke(cli, ["submit", package, "--endpoint", api.endpoint])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith("kubetfx: error: ") and expected in line


def test_unreachable_endpoint(package):
    with FakeKfpApi() as api:
        endpoint = api.endpoint
    with pytest.raises(UserError, match="cannot reach Kubeflow Pipelines .* port-forward"):
        submit.submit(package, endpoint, {})


def test_cli_refuses_unknown_parameters_before_calling_the_server(package):
    with FakeKfpApi() as api:
        result = CliRunner().invoke(
            cli, ["submit", package, "--endpoint", api.endpoint, "--param", "epochs=3"]
        )
        assert result.exit_code == 2
        assert "epochs is not a parameter of this pipeline" in result.output
        assert api.requests == []


def test_cli_runs_table(package):
    with FakeKfpApi() as api:
        submit.submit(package, api.endpoint, {}, run_name="nightly")
        result = CliRunner().invoke(cli, ["runs", "--endpoint", api.endpoint])
    assert result.exit_code == 0, result.output
    header, row = result.output.strip().splitlines()
    assert header.split()[:2] == ["RUN", "ID"]
    assert row.startswith("run-1") and "nightly" in row
