"""The compiled package: what open-source KFP 2.x needs to accept and run it."""

import json

import pytest
import yaml

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.kfp import package as kfp_package
from kubetfx.pipelines.kfp import parameters as run_parameters
from kubetfx.pipelines.kfp import spec as contract
from kubetfx.pipelines.kfp.compiler import compile_pipeline
from kubetfx.pipelines.project.loader import load_project
from tests.conftest import TAXI, TAXI_DATA_URI


@pytest.fixture(scope="module")
def documents(compiled_package):
    with open(compiled_package) as f:
        return list(yaml.safe_load_all(f))


@pytest.fixture(scope="module")
def pipeline_spec(documents):
    return documents[0]


def test_the_kfp_client_accepts_the_package(compiled_package):
    from kfp.client.client import _extract_pipeline_yaml

    parsed = _extract_pipeline_yaml(str(compiled_package))
    assert parsed.pipeline_spec.schema_version == "2.1.0"
    assert "kubernetes" in parsed.platform_spec.platforms


def test_every_task_runs_the_kubetfx_entrypoint_without_unrunnable_nodes(pipeline_spec):
    executors = pipeline_spec["deploymentSpec"]["executors"]
    assert len(executors) == 10
    for label, executor in executors.items():
        container = executor["container"]  # no resolver or importer
        assert container["command"] == contract.ENTRYPOINT, label
        assert container["image"] == "kubetfx:0.1.0"
        assert "lifecycle" not in container, label
        assert "--json_serialized_inputs_spec_args" in container["args"]


def test_every_task_has_resource_requests_and_limits(pipeline_spec):
    for label, executor in pipeline_spec["deploymentSpec"]["executors"].items():
        resources = executor["container"]["resources"]
        assert resources["cpuRequest"] <= resources["cpuLimit"], label
        assert resources["memoryRequest"] <= resources["memoryLimit"], label
    trainer = pipeline_spec["deploymentSpec"]["executors"]["Trainer_executor"]
    assert trainer["container"]["resources"] == contract.HEAVY_RESOURCES


def test_beam_args_reach_each_executor_once(pipeline_spec):
    executors = pipeline_spec["deploymentSpec"]["executors"]
    for label in ("CsvExampleGen_executor", "StatisticsGen_executor", "Transform_executor"):
        assert executors[label]["container"]["args"].count("--direct_num_workers=1") == 1


def test_per_run_parameters_have_defaults_and_reach_their_tasks(pipeline_spec):
    parameters = pipeline_spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["data_root"]["defaultValue"] == TAXI.project.data  # inside the image
    assert parameters["train_steps"] == {
        "parameterType": "NUMBER_INTEGER",
        "defaultValue": 1000,
        "description": run_parameters.TRAIN_STEPS.description,
        "isOptional": True,
    }
    assert parameters["serving_dir"]["defaultValue"] == contract.SERVING_MOUNT
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    assert set(parameters) == set(run_parameters.PARAMETERS)
    for name, parameter in run_parameters.PARAMETERS.items():
        assert parameters[name]["parameterType"] == parameter.parameter_type
        for task, input_name in parameter.bindings:
            if task == contract.TRACKER_NODE:
                continue  # tracked packages only: test_tracking_compiler.py
            if task in contract.CANDIDATE_TASKS:
                continue  # packages that choose the algorithm: test_choice_compiler.py
            assert tasks[task]["inputs"]["parameters"][input_name] == {
                "componentInputParameter": name
            }
            executor = pipeline_spec["deploymentSpec"]["executors"][f"{task}_executor"]
            args = executor["container"]["args"]
            inputs_spec = json.loads(args[args.index("--json_serialized_inputs_spec_args") + 1])
            assert input_name in inputs_spec["parameters"]


def test_dashboard_views_are_outputs_of_the_tfx_tasks(pipeline_spec):
    components = pipeline_spec["components"]
    views = contract.visualization_outputs(TAXI.project)
    assert views["Evaluator"]["classification_metrics"] == "system.ClassificationMetrics"
    # The predict pipeline's (test_predict_compiler.py), the tuned one's
    # (test_tuning_compiler.py) and the choosing one's (test_choice_compiler.py).
    for other in ("Predictions", "Tuner", "AlgorithmChoice"):
        views.pop(other)
        assert other not in components
    for task, outputs in views.items():
        artifacts = components[task]["outputDefinitions"]["artifacts"]
        for name, title in outputs.items():
            assert artifacts[name]["artifactType"]["schemaTitle"] == title


def test_the_baseline_is_looked_up_on_every_run(pipeline_spec):
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    assert tasks["LatestPushedModel"]["cachingOptions"] == {"enableCache": False}
    assert tasks["Trainer"]["cachingOptions"] == {"enableCache": True}
    assert "DataGate" in tasks["Transform"]["dependentTasks"]


def test_the_serving_volume_is_mounted_where_models_are_read_and_pushed(documents):
    executors = documents[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"LatestPushedModel_executor", "Pusher_executor"}
    for executor in executors.values():
        assert executor["pvcMount"] == [
            {"constant": contract.SERVING_PVC, "mountPath": contract.SERVING_MOUNT}
        ]


def test_the_emulator_refuses_what_the_backend_refuses(pipeline_spec):
    old = {**pipeline_spec, "schemaVersion": "2.0.0"}
    with pytest.raises(
        UserError,
        match="KFP only supports schema version 2.1.0, but the pipeline spec has version 2.0.0",
    ):
        kfp_package.check_spec(old)
    with_resolver = json.loads(json.dumps(pipeline_spec))
    with_resolver["deploymentSpec"]["executors"]["Trainer_executor"] = {
        "resolver": {"outputArtifactQueries": {}}
    }
    with pytest.raises(UserError, match="non-container and non-importer executor not implemented"):
        kfp_package.check_spec(with_resolver)


@pytest.fixture(scope="module")
def store_spec(object_store_package):
    with open(object_store_package) as f:
        return next(yaml.safe_load_all(f))


def test_object_store_data_is_imported_and_staged_by_the_launcher(store_spec, object_store_package):
    from kfp.client.client import _extract_pipeline_yaml

    tasks = store_spec["root"]["dag"]["tasks"]
    parameters = store_spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["data_root"]["defaultValue"] == TAXI_DATA_URI
    # importer_launcher.go: the URI is the task's input "uri", from the run's data_root.
    assert tasks["Data"]["inputs"]["parameters"] == {
        "uri": {"componentInputParameter": "data_root"}
    }
    importer = store_spec["deploymentSpec"]["executors"]["Data_executor"]["importer"]
    assert importer["artifactUri"] == {"runtimeParameter": "uri"}
    assert importer["typeSchema"]["schemaTitle"] == "system.Dataset"
    assert not importer.get("reimport")  # one artifact per URI: the fingerprint keys the cache
    example_gen = tasks["CsvExampleGen"]
    assert example_gen["inputs"]["artifacts"]["data"] == {
        "taskOutputArtifact": {"producerTask": "Data", "outputArtifactKey": "data"}
    }
    assert example_gen["inputs"]["parameters"]["data_fingerprint"] == {
        "taskOutputParameter": {
            "producerTask": "DataFingerprint",
            "outputParameterKey": "fingerprint",
        }
    }
    assert "componentInputParameter" not in json.dumps(example_gen["inputs"]["parameters"])
    assert example_gen["cachingOptions"] == {"enableCache": True}
    assert "cachingOptions" not in tasks["DataFingerprint"]  # hashes the files on every run
    fingerprint = store_spec["deploymentSpec"]["executors"]["DataFingerprint_executor"]
    assert fingerprint["container"]["command"] == contract.FINGERPRINT_COMMAND
    assert fingerprint["container"]["resources"] == contract.LIGHT_RESOURCES
    order = kfp_package.topological_order(tasks)
    assert order.index("Data") < order.index("DataFingerprint") < order.index("CsvExampleGen")
    parsed = _extract_pipeline_yaml(str(object_store_package))
    assert "Data" in parsed.pipeline_spec.root.dag.tasks


def test_data_root_must_match_how_the_package_reads_its_data(pipeline_spec, store_spec):
    assert kfp_package.parse_params([f"data_root={TAXI_DATA_URI}x/"], store_spec) == {
        "data_root": f"{TAXI_DATA_URI}x/"
    }
    with pytest.raises(
        UserError, match="is not in the object store, where this package reads its data"
    ):
        kfp_package.parse_params(["data_root=/home/me/data"], store_spec)
    with pytest.raises(UserError, match="compile it with --data minio://b/d/"):
        kfp_package.parse_params(["data_root=minio://b/d/"], pipeline_spec)


@pytest.mark.parametrize("value", ["/models", "/serving-old", "/serving/../tmp", "serving"])
def test_a_serving_dir_outside_the_mounted_volume_is_refused(pipeline_spec, value):
    with pytest.raises(UserError, match=f"serving_dir={value} is outside the serving volume"):
        kfp_package.parse_params([f"serving_dir={value}"], pipeline_spec)


def test_compile_refuses_a_serving_dir_outside_the_volume_before_compiling(tmp_path):
    with pytest.raises(UserError, match="--serving-dir /models is outside the serving volume"):
        compile_pipeline(TAXI, str(tmp_path / "pipeline.yaml"), serving_dir="/models")
    assert not (tmp_path / "pipeline.yaml").exists()


def test_a_serving_dir_inside_the_volume_is_taken(pipeline_spec):
    for value in ("/serving", "/serving/taxi", "/serving/taxi/"):
        assert kfp_package.parse_params([f"serving_dir={value}"], pipeline_spec) == {
            "serving_dir": value
        }


def test_data_only_this_machine_can_read_is_refused_at_compile(tmp_path):
    loaded = _project(tmp_path)
    with pytest.raises(UserError, match="the project's data .* is not where a cluster's tasks"):
        compile_pipeline(loaded, str(tmp_path / "pipeline.yaml"))
    with pytest.raises(UserError, match="--data s3:/x is not where"):
        compile_pipeline(loaded, str(tmp_path / "pipeline.yaml"), data="s3:/x")
    assert not (tmp_path / "pipeline.yaml").exists()


def test_parameters_are_typed_and_checked(pipeline_spec):
    assert kfp_package.parse_params(["train_steps=20", "data_root=/d"], pipeline_spec) == {
        "train_steps": 20,
        "data_root": "/d",
    }
    with pytest.raises(UserError, match="needs a NUMBER_INTEGER value"):
        kfp_package.parse_params(["train_steps=many"], pipeline_spec)
    with pytest.raises(UserError, match="epochs is not a parameter"):
        kfp_package.parse_params(["epochs=3"], pipeline_spec)
    # The bounds of the project setting the parameter replaces.
    with pytest.raises(UserError, match="train_steps=0: Input should be greater than or equal"):
        kfp_package.parse_params(["train_steps=0"], pipeline_spec)
    with pytest.raises(UserError, match="train_steps=20000000: .* less than or equal to 10000000"):
        kfp_package.parse_params(["train_steps=20000000"], pipeline_spec)
    with pytest.raises(UserError, match="needs a NUMBER_INTEGER value, got '2.5'"):
        kfp_package.parse_params(["train_steps=2.5"], pipeline_spec)


def test_tasks_run_after_what_they_depend_on(pipeline_spec):
    order = kfp_package.topological_order(pipeline_spec["root"]["dag"]["tasks"])
    assert order.index("CsvExampleGen") < order.index("StatisticsGen") < order.index("DataGate")
    assert order.index("DataGate") < order.index("Transform") < order.index("Trainer")
    assert order.index("LatestPushedModel") < order.index("Evaluator") < order.index("Pusher")


def test_the_repeated_beam_args_block_is_kept_once_with_its_values():
    from kubetfx.pipelines.kfp.compiler import _without_repeated_beam_args

    named = ["--executor_class_path", "a.B", "--json_serialized_invocation_args", "{{$}}"]
    beam = ["--direct_num_workers", "2", "--sdk_worker_parallelism", "2"]
    assert _without_repeated_beam_args(named + beam + beam) == named + beam
    assert _without_repeated_beam_args(named + beam) == named + beam


def test_an_unknown_dependency_is_named():
    tasks = {"A": {"dependentTasks": ["Nope"]}}
    with pytest.raises(UserError, match="task A depends on Nope, which is not a task"):
        kfp_package.topological_order(tasks)


REGRESSION = """\
name: tiny-regression
data: data
schema: schema.pbtxt
label: {column: "y (units)", task: regression}
features: {x: standardize, kind: vocabulary}
training: {train_steps: 30}
evaluation: {gate: {metric: mean_absolute_error, threshold: 2}}
"""


def _project(tmp_path, text=REGRESSION):
    (tmp_path / "schema.pbtxt").write_text(
        'feature { name: "x" type: FLOAT }\nfeature { name: "kind" type: BYTES }\n'
        'feature { name: "y (units)" type: FLOAT }\n'
    )
    (tmp_path / "kubetfx.yaml").write_text(text)
    return load_project(str(tmp_path))


def _exec_property(spec, task, name):
    component = spec["components"][spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]]
    return component["inputDefinitions"]["parameters"][name], spec["root"]["dag"]["tasks"][task][
        "inputs"
    ]["parameters"][name]["runtimeValue"]["constant"]


def test_any_project_compiles_with_its_settings_and_schema_inside(tmp_path):
    loaded = _project(tmp_path)
    data = "minio://mlpipeline/datasets/tiny/"
    spec = compile_pipeline(loaded, str(tmp_path / "pipeline.yaml"), data=data)
    assert spec["pipelineInfo"]["name"] == "tiny-regression"
    _, schema_text = _exec_property(spec, "ImportSchemaGen", "schema_text")
    assert schema_text == loaded.schema_text  # the stock image needs no file of the project
    _, custom_config = _exec_property(spec, "Transform", "custom_config")
    assert json.loads(custom_config)["preparation"] == loaded.project.preparation().model_dump(
        mode="json"
    )
    parameters = spec["root"]["inputDefinitions"]["parameters"]
    assert parameters["train_steps"]["defaultValue"] == 30
    assert parameters["data_root"]["defaultValue"] == data
    evaluator = spec["components"][
        spec["root"]["dag"]["tasks"]["Evaluator"]["componentRef"]["name"]
    ]
    assert "classification_metrics" not in evaluator["outputDefinitions"]["artifacts"]
    assert "metrics" in evaluator["outputDefinitions"]["artifacts"]


def test_a_project_with_its_own_code_needs_an_image_that_holds_it(tmp_path):
    (tmp_path / "my_model.py").write_text("def run_fn(fn_args):\n    pass\n")
    loaded = _project(tmp_path, REGRESSION + "code: {run_fn: my_model.py:run_fn}\n")
    with pytest.raises(UserError, match="runs its own code .*my_model.py.*pass --image"):
        compile_pipeline(loaded, str(tmp_path / "pipeline.yaml"))
    assert not (tmp_path / "pipeline.yaml").exists()
    spec = compile_pipeline(
        loaded,
        str(tmp_path / "pipeline.yaml"),
        image="mine:1",
        custom_image=True,
        data="minio://mlpipeline/datasets/tiny/",
    )
    _, run_fn = _exec_property(spec, "Trainer", "run_fn")
    assert run_fn == "my_model.run_fn"
    executor = spec["deploymentSpec"]["executors"]["Trainer_executor"]["container"]
    assert executor["image"] == "mine:1"


def test_every_task_carries_the_digest_of_the_code_it_runs(pipeline_spec, store_spec):
    from kubetfx.pipelines.kfp.compiler import code_digest

    digest = code_digest()
    assert len(digest) == 16 and int(digest, 16) >= 0
    for spec in (pipeline_spec, store_spec):
        for executor in spec["deploymentSpec"]["executors"].values():
            if "container" in executor:
                assert executor["container"]["args"][-2:] == [contract.CODE_DIGEST_ARG, digest]


def test_compile_takes_the_training_options_of_run(tmp_path):
    from click.testing import CliRunner

    from kubetfx.pipelines.cli import cli

    output = tmp_path / "pipeline.yaml"
    result = CliRunner().invoke(
        cli, ["compile", "--output", str(output), "--train-steps", "20000000"]
    )
    assert result.exit_code == 2
    assert "--train-steps" in result.output and "10000000" in result.output
    assert not output.exists()
    args = ["compile", "--output", str(output), "--train-steps", "37", "--eval-steps", "5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (spec, _) = kfp_package.load_package(str(output))
    assert spec["root"]["inputDefinitions"]["parameters"]["train_steps"]["defaultValue"] == 37
    eval_args = spec["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]["eval_args"]
    assert json.loads(eval_args["runtimeValue"]["constant"]) == {"num_steps": 5}


def test_a_vertex_pipeline_loads_into_an_aiplatform_pipeline_job(tmp_path):
    """compile --target vertex: one YAML document that PipelineJob loads (built offline)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    output = tmp_path / "vertex.yaml"
    image = "us-docker.pkg.dev/p/r/kubetfx@sha256:" + "0" * 64
    compile_pipeline(
        TAXI,
        str(output),
        image=image,
        custom_image=True,
        pipeline_root="gs://bucket/root",
        data="gs://bucket/datasets/taxi/",
        target="vertex",
    )
    (spec,) = yaml.safe_load_all(output.read_text())  # no platform spec
    assert spec["defaultPipelineRoot"] == "gs://bucket/root"
    defaults = {
        k: v["defaultValue"] for k, v in spec["root"]["inputDefinitions"]["parameters"].items()
    }
    assert defaults["serving_dir"] == "gs://bucket/root/serving"
    job = aiplatform.PipelineJob(
        display_name="taxi",
        template_path=str(output),
        project="test-project",
        location="us-central1",
        credentials=AnonymousCredentials(),  # nothing is sent to Google
        parameter_values={"train_steps": 100, "data_root": "gs://bucket/datasets/new/"},
        job_id="kubetfx-taxi-test",
    )
    loaded = job.to_dict()
    assert loaded["runtimeConfig"]["gcsOutputDirectory"] == "gs://bucket/root"
    assert loaded["runtimeConfig"]["parameterValues"]["data_root"] == "gs://bucket/datasets/new/"
    tasks = loaded["pipelineSpec"]["root"]["dag"]["tasks"]
    assert {"Data", "DataFingerprint", "CsvExampleGen", "Pusher"} <= set(tasks)
    executors = loaded["pipelineSpec"]["deploymentSpec"]["executors"]
    assert executors["Data_executor"]["importer"]["artifactUri"] == {"runtimeParameter": "uri"}
    assert all(e["container"]["image"] == image for e in executors.values() if "container" in e)
    # A Vertex package is not one the KFP backend can run: the serving volume is absent.
    with pytest.raises(UserError, match="this package was compiled for Vertex AI"):
        kfp_package.root_parameters(spec, {})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"pipeline_root": "minio://mlpipeline/v2"}, "needs a gs:// --pipeline-root"),
        ({"data": "minio://mlpipeline/datasets/taxi/"}, "reads data from gs:// folders"),
        ({"custom_image": False}, "--target vertex needs --image"),
        ({"serving_dir": "/serving"}, "--serving-dir /serving is not a gs:// folder"),
    ],
)
def test_a_vertex_pipeline_needs_cloud_storage_and_a_registry_image(tmp_path, options, message):
    arguments = {
        "image": "gcr.io/p/kubetfx:1",
        "custom_image": True,
        "pipeline_root": "gs://bucket/root",
        "target": "vertex",
        **options,
    }
    with pytest.raises(UserError, match=message):
        compile_pipeline(TAXI, str(tmp_path / "vertex.yaml"), **arguments)
    assert not (tmp_path / "vertex.yaml").exists()


def test_a_flink_package_sends_the_beam_tasks_to_the_overlays_job_server(tmp_path):
    """compile --beam-runner flink: the Beam tasks' flags, and the work volume they share."""
    from kfp.client.client import _extract_pipeline_yaml

    from kubetfx.pipelines.definition.engine import FLINK_JOB_ENDPOINT
    from tests.conftest import run_kubetfx

    output = tmp_path / "flink.yaml"
    result = run_kubetfx(
        "compile", "--output", str(output), "--beam-runner", "flink", "--parallelism", "2",
        "--beam-args", "--max_parallelism=8",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    spec, platform = yaml.safe_load_all(output.read_text())
    beam_tasks = {"CsvExampleGen", "StatisticsGen", "Transform", "Evaluator"}
    for label, executor in spec["deploymentSpec"]["executors"].items():
        args = executor["container"]["args"]
        if label.removesuffix("_executor") in beam_tasks:
            for flag in (
                "--runner=FlinkRunner",
                f"--job_endpoint={FLINK_JOB_ENDPOINT}",
                "--environment_type=EXTERNAL",
                "--environment_config=localhost:50000",
                "--parallelism=2",
                "--max_parallelism=8",
            ):
                assert args.count(flag) == 1, (label, flag)
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    work = {"constant": contract.BEAM_WORK_PVC, "mountPath": "/minio"}  # the launcher's staging
    for task in beam_tasks:
        assert executors[f"{task}_executor"]["pvcMount"] == [work], task
    assert "Trainer_executor" not in executors  # no Beam: the volume is not its
    assert executors["Pusher_executor"]["pvcMount"] == [
        {"constant": contract.SERVING_PVC, "mountPath": contract.SERVING_MOUNT}
    ]
    assert "kubernetes" in _extract_pipeline_yaml(str(output)).platform_spec.platforms


def test_engines_a_package_cannot_use_are_refused(tmp_path):
    from tests.conftest import run_kubetfx

    output = tmp_path / "spark.yaml"
    result = run_kubetfx("compile", "--output", str(output), "--beam-runner", "spark")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "kubetfx: error: --beam-runner spark in a compiled pipeline needs --job-endpoint: the "
        "Spark job server's address as the pipeline's tasks reach it"
    )
    assert not output.exists()
    with pytest.raises(UserError, match="--target vertex runs the Beam steps in its own tasks"):
        compile_pipeline(
            TAXI,
            str(tmp_path / "vertex.yaml"),
            image="us-docker.pkg.dev/p/r/kubetfx:1",
            custom_image=True,
            pipeline_root="gs://bucket/root",
            data="gs://bucket/datasets/taxi/",
            target="vertex",
            beam_args=("--runner=FlinkRunner", "--job_endpoint=x:8099"),
        )


def test_a_dataflow_package_keeps_its_artifacts_in_cloud_storage(tmp_path):
    from kubetfx.pipelines.definition.engine import Engine

    flags = Engine(
        "dataflow",
        gcp_project="my-project",
        region="europe-west1",
        temp_location="gs://bucket/tmp",
        worker_image="europe-docker.pkg.dev/my-project/ml/kubetfx:0.1.0",
    ).beam_args(compiled=True)
    with pytest.raises(UserError, match="give a gs:// --pipeline-root, got minio://"):
        compile_pipeline(TAXI, str(tmp_path / "minio.yaml"), beam_args=flags)
    spec = compile_pipeline(
        TAXI,
        str(tmp_path / "dataflow.yaml"),
        pipeline_root="gs://bucket/root",
        data="gs://bucket/datasets/taxi/",
        beam_args=flags,
    )
    args = spec["deploymentSpec"]["executors"]["Transform_executor"]["container"]["args"]
    assert "--runner=DataflowRunner" in args and "--project=my-project" in args
    _, platform = yaml.safe_load_all((tmp_path / "dataflow.yaml").read_text())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert "Transform_executor" not in executors  # the work volume is for job services
