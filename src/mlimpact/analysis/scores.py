"""Scores of interval forecasts against what was published.

The interval score of Gneiting and Raftery [1]_ (section 6.2), on the logarithms so that runs of
every size weigh alike and wide intervals are not free::

    S = ln(u / l) + (2 / alpha) max(0, ln(l / x)) + (2 / alpha) max(0, ln(x / u))

References
----------
.. [1] T. Gneiting, A. E. Raftery, "Strictly proper scoring rules, prediction, and estimation",
   J. Am. Stat. Assoc. 102(477), 359-378, 2007, doi:10.1198/016214506000001437.
"""

import numpy as np

#: Level of the intervals compared: 1 - ALPHA = 95 %.
ALPHA = 0.05


def interval_score(low, high, published, alpha=ALPHA):
    """Interval score of the central (1 - alpha) interval [low, high] for the observation
    ``published``, on the logarithms (Gneiting and Raftery 2007); lower is better."""
    low, high, x = np.log(low), np.log(high), np.log(published)
    return (
        (high - low) + (2 / alpha) * np.maximum(low - x, 0) + (2 / alpha) * np.maximum(x - high, 0)
    )
