"""Which code Transform and Trainer run, and the digest that keeps their cache honest."""

import pytest

from kubetfx.pipelines.definition import code
from kubetfx.pipelines.errors import UserError
from kubetfx.pipelines.project.loader import load_project
from tests.conftest import TAXI


def test_without_code_of_its_own_a_project_runs_the_generic_functions():
    preprocessing_fn, run_fn = code.user_functions(TAXI)
    assert preprocessing_fn.module_path == code.GENERIC_PREPROCESSING_FN
    assert run_fn.module_path == code.GENERIC_RUN_FN
    assert preprocessing_fn.generic and run_fn.generic
    assert preprocessing_fn.fingerprint != run_fn.fingerprint  # different modules
    assert code.resolve(None, code.GENERIC_RUN_FN) == run_fn  # stable


def test_a_file_beside_the_project_is_imported_by_its_name(tmp_path):
    (tmp_path / "my_features.py").write_text("def preprocessing_fn(inputs):\n    return inputs\n")
    found = code.resolve(f"{tmp_path}/my_features.py:preprocessing_fn", "unused")
    assert found.module_path == "my_features.preprocessing_fn"
    assert found.folder == str(tmp_path) and not found.generic
    (tmp_path / "my_features.py").write_text("def preprocessing_fn(inputs):\n    return {}\n")
    changed = code.resolve(f"{tmp_path}/my_features.py:preprocessing_fn", "unused")
    assert changed.fingerprint != found.fingerprint  # an edit is a new cache key


def test_an_installed_module_is_found_without_being_imported():
    found = code.resolve("kubetfx.components.data_gate.load_anomalies", "unused")
    assert found.module_path == "kubetfx.components.data_gate.load_anomalies"
    assert found.file.endswith("data_gate.py") and found.folder is None


@pytest.mark.parametrize(
    "reference, message",
    [
        ("/nowhere/prep.py:fn", "/nowhere/prep.py does not exist"),
        ("no_such_module.fn", "module no_such_module is not importable here"),
    ],
)
def test_code_that_cannot_be_found_is_named(reference, message):
    with pytest.raises(ValueError, match=message):
        code.resolve(reference, "unused")


def test_a_file_name_python_cannot_import_is_refused(tmp_path):
    (tmp_path / "my-features.py").write_text("")
    with pytest.raises(ValueError, match="cannot be imported as a module"):
        code.resolve(f"{tmp_path}/my-features.py:fn", "unused")


def test_a_file_named_like_an_installed_module_is_refused(tmp_path):
    (tmp_path / "json.py").write_text("def run_fn(fn_args):\n    pass\n")
    with pytest.raises(ValueError, match="json.py has the name of the module json .*rename"):
        code.resolve(f"{tmp_path}/json.py:run_fn", "unused")


def test_the_error_names_the_project_line(tmp_path):
    text = open(TAXI.path).read()
    text = text.replace("evaluation:", "code:\n  run_fn: missing.py:run_fn\n\nevaluation:")
    (tmp_path / "kubetfx.yaml").write_text(text)
    (tmp_path / "schema.pbtxt").write_text(TAXI.schema_text)
    loaded = load_project(str(tmp_path))
    with pytest.raises(
        UserError, match=r"kubetfx.yaml:\d+: code.run_fn: .*missing.py does not exist"
    ):
        code.user_functions(loaded)
