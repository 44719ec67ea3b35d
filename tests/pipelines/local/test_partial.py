"""Partial runs: which components a selection runs, and which earlier run it takes the rest from.

The taxi project's real pipeline is compiled and marked by TFX's own
partial-run code; the earlier runs are real ML Metadata records in TFX's
layout.
"""

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration.portable.tfx_runner import _make_pipeline_proto

from kubetfx.pipelines.definition.pipeline import create_pipeline
from kubetfx.pipelines.definition.selection import Selection
from kubetfx.pipelines.definition.settings import RunSettings
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.history import metadata
from kubetfx.pipelines.local import partial, runner
from tests.conftest import TAXI

DATA_STEPS = ["CsvExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator", "DataGate"]


@pytest.fixture
def settings(tmp_path):
    return RunSettings(output_dir=str(tmp_path)).absolute()


@pytest.fixture
def pipeline(settings):
    return _make_pipeline_proto(create_pipeline(runner.local_data(TAXI), settings))


def _node_ids(pipeline) -> list[str]:
    return [node.pipeline_node.node_info.id for node in pipeline.nodes]


def _record_run(settings, pipeline, run_id: str, succeeded: list[str], failed=()):
    """A run in TFX's layout: its context under the pipeline's, one execution per component."""
    store = metadata.connect(settings.metadata_path, read_only=False)
    ids = {}
    for name in ("pipeline", "pipeline_run", "node"):
        ids[name] = store.put_context_type(metadata_store_pb2.ContextType(name=name))
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="component"))
    name = pipeline.pipeline_info.id
    found = store.get_context_by_type_and_name("pipeline", name)
    pipeline_id = found.id if found else store.put_contexts([_context(ids["pipeline"], name)])[0]
    (run,) = store.put_contexts([_context(ids["pipeline_run"], run_id)])
    store.put_parent_contexts(
        [metadata_store_pb2.ParentContext(child_id=run, parent_id=pipeline_id)]
    )
    states = [(n, metadata_store_pb2.Execution.COMPLETE) for n in succeeded]
    states += [(n, metadata_store_pb2.Execution.FAILED) for n in failed]
    for node_id, state in states:
        node_name = f"{name}.{node_id}"
        node = store.get_context_by_type_and_name("node", node_name)
        node = node.id if node else store.put_contexts([_context(ids["node"], node_name)])[0]
        execution = metadata_store_pb2.Execution(type_id=execution_type, last_known_state=state)
        (execution_id,) = store.put_executions([execution])
        store.put_attributions_and_associations(
            [],
            [
                metadata_store_pb2.Association(context_id=c, execution_id=execution_id)
                for c in (pipeline_id, run, node)
            ],
        )


def _context(type_id: int, name: str):
    return metadata_store_pb2.Context(type_id=type_id, name=name)


def test_to_runs_a_component_and_everything_it_needs_with_no_earlier_run(pipeline, settings):
    plan = partial.mark(pipeline, Selection(to="statisticsgen"), settings.metadata_path)
    assert plan.selection == "--to StatisticsGen"
    assert set(plan.run) == {"CsvExampleGen", "StatisticsGen"}
    assert plan.reused == [] and plan.base_run is None


def test_from_takes_the_earlier_outputs_from_the_newest_run_that_has_them_all(pipeline, settings):
    everything = _node_ids(pipeline)
    _record_run(settings, pipeline, "full", everything)
    _record_run(settings, pipeline, "looked-at-data", ["CsvExampleGen", "StatisticsGen"])

    plan = partial.mark(pipeline, Selection(start="TRAINER"), settings.metadata_path)
    assert plan.selection == "--from Trainer"
    assert plan.run == [n for n in everything if n in ("Trainer", "Evaluator", "Pusher")]
    assert plan.base_run == "full"  # the newer run stopped before Transform
    assert {"Transform", "LatestPushedModel", *DATA_STEPS} <= set(plan.reused)
    assert pipeline.runtime_spec.snapshot_settings.base_pipeline_run_strategy.base_run_id == "full"
    marks = {
        n.pipeline_node.node_info.id: n.pipeline_node.execution_options for n in pipeline.nodes
    }
    assert [n for n in everything if marks[n].run.perform_snapshot] == ["Trainer"]


def test_from_without_a_run_that_has_the_outputs_names_what_is_missing(pipeline, settings):
    with pytest.raises(UserError, match="there is no earlier run in"):
        partial.mark(pipeline, Selection(start="Evaluator"), settings.metadata_path)
    _record_run(settings, pipeline, "stopped", DATA_STEPS, failed=["Transform"])
    with pytest.raises(UserError) as raised:
        partial.mark(_fresh(pipeline), Selection(start="Evaluator"), settings.metadata_path)
    message = str(raised.value)
    assert message.startswith("--from Evaluator takes the outputs of ")
    assert "Transform" in message and "Trainer" in message
    assert "none of the 1 earlier runs" in message and message.endswith("run without --from first")


def test_only_runs_just_the_named_components(pipeline, settings):
    _record_run(settings, pipeline, "full", _node_ids(pipeline))
    plan = partial.mark(pipeline, Selection(only=("evaluator",)), settings.metadata_path)
    assert plan.run == ["Evaluator"] and plan.selection == "--only Evaluator"
    assert "Trainer" in plan.reused and "Pusher" not in plan.reused
    # What lies between two named components and takes the first's outputs runs too:
    # TFX never pairs new outputs with stale ones downstream.
    both = Selection(only=("StatisticsGen", "Evaluator"))
    plan = partial.mark(_fresh(pipeline), both, settings.metadata_path)
    between = {"ExampleValidator", "DataGate", "Transform", "Trainer"}
    assert set(plan.run) == {"StatisticsGen", "Evaluator"} | between
    assert "CsvExampleGen" in plan.reused


def _fresh(pipeline):
    copy = type(pipeline)()
    copy.CopyFrom(pipeline)
    for node in copy.nodes:
        node.pipeline_node.execution_options.ClearField("run")
        node.pipeline_node.execution_options.ClearField("skip")
    return copy


def test_a_name_that_is_no_component_lists_the_components(pipeline, settings):
    with pytest.raises(UserError) as raised:
        partial.mark(pipeline, Selection(to="Statistics"), settings.metadata_path)
    message = str(raised.value)
    assert message.startswith("--to Statistics: the pipeline has no such component; ")
    assert all(node_id in message for node_id in _node_ids(pipeline))


def test_from_after_to_selects_nothing(pipeline, settings):
    _record_run(settings, pipeline, "full", _node_ids(pipeline))
    selection = Selection(start="Evaluator", to="Transform")
    with pytest.raises(UserError, match="--from Evaluator --to Transform selects no component"):
        partial.mark(pipeline, selection, settings.metadata_path)


def test_no_cache_turns_the_cache_off_for_every_component(pipeline, settings):
    plan = partial.mark(pipeline, Selection(), settings.metadata_path, no_cache=True)
    assert plan.run == _node_ids(pipeline) and plan.selection == ""
    assert not any(
        n.pipeline_node.execution_options.caching_options.enable_cache for n in pipeline.nodes
    )
