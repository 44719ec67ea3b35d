"""Infers a starting schema for a new dataset, for a person to review.

The pipeline validates data against a reviewed schema rather than one inferred
from the same data, so that drift and breakage are caught. This writes the
first draft of such a schema.
"""

import os

from kubetfx.pipelines import preflight
from kubetfx.pipelines.errors import UserError


def infer_schema(data_root: str, output_path: str, overwrite: bool = False) -> str:
    """Writes a text-format schema inferred from the CSV files in ``data_root``.

    Returns a short summary of the features found. Refuses to replace an
    existing file unless ``overwrite``.
    """
    files = preflight.csv_files(data_root)
    for path in files:
        preflight.read_header(path)
    if os.path.exists(output_path) and not overwrite:
        raise UserError(
            f"{output_path} already exists; pass --force to replace it, or another --output"
        )
    parent = os.path.dirname(os.path.abspath(output_path))
    preflight.check_writable_dir(parent, flag="--output")

    import tensorflow_data_validation as tfdv

    statistics = preflight.csv_statistics(data_root)
    schema = tfdv.infer_schema(statistics)
    allow_empty_cells(schema)
    tmp_path = f"{output_path}.tmp"
    tfdv.write_schema_text(schema, tmp_path)
    os.replace(tmp_path, output_path)
    rows = statistics.datasets[0].num_examples
    return f"{len(schema.feature)} features from {rows} rows in {len(files)} files"


def allow_empty_cells(schema) -> None:
    """Lets columns that have empty cells hold zero values per example.

    Statistics of the raw CSV count an empty cell as a missing feature, but
    CsvExampleGen encodes it as a feature with no values; without this the
    pipeline would flag every empty cell as an anomaly.
    """
    for feature in schema.feature:
        if feature.HasField("value_count") and feature.value_count.min > 0:
            feature.value_count.min = 0
