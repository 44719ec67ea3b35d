"""The DataFingerprint task: a digest of the CSV files the launcher staged.

On Kubeflow Pipelines the data is an artifact imported from its object-store
URI, and the importer gives the same URI the same artifact on every run
(``FindMatchedArtifact`` in ``backend/src/v2/metadata/client.go``). KFP's cache
key holds input artifact ids and parameter values, not file contents, so new
files at the same URI would reuse the old examples. This task runs on every
run (its caching is off), hashes the files, and hands the digest to
CsvExampleGen as a parameter: the cache then follows the data.

Invoked as ``python -m kubetfx.components.data_fingerprint --executor_input
{{$}}``; it imports nothing heavy, so its pod starts in about a second.
"""

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence

from kubetfx.components.kfp_contract import CODE_DIGEST_ARG, DATA_INPUT, FINGERPRINT_OUTPUT
from kubetfx.components.kfp_entrypoint import local_path_for_uri

_CHUNK = 1 << 20


def fingerprint(folder: str) -> tuple[str, int, int]:
    """(sha256 over every file's relative path, size and bytes, in path order; files; bytes)."""
    digest = hashlib.sha256()
    files = total = 0
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder)
            size = os.path.getsize(path)
            digest.update(f"{relative}\0{size}\0".encode())
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    digest.update(chunk)
            files += 1
            total += size
    return digest.hexdigest(), files, total


def run(executor_input: dict) -> dict:
    """The ExecutorOutput for one ExecutorInput; raises ValueError when there is no data."""
    artifact = executor_input["inputs"]["artifacts"][DATA_INPUT]["artifacts"][0]
    uri = artifact["uri"]
    folder = local_path_for_uri(uri)
    value, files, size = fingerprint(folder) if os.path.isdir(folder) else ("", 0, 0)
    if not files:
        raise ValueError(
            f"no files at {uri}: copy the CSV files there first "
            "(kubernetes/scripts/upload-data.sh), or pass another data_root"
        )
    print(f"{uri}: {files} files, {size} bytes, sha256 {value}", flush=True)
    return {"parameterValues": {FINGERPRINT_OUTPUT: value}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executor_input", required=True)
    parser.add_argument(CODE_DIGEST_ARG, default="", help="only keys KFP's cache")
    args = parser.parse_args(argv)
    executor_input = json.loads(args.executor_input)
    try:
        output = run(executor_input)
    except (ValueError, OSError) as e:
        print(f"DataFingerprint failed: {e}", file=sys.stderr)
        return 1
    output_file = executor_input["outputs"]["outputFile"]
    os.makedirs(os.path.dirname(output_file), exist_ok=True)
    with open(output_file, "w") as f:
        json.dump(output, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
