"""Marking a stopped run's executions in a real ML Metadata store."""

import time

from ml_metadata.proto import metadata_store_pb2

from kubetfx.pipelines.history import metadata

Execution = metadata_store_pb2.Execution


def _run_with_executions(path, states: dict[str, int]) -> dict[str, int]:
    """A TFX-layout store with one run whose nodes are in ``states``; execution ids by node."""
    store = metadata.connect(str(path), read_only=False)
    run_type = store.put_context_type(metadata_store_pb2.ContextType(name="pipeline_run"))
    node_type = store.put_context_type(metadata_store_pb2.ContextType(name="node"))
    execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Component"))
    (run,) = store.put_contexts([metadata_store_pb2.Context(type_id=run_type, name="run-1")])
    ids = {}
    for node, state in states.items():
        (context,) = store.put_contexts(
            [metadata_store_pb2.Context(type_id=node_type, name=f"taxi.{node}")]
        )
        execution = Execution(type_id=execution_type, last_known_state=state)
        (ids[node],) = store.put_executions([execution])
        store.put_attributions_and_associations(
            [],
            [
                metadata_store_pb2.Association(context_id=c, execution_id=ids[node])
                for c in (run, context)
            ],
        )
    return ids


def _states(path) -> dict[int, int]:
    store = metadata.connect(str(path))
    return {e.id: e.last_known_state for e in store.get_executions()}


def test_a_stopped_run_cancels_what_never_finished_and_keeps_what_did(tmp_path):
    path = tmp_path / "metadata.db"
    ids = _run_with_executions(
        path,
        {
            "CsvExampleGen": Execution.CACHED,
            "Transform": Execution.FAILED,
            "Trainer": Execution.NEW,
        },
    )
    assert metadata.cancel_unfinished(str(path), "run-1") == ["Trainer"]
    states = _states(path)
    assert states[ids["Trainer"]] == Execution.CANCELED
    assert states[ids["Transform"]] == Execution.FAILED  # no signal time given: its own failure
    assert states[ids["CsvExampleGen"]] == Execution.CACHED
    assert metadata.cancel_unfinished(str(path), "no-such-run") == []


def test_what_failed_after_the_signal_came_counts_as_stopped(tmp_path):
    path = tmp_path / "metadata.db"
    ids = _run_with_executions(path, {"Transform": Execution.FAILED})
    time.sleep(0.01)
    signal_ms = int(time.time() * 1000)
    time.sleep(0.01)
    store = metadata.connect(str(path), read_only=False)
    trainer_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Trainer"))
    (late,) = store.put_executions(
        [Execution(type_id=trainer_type, last_known_state=Execution.FAILED)]
    )
    run = store.get_context_by_type_and_name("pipeline_run", "run-1")
    store.put_attributions_and_associations(
        [], [metadata_store_pb2.Association(context_id=run.id, execution_id=late)]
    )

    metadata.cancel_unfinished(str(path), "run-1", failed_since_ms=signal_ms)
    states = _states(path)
    assert states[late] == Execution.CANCELED
    assert states[ids["Transform"]] == Execution.FAILED  # failed before the signal


def test_a_tuners_algorithm_is_read_from_its_config_and_older_ones_tuned_the_default():
    def tuner(config: str | None) -> metadata.ExecutionRecord:
        properties = {}
        if config is not None:
            properties["custom_config"] = metadata_store_pb2.Value(string_value=config)
        return metadata.ExecutionRecord("Tuner", 1, "complete", 0, 0, {}, properties)

    forest = '{"model": {"algorithm": "gradient_boosted_trees", "num_trees": 300}}'
    assert metadata.tuned_algorithm(tuner(forest)) == "gradient_boosted_trees"
    assert metadata.tuned_algorithm(tuner('{"model": {"hidden_units": [8]}}')) == "wide_and_deep"
    assert metadata.tuned_algorithm(tuner(None)) == "wide_and_deep"
    assert metadata.tuned_algorithm(tuner("not json")) == "wide_and_deep"
