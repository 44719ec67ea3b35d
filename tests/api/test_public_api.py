"""The public API: what ``kubetfx`` and ``kubetfx.components`` export, and ``extend``."""

import importlib
import subprocess
import sys
from importlib import metadata as importlib_metadata

import pytest

import kubetfx
import kubetfx.components
from kubetfx.pipelines.errors import UserError
from tests.conftest import TAXI


def test_importing_kubetfx_and_its_components_module_imports_neither_tfx_nor_tensorflow():
    code = (
        "import sys, kubetfx, kubetfx.components;"
        "print(sorted(m for m in ('tfx', 'tensorflow', 'apache_beam') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_every_exported_name_resolves_to_what_its_home_module_defines():
    for name in kubetfx.__all__:
        assert getattr(kubetfx, name) is not None
    assert (
        kubetfx.load_project
        is importlib.import_module("kubetfx.pipelines.project.loader").load_project
    )
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        kubetfx.nothing_here  # noqa: B018


def test_the_components_module_exports_tfx_components_executors_and_user_functions():
    from tfx.dsl.components.base import base_component, base_executor

    components = kubetfx.components
    for name in ("DataGate", "LatestPushedModel", "Predictions", "ReviewedSchema", "Tracker"):
        assert issubclass(getattr(components, name), base_component.BaseComponent), name
    for name in ("CsvExampleGenExecutor", "EvaluatorExecutor", "PusherExecutor"):
        assert issubclass(getattr(components, name), base_executor.BaseExecutor), name
    assert components.CsvExampleGenExecutor.__module__ == "kubetfx.components.csv_example_gen"
    for path in (components.PREPROCESSING_FN, components.RUN_FN, components.TUNER_FN):
        module, _, function = path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function)), path
    # A submodule is still imported as one, not mistaken for an exported name.
    from kubetfx.components import project

    assert project.Project is components.Project


def test_the_version_has_one_home_which_the_installed_metadata_and_the_cli_read():
    assert importlib_metadata.version("kubetfx") == kubetfx.__version__
    done = subprocess.run(
        [sys.executable, "-m", "kubetfx", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"kubetfx, version {kubetfx.__version__}"
    from kubetfx.pipelines.kfp.spec import DEFAULT_IMAGE

    assert DEFAULT_IMAGE == f"kubetfx:{kubetfx.__version__}"


def test_the_kubernetes_folder_is_found_where_it_is_installed():
    folder = kubetfx.kubernetes_dir()
    assert (folder / "serving" / "kustomization.yaml").is_file()
    assert (folder / "scripts" / "cluster-up.sh").is_file()
    from kubetfx.pipelines.cli.serving import MANIFESTS

    assert MANIFESTS == str(folder / "serving")


def test_extend_adds_the_users_components_and_may_not_drop_kubetfxs(tmp_path):
    from tfx.components import StatisticsGen

    settings = kubetfx.RunSettings(output_dir=str(tmp_path))

    def add_statistics(components):
        by_id = {node.id: node for node in components}
        extra = StatisticsGen(examples=by_id["Transform"].outputs["transformed_examples"])
        return [*components, extra.with_id("TransformedStatistics")]

    pipeline = kubetfx.create_pipeline(TAXI, settings, extend=add_statistics)
    ids = [node.id for node in pipeline.components]
    plain = [node.id for node in kubetfx.create_components(TAXI, settings)]
    assert set(ids) == {*plain, "TransformedStatistics"}
    assert ids.index("TransformedStatistics") > ids.index("Transform")

    with pytest.raises(UserError, match="extend left out kubetfx's Pusher: return the"):
        kubetfx.create_pipeline(TAXI, settings, extend=lambda nodes: nodes[:-1])


def test_a_pipeline_built_without_settings_keeps_its_outputs_in_kubetfx_output(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    pipeline = kubetfx.create_pipeline(TAXI)
    assert pipeline.pipeline_info.pipeline_root == str(
        tmp_path / "kubetfx_output" / "pipeline_root"
    )
