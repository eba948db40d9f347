"""Growth rates per sample: log-linear trends of per-model quantities against time.

For every Monte Carlo sample, the per-model values ``y_r`` of a quantity (energy, GWP, ...)
are regressed on the publication dates ``t_r`` [years]: ``ln y = a + b t`` by ordinary least
squares. ``exp(b)`` is the growth factor per year and ``ln 2 / b`` the doubling time; their
distribution over samples gives their intervals. Two sources of uncertainty are separated:

- **input** uncertainty: the Monte Carlo samples, every model counted once;
- **dataset** uncertainty (which models happen to be in the dataset): a bootstrap over models,
  each sample's regression weighted by how often each model is drawn, on the point values;
- **combined**: each Monte Carlo sample paired with its own bootstrap resample.

Bootstrap resamples are addressed like the samples (a counter hash of the seed and the sample
index), so they do not depend on the chunking.

References
----------
.. [1] B. Efron, R. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall, 1993.
"""

import warnings

import numpy as np
from numba import prange

from mlimpact._config import PARALLEL_JIT_OPTIONS, njit
from mlimpact.uncertainty.sampling import Design

UNCERTAINTIES = ("input", "dataset", "combined")
#: Stream of the bootstrap resamples, apart from the Monte Carlo design's.
_BOOTSTRAP_SEED_OFFSET = 1_000_003


#: Fits of a trend: ordinary least squares, or Huber's robust M-estimator.
FITS = ("ols", "huber")
#: Huber's tuning constant (95 % efficiency under normal errors; Huber 1964) and the
#: iterations of its reweighted least squares.
HUBER_K, HUBER_ITERATIONS = 1.345, 30


#: Fewest items (models, cards), and distinct years, a trend is fitted on; fewer leave it
#: not evaluable.
MIN_MODELS, MIN_YEARS = 10, 3


def enough_for_trend(years):
    """Whether items of these publication or release years (decimal or whole) can carry a
    trend: at least :data:`MIN_MODELS` items over :data:`MIN_YEARS` distinct years."""
    years = np.floor(np.asarray(years, dtype=np.float64))
    return years.size >= MIN_MODELS and np.unique(years).size >= MIN_YEARS


def fit_slopes(t, y, weights=None, method="ols"):
    """Weighted least-squares slope and intercept of ``y`` on ``t`` along the last axis.

    With ``method="huber"``, Huber's M-estimator by iteratively reweighted least squares (P. J.
    Huber, Ann. Math. Stat. 35(1), 1964; scale: 1.4826 x the median absolute residual, each residual
    counted as often as its weight, so that a bootstrap sample's fit is that of its models
    repeated): residuals beyond 1.345 scales weigh 1.345 scale / |residual|, so that a few outlying
    models move the slope far less than under least squares.

    Parameters
    ----------
    t : array (run,)
        Abscissae (publication dates [years]).
    y : array (..., run)
        Ordinates (logarithms of impacts, shares...).
    weights : array (..., run), optional
        Non-negative weights (bootstrap counts); NaN ordinates get weight 0.

    Returns
    -------
    slope, intercept : arrays (...)
        NaN where fewer than two distinct abscissae have weight.
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if weights is None and method == "ols" and np.isfinite(y).all():
        # every point weighs 1: one product with the centred abscissae (Sobol' designs fit
        # millions of rows)
        dt = t - t.mean()
        variance = float(dt @ dt)
        if variance <= 1e-12 * max(t.size, 1):
            nan = np.full(y.shape[:-1], np.nan)
            return nan, nan
        slope = (y @ dt) / variance
        return slope, y.mean(axis=-1) - slope * t.mean()
    if weights is None:
        w = np.ones_like(y)
    else:
        shape = np.broadcast_shapes(y.shape, np.shape(weights))
        y = np.broadcast_to(y, shape)
        w = np.broadcast_to(weights, shape).astype(float)
    w = np.where(np.isfinite(y), w, 0.0)
    y = np.where(np.isfinite(y), y, 0.0)
    if method not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)} (got {method!r})")
    slope, intercept = _least_squares(t, y, w)
    if method == "huber":
        for _ in range(HUBER_ITERATIONS):
            residual = y - (intercept[..., None] + slope[..., None] * t)
            absolute = np.where(w > 0, np.abs(residual), np.nan)
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # rows without any weight
                scale = 1.4826 * weighted_median(absolute, w)
                ratio = absolute / (HUBER_K * np.maximum(scale, 1e-12)[..., None])
            with np.errstate(divide="ignore"):  # a zero ratio takes the first branch
                huber = np.where(
                    np.nan_to_num(ratio) <= 1.0, 1.0, 1.0 / np.nan_to_num(ratio, nan=1.0)
                )
            new_slope, intercept = _least_squares(t, y, w * huber)
            converged = np.allclose(new_slope, slope, rtol=1e-10, atol=1e-12, equal_nan=True)
            slope = new_slope
            if converged:
                break
    return slope, intercept


def weighted_median(values, weights):
    """Median along the last axis of ``values`` where each value counts ``weights`` times: with
    whole counts, ``numpy.median`` of the values repeated (the mean of the two middle ones for
    an even total); NaN values and zero weights are left out; NaN where nothing weighs.
    ``weights`` must be >= 0 and broadcast to ``values``' shape."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), values.shape)
    shape = values.shape[:-1]
    rows = np.ascontiguousarray(values.reshape(-1, values.shape[-1]))
    out = np.empty(rows.shape[0])
    _weighted_median_rows(rows, np.ascontiguousarray(weights.reshape(rows.shape)), out)
    return out.reshape(shape)


@njit(**PARALLEL_JIT_OPTIONS)
def _weighted_median_rows(values, weights, out):
    """:func:`weighted_median` of every row of ``values`` (row, value) into ``out`` (row): the
    values of positive weight sorted, their weights summed in that order; the lower middle is
    the first value whose running total reaches half the total, the upper middle the first
    that passes it (in parallel over rows)."""
    n_rows, n = values.shape
    for r in prange(n_rows):
        kept_values = np.empty(n)
        kept_weights = np.empty(n)
        k = 0
        for j in range(n):
            if not np.isnan(values[r, j]) and weights[r, j] > 0.0:
                kept_values[k] = values[r, j]
                kept_weights[k] = weights[r, j]
                k += 1
        if k == 0:
            out[r] = np.nan
            continue
        order = np.argsort(kept_values[:k])
        total = 0.0
        for i in range(k):
            total += kept_weights[order[i]]
        half = total / 2.0
        running, lower, upper = 0.0, -1, -1
        for i in range(k):
            running += kept_weights[order[i]]
            if lower < 0 and running >= half:
                lower = order[i]
            if running > half:
                upper = order[i]
                break
        out[r] = (kept_values[lower] + kept_values[upper]) / 2.0


def _least_squares(t, y, w):
    """Weighted least squares of y on t along the last axis (zero weights ignored)."""
    total = w.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (w * t).sum(axis=-1) / total
        y_mean = (w * y).sum(axis=-1) / total
        dt = t - t_mean[..., None]
        variance = (w * dt * dt).sum(axis=-1)
        slope = (w * dt * (y - y_mean[..., None])).sum(axis=-1) / variance
        slope = np.where(variance > 1e-12 * np.maximum(total, 1), slope, np.nan)
    return slope, y_mean - slope * t_mean


def bootstrap_weights(n_runs, start, stop, seed):
    """Counts of each run in the bootstrap resamples of samples start..stop-1, (sample, run)."""
    uniforms = Design("mc", stop, n_runs, seed + _BOOTSTRAP_SEED_OFFSET).uniforms(start, stop)
    picks = np.minimum((uniforms * n_runs).astype(np.int64), n_runs - 1)
    counts = np.zeros((stop - start, n_runs))
    np.add.at(counts, (np.arange(stop - start)[:, None], picks), 1.0)
    return counts


def summarize(values, threshold=None, quantiles=(0.025, 0.5, 0.975)):
    """Median and 95 % interval of per-sample values, and P(value > threshold)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {
            "estimate": np.nan,
            "low": np.nan,
            "high": np.nan,
            "probability": np.nan,
            "samples": 0,
        }
    low, median, high = np.quantile(finite, quantiles)
    out = {
        "estimate": float(median),
        "low": float(low),
        "high": float(high),
        "samples": int(finite.size),
    }
    out["probability"] = float(np.mean(finite > threshold)) if threshold is not None else np.nan
    return out


def chunk_trends(dates, series, seed, start, stop, samples, method="ols"):
    """Per-sample fits of every series on one chunk of samples (a pure function, so that it
    can run on a Dask worker).

    ``series`` maps a name to a function of the chunk's samples (sample, run, quantity)
    returning per-model ordinates (sample, run). Returns ``{(name, "input"): slopes,
    (name, "combined"): slopes, (name, "intercept"): intercepts}``, the combined fits weighted
    by each sample's bootstrap resample of the models (their intercepts too:
    ``(name, "combined_intercept")``).
    """
    weights = bootstrap_weights(len(dates), start, stop, seed)
    out = {}
    for name, transform in series.items():
        y = transform(samples)
        out[name, "input"], out[name, "intercept"] = fit_slopes(dates, y, method=method)
        out[name, "combined"], out[name, "combined_intercept"] = fit_slopes(
            dates, y, weights, method=method
        )
    return out


def dataset_slopes(dates, transform, point_samples, n, seed, method="ols"):
    """Slopes of the bootstrap over models on the point values, for resamples 0..n-1."""
    y = transform(point_samples[None])[0]
    out = []
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        slope, _ = fit_slopes(
            dates, y, bootstrap_weights(len(dates), start, stop, seed), method=method
        )
        out.append(slope)
    return np.concatenate(out)


def merge_chunks(results):
    """Concatenate the per-chunk dicts of :func:`chunk_trends` (in chunk order)."""
    return {key: np.concatenate([r[key] for r in results]) for key in results[0]}


def growth(slopes):
    """Growth factor per year ``exp(b)`` and doubling time ``ln 2 / b`` [years] of slopes b."""
    slopes = np.asarray(slopes, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.exp(slopes), np.where(slopes > 0, np.log(2) / slopes, np.nan)


def decimal_years(dates):
    """Dates (datetime64) as decimal years."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    years = dates.astype("datetime64[Y]")
    start = years.astype("datetime64[D]")
    length = (years + 1).astype("datetime64[D]") - start
    return years.astype(np.int64) + 1970 + (dates - start) / length
