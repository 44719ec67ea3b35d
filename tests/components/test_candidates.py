"""The ranking of algorithm: auto's candidates and the record of the choice."""

from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from kubetfx.components import candidates
from kubetfx.components.candidates import Candidate, Choice, rank

NETWORK = {"algorithm": "wide_and_deep", "hidden_units": [8, 4], "learning_rate": 0.001}
TREES = {"algorithm": "gradient_boosted_trees", "num_trees": 300, "shrinkage": 0.1}
LINEAR = {"algorithm": "linear", "learning_rate": 0.001}


def _candidate(settings, value, seconds=1.0, size=1000):
    return Candidate(settings["algorithm"], value, 500, seconds, size, settings)


def test_the_best_by_a_metric_where_higher_is_better_comes_first_and_the_reason_says_by_how_much():
    choice = rank(
        [_candidate(LINEAR, 0.79), _candidate(NETWORK, 0.82), _candidate(TREES, 0.89123)],
        "binary_accuracy",
        True,
        "wide_and_deep",
    )
    assert [c.algorithm for c in choice.candidates] == [
        "gradient_boosted_trees",
        "wide_and_deep",
        "linear",
    ]
    assert choice.chosen.algorithm == "gradient_boosted_trees"
    assert choice.reason == (
        "gradient_boosted_trees has the highest binary_accuracy on the eval split: 0.8912, "
        "0.0712 higher than wide_and_deep (0.8200)"
    )


def test_an_error_metric_is_ranked_lowest_first():
    choice = rank(
        [_candidate(NETWORK, 55.0), _candidate(TREES, 61.5)], "root_mean_squared_error", False, ""
    )
    assert choice.chosen.algorithm == "wide_and_deep"
    assert choice.reason == (
        "wide_and_deep has the lowest root_mean_squared_error on the eval split: 55.0000, "
        "6.5000 lower than gradient_boosted_trees (61.5000)"
    )


def test_a_tie_to_four_decimals_goes_to_the_faster_to_train():
    choice = rank(
        [_candidate(NETWORK, 0.91234, seconds=14.0), _candidate(TREES, 0.91231, seconds=9.5)],
        "auc",
        True,
        "wide_and_deep",
    )
    assert choice.chosen.algorithm == "gradient_boosted_trees"
    assert choice.reason == (
        "gradient_boosted_trees and wide_and_deep tie on auc (0.9123); gradient_boosted_trees "
        "trained faster (9.5 s against 14.0 s)"
    )


def test_the_choice_survives_its_json_on_a_tfx_and_on_an_ml_metadata_artifact():
    choice = rank([_candidate(LINEAR, 0.7), _candidate(TREES, 0.8)], "auc", True, "linear")
    model = standard_artifacts.Model()
    assert candidates.read_choice(model) is None
    model.set_string_custom_property(candidates.CHOICE_PROPERTY, choice.to_json())
    assert candidates.read_choice(model) == choice
    stored = metadata_store_pb2.Artifact()
    assert candidates.read_choice(stored) is None
    stored.custom_properties[candidates.CHOICE_PROPERTY].string_value = choice.to_json()
    assert candidates.read_choice(stored) == choice
    assert isinstance(Choice.from_json(choice.to_json()).chosen, Candidate)


def test_a_run_model_is_the_choices_under_auto_else_the_trainers():
    chosen, trained = object(), object()
    assert candidates.trained_model({"Trainer": {"model": [trained]}}) == [trained]
    both = {"TrainerLinear": {"model": [object()]}, "AlgorithmChoice": {"model": [chosen]}}
    assert candidates.trained_model(both) == [chosen]
    assert candidates.trained_model({"Transform": {}}) is None


def test_candidate_nodes_are_letters_only_and_the_table_shows_each_candidates_own_settings():
    assert candidates.candidate_node("gradient_boosted_trees") == "TrainerGradientBoostedTrees"
    assert candidates.candidate_node("dnn") == "TrainerDnn"
    choice = rank(
        [_candidate(NETWORK, 0.8, 12.34, 1_090_000), _candidate(LINEAR, 0.7, 3.0, 840_000)],
        "binary_accuracy",
        True,
        "wide_and_deep",
    )
    assert candidates.choice_rows(choice) == [
        ["candidate", "binary_accuracy", "training", "model size", "settings"],
        ["wide_and_deep", "0.8000", "12.3 s", "1.09 MB", "hidden_units=8,4, learning_rate=0.001"],
        ["linear", "0.7000", "3.0 s", "0.84 MB", "learning_rate=0.001"],
    ]


def test_a_score_that_is_not_a_number_ranks_last():
    diverged = _candidate(NETWORK, float("nan"), seconds=1.0)
    choice = rank([diverged, _candidate(LINEAR, 0.61, seconds=9.0)], "auc", True, "linear")
    assert [c.algorithm for c in choice.candidates] == ["linear", "wide_and_deep"]
    assert choice.reason == "linear is the only candidate with a auc score"
    lost = rank([diverged, _candidate(TREES, float("nan"), 0.5)], "auc", True, "linear")
    assert lost.reason == "no candidate has a auc score; gradient_boosted_trees trained fastest"


def test_a_record_with_fields_of_a_newer_kubetfx_still_reads():
    import json

    choice = rank([_candidate(LINEAR, 0.7), _candidate(TREES, 0.8)], "auc", True, "linear")
    data = json.loads(choice.to_json())
    data["holdout"] = "test"
    data["candidates"][0]["calibration"] = 0.1
    assert Choice.from_json(json.dumps(data)) == choice
