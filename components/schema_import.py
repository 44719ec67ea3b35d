"""ReviewedSchema: the project's reviewed schema, carried as text, as a Schema artifact.

TFX's ImportSchemaGen copies a schema from a file path, which a Kubeflow task
can read only if the file is in its image, and whose cache key is the path,
not the content. This component takes the schema's text as a parameter: the
compiled pipeline carries it, the stock image runs it, and an edited schema is
a new cache key.
"""

import os
from typing import Any

from absl import logging
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# The node id in every runner's records, as TFX's own ImportSchemaGen has it.
NODE_ID = "ImportSchemaGen"


def features_only(schema: schema_pb2.Schema, features: list[str]) -> schema_pb2.Schema:
    """A copy of ``schema`` with only ``features`` (e.g. a model's inputs, label left out)."""
    kept = schema_pb2.Schema()
    kept.CopyFrom(schema)
    del kept.feature[:]
    kept.feature.extend(f for f in schema.feature if f.name in features)
    return kept


class ReviewedSchemaExecutor(base_executor.BaseExecutor):
    """Writes ``schema_text`` as ``schema.pbtxt`` into the Schema artifact."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        text = exec_properties["schema_text"]
        text_format.Parse(text, schema_pb2.Schema())  # fails here on a broken schema
        path = os.path.join(
            artifact_utils.get_single_uri(output_dict["schema"]),
            schema_gen_executor.DEFAULT_FILE_NAME,
        )
        # The Kubeflow launcher creates only an output's parent folder, not the output's own.
        fileio.makedirs(os.path.dirname(path))
        with fileio.open(path, "w") as f:
            f.write(text)
        logging.info("Wrote the reviewed schema to %s.", path)


class ReviewedSchemaSpec(types.ComponentSpec):
    PARAMETERS = {"schema_text": ExecutionParameter(type=str)}
    INPUTS: dict[str, Any] = {}
    OUTPUTS = {"schema": ChannelParameter(type=standard_artifacts.Schema)}


class ReviewedSchema(base_component.BaseComponent):
    """Emits the schema in ``schema_text`` (text format) as a Schema artifact."""

    SPEC_CLASS = ReviewedSchemaSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ReviewedSchemaExecutor)

    def __init__(self, schema_text: str):
        super().__init__(
            spec=ReviewedSchemaSpec(
                schema_text=schema_text, schema=types.Channel(type=standard_artifacts.Schema)
            )
        )
        self.with_id(NODE_ID)
