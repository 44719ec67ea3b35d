"""ReviewedSchema: the schema's text becomes a Schema artifact, wherever the output lies."""

import pytest
from google.protobuf import text_format
from tfx.types import standard_artifacts

from kubetfx.components.schema_import import NODE_ID, ReviewedSchema, ReviewedSchemaExecutor
from tests.conftest import TAXI


def _run(tmp_path, text):
    schema = standard_artifacts.Schema()
    # As on Kubeflow: the launcher makes only the parent of the output's folder.
    schema.uri = str(tmp_path / "task" / "schema")
    ReviewedSchemaExecutor().Do({}, {"schema": [schema]}, {"schema_text": text})
    return tmp_path / "task" / "schema" / "schema.pbtxt"


def test_the_text_is_written_as_the_schema_file(tmp_path):
    path = _run(tmp_path, TAXI.schema_text)
    assert path.read_text() == TAXI.schema_text


def test_a_broken_schema_fails_the_task_before_anything_is_written(tmp_path):
    with pytest.raises(text_format.ParseError):
        _run(tmp_path, "feature {")
    assert not (tmp_path / "task").exists()


def test_it_keeps_the_node_id_of_tfx_import_schema_gen():
    assert ReviewedSchema(schema_text=TAXI.schema_text).id == NODE_ID == "ImportSchemaGen"
