"""Reading TFDV statistics the way kubetfx shows and uses them: missing values counted as such.

CsvExampleGen writes an empty CSV cell as a feature with an empty value list,
which TFDV counts as present (``num_non_missing``). For a feature of at most
one value per example, the examples with no value are the missing ones plus
``num_non_missing - tot_num_values``. Statistics of raw CSV (TFDV's own CSV
reader) count an empty cell as missing already; both read the same here.
"""

from typing import Any


def common_stats(feature: Any) -> Any:
    """The ``CommonStatistics`` of a ``FeatureNameStatistics``, whatever its type."""
    kind = feature.WhichOneof("stats")
    return getattr(feature, kind).common_stats if kind else None


def empty_lists(common: Any) -> float:
    """Examples that carry the feature with no value (single-valued features only)."""
    if common is None or common.max_num_values > 1:
        return 0.0
    return max(0.0, common.num_non_missing - common.tot_num_values)


def present_count(feature: Any) -> float:
    """Examples that have a value of the feature."""
    common = common_stats(feature)
    return 0.0 if common is None else common.num_non_missing - empty_lists(common)


def missing_count(feature: Any, num_examples: float) -> float:
    """Examples without a value of the feature: absent, or an empty cell."""
    return max(0.0, num_examples - present_count(feature))


def missing_share(feature: Any, num_examples: float) -> float:
    return missing_count(feature, num_examples) / num_examples if num_examples else 0.0
