"""Trend fits per sample, the bootstrap, and the interval machinery on data of known growth."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlimpact.analysis import trends


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_runs=st.integers(3, 60), n_samples=st.integers(1, 8))
def test_fit_slopes_equals_numpy_least_squares(seed, n_runs, n_samples):
    rng = np.random.default_rng(seed)
    t = rng.uniform(2013, 2025, n_runs)
    y = rng.normal(0, 3, (n_samples, n_runs))
    w = rng.integers(0, 4, (n_samples, n_runs)).astype(float)
    w[:, :2] = 1.0
    t[1] = t[0] + 1.0  # two distinct dates with weight
    slope, intercept = trends.fit_slopes(t, y, w)
    for s in range(n_samples):
        sw = np.sqrt(w[s])
        design = np.stack([np.ones(n_runs), t], axis=1) * sw[:, None]
        coef, *_ = np.linalg.lstsq(design, y[s] * sw, rcond=None)
        assert slope[s] == pytest.approx(coef[1], rel=1e-8, abs=1e-10)
        assert intercept[s] == pytest.approx(coef[0], rel=1e-8, abs=1e-6)


def test_known_growth_rate_is_recovered_with_calibrated_intervals():
    # Data generated with a known growth of x2.5 per year and lognormal scatter: the 95 %
    # bootstrap interval of the growth factor should contain 2.5 in about 95 % of datasets.
    rng = np.random.default_rng(1)
    true_slope = np.log(2.5)
    covered, estimates = 0, []
    for trial in range(200):
        t = rng.uniform(2013, 2025, 150)
        y = 3.0 + true_slope * (t - 2013) + rng.normal(0, 1.5, 150)
        slopes, _ = trends.fit_slopes(t, y, trends.bootstrap_weights(150, 0, 400, trial))
        summary = trends.summarize(np.exp(slopes), threshold=1.0)
        covered += summary["low"] <= 2.5 <= summary["high"]
        estimates.append(summary["estimate"])
    # binomial(200, 0.95): 95 % of coverages fall in [184, 196]; bootstrap percentile
    # intervals run slightly narrow, hence the lower bound 180
    assert 180 <= covered <= 199
    assert np.median(estimates) == pytest.approx(2.5, rel=0.02)


def test_growth_and_doubling_time():
    factor, doubling = trends.growth(np.log([2.0, 4.0, 0.5]))
    np.testing.assert_allclose(factor, [2, 4, 0.5])
    np.testing.assert_allclose(doubling[:2], [1.0, 0.5])
    assert np.isnan(doubling[2])


def test_bootstrap_weights_are_addressable_and_sum_to_n():
    whole = trends.bootstrap_weights(50, 0, 300, seed=3)
    part = trends.bootstrap_weights(50, 100, 200, seed=3)
    np.testing.assert_array_equal(whole[100:200], part)
    assert np.all(whole.sum(axis=1) == 50)


def test_summarize_probability():
    summary = trends.summarize(np.array([0.5, 1.5, 2.0, 3.0]), threshold=1.0)
    assert summary["probability"] == 0.75


def test_decimal_years():
    dates = np.array(["2020-01-01", "2020-07-02", "2021-12-31"], dtype="datetime64[D]")
    np.testing.assert_allclose(trends.decimal_years(dates), [2020.0, 2020.5, 2021.997], atol=1e-3)


def test_broadcast_ordinates_and_weights_take_the_one_compiled_fit():
    # broadcasting gives read-only arrays, for which numba compiled the fit kernel a second
    # time (4 s cold): the fit is handed writable copies
    from numba import types

    t = np.linspace(2013, 2025, 30)
    y = np.tile(0.5 * t, (4, 1))
    weights = np.ones((4, 30))  # broadcast to its own shape inside: a read-only view
    slope, _ = trends.fit_slopes(t, y, weights)
    np.testing.assert_allclose(slope, 0.5)
    for signature in trends._fit_rows.signatures:
        assert all(a.mutable for a in signature if isinstance(a, types.Array)), signature


def test_ols_slopes_are_fit_slopes_slopes():
    rng = np.random.default_rng(3)
    t = np.sort(rng.uniform(2013.0, 2025.0, 40))
    y = rng.normal(size=(50, 40)) + 0.7 * t
    assert np.array_equal(trends.ols_slopes(t, y), trends.fit_slopes(t, y)[0])
    # a NaN or infinite ordinate weighs 0, as in fit_slopes, for its row alone
    finite = trends.ols_slopes(t, y)
    y[3, 5], y[7, 0] = np.nan, -np.inf
    with warnings.catch_warnings():  # silently, as before the product was tried first
        warnings.simplefilter("error")
        slopes = trends.ols_slopes(t, y)
    # (the product with centred dates and the loop round apart)
    np.testing.assert_allclose(slopes, trends.fit_slopes(t, y)[0], rtol=1e-9)
    kept = np.arange(40) != 5
    np.testing.assert_allclose(slopes[3], trends.fit_slopes(t[kept], y[3, kept])[0], rtol=1e-9)
    # the other rows keep their own fit, to the bit
    others = ~np.isin(np.arange(50), [3, 7])
    assert np.array_equal(slopes[others], finite[others])
    # a row of one finite point has no slope; a single row is a scalar slope
    y[9, 1:] = np.nan
    assert np.isnan(trends.ols_slopes(t, y)[9])
    assert np.ndim(trends.ols_slopes(t, y[3])) == 0
    np.testing.assert_allclose(trends.ols_slopes(t, y[3]), slopes[3], rtol=1e-12)
    assert np.isnan(trends.ols_slopes(np.full(40, 2020.0), y)).all()
    # an infinite ordinate at the mean date (0 x inf in the product) is weighed 0 silently
    years, ordinates = np.arange(2013.0, 2026.0), np.zeros((2, 13))
    ordinates[1, 6] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(trends.ols_slopes(years, ordinates), [0.0, 0.0])


def test_dataset_slopes_fit_each_series_on_the_same_resamples():
    rng = np.random.default_rng(5)
    dates = np.sort(rng.uniform(2013.0, 2025.0, 30))
    point = np.exp(rng.normal(size=(30, 2)) + 0.5 * (dates[:, None] - 2013.0))
    series = {"a": lambda s: np.log(s[..., 0]), "b": lambda s: np.log(s[..., 1])}
    n = 5000  # two blocks of resamples
    got = trends.dataset_slopes(dates, series, point, n, seed=4)
    weights = trends.bootstrap_weights(30, 0, n, 4)
    for name, column in (("a", 0), ("b", 1)):
        y = np.log(point[:, column])
        expected = trends.fit_slopes(dates, np.broadcast_to(y, (n, 30)), weights)[0]
        np.testing.assert_allclose(got[name], expected, rtol=1e-12)


def test_ols_slopes_run_no_numba_parallel_region(monkeypatch):
    # the Sobol' analysis reduces on a second thread while the kernels run on the first:
    # numba's default threading layer would abort on a second parallel region
    def parallel(*args):
        raise AssertionError("a parallel kernel ran")

    monkeypatch.setattr(trends, "_fit_rows", parallel)
    with np.errstate(divide="ignore"):  # log 0 = -inf
        y = np.log(np.array([[1.0, 2.0, 4.0, 0.0], [1.0, 2.0, 4.0, 8.0]]))
    slopes = trends.ols_slopes(np.arange(4.0), y)
    np.testing.assert_allclose(slopes, [np.log(2.0), np.log(2.0)], rtol=1e-12)
