"""The choice stage of ``model.algorithm: auto``: the best candidate goes on.

Each candidate algorithm is a Trainer of its own (``candidate_node``:
TrainerLinear, TrainerWideAndDeep, ...), all given the one Transform's outputs.
A candidate's ``run_fn`` scores its model on the whole eval split with the
gate's metric and writes the score into the model (``SCORE_FILE``).
AlgorithmChoice reads the scores, keeps the best model (on a tie to four
decimals, the one that trained faster), copies it to its own ``model`` output
for the Evaluator and the Pusher, and records the whole table on that output
as the ``choice`` property: each candidate's metric, training time and model
size, and why the winner won. components/candidates.py holds that record and
the ranking; ``status``, ``report``, ``compare``, the KFP dashboard and later
runs read the record from there.
"""

import json
import os
from typing import Any

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import io_utils, path_utils

from kubetfx.components.candidates import (
    ALGORITHM_PROPERTY,
    CHOICE_PROPERTY,
    NODE,
    SCORE_FILE,
    Candidate,
    rank,
)
from kubetfx.components.errors import TaskError


def folder_size(path: str) -> int:
    """Bytes of every file under ``path``."""
    total = 0
    for folder, _, files in fileio.walk(path):
        for name in files:
            total += fileio.stat(os.path.join(folder, name)).length
    return total


def read_candidate(model: types.Artifact, settings: dict[str, Any]) -> Candidate:
    """A candidate Trainer's model, as the choice sees it."""
    serving = path_utils.serving_model_path(model.uri)
    path = os.path.join(serving, SCORE_FILE)
    if not fileio.exists(path):
        raise TaskError(
            f"the candidate {settings['algorithm']}'s model has no score ({path}): it was not "
            "trained as a candidate of algorithm: auto"
        )
    with fileio.open(path) as f:
        score = json.loads(f.read())
    return Candidate(
        algorithm=settings["algorithm"],
        value=float(score["value"]),
        rows=int(score["rows"]),
        train_seconds=float(score["train_seconds"]),
        size_bytes=folder_size(serving),
        settings=settings,
    )


class Executor(base_executor.BaseExecutor):
    """Ranks the candidates and copies the best one's model to the output."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        settings = json.loads(exec_properties["candidates"])
        candidates = [
            read_candidate(artifact_utils.get_single_instance(input_dict[s["algorithm"]]), s)
            for s in settings
        ]
        choice = rank(
            candidates,
            exec_properties["metric"],
            bool(exec_properties["higher_is_better"]),
            exec_properties["project_algorithm"],
        )
        winner = artifact_utils.get_single_instance(input_dict[choice.chosen.algorithm])
        model = artifact_utils.get_single_instance(output_dict["model"])
        io_utils.copy_dir(
            path_utils.serving_model_path(winner.uri), path_utils.serving_model_dir(model.uri)
        )
        model.set_string_custom_property(ALGORITHM_PROPERTY, choice.chosen.algorithm)
        model.set_string_custom_property(CHOICE_PROPERTY, choice.to_json())
        logging.info("Chose %s: %s.", choice.chosen.algorithm, choice.reason)


def AlgorithmChoice(  # noqa: N802 - a component, named as TFX's are
    models: dict[str, types.BaseChannel],
    candidates: list[dict[str, Any]],
    metric: str,
    higher_is_better: bool,
    project_algorithm: str,
) -> base_component.BaseComponent:
    """The choice among ``models`` (algorithm -> its Trainer's model), with id ``NODE``.

    ``candidates`` are the candidates' settings, in the project file's order.
    The inputs are named after the algorithms, so the component's spec is made
    for the candidates at hand.
    """
    spec_class = type(
        "AlgorithmChoiceSpec",
        (types.ComponentSpec,),
        {
            "PARAMETERS": {
                "candidates": ExecutionParameter(type=str),
                "metric": ExecutionParameter(type=str),
                "higher_is_better": ExecutionParameter(type=int),
                "project_algorithm": ExecutionParameter(type=str),
            },
            "INPUTS": {name: ChannelParameter(type=standard_artifacts.Model) for name in models},
            "OUTPUTS": {"model": ChannelParameter(type=standard_artifacts.Model)},
            "__module__": __name__,
        },
    )
    component_class = type(
        NODE,
        (base_component.BaseComponent,),
        {
            "SPEC_CLASS": spec_class,
            "EXECUTOR_SPEC": executor_spec.ExecutorClassSpec(Executor),
            "__module__": __name__,
        },
    )
    spec = spec_class(
        candidates=json.dumps(candidates),
        metric=metric,
        higher_is_better=int(higher_is_better),
        project_algorithm=project_algorithm,
        model=types.Channel(type=standard_artifacts.Model),
        **models,
    )
    return component_class(spec=spec).with_id(NODE)
