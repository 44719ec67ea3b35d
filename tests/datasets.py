"""Small real datasets that are not the taxi's, written as CSV folders for end-to-end runs.

They come from scikit-learn's bundled data (no download): a binary label
(breast cancer), a multiclass text label (iris species) and a regression
target (diabetes progression), with the column names scikit-learn gives them,
spaces and parentheses included.
"""

import csv
from pathlib import Path


def _write(folder: Path, header: list[str], rows: list[list]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "data.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return folder


def breast_cancer(folder: Path) -> Path:
    """569 rows, 30 measurements; ``diagnosis`` is 1 (benign) or 0 (malignant)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    header = [*data.feature_names, "diagnosis"]
    rows = [[*(f"{v:.6g}" for v in x), int(y)] for x, y in zip(data.data, data.target, strict=True)]
    return _write(folder, header, rows)


def iris(folder: Path) -> Path:
    """150 rows, 4 measurements; ``species`` is setosa, versicolor or virginica."""
    from sklearn.datasets import load_iris

    data = load_iris()
    header = [*data.feature_names, "species"]
    rows = [
        [*(f"{v:g}" for v in x), data.target_names[y]]
        for x, y in zip(data.data, data.target, strict=True)
    ]
    return _write(folder, header, rows)


def diabetes(folder: Path) -> Path:
    """442 rows: age, sex (1 or 2), body mass index, blood pressure, six blood serum
    measurements; ``progression`` is a measure of the disease a year later."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    header = [*data.feature_names, "progression"]
    rows = [[*(f"{v:g}" for v in x), f"{y:g}"] for x, y in zip(data.data, data.target, strict=True)]
    return _write(folder, header, rows)
