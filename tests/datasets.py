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


def churn(folder: Path, rows: int = 800) -> Path:
    """Synthetic customers; ``churned`` is yes or no, likelier for short tenures and high fees.

    Seeded, so every run writes the same file: tenure in months, a monthly fee,
    a plan (text) and a region that is empty in one row of twenty.
    """
    import math
    import random

    generate = random.Random(7)
    header = ["tenure_months", "monthly_fee", "plan", "region", "churned"]
    table = []
    for _ in range(rows):
        tenure = generate.randint(1, 72)
        fee = round(generate.uniform(10, 120), 2)
        plan = generate.choice(["basic", "plus", "pro"])
        region = "" if generate.random() < 0.05 else generate.choice(["north", "south", "east"])
        odds = -1.0 - tenure / 24 + fee / 40 + (0.5 if plan == "basic" else 0.0)
        churned = "yes" if generate.random() < 1 / (1 + math.exp(-odds)) else "no"
        table.append([tenure, fee, plan, region, churned])
    return _write(folder, header, table)
