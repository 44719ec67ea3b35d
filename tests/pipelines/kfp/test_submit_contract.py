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
from kubetfx.pipelines.kfp.submit import Connection
from tests.pipelines.kfp import fake_kfp_api
from tests.pipelines.kfp.fake_kfp_api import FakeKfpApi


@pytest.fixture(autouse=True)
def no_protocol_problems():
    """Every fake server a test starts ends with no recorded protocol problem."""
    start = len(fake_kfp_api.INSTANCES)
    yield
    for api in fake_kfp_api.INSTANCES[start:]:
        assert api.problems == []


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
            Connection(api.endpoint),
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
        client, run_id = submit.submit(package, Connection(api.endpoint), {})
        out = io.StringIO()
        assert submit.follow(client, run_id, api.endpoint, out=out, poll_seconds=0) == "SUCCEEDED"
        lines = out.getvalue().splitlines()
        assert "CsvExampleGen" in lines[0] and lines[0].endswith("running")
        assert any(line.endswith("succeeded") for line in lines)
        assert api.problems == []


def test_a_failed_run_raises_with_the_backend_error(package):
    with FakeKfpApi(run_states=["RUNNING", "FAILED"]) as api:
        client, run_id = submit.submit(package, Connection(api.endpoint), {})
        with pytest.raises(PipelineFailed, match="ended failed: task Trainer failed"):
            submit.follow(client, run_id, api.endpoint, out=io.StringIO(), poll_seconds=0)


def test_runs_lists_newest_first_with_duration(package):
    with FakeKfpApi(run_states=["SUCCEEDED"]) as api:
        first = submit.submit(package, Connection(api.endpoint), {}, run_name="first")
        submit.submit(package, Connection(api.endpoint), {}, run_name="second")
        submit.follow(first[0], first[1], api.endpoint, out=io.StringIO(), poll_seconds=0)
        rows = submit.recent_runs(Connection(api.endpoint), limit=5)
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
        submit.submit(package, Connection(endpoint), {})


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
        submit.submit(package, Connection(api.endpoint), {}, run_name="nightly")
        result = CliRunner().invoke(cli, ["runs", "--endpoint", api.endpoint])
    assert result.exit_code == 0, result.output
    header, row = result.output.strip().splitlines()
    assert header.split()[:2] == ["RUN", "ID"]
    assert row.startswith("run-1") and "nightly" in row


# Authentication: multi-user Kubeflow and APIs behind an authenticating proxy.


def test_a_bearer_token_and_namespace_reach_every_request(package):
    with FakeKfpApi(token="s3cret", namespace="team-a") as api:
        connection = Connection(api.endpoint, token="s3cret", namespace="team-a")
        _, run_id = submit.submit(package, connection, {}, experiment="taxi")
        rows = submit.recent_runs(connection)
        assert [row["run_id"] for row in rows] == [run_id]
        assert ("GET", "/apis/v2beta1/healthz") == api.requests[0][:2]  # the probe, signed
        (experiment,) = api.experiments.values()
        assert experiment["namespace"] == "team-a"


def test_a_token_file_is_read_and_the_cli_takes_the_environment(package, tmp_path):
    token = tmp_path / "token"
    token.write_text("from-a-file\n")
    with FakeKfpApi(token="from-a-file", namespace="team-a") as api:
        result = CliRunner().invoke(
            cli,
            ["submit", package, "--endpoint", api.endpoint, "--namespace", "team-a"],
            env={"KF_PIPELINES_SA_TOKEN_PATH": str(token)},
        )
        assert result.exit_code == 0, result.output
        assert "created run run-1" in result.output
        listed = CliRunner().invoke(
            cli,
            ["runs", "--endpoint", api.endpoint],
            env={"KUBETFX_KFP_TOKEN": "from-a-file", "KUBETFX_KFP_NAMESPACE": "team-a"},
        )
        assert listed.exit_code == 0, listed.output
        assert "run-1" in listed.output


@pytest.mark.parametrize(
    "options, expected",
    [
        ([], "refused the request (HTTP 401)"),
        (["--token", "wrong"], "refused the request (HTTP 401)"),
        (["--token-file", "/nonexistent/token"], "cannot read the token file /nonexistent/token"),
        (["--token", "a", "--token-file", "f"], "give --token or --token-file, not both"),
    ],
)
def test_missing_or_wrong_credentials_are_one_line(package, options, expected):
    with FakeKfpApi(token="s3cret") as api:
        result = CliRunner().invoke(cli, ["submit", package, "--endpoint", api.endpoint, *options])
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert expected in line
        assert not api.runs


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with openssl."""
    import shutil
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls_is_verified_with_a_ca_bundle_and_a_failure_is_named(package, certificate):
    cert, _ = certificate
    with FakeKfpApi(tls=certificate) as api:
        assert api.endpoint.startswith("https://")
        with pytest.raises(UserError, match="^TLS error talking to .*--ca-bundle"):
            submit.submit(package, Connection(api.endpoint), {})
        _, run_id = submit.submit(package, Connection(api.endpoint, ca_bundle=cert), {})
        _, second = submit.submit(package, Connection(api.endpoint, insecure=True), {})
        assert (run_id, second) == ("run-1", "run-2")
