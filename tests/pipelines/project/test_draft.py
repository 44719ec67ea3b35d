"""``kubetfx init``'s guesses, its refusals, and the draft it writes reading back as written."""

import collections

import pytest
import yaml

from kubetfx.components.project import model_settings
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.project import draft
from kubetfx.pipelines.project.draft import Column, Guess, guess_feature, guess_label
from kubetfx.pipelines.project.loader import _Loader, load_project


@pytest.mark.parametrize(
    "column, spec, note",
    [
        (Column("fare", "decimal", 0.0, present=100, low=0, high=80), "standardize", ""),
        (
            Column("hour", "integer", 0.0, present=100, low=0, high=23),
            {"transform": "identity", "size": 24},
            "check: whole numbers 0 to 23 taken for codes",
        ),
        (
            Column("age", "integer", 0.0, present=100, low=19, high=79),
            "standardize",
            "check: whole numbers 19 to 79 taken for a quantity",
        ),
        (Column("company", "text", 0.34, unique=40, present=66), "vocabulary", "empty in 34%"),
        (Column("id", "text", 0.0, unique=1000, present=1000), None, "an id or free text"),
        (Column("tract", "integer", 0.999, present=1, low=5, high=5), None, "empty in 100%"),
        (Column("flag", "text", 0.0, unique=1, present=100), None, "one value only"),
        (Column("same", "decimal", 0.0, present=100, low=2.5, high=2.5), None, "one value only"),
        (
            Column("miles", "decimal", 0.2, present=80, low=0, high=9),
            "standardize",
            "empty in 20% of rows, the mean stands in",
        ),
    ],
)
def test_each_column_kind_gets_its_preparation(column, spec, note):
    guess = guess_feature(column)
    assert guess.spec == spec
    assert note in guess.note


def _counts(**values):
    return collections.Counter({str(k).replace("_", " "): n for k, n in values.items()})


def test_two_values_make_a_binary_task_with_1_as_positive():
    guess = guess_label("target", collections.Counter({"0": 212, "1": 357}))
    assert guess.task == "binary" and guess.positive == 1
    assert guess.gate_metric == "binary_accuracy"
    assert guess.gate_threshold == 0.63  # above the 62.7% of the most common class


def test_a_text_label_with_two_values_takes_the_rarer_as_positive_unless_it_says_yes():
    guess = guess_label("income", collections.Counter({"<=50K": 75, ">50K": 25}))
    assert guess.positive == ">50K"
    assert (
        guess.note
        == "check: guessed from 2 values (<=50K, >50K); positive is the rarer value, >50K"
    )
    churn = guess_label("churn", collections.Counter({"no": 10, "Yes": 90}), task="binary")
    assert churn.positive == "Yes"
    assert churn.note == "2 values (Yes, no); positive: Yes"  # asked for and named: no check


def test_text_or_few_integers_make_classes_and_many_numbers_a_regression():
    species = guess_label("species", collections.Counter({"setosa": 50, "virginica": 50, "x": 50}))
    assert species.task == "multiclass" and species.classes == ["setosa", "virginica", "x"]
    assert species.gate_threshold == 0.34
    quality = guess_label("quality", collections.Counter({str(q): 10 for q in (3, 10, 4, 5)}))
    assert quality.task == "multiclass" and quality.classes == [3, 4, 5, 10]  # in number order
    price = guess_label("price", collections.Counter({f"{v / 10}": 1 for v in range(200)}))
    assert price.task == "regression" and price.gate_metric == "root_mean_squared_error"
    assert price.gate_threshold == pytest.approx(5.773, rel=1e-3)  # the label's spread


@pytest.mark.parametrize(
    "counts, task, message",
    [
        ({"a": 5}, None, "has one value only (a)"),
        ({"": 60, "a": 20, "b": 20}, None, "is empty in 60 of 100 rows"),
        ({"a": 1, "b": 1, "c": 1}, "binary", "binary needs a label with 2 values, but y has 3"),
        ({"a": 1, "b": 1}, "regression", "regression needs a numeric label"),
        ({f"t{i}": 1 for i in range(150)}, None, "150 different text values"),
    ],
)
def test_labels_that_cannot_be_learnt_are_refused(counts, task, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        guess_label("y", collections.Counter(counts), task)


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "sepal length (cm)",
        "yes",
        "no",
        "null",
        "1",
        "3.5",
        "a: b",
        "# x",
        "'q'",
        "\\n",
        "é",
        "-",
        "",
        "../data",
        "tab\there",
        "<img src=x>",
    ],
)
def test_scalars_read_back_as_written(text):
    assert yaml.load(f"key: {draft.scalar(text)}", Loader=_Loader) == {"key": text}
    assert yaml.load(f"{draft.scalar(text)}: 1", Loader=_Loader) == {text: 1}


def test_project_names_come_from_the_folder():
    assert draft.project_name("/tmp/My Flowers_2") == "my-flowers-2"
    assert draft.project_name("/tmp/___") == "project"


def test_the_rendered_draft_is_a_valid_project(tmp_path):
    (tmp_path / "schema.pbtxt").write_text(
        'feature { name: "sepal length (cm)" type: FLOAT }\n'
        'feature { name: "kind" type: INT }\nfeature { name: "id" type: BYTES }\n'
        'feature { name: "species" type: BYTES }\n'
    )
    label = guess_label("species", collections.Counter({"a": 3, "b": 3, "c": 4}))
    features = {
        "sepal length (cm)": Guess("standardize"),
        "kind": Guess({"transform": "identity", "size": 4}, "check: codes\nsplit # over lines"),
        "id": Guess(None, "check: an id"),
    }
    text = draft.render("flowers", "../data", 10, 1, "species", label, features, ["kind"])
    (tmp_path / "kubetfx.yaml").write_text(text)
    project = load_project(str(tmp_path)).project
    assert project.label.classes == ["a", "b", "c"]
    assert list(project.features) == ["sepal length (cm)", "kind"]
    assert project.ignore == ["id"]
    # A search ready for `run --tune`, ranked by the gate's metric; tracking left to the user.
    assert project.tuning.objective == project.evaluation.gate.metric
    # 10 rows: boosted trees, with their reason above them
    assert project.model == model_settings("gradient_boosted_trees")
    assert "  # 10 rows, 1 of 2 features categorical: boosted trees are often" in text
    assert project.tuning.searched_for(project.model) == ["num_trees", "max_depth", "shrinkage"]
    network = model_settings("wide_and_deep")  # the draft searches a network's too
    assert project.tuning.searched_for(network) == ["learning_rate", "hidden_units", "dropout"]
    assert project.tracking is None and "# tracking:" in text
    assert "  kind: {transform: identity, size: 4}  # check: codes split # over lines" in text
    assert text.count("# check:") == 3  # the task guess, kind and id


def _csv(folder, header, rows):
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(c) for c in row) for row in rows]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_init_refuses_before_it_writes_anything(tmp_path):
    data = _csv(tmp_path / "data", ["x", "y"], [[1, "a"], [2, "a"]])
    with pytest.raises(UserError, match="has no column z; its columns are: x, y"):
        draft.draft_project(str(tmp_path / "p"), str(data), "z")
    with pytest.raises(UserError, match="has one value only"):
        draft.draft_project(str(tmp_path / "p"), str(data), "y")
    with pytest.raises(UserError, match="has no .csv files"):
        draft.draft_project(str(tmp_path / "p"), str(tmp_path / "p"), "y")
    assert not (tmp_path / "p" / "kubetfx.yaml").exists()
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "schema.pbtxt").write_text("kept")
    with pytest.raises(UserError, match="schema.pbtxt already exists; pass --force"):
        draft.draft_project(str(tmp_path / "q"), str(data), "x")
    assert (tmp_path / "q" / "schema.pbtxt").read_text() == "kept"


def test_an_imbalanced_binary_label_is_gated_on_auc():
    guess = guess_label("fraud", collections.Counter({"0": 97, "1": 3}))
    assert (guess.gate_metric, guess.gate_threshold) == ("auc", 0.7)
    assert guess.gate_note.startswith("check: 97.0% of rows are one class")
    rare = guess_label("kind", collections.Counter({"a": 995, "b": 3, "c": 2}))
    assert rare.gate_threshold == 0.99  # never a perfect model


def test_init_drafts_a_project_that_loads_with_the_label_required(tmp_path):
    rows = [[i, ["red", "blue", ""][i % 3], 0.5 if i % 4 else 1.5] for i in range(40)]
    data = _csv(tmp_path / "data", ["size", "colour", "score"], rows)
    result = draft.draft_project(str(tmp_path / "p"), str(data), "score")
    loaded = load_project(str(tmp_path / "p"))
    assert result.task == "binary"
    assert loaded.project.label.positive == 1.5  # the rarer value, as a number
    assert loaded.project.features["colour"].transform == "vocabulary"
    label = next(f for f in loaded.schema().feature if f.name == "score")
    assert label.presence.min_fraction == 1.0
    assert label.HasField("shape") or label.value_count.min == 1
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["kubetfx.yaml", "schema.pbtxt"]


def test_the_drafted_algorithm_follows_the_size_of_the_data():
    used = {
        "fare": Guess("standardize"),
        "company": Guess("vocabulary"),
        "hour": Guess({"transform": "identity", "size": 24}),
    }
    algorithm, reason = draft.suggest_algorithm(15_002, used)
    assert algorithm == "gradient_boosted_trees"
    assert reason.startswith("15,002 rows, 2 of 3 features categorical: boosted trees")
    # Above 50 million values a forest would hold in memory: a network.
    algorithm, reason = draft.suggest_algorithm(20_000_000, used)
    assert algorithm == "wide_and_deep"
    assert reason.endswith(
        "where a forest would hold all 60,000,000 values of the train split in memory"
    )
