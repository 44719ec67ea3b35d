"""A partial run's selection over a graph of components: what runs, and what it takes."""

import pytest

from kubetfx.pipelines.definition.selection import Selection, select
from kubetfx.pipelines.errors import UserError

# A pipeline's shape: two sources, a chain, a branch off the chain and a join.
#   data -> stats -> gate -> transform -> train -> evaluate -> push
#   baseline ------------------------------------^
UPSTREAM = {
    "data": set(),
    "baseline": set(),
    "stats": {"data"},
    "gate": {"stats"},
    "transform": {"data", "gate"},
    "train": {"transform"},
    "evaluate": {"train", "data", "baseline"},
    "push": {"evaluate", "train"},
}
ORDER = ["data", "baseline", "stats", "gate", "transform", "train", "evaluate", "push"]


@pytest.mark.parametrize(
    ("selection", "run", "taken"),
    [
        (Selection(to="stats"), ["data", "stats"], []),
        (
            Selection(start="train"),
            ["train", "evaluate", "push"],
            ["data", "baseline", "stats", "gate", "transform"],
        ),
        (Selection(start="gate", to="train"), ["gate", "transform", "train"], ["data", "stats"]),
        (
            Selection(only=("evaluate",)),
            ["evaluate"],
            ["data", "baseline", "stats", "gate", "transform", "train"],
        ),
        (Selection(only=("stats", "train")), ["stats", "gate", "transform", "train"], ["data"]),
        (Selection(only=("baseline", "stats")), ["baseline", "stats"], ["data"]),
        (Selection(), ORDER, []),
    ],
    ids=lambda value: value.describe() if isinstance(value, Selection) else None,
)
def test_select_runs_what_lies_between_and_takes_what_that_needs(selection, run, taken):
    assert select(ORDER, UPSTREAM, selection) == (run, taken)


def test_from_after_to_selects_nothing():
    with pytest.raises(UserError, match="--from push --to stats selects no component"):
        select(ORDER, UPSTREAM, Selection(start="push", to="stats"))


def test_names_match_in_any_case_and_an_unknown_name_lists_the_components():
    named = Selection.from_options("STATS", None, None).named(ORDER)
    assert named == Selection(to="stats")
    assert Selection.from_options(None, None, " Train, evaluate ").named(ORDER).only == (
        "train",
        "evaluate",
    )
    with pytest.raises(UserError) as raised:
        Selection(start="trainer").named(ORDER)
    assert str(raised.value) == (
        "--from trainer: the pipeline has no such component; its components are " + ", ".join(ORDER)
    )


def test_only_does_not_mix_with_to_or_from():
    with pytest.raises(UserError, match="--only runs just the components it names"):
        Selection.from_options("push", None, "train")
    assert Selection(only=("a", "b")).describe() == "--only a,b"
    assert Selection(start="a", to="b").describe() == "--from a --to b"
    assert not Selection.from_options(None, None, " , ")
