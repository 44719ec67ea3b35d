"""Feature definitions of the Chicago taxi dataset.

The label is whether a passenger tipped more than 20% of the fare. Raw column
names are the CSV header; transformed features carry the ``_xf`` suffix.
"""

LABEL_KEY = "tips"
FARE_KEY = "fare"

# Numeric features standardized to z-scores.
DENSE_FLOAT_FEATURE_KEYS = ["trip_miles", "fare", "trip_seconds"]

# Coordinates cut into quantile buckets.
BUCKET_FEATURE_KEYS = [
    "pickup_latitude",
    "pickup_longitude",
    "dropoff_latitude",
    "dropoff_longitude",
]
FEATURE_BUCKET_COUNT = 10

# Categories mapped through a vocabulary computed on the data: free text, and
# integer codes with too many distinct values to one-hot directly.
VOCAB_FEATURE_KEYS = [
    "payment_type",
    "company",
    "pickup_census_tract",
    "dropoff_census_tract",
    "pickup_community_area",
    "dropoff_community_area",
]
VOCAB_SIZE = 1000
OOV_SIZE = 10

# Small integer categories used as they are, with the number of values each can
# take (a value at or above it is an error the schema catches first).
CATEGORICAL_FEATURE_MAX_VALUES = {
    "trip_start_hour": 24,
    "trip_start_day": 8,
    "trip_start_month": 13,
}
CATEGORICAL_FEATURE_KEYS = list(CATEGORICAL_FEATURE_MAX_VALUES)

# Columns the model reads; the CSV may hold more (the timestamp is ignored).
MODEL_INPUT_KEYS = (
    DENSE_FLOAT_FEATURE_KEYS + BUCKET_FEATURE_KEYS + VOCAB_FEATURE_KEYS + CATEGORICAL_FEATURE_KEYS
)
REQUIRED_COLUMNS = sorted(set(MODEL_INPUT_KEYS) | {LABEL_KEY})

# Evaluation slices: overall, plus by this raw feature.
SLICE_FEATURE_KEYS = ["trip_start_hour"]


def transformed_name(key: str) -> str:
    """Name of the transformed feature produced from raw column ``key``."""
    return f"{key}_xf"


TRANSFORMED_LABEL_KEY = transformed_name(LABEL_KEY)
