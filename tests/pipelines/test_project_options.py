"""--algorithm, --choose-algorithm and --tune against what the project file names."""

import pytest

from kubetfx.components.project import Auto, model_settings
from kubetfx.pipelines.cli.project_options import (
    algorithm_settings,
    check_tuning,
    chosen_algorithm,
    with_options,
)
from kubetfx.pipelines.errors import UserError
from tests.conftest import TAXI

AUTO_FILE = TAXI.with_overrides({"model": {"algorithm": "auto"}})


def test_choosing_over_a_file_that_names_one_algorithm_keeps_it_and_its_settings():
    dnn = model_settings({"algorithm": "dnn", "hidden_units": [8]})
    assert algorithm_settings(dnn, "auto") == {
        "algorithm": "auto",
        "candidates": ["linear", "wide_and_deep", "gradient_boosted_trees", dnn.model_dump()],
    }
    linear = model_settings({"algorithm": "linear", "learning_rate": 0.01})
    chosen = with_options(
        TAXI.with_overrides({"model": linear.model_dump()}), {"--algorithm": "auto"}
    )
    model = chosen.project.model
    assert isinstance(model, Auto)
    assert model.candidate("linear") == linear  # in its place among the defaults
    assert [c.algorithm for c in model.candidates] == [
        "linear",
        "wide_and_deep",
        "gradient_boosted_trees",
    ]
    assert chosen.options == {"model": "--algorithm"} and chosen.file_algorithm == "wide_and_deep"


def test_an_algorithm_named_over_auto_takes_its_candidates_settings():
    auto = Auto(algorithm="auto", candidates=["linear", {"algorithm": "dnn", "dropout": 0.5}])
    assert algorithm_settings(auto, "dnn")["dropout"] == 0.5
    assert algorithm_settings(auto, "random_forest") == {"algorithm": "random_forest"}
    # The file's own settings of the algorithm it names stand, and the option is recorded.
    named = with_options(TAXI, {"--algorithm": "wide_and_deep"})
    assert named.project.model == TAXI.project.model and named.options == {"model": "--algorithm"}
    assert with_options(TAXI, {"--train-steps": 5}).options == {
        "training.train_steps": "--train-steps"
    }


def test_a_choice_is_not_tuned_but_one_algorithm_named_over_it_is():
    for loaded, algorithm in ((AUTO_FILE, None), (TAXI, "auto")):
        with pytest.raises(UserError, match=r"^--tune: a search tunes one algorithm"):
            check_tuning(loaded, True, None, algorithm)
    check_tuning(AUTO_FILE, True, 2, "wide_and_deep")  # the taxi file's search has its settings
    with pytest.raises(UserError, match=r"^--tune: the tuning section searches none of linear's"):
        check_tuning(TAXI.with_overrides({"tuning": {"hidden_units": [[8]]}}), True, None, "linear")
    with pytest.raises(UserError, match=r"^--max-trials applies to a tuned run; add --tune$"):
        check_tuning(AUTO_FILE, False, 3)


def test_choose_algorithm_with_an_algorithm_is_refused():
    assert chosen_algorithm(None, True) == chosen_algorithm("auto", True) == "auto"
    assert chosen_algorithm("dnn", False) == "dnn"
    with pytest.raises(UserError, match="--algorithm dnn names one: pick one$"):
        chosen_algorithm("dnn", True)
