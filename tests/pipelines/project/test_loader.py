"""Project files: each mistake is one line naming the file, the line and the setting."""

import os

import pytest

from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.project.loader import bundled_project, check_columns, load_project

SCHEMA = """
feature { name: "petal" type: FLOAT }
feature { name: "colour" type: BYTES }
feature { name: "count" type: INT }
feature { name: "species" type: BYTES }
feature { name: "note" type: BYTES }
"""

PROJECT = """\
name: flowers
data: data
schema: schema.pbtxt

label:
  column: species
  task: binary
  positive: yes

features:
  petal: standardize
  colour: vocabulary
  count: {transform: identity, size: 10}

ignore: [note]

evaluation:
  slices: [colour]
  gate:
    metric: binary_accuracy
    threshold: 0.7
"""


def _write(tmp_path, text=PROJECT, schema=SCHEMA):
    (tmp_path / "schema.pbtxt").write_text(schema)
    path = tmp_path / "kubetfx.yaml"
    path.write_text(text)
    return path


def _error(tmp_path, text=PROJECT, schema=SCHEMA) -> str:
    path = _write(tmp_path, text, schema)
    with pytest.raises(UserError) as raised:
        load_project(str(path))
    message = str(raised.value)
    assert "\n" not in message
    prefix = f"{path}:"
    assert message.startswith(prefix), message
    return message[len(prefix) :]


def test_a_project_loads_with_its_paths_made_absolute(tmp_path):
    loaded = load_project(str(_write(tmp_path)))
    project = loaded.project
    assert project.data == os.path.join(tmp_path, "data")
    assert project.schema_file == os.path.join(tmp_path, "schema.pbtxt")
    assert project.label.positive == "yes"  # YAML 1.1 would have read True
    assert loaded.lines[("features", "count")] == 13
    assert not loaded.bundled
    assert load_project(str(tmp_path)).project == project  # the folder names its kubetfx.yaml


def test_the_bundled_taxi_project_loads():
    loaded = load_project()
    assert loaded.bundled and loaded.path == bundled_project()
    assert loaded.project.name == "kubetfx-taxi"
    assert loaded.project.data.startswith("package://")
    assert 'name: "tips"' in loaded.schema_text


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("label:\n", "lable:\n", "5: lable: unknown setting; did you mean label?"),
        (
            "  petal: standardize",
            "  petal: standardise",
            "11: features.petal: 'standardise' is not one of: standardize, bucketize, vocabulary, "
            "identity",
        ),
        (
            "size: 10",
            "size: 1",
            "13: features.count.size: must be greater than or equal to 2",
        ),
        (
            "  count: {transform: identity, size: 10}",
            "  count: identity",
            "13: features.count: size is missing; add it",
        ),
        (
            "  colour: vocabulary",
            "  colour: vocabulary\n  colour: vocabulary",
            "13: features.colour is given twice; keep one",
        ),
        (
            "  colour: vocabulary",
            "  colour: vocabulary\n  species: vocabulary",
            "13: features.species: species is the label; remove it from features",
        ),
        (
            "  colour: vocabulary",
            "  colour: standardize",
            "12: features.colour: standardize needs integer or a decimal number values, but "
            "colour is text in the schema: use vocabulary",
        ),
        (
            "  colour: vocabulary",
            "  colour: vocabulary\n  stem: standardize",
            "13: features.stem: stem is not a column of the schema schema.pbtxt; add it there "
            "first",
        ),
        (
            "  task: binary\n  positive: yes",
            "  task: regression",
            "19: evaluation.gate.metric: binary_accuracy is not a metric of a regression task; "
            "use one of root_mean_squared_error, mean_absolute_error, mean_squared_error",
        ),
        (
            "metric: binary_accuracy",
            "metric: rmse",
            "20: evaluation.gate.metric: rmse is not a metric of a binary task; use one of "
            "binary_accuracy, auc, precision, recall",
        ),
        (
            "name: flowers",
            "name: My Flowers",
            "1: name: 'My Flowers' is not a pipeline name: lowercase letters, digits and dashes, "
            "at most 63",
        ),
        (
            "positive: yes",
            "positive: [1, 2]",
            "8: label.positive: [1, 2] is not text, a whole number, a number or a mapping",
        ),
        (
            "ignore: [note]",
            "ignore: []",
            "10: features: the schema has columns the project neither uses nor ignores: note; add "
            "each to features or to ignore",
        ),
        (
            "slices: [colour]",
            "slices: [colour, hue]",
            "18: evaluation.slices[1]: hue is not a column of the schema schema.pbtxt; add it "
            "there first",
        ),
        ("label:\n", "label: [\n", "7: not valid YAML: expected ',' or ']', but got ':'"),
    ],
)
def test_each_mistake_is_one_line_with_its_place(tmp_path, old, new, expected):
    assert old in PROJECT
    assert _error(tmp_path, PROJECT.replace(old, new)) == expected


def test_a_task_the_label_does_not_fit(tmp_path):
    text = PROJECT.replace("  task: binary\n  positive: yes", "  task: regression").replace(
        "binary_accuracy", "root_mean_squared_error"
    )
    assert _error(tmp_path, text) == (
        "7: label.task: regression needs a numeric label, but species is text: "
        "use binary or multiclass"
    )


def test_a_file_that_is_not_a_mapping_or_is_missing(tmp_path):
    assert "a project file is a YAML mapping" in _error(tmp_path, "- a\n- b\n")
    with pytest.raises(UserError, match="no project file at .*nowhere.*kubetfx init"):
        load_project(str(tmp_path / "nowhere.yaml"))


def test_a_missing_or_broken_schema(tmp_path):
    path = _write(tmp_path)
    os.remove(tmp_path / "schema.pbtxt")
    with pytest.raises(UserError, match=r"kubetfx.yaml:3: schema: .*schema.pbtxt does not exist"):
        load_project(str(path))
    assert "not a text-format TFX schema" in str(
        pytest.raises(UserError, load_project, str(_write(tmp_path, schema="feature {")))
    )


def test_overrides_are_checked_like_the_file(tmp_path):
    loaded = load_project(str(_write(tmp_path)))
    changed = loaded.with_overrides({"training.train_steps": 20, "data": "/elsewhere"})
    assert changed.project.training.train_steps == 20
    assert changed.project.data == "/elsewhere"
    assert changed.lines == loaded.lines
    with pytest.raises(UserError, match="kubetfx.yaml:21: evaluation.gate.threshold: .*between 0"):
        loaded.with_overrides({"evaluation.gate.threshold": 3.0})


def test_an_override_that_is_wrong_names_its_option_not_the_file(tmp_path):
    loaded = load_project(str(_write(tmp_path)))
    options = {"training.train_steps": "--train-steps", "schema": "--schema"}
    with pytest.raises(UserError) as raised:
        loaded.with_overrides({"training.train_steps": 20_000_000}, options)
    assert str(raised.value) == "--train-steps: must be less than or equal to 10000000"
    with pytest.raises(UserError, match=r"^--schema: /nowhere/s.pbtxt does not exist"):
        loaded.with_overrides({"schema": "/nowhere/s.pbtxt"}, options)


def test_locations_with_a_scheme_are_kept_as_written(tmp_path):
    text = PROJECT.replace("data: data", "data: gs://bucket/flowers")
    assert load_project(str(_write(tmp_path, text))).project.data == "gs://bucket/flowers"


def test_a_file_that_is_not_utf8(tmp_path):
    path = _write(tmp_path)
    path.write_bytes(PROJECT.encode("utf-16"))
    with pytest.raises(UserError, match="is not UTF-8 text"):
        load_project(str(path))


def test_classes_of_a_numeric_label_are_numbers(tmp_path):
    schema = SCHEMA.replace('name: "species" type: BYTES', 'name: "species" type: FLOAT')
    text = PROJECT.replace("task: binary\n  positive: yes", "task: multiclass\n  classes: [a, b]")
    text = text.replace("binary_accuracy", "sparse_categorical_accuracy")
    assert _error(tmp_path, text, schema) == (
        "8: label.classes: species holds numbers, so the classes are whole numbers"
    )


def test_the_data_must_have_every_column_the_project_reads(tmp_path):
    loaded = load_project(str(_write(tmp_path)))
    check_columns(loaded, ["petal", "colour", "count", "species"], "data/")
    with pytest.raises(UserError) as raised:
        check_columns(loaded, ["petal", "count", "species"], "data/")
    assert str(raised.value) == (
        f"{tmp_path / 'kubetfx.yaml'}:12: features.colour: the data in data/ has no column "
        "colour; its columns are: petal, count, species"
    )


def test_auto_trains_the_default_candidates_or_the_files_own(tmp_path):
    loaded = load_project(str(_write(tmp_path, PROJECT + "model: auto\n")))
    assert loaded.file_algorithm == "auto"
    assert [c.algorithm for c in loaded.project.model.candidates] == [
        "linear",
        "wide_and_deep",
        "gradient_boosted_trees",
    ]
    own = "model:\n  algorithm: auto\n  candidates: [linear, {algorithm: dnn, hidden_units: [8]}]\n"
    model = load_project(str(_write(tmp_path, PROJECT + own))).project.model
    assert [c.algorithm for c in model.candidates] == ["linear", "dnn"]
    assert model.candidate("dnn").hidden_units == [8]


@pytest.mark.parametrize(
    "model, expected",
    [
        (
            "{algorithm: auto, candidates: [linear]}",
            "model.candidates: list should have at least 2 items after validation, not 1",
        ),
        (
            "{algorithm: auto, candidates: [linear, linear]}",
            "model.candidates: each algorithm can be a candidate once; linear is listed twice",
        ),
        (
            "{algorithm: auto, candidates: [linear, {algorithm: dnn, num_trees: 3}]}",
            "model.candidates[1].num_trees: dnn has no num_trees; that is a setting of "
            "gradient_boosted_trees and random_forest",
        ),
        (
            "{algorithm: auto, candidates: [linear, auto]}",
            "model.candidates[1]: 'auto' is not one of: linear, dnn, wide_and_deep, "
            "gradient_boosted_trees, random_forest",
        ),
        (
            "{algorithm: auto, num_trees: 3}",
            "model.num_trees: auto has no num_trees; give it to a candidate in "
            "model.candidates, e.g. {algorithm: gradient_boosted_trees, num_trees: ...}",
        ),
    ],
)
def test_a_wrong_candidate_list_is_one_line(tmp_path, model, expected):
    assert _error(tmp_path, PROJECT + f"model: {model}\n") == f"22: {expected}"


def test_auto_with_a_run_fn_of_the_projects_own_is_refused(tmp_path):
    text = PROJECT + "model: auto\ncode:\n  run_fn: trainer.py:run_fn\n"
    assert _error(tmp_path, text) == (
        "22: model: auto trains its candidates with kubetfx's run_fn, which scores "
        "each one; this project names its own code.run_fn: name one algorithm, or remove "
        "code.run_fn"
    )
