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


def naive_band(points, published, alpha=ALPHA):
    """The naive reference of a group of forecasts: each point x/÷ k_i, with k_i fitted on the
    *other* rows of the group (leave-one-out) to the coverage target 1 - alpha, i.e. the
    (1 - alpha) quantile (numpy's linear interpolation) of their |ln(published / point)|.

    Returns ``(k, score)``, arrays over the rows: the band factors and the interval scores
    (:func:`interval_score`) of the bands; both NaN for a group of fewer than two rows, which
    has no other row to fit k on."""
    points = np.asarray(points, dtype=float)
    published = np.asarray(published, dtype=float)
    errors = np.abs(np.log(published / points))
    n = errors.size
    if n < 2:
        return np.full(n, np.nan), np.full(n, np.nan)
    k = np.array([np.exp(np.quantile(np.delete(errors, i), 1 - alpha)) for i in range(n)])
    return k, interval_score(points / k, points * k, published, alpha)
