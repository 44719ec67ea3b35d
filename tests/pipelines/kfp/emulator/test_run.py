"""The emulator's driver and launcher, on small packages whose tasks are short Python scripts.

Each test states one behaviour of the KFP 2.17 backend (the file is named) and
runs a real emulation of a package written here, with real subprocesses.
"""

import io
import json
import os
import textwrap

import pytest
import yaml

from kubetfx.pipelines.errors import PipelineFailed, UserError
from kubetfx.pipelines.kfp.emulator import launcher, run
from kubetfx.pipelines.kfp.emulator.object_store import object_path
from kubetfx.pipelines.kfp.emulator.store import EmulatorStore

# Task scripts get the ExecutorInput as argv[1] and $ARTIFACT_LOCAL_PATH as the
# root of the launcher's local mount.
PRELUDE = """\
import json, os, sys
executor_input = json.loads(sys.argv[1])
def local(uri):
    return os.environ["ARTIFACT_LOCAL_PATH"] + "/minio/" + uri[len("minio://"):]
def output(name):
    return executor_input["outputs"]["artifacts"][name]["artifacts"][0]
def write_output(document):
    path = executor_input["outputs"]["outputFile"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(document if isinstance(document, str) else json.dumps(document))
"""
DATASET = {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}


def _task(script, outputs=(), inputs=None, parameters=None, output_parameters=()):
    return {
        "script": textwrap.dedent(script),
        "outputs": list(outputs),
        "inputs": inputs or {},
        "parameters": parameters or {},
        "output_parameters": list(output_parameters),
    }


def _package(tmp_path, tasks, pipeline_name="toy", root_parameters=None):
    components, executors, dag = {}, {}, {}
    for name, task in tasks.items():
        component = {"executorLabel": f"exec-{name}"}
        if task["outputs"] or task["output_parameters"]:
            component["outputDefinitions"] = {
                "artifacts": {key: {"artifactType": DATASET} for key in task["outputs"]},
                "parameters": {k: {"parameterType": "STRING"} for k in task["output_parameters"]},
            }
        if task["inputs"] or task["parameters"]:
            component["inputDefinitions"] = {
                "artifacts": {key: {"artifactType": DATASET} for key in task["inputs"]},
                "parameters": {k: {"parameterType": "STRING"} for k in task["parameters"]},
            }
        components[f"comp-{name}"] = component
        executors[f"exec-{name}"] = {
            "container": {
                "image": "toy:1",
                "command": ["python", "-c", PRELUDE + task["script"], "{{$}}"],
            }
        }
        inputs = {}
        if task["inputs"]:
            inputs["artifacts"] = {
                key: {"taskOutputArtifact": {"producerTask": p, "outputArtifactKey": k}}
                for key, (p, k) in task["inputs"].items()
            }
        if task["parameters"]:
            inputs["parameters"] = task["parameters"]
        dag[name] = {"taskInfo": {"name": name}, "componentRef": {"name": f"comp-{name}"}}
        if inputs:
            dag[name]["inputs"] = inputs
    spec = {
        "pipelineInfo": {"name": pipeline_name},
        "schemaVersion": "2.1.0",
        "sdkVersion": "test",
        "components": components,
        "deploymentSpec": {"executors": executors},
        "root": {"dag": {"tasks": dag}},
    }
    if root_parameters:
        spec["root"]["inputDefinitions"] = {"parameters": root_parameters}
    path = tmp_path / "package.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _emulate(tmp_path, package, params=()):
    out = io.StringIO()
    try:
        return run.emulate(str(package), str(tmp_path / "emu"), list(params), out=out), ""
    except PipelineFailed as e:
        return None, str(e)


def _log(tmp_path, task):
    (path,) = (tmp_path / "emu" / "logs").glob(f"*-{task}.log")
    return path.read_text()


def test_an_unknown_field_in_the_executor_output_fails_the_task(tmp_path):
    # launcher_v2.go: getExecutorOutputFile uses protojson.Unmarshal, which is strict.
    package = _package(tmp_path, {"A": _task('write_output({"parameterValues": {}, "extra": 1})')})
    run, error = _emulate(tmp_path, package)
    assert run is None and error.startswith("task A failed")
    assert "failed to unmarshal executor output file" in _log(tmp_path, "A")
    assert "extra" in _log(tmp_path, "A")


def test_a_uri_written_back_outside_the_pipeline_root_fails_the_upload(tmp_path):
    # objectstore/config.go: KeyFromURI against the pipeline root's bucket and prefix.
    script = """
    uri = "minio://mlpipeline/elsewhere/x"
    os.makedirs(local(uri)); open(local(uri) + "/f", "w").write("x")
    write_output({"artifacts": {"out": {"artifacts": [{"uri": uri}]}}})
    """
    package = _package(tmp_path, {"A": _task(script, outputs=["out"])})
    run, error = _emulate(tmp_path, package)
    assert run is None
    assert 'does not have expected bucket prefix "minio://mlpipeline/v2/artifacts"' in _log(
        tmp_path, "A"
    )
    assert not (tmp_path / "emu" / "object_store" / "mlpipeline" / "elsewhere").exists()


def test_a_local_path_written_back_is_recorded_but_not_uploaded(tmp_path):
    # launcher_v2.go: uploadOutputArtifacts only warns; the task succeeds, the URI is kept.
    script = """
    write_output({"artifacts": {"out": {"artifacts": [{"uri": "/minio/mlpipeline/v2/x"}]}}})
    """
    consumer = """
    uri = executor_input["inputs"]["artifacts"]["data"]["artifacts"][0]["uri"]
    sys.exit(0 if uri.startswith("minio://") else "input data is at " + uri)
    """
    package = _package(
        tmp_path,
        {
            "A": _task(script, outputs=["out"]),
            "B": _task(consumer, inputs={"data": ("A", "out")}),
        },
    )
    run, error = _emulate(tmp_path, package)
    assert "Skipping uploading to remote storage" in _log(tmp_path, "A")
    assert error.startswith("task B failed")  # the consumer, not the producer
    assert "input data is at /minio/mlpipeline/v2/x" in _log(tmp_path, "B")


def test_a_symbolic_link_in_an_output_fails_the_upload_and_copies_nothing(tmp_path):
    secret = tmp_path / "host-secret"
    secret.write_text("not for the store")
    script = f"""
    path = local(output("out")["uri"])
    os.makedirs(path)
    open(path + "/real", "w").write("data")
    os.symlink({str(secret)!r}, path + "/link")
    write_output({{}})
    """
    package = _package(tmp_path, {"A": _task(script, outputs=["out"])})
    run, error = _emulate(tmp_path, package)
    assert run is None
    assert "is a symbolic link" in _log(tmp_path, "A")
    store = tmp_path / "emu" / "object_store"
    assert not [p for p in store.rglob("*") if p.is_file() and p.read_text() == secret.read_text()]


def test_empty_folders_are_not_kept_in_the_store(tmp_path):
    script = """
    path = local(output("out")["uri"])
    os.makedirs(path + "/empty")
    os.makedirs(path + "/full")
    open(path + "/full/f", "w").write("x")
    """
    package = _package(tmp_path, {"A": _task(script, outputs=["out"])})
    run, _ = _emulate(tmp_path, package)
    store = EmulatorStore(str(tmp_path / "emu" / "metadata.db"))
    (artifact,) = store.task_outputs(run.run_id, "A")["out"]
    folder = object_path(str(tmp_path / "emu" / "object_store"), artifact["uri"])
    assert os.listdir(folder) == ["full"]


def test_output_parameters_reach_the_consumer_and_placeholders_are_whole_values(tmp_path):
    producer = """
    write_output({"parameterValues": {"digest": "ab12"}})
    """
    consumer = """
    values = executor_input["inputs"]["parameterValues"]
    assert values == {"digest": "ab12", "task": "B", "text": "x-{{$.pipeline_task_name}}"}, values
    """
    package = _package(
        tmp_path,
        {
            "A": _task(producer, output_parameters=["digest"]),
            "B": _task(
                consumer,
                parameters={
                    "digest": {
                        "taskOutputParameter": {"producerTask": "A", "outputParameterKey": "digest"}
                    },
                    "task": {"runtimeValue": {"constant": "{{$.pipeline_task_name}}"}},
                    "text": {"runtimeValue": {"constant": "x-{{$.pipeline_task_name}}"}},
                },
            ),
        },
    )
    run, error = _emulate(tmp_path, package)
    assert error == "" and run.state == "succeeded"


def test_a_missing_component_input_parameter_is_an_error(tmp_path):
    # resolve.go: "parent DAG does not have input parameter".
    task = _task("pass", parameters={"x": {"componentInputParameter": "nowhere"}})
    package = _package(tmp_path, {"A": task})
    with pytest.raises(UserError, match="task A: parent DAG does not have input parameter nowhere"):
        _emulate(tmp_path, package)


@pytest.mark.parametrize(
    "pipeline_name, task_name, message",
    [
        ("../../tmp/x", "A", "pipeline name '../../tmp/x' must be"),
        ("Toy", "A", "pipeline name 'Toy' must be"),
        ("toy", "../A", "task name '../A' must be"),
        ("toy", "a/b", "task name 'a/b' must be"),
    ],
)
def test_names_that_would_leave_the_output_folder_are_refused(
    tmp_path, pipeline_name, task_name, message
):
    package = _package(tmp_path, {task_name: _task("pass")}, pipeline_name=pipeline_name)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(".", r"\.")):
        _emulate(tmp_path, package)
    assert not (tmp_path / "emu").exists()


def test_an_output_type_without_a_title_is_refused(tmp_path):
    # metadata/client.go: SchemaToArtifactType ends the launcher with "No title specified".
    package = _package(tmp_path, {"A": _task("pass", outputs=["out"])})
    spec = yaml.safe_load(package.read_text())
    spec["components"]["comp-A"]["outputDefinitions"]["artifacts"]["out"]["artifactType"] = {
        "instanceSchema": "type: object"
    }
    package.write_text(yaml.safe_dump(spec))
    with pytest.raises(UserError, match="component comp-A, output out: No title specified"):
        _emulate(tmp_path, package)


def test_an_object_uri_in_an_importer_cannot_leave_the_store(tmp_path):
    package = _package(tmp_path, {"A": _task("pass")})
    spec = yaml.safe_load(package.read_text())
    spec["components"]["comp-I"] = {
        "executorLabel": "exec-I",
        "outputDefinitions": {"artifacts": {"data": {"artifactType": DATASET}}},
    }
    spec["deploymentSpec"]["executors"]["exec-I"] = {
        "importer": {"artifactUri": {"constant": "minio://mlpipeline//etc"}, "typeSchema": DATASET}
    }
    spec["root"]["dag"]["tasks"]["I"] = {
        "taskInfo": {"name": "I"},
        "componentRef": {"name": "comp-I"},
    }
    package.write_text(yaml.safe_dump(spec))
    with pytest.raises(UserError, match="minio://mlpipeline//etc is not a valid object URI"):
        _emulate(tmp_path, package)


def test_the_executor_output_golden_file_parses(tmp_path):
    """What the kubetfx entrypoint writes (golden) passes the launcher's strict parse."""
    golden = {
        "artifacts": {
            "examples": {
                "artifacts": [
                    {
                        "uri": "minio://mlpipeline/v2/artifacts/p/r/CsvExampleGen/u/examples",
                        "metadata": {"split_names": '["train", "eval"]', "span": 0.0},
                    }
                ]
            }
        }
    }
    text = json.dumps(golden)
    assert launcher.parse_executor_output(text, "f") == golden
    with pytest.raises(launcher.LaunchFailed, match="failed to unmarshal"):
        launcher.parse_executor_output(json.dumps({**golden, "artifact": {}}), "f")


def test_the_spec_and_platform_spec_parse_strictly_as_the_api_server_parses_them(tmp_path):
    # apiserver/template/v2_template.go: protojson.Unmarshal of both documents.
    package = _package(tmp_path, {"A": _task("pass")})
    spec = yaml.safe_load(package.read_text())
    spec["root"]["dag"]["tasks"]["A"]["retryPolicy"] = {"maxRetryCount": "many"}
    package.write_text(yaml.safe_dump(spec))
    with pytest.raises(UserError, match="invalid pipeline spec: .*maxRetryCount"):
        _emulate(tmp_path, package)
    del spec["root"]["dag"]["tasks"]["A"]["retryPolicy"]
    platform = {"platforms": {"kubernetes": {"deploymentSpec": {"executor": {}}}}}
    package.write_text(yaml.safe_dump_all([spec, platform]))
    with pytest.raises(UserError, match="invalid platform spec: .*executor"):
        _emulate(tmp_path, package)


def test_executions_are_recorded_as_the_backend_records_them(tmp_path):
    package = _package(tmp_path, {"A": _task("pass", outputs=["out"])})
    run, _ = _emulate(tmp_path, package)
    store = EmulatorStore(str(tmp_path / "emu" / "metadata.db"))
    (execution,) = store.store.get_executions()
    assert execution.custom_properties["display_name"].string_value == "A"
    (artifact,) = store.task_outputs(run.run_id, "A")["out"]
    session = json.loads(artifact["metadata"]["store_session_info"])
    assert session["Provider"] == "minio"
    assert session["Params"]["secretName"] == "mlpipeline-minio-artifact"


def _emulator(tmp_path, package, parallelism):
    return run.Emulator(
        str(package), str(tmp_path / "emu"), parallelism=parallelism, out=io.StringIO()
    )


# Each task marks that it started, then waits for the other's mark: both
# finish only if they run at the same time.
MEET = """
import pathlib, time
folder = pathlib.Path(executor_input["inputs"]["parameterValues"]["folder"])
(folder / "{me}").touch()
deadline = time.monotonic() + 30
while not (folder / "{other}").exists():
    if time.monotonic() > deadline:
        sys.exit("{other} did not start while {me} ran")
    time.sleep(0.05)
"""


def test_independent_tasks_run_at_the_same_time(tmp_path):
    # Argo starts every task whose dependencies are done; so does the emulator.
    folder = {"folder": {"runtimeValue": {"constant": str(tmp_path)}}}
    tasks = {
        "A": _task(MEET.format(me="A", other="B"), parameters=folder),
        "B": _task(MEET.format(me="B", other="A"), parameters=folder),
    }
    result = _emulator(tmp_path, _package(tmp_path, tasks), parallelism=2).run()
    assert result.state == "succeeded", [_log(tmp_path, t) for t in "AB"]


def test_a_failed_task_stops_every_task_not_yet_started(tmp_path):
    # argocompiler/dag.go leaves failFast unset, and Argo's default is true: after
    # a failure no task starts, and the tasks already running finish.
    tasks = {
        "A": _task("sys.exit('A broke')"),
        "B": _task("pass"),  # after A
        "C": _task("import time; time.sleep(3)"),  # running when A fails
        "D": _task("pass"),  # after C
        "E": _task("pass"),  # independent, but waits for a free slot
    }
    package = _package(tmp_path, tasks)
    spec = yaml.safe_load(package.read_text())
    spec["root"]["dag"]["tasks"]["B"]["dependentTasks"] = ["A"]
    spec["root"]["dag"]["tasks"]["D"]["dependentTasks"] = ["C"]
    package.write_text(yaml.safe_dump(spec))
    result = _emulator(tmp_path, package, parallelism=2).run()
    assert result.state == "failed"
    assert {t.name: t.state for t in result.tasks} == {
        "A": "failed",
        "B": "not run",
        "C": "complete",
        "D": "not run",
        "E": "not run",
    }
    assert "A broke" in _log(tmp_path, "A")


def test_docker_cannot_stage_for_a_volume_mounted_where_the_launcher_stages():
    work = {"pvcMount": [{"constant": "kubetfx-beam-work", "mountPath": "/minio"}]}
    serving = {"pvcMount": [{"constant": "kubetfx-serving", "mountPath": "/serving"}]}
    executors = {"Transform_executor": work, "Pusher_executor": serving}
    mounted = {"platforms": {"kubernetes": {"deploymentSpec": {"executors": executors}}}}
    with pytest.raises(UserError, match="Transform_executor mounts a volume at /minio"):
        run._check_docker_can_stage(mounted)
    del executors["Transform_executor"]
    run._check_docker_can_stage(mounted)  # the serving volume is elsewhere
