"""The candidates of ``model.algorithm: auto``, their ranking and the record of the choice.

What the choice stage (components/algorithm_choice.py) writes and what
``status``, ``report``, ``compare`` and later runs read back, without
importing TFX: the CLI's read-only commands stay quick.
"""

import dataclasses
import json
import math
import os
from typing import Any

NODE = "AlgorithmChoice"
TRAINER_NODE = "Trainer"  # the one Trainer of a run that trains one algorithm
# What a candidate's run_fn writes into its model's folder.
SCORE_FILE = os.path.join("assets.extra", "kubetfx_candidate.json")
# The output model's properties: the chosen algorithm, and the table (JSON).
ALGORITHM_PROPERTY = "algorithm"
CHOICE_PROPERTY = "choice"
# Scores that agree to this many decimals are a tie.
TIE_DECIMALS = 4


def candidate_node(algorithm: str) -> str:
    """The id of a candidate's Trainer: ``random_forest`` -> TrainerRandomForest.

    Letters only: Kubeflow Pipelines and Argo take a task's name as it is.
    """
    return "Trainer" + "".join(part.title() for part in algorithm.split("_"))


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One candidate's row: its score on the eval split, training time and model size."""

    algorithm: str
    value: float
    rows: int  # the eval rows it was scored on
    train_seconds: float
    size_bytes: int
    settings: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Choice:
    """The candidates, best first, by ``metric``; the first is the chosen one."""

    metric: str
    higher_is_better: bool
    candidates: list[Candidate]
    reason: str
    # The algorithm the project file named when the choice was made: the choice
    # is kept for later runs until the file names another.
    project_algorithm: str

    @property
    def chosen(self) -> Candidate:
        return self.candidates[0]

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Choice":
        """The record as written; fields it does not know (a newer kubetfx's) are left out."""
        data = json.loads(text)
        data["candidates"] = [_known(Candidate, c) for c in data["candidates"]]
        return _known(cls, data)


def _known(cls, data: dict[str, Any]):
    fields = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in fields})


def _shown_score(value: float) -> str:
    return f"{value:.{TIE_DECIMALS}f}"


def rank(
    candidates: list[Candidate], metric: str, higher_is_better: bool, project_algorithm: str
) -> Choice:
    """The candidates best first: by the metric to ``TIE_DECIMALS``, then the faster to train.

    A score that is not a number (a network that diverged) ranks last.
    """
    sign = -1 if higher_is_better else 1

    def order(c: Candidate):
        finite = math.isfinite(c.value)
        return (not finite, sign * round(c.value, TIE_DECIMALS) if finite else 0, c.train_seconds)

    ranked = sorted(candidates, key=order)
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
    if not math.isfinite(best.value):
        reason = f"no candidate has a {metric} score; {best.algorithm} trained fastest"
    elif second is None:
        reason = f"{best.algorithm} was the only candidate"
    elif not math.isfinite(second.value):
        reason = f"{best.algorithm} is the only candidate with a {metric} score"
    elif round(best.value, TIE_DECIMALS) == round(second.value, TIE_DECIMALS):
        reason = (
            f"{best.algorithm} and {second.algorithm} tie on {metric} "
            f"({_shown_score(best.value)}); {best.algorithm} trained faster "
            f"({best.train_seconds:.1f} s against {second.train_seconds:.1f} s)"
        )
    else:
        better = "higher" if higher_is_better else "lower"
        reason = (
            f"{best.algorithm} has the {'highest' if higher_is_better else 'lowest'} "
            f"{metric} on the eval split: {_shown_score(best.value)}, "
            f"{_shown_score(abs(best.value - second.value))} {better} than {second.algorithm} "
            f"({_shown_score(second.value)})"
        )
    return Choice(metric, higher_is_better, ranked, reason, project_algorithm)


def read_choice(model: Any) -> Choice | None:
    """The choice recorded on a model (a TFX artifact or an ML Metadata one), if any."""
    if hasattr(model, "get_string_custom_property"):  # a TFX artifact
        if not model.has_custom_property(CHOICE_PROPERTY):
            return None
        return Choice.from_json(model.get_string_custom_property(CHOICE_PROPERTY))
    if CHOICE_PROPERTY not in model.custom_properties:
        return None
    return Choice.from_json(model.custom_properties[CHOICE_PROPERTY].string_value)


def trained_model(outputs: dict[str, dict[str, list]]) -> list | None:
    """A run's model, from its outputs by node: the choice's under auto, else the Trainer's."""
    for node in (NODE, TRAINER_NODE):
        if outputs.get(node, {}).get("model"):
            return outputs[node]["model"]
    return None


def shown_value(value: Any) -> str:
    """A setting's value as the views show it: floats to four significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def shown_settings(settings: dict[str, Any]) -> str:
    """A candidate's own settings, as ``name=value`` pairs (its algorithm left out)."""
    return ", ".join(
        f"{name}={','.join(map(str, value)) if isinstance(value, list) else shown_value(value)}"
        for name, value in settings.items()
        if name != "algorithm"
    )


def choice_rows(choice: Choice) -> list[list[str]]:
    """The candidates' table, best first, with a header row: the cells as text."""
    rows = [["candidate", choice.metric, "training", "model size", "settings"]]
    for candidate in choice.candidates:
        rows.append(
            [
                candidate.algorithm,
                _shown_score(candidate.value),
                f"{candidate.train_seconds:.1f} s",
                f"{candidate.size_bytes / 1e6:.2f} MB",
                shown_settings(candidate.settings),
            ]
        )
    return rows
