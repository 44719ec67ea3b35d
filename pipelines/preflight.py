"""Checks of user input that run before any pipeline task starts.

Each failure is a ``UserError`` whose message names the file or folder and
says what to change, so a bad argument never costs a partial run.
"""

import csv
import glob
import os
import shutil
import uuid

from kubetfx.pipelines.errors import UserError


def csv_files(data_root: str) -> list[str]:
    """The ``*.csv`` files directly in ``data_root``, sorted; errors if there are none."""
    if not os.path.exists(data_root):
        raise UserError(
            f"data folder {data_root} does not exist; pass --data with a folder of CSV files"
        )
    if not os.path.isdir(data_root):
        raise UserError(f"--data must be a folder of CSV files, but {data_root} is a file")
    files = sorted(glob.glob(os.path.join(glob.escape(data_root), "*.csv")))
    if not files:
        raise UserError(
            f"data folder {data_root} has no .csv files; put the CSV files directly in it"
        )
    return files


# "utf-8-sig" reads UTF-8 and drops the byte-order mark that spreadsheet
# programs write at the start of a file; without it the mark sticks to the
# first column's name.
ENCODING = "utf-8-sig"


def read_header(path: str) -> list[str]:
    """The column names in the first line of a CSV file."""
    with open(path, newline="", encoding=ENCODING) as f:
        try:
            header = next(csv.reader(f))
        except StopIteration:
            raise UserError(
                f"{path} is empty; every CSV file needs a header row and data rows"
            ) from None
        except (csv.Error, UnicodeDecodeError) as e:
            raise UserError(f"{path} is not a readable UTF-8 CSV file ({e})") from None
    return [name.strip() for name in header]


def has_data_row(path: str) -> bool:
    with open(path, newline="", encoding=ENCODING) as f:
        reader = csv.reader(f)
        next(reader, None)
        return any(any(cell.strip() for cell in row) for row in reader)


def check_data(data_root: str) -> list[str]:
    """Validates a folder of CSV files for the pipeline and returns their header.

    Every file must have the same header; at least one file must have a data
    row. Which columns a project needs is checked against the header by the
    project (``kubetfx.pipelines.project.loader.check_columns``).
    """
    files = csv_files(data_root)
    first_header = read_header(files[0])
    for path in files[1:]:
        header = read_header(path)
        if header != first_header:
            raise UserError(
                f"{path} has columns {','.join(header)} but {files[0]} has "
                f"{','.join(first_header)}; all CSV files in --data need the same header"
            )
    if not any(has_data_row(path) for path in files):
        raise UserError(f"the CSV files in {data_root} have a header but no data rows")
    return first_header


def csv_statistics(data_root: str, beam_args: "tuple[str, ...]" = ()):
    """TFDV statistics of the CSV files in ``data_root``, names read as ``read_header`` reads them.

    TFDV reads the header itself and keeps a byte-order mark on the first name; dropped here.
    """
    import tensorflow_data_validation as tfdv
    from apache_beam.options.pipeline_options import PipelineOptions

    statistics = tfdv.generate_statistics_from_csv(
        data_location=os.path.join(glob.escape(data_root), "*.csv"),
        pipeline_options=PipelineOptions(list(beam_args)),
    )
    for dataset in statistics.datasets:
        for feature in dataset.features:
            if feature.path.step:
                feature.path.step[0] = feature.path.step[0].removeprefix("\ufeff").strip()
    return statistics


def check_project_store(metadata_path: str, project_name: str) -> None:
    """Refuses an output folder that holds another project's runs (and its pushed models).

    A project's train and predict pipelines share its folder.
    """
    from kubetfx.pipelines.definition.settings import project_pipelines
    from kubetfx.pipelines.history.metadata import recorded_pipelines

    others = sorted(set(recorded_pipelines(metadata_path)) - project_pipelines(project_name))
    if others:
        raise UserError(
            f"{metadata_path} holds the runs of project {', '.join(others)}, not "
            f"{project_name}; pass another --output-dir, since each project keeps its runs "
            "and pushed models in a folder of its own"
        )


def check_writable_dir(path: str, flag: str = "--output-dir") -> None:
    """Creates ``path`` if needed and proves a file can be written in it."""
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".kubetfx-write-test-{uuid.uuid4().hex}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        reason = e.strerror or str(e)
        raise UserError(
            f"cannot write to {path} ({reason}); pass {flag} with a writable folder"
        ) from None


def check_free_space(data_root: str, output_dir: str, metadata_path: str) -> None:
    """Refuses a first run whose CSV files are larger than the free space in its output folder.

    A run writes its examples twice (as read, then transformed), compressed:
    about the input's size in all, so less free space than that fails midway.
    A folder with earlier runs is not checked: a re-run takes what they made
    from the cache and may need next to no space (after a push that found
    the disk full, say).
    """
    if os.path.exists(metadata_path):
        return
    size = sum(os.path.getsize(path) for path in csv_files(data_root))
    free = shutil.disk_usage(output_dir).free
    if size > free:
        raise UserError(
            f"the CSV files in {data_root} take {_size(size)} and {output_dir} has {_size(free)} "
            "free, while a run writes about as much as it reads; free some space or pass an "
            "--output-dir on a larger disk"
        )


def _size(count: float) -> str:
    if count < 1000:
        return f"{count:.0f} bytes"
    for unit in ("kB", "MB"):
        count /= 1000
        if count < 1000:
            return f"{count:.1f} {unit}"
    return f"{count / 1000:.1f} GB"


def check_metadata_layout(metadata_path: str, expected: str) -> None:
    """Refuses a metadata store that holds the other runner's runs: the two never share one."""
    from kubetfx.pipelines.history.metadata import recorded_layout

    found = recorded_layout(metadata_path)
    if found is None or found == expected:
        return
    writer = {"tfx": "`kubetfx run`", "kfp": "`kubetfx emulate`"}[found]
    raise UserError(
        f"{metadata_path} holds the runs of {writer}; pass another --output-dir, since local "
        "and emulated runs are kept in separate folders"
    )
