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

import numpy as np

from mlimpact.uncertainty.sampling import Design

UNCERTAINTIES = ("input", "dataset", "combined")
#: Stream of the bootstrap resamples, apart from the Monte Carlo design's.
_BOOTSTRAP_SEED_OFFSET = 1_000_003


def fit_slopes(t, y, weights=None):
    """Weighted least-squares slope and intercept of ``y`` on ``t`` along the last axis.

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
    if weights is None:
        w = np.ones_like(y)
    else:
        shape = np.broadcast_shapes(y.shape, np.shape(weights))
        y = np.broadcast_to(y, shape)
        w = np.broadcast_to(weights, shape).astype(float)
    w = np.where(np.isfinite(y), w, 0.0)
    y = np.where(np.isfinite(y), y, 0.0)
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
        return {"estimate": np.nan, "low": np.nan, "high": np.nan, "probability": np.nan,
                "samples": 0}
    low, median, high = np.quantile(finite, quantiles)
    out = {"estimate": float(median), "low": float(low), "high": float(high),
           "samples": int(finite.size)}
    out["probability"] = float(np.mean(finite > threshold)) if threshold is not None else np.nan
    return out


def chunk_trends(dates, series, seed, start, stop, samples):
    """Per-sample fits of every series on one chunk of samples (a pure function, so that it
    can run on a Dask worker).

    ``series`` maps a name to a function of the chunk's samples (sample, run, quantity)
    returning per-model ordinates (sample, run). Returns ``{(name, "input"): slopes,
    (name, "combined"): slopes, (name, "intercept"): intercepts}``, the combined fits weighted
    by each sample's bootstrap resample of the models.
    """
    weights = bootstrap_weights(len(dates), start, stop, seed)
    out = {}
    for name, transform in series.items():
        y = transform(samples)
        out[name, "input"], out[name, "intercept"] = fit_slopes(dates, y)
        out[name, "combined"], _ = fit_slopes(dates, y, weights)
    return out


def dataset_slopes(dates, transform, point_samples, n, seed):
    """Slopes of the bootstrap over models on the point values, for resamples 0..n-1."""
    y = transform(point_samples[None])[0]
    out = []
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        slope, _ = fit_slopes(dates, y, bootstrap_weights(len(dates), start, stop, seed))
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
