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
from numba import prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit
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
    models move the slope far less than under least squares; each row is reweighted until its
    slope changes by less than 1e-10 of itself (at most 30 rounds). The fits run in a numba
    kernel, in parallel over rows (``tests/naive.py`` holds the whole-array numpy reference).

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
    if method not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)} (got {method!r})")
    if weights is None and method == "ols":
        # every point weighs 1: one product with the centred abscissae, unless an ordinate is
        # NaN or infinite (its row's product is then not finite; the loop weighs it 0)
        slope = _product_slopes(t, y)
        if np.isfinite(slope).all():
            return slope, y.mean(axis=-1) - slope * t.mean()
    if t.size == 0:
        nan = np.full(np.broadcast_shapes(y.shape, np.shape(weights))[:-1], np.nan)
        return nan, nan
    if weights is None:
        shape = y.shape
        w = np.ones((1, t.size))
    else:
        weights = np.asarray(weights, dtype=np.float64)
        shape = np.broadcast_shapes(y.shape, weights.shape)
        w = _broadcast(weights, shape).reshape(-1, t.size)
    rows = _broadcast(y, shape).reshape(-1, t.size)
    slope, intercept = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    iterations = HUBER_ITERATIONS if method == "huber" else 0
    _fit_rows(
        _writable(t),
        _writable(rows),
        _writable(w),
        iterations,
        slope,
        intercept,
    )
    return slope.reshape(shape[:-1]), intercept.reshape(shape[:-1])


def ols_slopes(t, y):
    """The least-squares slopes of :func:`fit_slopes` (every point weighing 1) without the
    intercepts, for callers that read the slopes alone (the Sobol' outputs: a pass over the
    ordinates less per fit). Whole-array numpy only, no numba parallel region: the Sobol'
    analysis calls it on a second thread while the kernels run on the first."""
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    slope = _product_slopes(t, y)
    bad = ~np.isfinite(slope)
    if not bad.any():
        return slope
    # a row with a NaN or infinite ordinate: its finite points alone, as fit_slopes weighs them
    slope = np.array(slope, dtype=np.float64).reshape(-1)
    bad = bad.reshape(-1)
    slope[bad] = _finite_point_slopes(t, y.reshape(-1, t.size)[bad])
    return slope.reshape(y.shape[:-1])


def _product_slopes(t, y):
    """Least-squares slopes of ``y`` (..., run) on ``t`` (run,), every point weighing 1: one
    product with the centred abscissae (Sobol' designs fit millions of rows), whatever the rows
    hold (a row with a non-finite ordinate gets a non-finite slope, silently); all NaN where
    ``t`` does not vary."""
    dt = t - t.mean()
    variance = float(dt @ dt)
    if variance <= 1e-12 * max(t.size, 1):
        return np.full(y.shape[:-1], np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return (y @ dt) / variance


def _finite_point_slopes(t, rows):
    """Least-squares slopes of each row of ``rows`` (row, run) on ``t`` over its finite
    points alone, as :func:`_least_squares_row` weighs them (numpy: no parallel region); NaN
    where those points' abscissae do not vary."""
    used = np.isfinite(rows)
    count = used.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (used * t).sum(axis=1) / count
        y_mean = np.where(used, rows, 0.0).sum(axis=1) / count
        dt = np.where(used, t - t_mean[:, None], 0.0)
        variance = (dt * dt).sum(axis=1)
        covariance = (dt * np.where(used, rows - y_mean[:, None], 0.0)).sum(axis=1)
        slope = covariance / variance
    return np.where(variance > 1e-12 * np.maximum(count, 1.0), slope, np.nan)


@njit(**JIT_OPTIONS)
def _least_squares_row(t, y, w, used, huber):
    """Weighted least-squares (slope, intercept) of y on t over the ``used`` points, each
    weighing ``w * huber``; NaN where the weighted abscissae do not vary."""
    total = t_sum = y_sum = 0.0
    for j in range(t.size):
        if used[j]:
            weight = w[j] * huber[j]
            total += weight
            t_sum += weight * t[j]
            y_sum += weight * y[j]
    t_mean, y_mean = t_sum / total, y_sum / total
    variance = covariance = 0.0
    for j in range(t.size):
        if used[j]:
            weight = w[j] * huber[j]
            dt = t[j] - t_mean
            variance += weight * dt * dt
            covariance += weight * dt * (y[j] - y_mean)
    if not variance > 1e-12 * max(total, 1.0):
        return np.nan, np.nan
    slope = covariance / variance
    return slope, y_mean - slope * t_mean


def _broadcast(array, shape):
    """``array`` broadcast to ``shape``; itself where it has that shape already (a broadcast
    view is read-only, which :func:`_writable` then copies: a copy of the bootstrap weights
    and of the ordinates at every fit)."""
    return array if array.shape == tuple(shape) else np.broadcast_to(array, shape)


def _writable(array):
    """``array`` as a C-contiguous, writable float64 array (a copy only where needed): numba
    compiles a kernel again for read-only arrays, which broadcasting gives."""
    array = np.ascontiguousarray(array, dtype=np.float64)
    return array if array.flags.writeable else array.copy()


@njit(**PARALLEL_JIT_OPTIONS)
def _fit_rows(t, y, w, iterations, slope, intercept):
    """:func:`fit_slopes` of every row of ``y`` (row, point) with weights ``w`` (row or 1,
    point) into ``slope`` and ``intercept`` (row), in parallel over rows (:func:`_fit_row`
    for each: a small parallel loop compiles in a fraction of the time of one holding the
    fit)."""
    for r in prange(y.shape[0]):
        weights = w[min(np.int64(r), w.shape[0] - 1)]  # one row of weights may serve all
        slope[r], intercept[r] = _fit_row(t, y[r], weights, iterations)


@njit(**JIT_OPTIONS)
def _fit_row(t, y, weights, iterations):
    """(slope, intercept) of one row: least squares, then ``iterations`` rounds at most of
    Huber's reweighting, until the slope changes by less than 1e-12 + 1e-10 of it."""
    n = y.size
    used = np.empty(n, dtype=np.bool_)
    for j in range(n):
        used[j] = weights[j] > 0.0 and np.isfinite(y[j])
    huber = np.ones(n)
    b, a = _least_squares_row(t, y, weights, used, huber)
    if iterations > 0 and b == b:
        absolute = np.empty(n)
        kept_values = np.empty(n)
        kept_weights = np.empty(n)
        for _ in range(iterations):
            k = 0
            for j in range(n):
                absolute[j] = abs(y[j] - (a + b * t[j]))
                if used[j]:
                    kept_values[k] = absolute[j]
                    kept_weights[k] = weights[j]
                    k += 1
            scale = 1.4826 * _weighted_median_of(kept_values[:k], kept_weights[:k])
            threshold = HUBER_K * max(scale, 1e-12)
            for j in range(n):
                ratio = absolute[j] / threshold
                huber[j] = 1.0 if ratio <= 1.0 else 1.0 / ratio
            new_b, a = _least_squares_row(t, y, weights, used, huber)
            converged = abs(new_b - b) <= 1e-12 + 1e-10 * abs(b)
            b = new_b
            if converged:
                break
    return b, a


@njit(**JIT_OPTIONS)
def _weighted_median_of(values, weights):
    """The weighted median of :func:`weighted_median` of one row whose weights are all
    positive and values all finite (NaN if it is empty), **permuting** ``values`` and
    ``weights`` (the callers' scratch copies): with W(v) the weight of the values <= v and T
    the total, the mean of the lower middle, the least v with W(v) >= T / 2, and the upper
    middle, the least v with W(v) > T / 2 (with whole weights, numpy's median of the values
    repeated). Found by a three-way quickselect (median-of-three pivot), in expected linear
    time: an argsort per row and Huber round cost more, and numba's sort took about 2 s of
    every cold compile."""
    k = values.size
    if k == 0:
        return np.nan
    total = 0.0
    for i in range(k):
        total += weights[i]
    half = total / 2.0
    lo, hi, below = 0, k, 0.0  # values[lo:hi] hold the lower middle; ``below`` weighs less
    while True:
        a, b, c = values[lo], values[(lo + hi - 1) >> 1], values[hi - 1]
        pivot = max(min(a, b), min(max(a, b), c))
        lt, i, gt = lo, lo, hi  # [lo, lt) < pivot, [lt, i) == pivot, [gt, hi) > pivot
        while i < gt:
            if values[i] < pivot:
                _swap(values, weights, i, lt)
                lt += 1
                i += 1
            elif values[i] > pivot:
                gt -= 1
                _swap(values, weights, i, gt)
            else:
                i += 1
        less = equal = 0.0
        for j in range(lo, lt):
            less += weights[j]
        for j in range(lt, gt):
            equal += weights[j]
        if below + less >= half and lt > lo:
            hi = lt
        elif below + less + equal >= half or gt == hi:
            break
        else:
            below += less + equal
            lo = gt
    # the upper middle: the pivot if it passes half, else the least value above it (every
    # value from gt on is above it)
    if below + less + equal > half or gt == k:
        return pivot
    upper = values[gt]
    for j in range(gt + 1, k):
        upper = min(upper, values[j])
    return (pivot + upper) / 2.0


@njit(**JIT_OPTIONS)
def _swap(values, weights, i, j):
    values[i], values[j] = values[j], values[i]
    weights[i], weights[j] = weights[j], weights[i]


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


@njit(**JIT_OPTIONS)
def _weighted_median_rows(values, weights, out):
    """:func:`weighted_median` of every row of ``values`` (row, value) into ``out`` (row), the
    values of positive weight only (the fits call :func:`_weighted_median_of` per row in
    their own parallel loop: this one is serial, for a shorter compile)."""
    n_rows, n = values.shape
    for r in range(n_rows):
        kept_values = np.empty(n)
        kept_weights = np.empty(n)
        k = 0
        for j in range(n):
            if not np.isnan(values[r, j]) and weights[r, j] > 0.0:
                kept_values[k] = values[r, j]
                kept_weights[k] = weights[r, j]
                k += 1
        out[r] = _weighted_median_of(kept_values[:k], kept_weights[:k])


def bootstrap_weights(n_runs, start, stop, seed):
    """Counts of each run in the bootstrap resamples of samples start..stop-1, (sample, run)."""
    uniforms = Design("mc", stop, n_runs, seed + _BOOTSTRAP_SEED_OFFSET).uniforms(start, stop)
    picks = np.minimum((uniforms * n_runs).astype(np.int64), n_runs - 1)
    # one count of every (sample, run) pick: bincount of the flat cell (np.add.at took 0.66 s
    # of the main job's 137 calls)
    cells = (np.arange(stop - start)[:, None] * n_runs + picks).ravel()
    counts = np.bincount(cells, minlength=(stop - start) * n_runs)
    return counts.reshape(stop - start, n_runs).astype(np.float64)


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


def dataset_slopes(dates, series, point_samples, n, seed, method="ols"):
    """Slopes of the bootstrap over models on the point values, for resamples 0..n-1, of
    every series (name -> transform, as in :func:`chunk_trends`): name -> slopes (n,). The
    resamples' counts are drawn once for all the series (they depend on the models' count
    and the seed only)."""
    ordinates = {name: transform(point_samples[None])[0] for name, transform in series.items()}
    out = {name: [] for name in series}
    for start in range(0, n, 4096):
        stop = min(start + 4096, n)
        weights = bootstrap_weights(len(dates), start, stop, seed)
        for name, y in ordinates.items():
            out[name].append(fit_slopes(dates, y, weights, method=method)[0])
    return {name: np.concatenate(slopes) for name, slopes in out.items()}


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
