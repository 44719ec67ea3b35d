"""How each algorithm reads Transform's outputs: the one place that decides it.

Transform prepares every feature once, the same way for every algorithm
(components/preprocessing.py): that graph is what serving applies, and the
candidates of one run share it. The algorithms take its outputs differently:

- Networks (``linear``, ``dnn``, ``wide_and_deep``) take a standardized number
  as it is, and one-hot encode every categorical input: a vocabulary index, an
  integer code, and a bucketized number (its quantile range).
- Forests (``gradient_boosted_trees``, ``random_forest``) need no z-scores and
  no one-hot encoding. A standardized number is still a number to them: the
  z-score orders the rows as the raw value does, so a tree finds the same
  splits. A bucketized number is an ordered range, so a number too. A vocabulary
  index or an integer code is a category, which a tree splits on sets of.
"""

from kubetfx.components.project import Algorithm, Forest, Preparation, transformed_name

NUMBER = "number"  # a float the model takes as it is
ONE_HOT = "one_hot"  # an integer the model one-hot encodes, ``size`` values
CATEGORY = "category"  # an integer a forest splits on sets of


def model_inputs(preparation: Preparation, settings: Algorithm) -> dict[str, str]:
    """Each model input's kind (NUMBER, ONE_HOT or CATEGORY), by its transformed name."""
    forest = isinstance(settings, Forest)
    kinds = {}
    for column, feature in preparation.features.items():
        name = transformed_name(column)
        if feature.transform == "standardize" or (forest and feature.transform == "bucketize"):
            kinds[name] = NUMBER
        else:  # integer codes: a vocabulary index, an integer code, a quantile range
            kinds[name] = CATEGORY if forest else ONE_HOT
    return kinds
