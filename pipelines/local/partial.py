"""Partial runs: the components ``--to``, ``--from`` and ``--only`` select.

Built on TFX's own partial runs (``partial_run_utils.mark_pipeline``): the
compiled pipeline is marked with the components to run, and the first of them
copies the outputs of the skipped ones it depends on from an earlier run (the
"snapshot") into the new run, which then records them as cached executions
and names that run as its parent context in ML Metadata.

The earlier run is chosen here, not left to TFX's "latest run": the newest
run in which every component whose outputs are needed succeeded. A run that
stopped at StatisticsGen has no model to evaluate.
"""

import dataclasses

from kubetfx.pipelines.definition.selection import Selection
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.history import metadata


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a marked pipeline will do."""

    selection: str  # Selection.describe() with the components' own names
    run: list[str]  # in pipeline order
    reused: list[str]  # the skipped components whose outputs the run takes
    base_run: str | None  # the run they come from


def mark(pipeline, selection: Selection, metadata_path: str, no_cache: bool = False) -> Plan:
    """Marks the compiled ``pipeline`` (IR) for the selection, in place; what it will do.

    ``no_cache`` makes the selected components execute even where TFX's cache
    holds their outputs. Raises UserError for a name that is not a component,
    and for a run that needs outputs no earlier run has.
    """
    from tfx.orchestration.portable import partial_run_utils
    from tfx.proto.orchestration import pipeline_pb2

    node_ids = [node.pipeline_node.node_info.id for node in pipeline.nodes]
    if no_cache:
        for node in pipeline.nodes:
            node.pipeline_node.execution_options.caching_options.enable_cache = False
    if not selection:
        return Plan("", node_ids, [], None)
    named = selection.named(node_ids)
    start, to, only = named.start, named.to, list(named.only)
    described = named.describe()
    try:
        partial_run_utils.mark_pipeline(
            pipeline,
            from_nodes=only or ([start] if start else None),
            to_nodes=only or ([to] if to else None),
            skip_nodes=[n for n in node_ids if n not in only] if only else None,
        )
    except ValueError as error:  # e.g. --from a component downstream of --to
        raise UserError(f"{described}: {error}") from None
    marks = [node.pipeline_node.execution_options for node in pipeline.nodes]
    options = dict(zip(node_ids, marks, strict=True))
    run = [n for n in node_ids if options[n].HasField("run")]
    if not run:
        raise UserError(f"{described} selects no component: --from comes after --to")
    required_mode = pipeline_pb2.NodeExecutionOptions.Skip.REQUIRED
    required = [n for n in node_ids if options[n].skip.reuse_artifacts_mode == required_mode]
    reused = [n for n in node_ids if partial_run_utils.should_attempt_to_reuse_artifact(options[n])]
    base_run = _base_run(metadata_path, pipeline.pipeline_info.id, required, described)
    if base_run:
        partial_run_utils.set_base_pipeline_run_strategy(
            pipeline.runtime_spec.snapshot_settings, base_run
        )
    return Plan(described, run, reused if base_run else [], base_run)


def _base_run(metadata_path: str, pipeline_name: str, required: list[str], described: str):
    """The newest run in which every ``required`` component succeeded; None if none is needed."""
    ids = []
    if pipeline_name in metadata.recorded_pipelines(metadata_path):
        store = metadata.connect(metadata_path)
        ids = metadata.run_ids(store, pipeline_name)
        for run_id in ids:
            executions = metadata.run_executions(store, run_id)
            succeeded = {e.node_id for e in executions if e.state in metadata.SUCCEEDED}
            if set(required) <= succeeded:
                return run_id
    if not required:
        return None
    earlier = (
        f"none of the {len(ids)} earlier runs in {metadata_path} completed them all"
        if ids
        else f"there is no earlier run in {metadata_path}"
    )
    raise UserError(
        f"{described} takes the outputs of {', '.join(required)} from an earlier run, "
        f"but {earlier}; run without {described.split()[0]} first"
    )
