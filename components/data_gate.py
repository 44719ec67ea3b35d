"""DataGate: stops a pipeline before training when the data breaks the schema.

ExampleValidator records anomalies but never fails, so a pipeline would go on to
train on data it has just flagged. DataGate reads ExampleValidator's output and
fails with the list of offending features; tasks wired after it do not run.
It is its own task so that the anomalies stay recorded as a successful output.
"""

import os
from typing import Any

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_artifacts
from tfx.types.component_spec import ChannelParameter

ANOMALIES_FILE_NAME = "SchemaDiff.pb"


class DataValidationError(RuntimeError):
    """The examples do not match the schema; the message lists every anomaly."""


def load_anomalies(anomalies: types.Artifact) -> dict[str, anomalies_pb2.Anomalies]:
    """The anomalies ExampleValidator wrote, by split name."""
    by_split = {}
    for split in artifact_utils.decode_split_names(anomalies.split_names):
        path = os.path.join(artifact_utils.get_split_uri([anomalies], split), ANOMALIES_FILE_NAME)
        proto = anomalies_pb2.Anomalies()
        with fileio.open(path, "rb") as f:
            proto.ParseFromString(f.read())
        by_split[split] = proto
    return by_split


def feature_anomalies(anomalies: anomalies_pb2.Anomalies) -> list[tuple[str, Any]]:
    """``(feature name, AnomalyInfo)`` pairs, sorted by name.

    The name is the column's own, from the anomaly's path: the map's key is
    TFDV's path notation, which quotes a name holding a dot or a quote.
    """
    infos = anomalies.anomaly_info.items()
    return sorted(((".".join(info.path.step) or key, info) for key, info in infos), key=_first)


def _first(pair: tuple) -> Any:
    return pair[0]


def describe_anomalies(by_split: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """One line per anomaly: ``split: feature 'x': short description (detail)``."""
    lines = []
    for split, anomalies in sorted(by_split.items()):
        for feature, info in feature_anomalies(anomalies):
            lines.append(
                f"{split}: feature '{feature}': {info.short_description} ({info.description})"
            )
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            lines.append(f"{split}: dataset: {info.short_description} ({info.description})")
    return lines


class DataGateExecutor(base_executor.BaseExecutor):
    """Raises DataValidationError when any split has an anomaly."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        problems = describe_anomalies(load_anomalies(anomalies))
        if problems:
            raise DataValidationError(
                "the data does not match the schema; fix the data, or update the "
                "schema if the change is intended:\n  " + "\n  ".join(problems)
            )


class DataGateSpec(types.ComponentSpec):
    PARAMETERS: dict[str, Any] = {}
    INPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS: dict[str, Any] = {}


class DataGate(base_component.BaseComponent):
    """Fails the run when ExampleValidator found anomalies.

    Wire it before the tasks that must not see bad data, e.g.
    ``transform.add_upstream_node(gate)``.
    """

    SPEC_CLASS = DataGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(DataGateExecutor)

    def __init__(self, anomalies: types.BaseChannel):
        super().__init__(spec=DataGateSpec(anomalies=anomalies))
