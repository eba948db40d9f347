"""Statistical building blocks against independent references (issue 27, item 6).

- weighted quantiles (:func:`mlimpact.study.discrepancy.weighted_quantiles`, the mid-point
  rule, and :class:`mlimpact.uncertainty.distributions.Discrete`, the inverse of the weighted
  CDF) against ``numpy.quantile(..., weights=..., method="inverted_cdf")`` and, for equal
  weights, ``method="hazen"`` (Hyndman and Fan 1996, definitions 1 and 5);
- the calibration's log-densities against ``scipy.stats`` (normal, lognormal, multivariate
  normal) and ``scipy.special.logsumexp``;
- the calibration's importance weights against analytic conjugate posteriors (normal mean with
  a known variance, and normal variance with a known mean: inverse gamma; Gelman et al.,
  Bayesian Data Analysis, 3rd ed., 2013, sections 2.5-2.6);
- Huber's trend fit against ``scipy.optimize.least_squares(loss="huber")``.
"""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from mlimpact.analysis.trends import HUBER_K, fit_slopes, weighted_median
from mlimpact.study import calibration, discrepancy
from mlimpact.uncertainty.distributions import Discrete

needs_weighted_quantile = pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.0.0",
    reason="numpy.quantile takes weights from numpy 2.0",
)

_values = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
# relative weights bounded away from 0, so that the levels below sit well inside their steps
_weights = st.floats(0.05, 1.0)
_levels = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20)


def _normalised(weights):
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


# --- weighted quantiles -------------------------------------------------------------------


@st.composite
def _weighted_sample(draw, unique):
    values = draw(st.lists(_values, min_size=1, max_size=30, unique=unique))
    weights = draw(st.lists(_weights, min_size=len(values), max_size=len(values)))
    return np.array(values), _normalised(weights)


@needs_weighted_quantile
@settings(max_examples=50, deadline=None)
@given(_weighted_sample(unique=True))
def test_weighted_quantiles_at_the_mid_points_are_the_inverted_cdf(sample):
    # The mid-point rule puts the k-th sorted value at the level C_k - w_k / 2 (C_k the
    # cumulative weight up to it) and interpolates linearly between those levels. At those
    # levels it must return the values themselves, which is what the inverse of the weighted
    # CDF (definition 1) returns there: C_k - w_k / 2 lies inside the step (C_k-1, C_k].
    values, weights = sample
    order = np.argsort(values)
    levels = np.cumsum(weights[order]) - 0.5 * weights[order]
    reference = np.quantile(values, levels, weights=weights, method="inverted_cdf")
    np.testing.assert_array_equal(reference, values[order])  # the reference's own convention
    np.testing.assert_array_equal(
        discrepancy.weighted_quantiles(values, weights, levels), reference
    )


@needs_weighted_quantile
@settings(max_examples=50, deadline=None)
@given(_weighted_sample(unique=False), _levels)
def test_weighted_quantiles_are_bracketed_by_the_inverted_cdf(sample, levels):
    # At any level p, the mid-point rule interpolates between two consecutive sorted values
    # whose mid-point levels m_k <= p <= m_k+1 are at most max(w) apart; so its quantile lies
    # between the inverted-CDF quantiles at p - max(w) and p + max(w) (levels clipped to
    # [0, 1]). Ties among the values are allowed here; a few ulps allow for the interpolation.
    values, weights = sample
    levels = np.array(levels)
    result = discrepancy.weighted_quantiles(values, weights, levels)
    low = np.quantile(
        values, np.clip(levels - weights.max(), 0.0, 1.0), weights=weights, method="inverted_cdf"
    )
    high = np.quantile(
        values, np.clip(levels + weights.max(), 0.0, 1.0), weights=weights, method="inverted_cdf"
    )
    ulps = 4 * np.finfo(float).eps * np.abs(values).max()
    assert np.all(low - ulps <= result) and np.all(result <= high + ulps)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(-5, 5).map(float), min_size=1, max_size=30), _levels)
def test_equally_weighted_quantiles_are_hazens(values, levels):
    # With weights 1/n the mid-point levels are (k - 1/2) / n: definition 5 of Hyndman and Fan
    # (Hazen), clamped to the extreme values outside [1/(2n), 1 - 1/(2n)], as numpy does.
    # Integer values force ties; the tolerance is rounding of the levels (cumsum of 1/n).
    values, levels = np.array(values), np.array(levels)
    weights = np.full(values.size, 1.0 / values.size)
    np.testing.assert_allclose(
        discrepancy.weighted_quantiles(values, weights, levels),
        np.quantile(values, levels, method="hazen"),
        rtol=0,
        atol=1e-12,
    )


@needs_weighted_quantile
@settings(max_examples=50, deadline=None)
@given(
    _weighted_sample(unique=False),
    st.lists(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True), min_size=1, max_size=20),
)
def test_discrete_ppf_is_the_weighted_inverted_cdf(sample, u):
    # Discrete(values, weights).ppf is documented as x_k for the smallest k with P_k >= u.
    # Levels within 1e-9 of a step are left out: the two normalise the weights differently
    # (by their largest, then their sum; by their sum), so a level on a step can round to
    # either side of it.
    values, weights = sample
    u = np.array(u)
    steps = np.cumsum(weights[np.argsort(values, kind="stable")])
    u = u[np.all(np.abs(u[:, None] - steps[None, :]) > 1e-9, axis=1)]
    dist = Discrete(list(values), list(weights))
    np.testing.assert_array_equal(
        dist.ppf(u), np.quantile(values, u, weights=weights, method="inverted_cdf")
    )


@needs_weighted_quantile
def test_discrete_ppf_on_the_steps_is_the_weighted_inverted_cdf():
    # On the steps themselves (the levels left out above): weights whose largest and whose sum
    # are powers of two make both normalisations exact, so the smallest-index rule is tested
    # where it matters, with a zero weight (never drawn, not even at the smallest u) and tied
    # values. u = 0 itself is refused (ppf takes the open interval): 5e-324 stands for it.
    values = [3.0, -1.0, 2.0, 7.0, 5.0, 2.0]
    weights = [1.0, 2.0, 1.0, 4.0, 0.0, 8.0]  # sum 16, largest 8
    u = np.arange(32) / 32  # every step k / 16 and every mid-step
    u[0] = 5e-324
    np.testing.assert_array_equal(
        Discrete(values, weights).ppf(u),
        np.quantile(values, u, weights=weights, method="inverted_cdf"),
    )


# --- log-densities ------------------------------------------------------------------------


def test_log_normal_density_is_scipys():
    # The density of the published logarithms: N(log_f, tau^2) on ln y [log units], i.e. the
    # lognormal density of y (median exp(log_f), geometric sd exp(tau)) times its Jacobian y.
    rng = np.random.default_rng(1)
    log_y = rng.normal(5.0, 3.0, size=(1, 1, 40))
    log_f = rng.normal(5.0, 3.0, size=(300, 7, 1))
    tau = np.exp(rng.uniform(np.log(1e-3), np.log(5.0), size=(300, 1, 40)))
    density = discrepancy.log_normal_density(log_y, log_f, tau)
    assert density.shape == (300, 7, 40)
    np.testing.assert_allclose(
        density, stats.norm.logpdf(log_y, loc=log_f, scale=tau), rtol=1e-12, atol=1e-12
    )
    y = np.exp(log_y)
    lognormal = stats.lognorm(s=tau, scale=np.exp(log_f)).logpdf(y) + log_y
    np.testing.assert_allclose(density, lognormal, rtol=1e-10, atol=1e-10)


def test_multivariate_normal_log_density_is_scipys():
    rng = np.random.default_rng(2)
    dims = 5
    factor = rng.normal(size=(dims, dims))
    covariance = factor @ factor.T + 0.1 * np.eye(dims)
    mean = rng.normal(size=dims)
    x = rng.normal(size=(500, dims)) * 3.0
    np.testing.assert_allclose(
        calibration._log_normal(x, mean, covariance),
        stats.multivariate_normal(mean, covariance).logpdf(x),
        rtol=1e-10,
    )


def _row(value, model):
    """A published row as :class:`calibration.Prepared` reads it: its value and its model."""
    return SimpleNamespace(value=value, model=model)


def _prepared(rows, log_f, tau, log_prior, log_proposal, inputs=None):
    return calibration.Prepared(
        rows,
        inputs or {},
        log_f,
        tau,
        log_prior,
        log_proposal,
        skipped=[],
        samples=log_f.shape[0],
        seed=0,
        history=[],
    )


def test_pseudo_marginal_log_likelihood_is_the_log_mean_of_scipys_densities():
    # Each row's likelihood of a sample: the mean over the sample's draws of the normal
    # density of ln y under N(log_f, tau^2) (Andrieu and Roberts 2009), in logarithms.
    rng = np.random.default_rng(3)
    samples, draws, n = 400, 6, 5
    values = np.exp(rng.normal(2.0, 1.0, n))
    log_f = rng.normal(2.0, 1.5, size=(samples, draws, n))
    tau = rng.uniform(0.05, 1.0, size=(samples, n))
    zeros = np.zeros(samples)
    prepared = _prepared([_row(v, f"m{i}") for i, v in enumerate(values)], log_f, tau, zeros, zeros)
    densities = stats.norm.logpdf(np.log(values)[None, None, :], log_f, tau[:, None, :])
    reference = special.logsumexp(densities, axis=1) - math.log(draws)
    np.testing.assert_allclose(prepared.log_likelihood, reference, rtol=1e-12, atol=1e-12)


# --- importance weights on conjugate cases ------------------------------------------------

#: Samples of the conjugate cases: the standard errors of the posterior mean and variance are
#: then 0.2-1.2 % of the posterior's standard deviation and variance; the tests allow 4.
_SAMPLES = 200_000


def _moments_match(theta, weights, mean, variance, sigmas=4.0):
    """The weighted mean and variance of ``theta`` are within ``sigmas`` delta-method standard
    errors of self-normalised importance sampling (A. B. Owen, Monte Carlo theory, methods and
    examples, 2013, section 9.2) of ``mean`` and ``variance``; returns the standard error of
    the mean."""
    centred = theta - mean
    se_mean = math.sqrt(np.sum(weights**2 * centred**2))
    se_variance = math.sqrt(np.sum(weights**2 * (centred**2 - variance) ** 2))
    estimate = weights @ theta
    assert abs(estimate - mean) <= sigmas * se_mean, (estimate, mean, se_mean)
    spread = weights @ (theta - estimate) ** 2
    assert abs(spread - variance) <= sigmas * se_variance, (spread, variance, se_variance)
    return se_mean


@pytest.mark.parametrize("proposal", [(0.0, 1.0), (1.0, 2.5)], ids=["prior", "wider"])
def test_importance_weights_give_the_normal_normal_posterior(proposal):
    # theta ~ N(m0, s0^2) a priori; the published logarithms ln y_i ~ N(theta, sigma^2)
    # independently (log_f = theta for every draw, tau = sigma): the posterior is
    # N(m_n, s_n^2), 1 / s_n^2 = 1 / s0^2 + n / sigma^2, m_n = s_n^2 (m0 / s0^2 + sum / sigma^2).
    # Samples come from the prior itself or from a wider, shifted normal proposal (the weights
    # then carry prior / proposal); leaving out a model's rows or all of them (the prior)
    # must give the posterior of the other rows or the prior.
    m0, s0, sigma = 0.0, 1.0, 0.8
    log_y = np.array([1.3, 0.9, 1.7, 1.1])
    models = ["a", "b", "c", "c"]
    rng = np.random.default_rng(4)
    theta = rng.normal(*proposal, size=_SAMPLES)
    log_f = np.repeat(theta[:, None, None], log_y.size, axis=2)
    tau = np.full((_SAMPLES, log_y.size), sigma)
    prepared = _prepared(
        [_row(math.exp(v), m) for v, m in zip(log_y, models)],
        log_f,
        tau,
        stats.norm.logpdf(theta, m0, s0),
        stats.norm.logpdf(theta, *proposal),
    )

    def posterior(kept):
        precision = 1 / s0**2 + kept.size / sigma**2
        return (m0 / s0**2 + kept.sum() / sigma**2) / precision, 1 / precision

    weights = prepared.weights()
    assert np.all(weights >= 0) and weights.sum() == pytest.approx(1.0, rel=1e-12)
    mean, variance = posterior(log_y)
    se = _moments_match(theta, weights, mean, variance)
    assert abs(mean - m0) > 50 * se  # the test can tell the posterior from the prior
    without_c = posterior(log_y[:2])
    se = _moments_match(theta, prepared.weights(leave_out=("c",)), *without_c)
    assert abs(without_c[0] - mean) > 10 * se  # ... and the rows of c from the others
    _moments_match(theta, prepared.weights(prior=True), m0, s0**2)


def test_importance_weights_give_the_inverse_gamma_posterior_of_the_scale():
    # The scale is the unknown: v = tau^2 ~ InvGamma(a, b) a priori, ln y_i ~ N(mu, v) with mu
    # known; the posterior is InvGamma(a + n/2, b + sum (ln y_i - mu)^2 / 2). This exercises the
    # -ln tau term of the density, which cancels from the weights when tau is known.
    a, b, mu = 3.0, 0.5, 1.0
    log_y = np.array([1.9, 0.2, 1.4, 2.3, 0.1, 1.6])
    rng = np.random.default_rng(5)
    v = stats.invgamma(a, scale=b).rvs(size=_SAMPLES, random_state=rng)
    log_f = np.full((_SAMPLES, 1, log_y.size), mu)
    tau = np.repeat(np.sqrt(v)[:, None], log_y.size, axis=1)
    zeros = np.zeros(_SAMPLES)  # drawn from the prior: prior / proposal = 1
    prepared = _prepared(
        [_row(math.exp(x), f"m{i}") for i, x in enumerate(log_y)], log_f, tau, zeros, zeros
    )
    weights = prepared.weights()
    posterior = stats.invgamma(a + log_y.size / 2, scale=b + np.sum((log_y - mu) ** 2) / 2)
    se = _moments_match(v, weights, posterior.mean(), posterior.var())
    assert abs(posterior.mean() - stats.invgamma(a, scale=b).mean()) > 50 * se
    # the posterior precision 1 / v is Gamma(a + n/2, rate b + S/2)
    precision = stats.gamma(posterior.args[0], scale=1 / posterior.kwds["scale"])
    _moments_match(1 / v, weights, precision.mean(), precision.var())


# --- Huber's trend fit --------------------------------------------------------------------


def _huber_reference(t, y, used):
    """Huber's fit of y on t by scipy: the scale s = 1.4826 x the median absolute residual of
    the ``used`` points, the M-estimate for the threshold HUBER_K s by
    ``least_squares(loss="huber", f_scale=HUBER_K * s)`` (for a fixed threshold its loss is
    twice Huber's rho), the two alternated from least squares until they agree. Returns
    (slope, intercept, the last threshold)."""
    t, y = t[used], y[used]
    t0 = t.mean()  # centred abscissae: a well-conditioned problem for scipy
    slope, level = np.polyfit(t - t0, y, 1)
    x = np.array([level, slope])
    for _ in range(200):
        threshold = HUBER_K * 1.4826 * np.median(np.abs(y - x[0] - x[1] * (t - t0)))
        fit = optimize.least_squares(
            lambda p: y - p[0] - p[1] * (t - t0),
            x,
            loss="huber",
            f_scale=threshold,
            xtol=1e-15,
            ftol=1e-15,
            gtol=1e-15,
        )
        converged = np.allclose(fit.x, x, rtol=1e-13, atol=0)
        x = fit.x
        if converged:
            break
    else:
        raise AssertionError("the reference did not converge")
    return x[1], x[0] - x[1] * t0, threshold


def test_huber_fit_is_scipys_robust_least_squares():
    # Several series in one call (the fit runs along the last axis), each a linear trend in
    # publication years with normal scatter and a few gross outliers; one of them with some
    # points weighted 0 (a bootstrap resample that misses them). The fits agree to 1e-10 to
    # 1e-8 relative; 1e-6 leaves room for the project's stopping rule (slope steps below
    # 1e-10 relative, at most 30 reweightings).
    rng = np.random.default_rng(6)
    n, series = 40, 6
    t = np.sort(rng.uniform(2012.0, 2025.0, n))
    y = 1.0 + 0.7 * (t - 2012.0) + rng.normal(0.0, 0.5, (series, n))
    for row in y:
        outliers = rng.choice(n, 5, replace=False)
        row[outliers] += rng.choice([-1.0, 1.0], 5) * rng.uniform(4.0, 10.0, 5)
    slope, intercept = fit_slopes(t, y, method="huber")
    ols = np.polyfit(t, y.T, 1)[0]
    for k in range(series):
        everything = np.ones(n, dtype=bool)
        reference_slope, reference_intercept, threshold = _huber_reference(t, y[k], everything)
        assert slope[k] == pytest.approx(reference_slope, rel=1e-6)
        assert intercept[k] == pytest.approx(reference_intercept, rel=1e-6)
        # the outliers matter: least squares is far from both
        assert abs(ols[k] - reference_slope) > 1e3 * 1e-6 * abs(reference_slope)
        # and the project's fit is scipy's M-estimate for the threshold of its own residuals
        own = HUBER_K * 1.4826 * np.median(np.abs(y[k] - intercept[k] - slope[k] * t))
        assert own == pytest.approx(threshold, rel=1e-6)
        fixed = optimize.least_squares(
            lambda p, yk: yk - p[0] - p[1] * (t - t.mean()),
            [0.0, 0.0],
            loss="huber",
            f_scale=own,
            args=(y[k],),
            xtol=1e-15,
            ftol=1e-15,
            gtol=1e-15,
        ).x
        assert slope[k] == pytest.approx(fixed[1], rel=1e-6)
    # zero weights drop points: the fit of the others
    used = rng.random(n) < 0.7
    slope, intercept = fit_slopes(t, y[0], weights=used.astype(float), method="huber")
    reference_slope, reference_intercept, _ = _huber_reference(t, y[0], used)
    assert slope == pytest.approx(reference_slope, rel=1e-6)
    assert intercept == pytest.approx(reference_intercept, rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30),
    seed=st.integers(0, 2**31),
)
def test_weighted_median_is_the_median_of_the_values_repeated(values, seed):
    counts = np.random.default_rng(seed).integers(0, 4, len(values))
    counts[0] = max(counts[0], 1)
    values = np.array(values)
    expected = np.median(np.repeat(values, counts))
    assert weighted_median(values, counts.astype(float)) == expected


def _weighted_median_numpy(values, weights):
    """The weighted median by whole-array numpy (the kernel's reference): sort each row, sum
    the weights in that order, take the first values that reach and pass half the total."""
    w = np.where(np.isnan(values), 0.0, weights)
    order = np.argsort(values, axis=-1)  # NaN last
    v = np.take_along_axis(values, order, axis=-1)
    cumulative = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    half = cumulative[..., -1:] / 2
    lower = np.argmax(cumulative >= half, axis=-1)[..., None]
    upper = np.argmax(cumulative > half, axis=-1)[..., None]
    median = (np.take_along_axis(v, lower, -1) + np.take_along_axis(v, upper, -1))[..., 0] / 2
    return np.where(cumulative[..., -1] > 0, median, np.nan)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), rows=st.integers(1, 40), n=st.integers(1, 60))
def test_weighted_median_kernel_equals_numpy_with_nan_and_real_weights(seed, rows, n):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(2, rows, n)).round(1)  # ties on purpose
    values[rng.random(values.shape) < 0.1] = np.nan
    weights = rng.exponential(size=values.shape) * (rng.random(values.shape) < 0.8)
    np.testing.assert_array_equal(
        weighted_median(values, weights), _weighted_median_numpy(values, weights)
    )


@pytest.mark.parametrize("n", [2, 3, 442, 1000])
def test_weighted_median_of_long_rows_with_ties_is_the_median_repeated(n):
    """Rows as long as the dataset's, bootstrap counts and few distinct values (the
    quickselect's partitions hold many equal values)."""
    rng = np.random.default_rng(n)
    for distinct in (1, 2, 7, n):
        values = rng.integers(0, distinct, size=(20, n)).astype(float) * 0.37
        counts = rng.multinomial(n, np.full(n, 1 / n), size=20).astype(float)
        expected = [np.median(np.repeat(v, c.astype(int))) for v, c in zip(values, counts)]
        np.testing.assert_array_equal(weighted_median(values, counts), expected)


def test_huber_fit_with_bootstrap_counts_is_the_fit_of_the_repeated_rows():
    # a bootstrap sample's counts weigh its rows: the fit must be that of the rows repeated
    rng = np.random.default_rng(3)
    t = np.linspace(2013, 2025, 40)
    y = 0.9 * (t - 2013) + rng.standard_t(2, t.size)
    for _ in range(20):
        counts = rng.multinomial(t.size, np.full(t.size, 1 / t.size))
        repeat = np.repeat(np.arange(t.size), counts)
        slope, intercept = fit_slopes(t, y, weights=counts, method="huber")
        expected = fit_slopes(t[repeat], y[repeat], method="huber")
        np.testing.assert_allclose([slope, intercept], expected, rtol=1e-8)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    rows=st.integers(1, 12),
    n=st.integers(1, 50),
    huber=st.booleans(),
    weighted=st.booleans(),
)
def test_fit_kernel_equals_whole_array_numpy(seed, rows, n, huber, weighted):
    # the numba fit (per row, in parallel) against the whole-array numpy reference, with NaN and
    # infinite ordinates, zero and real weights, repeated dates and outliers
    from naive import fit_slopes as reference

    rng = np.random.default_rng(seed)
    t = rng.uniform(2013, 2025, n).round(1)
    y = 0.8 * (t - 2013) + rng.standard_t(2, (rows, n))
    y[rng.random(y.shape) < 0.05] = np.nan
    y[rng.random(y.shape) < 0.02] = -np.inf
    weights = rng.exponential(size=y.shape) * (rng.random(y.shape) < 0.8) if weighted else None
    method = "huber" if huber else "ols"
    slope, intercept = fit_slopes(t, y, weights, method=method)
    expected_slope, expected_intercept = reference(t, y, weights, huber=huber)
    np.testing.assert_allclose(slope, expected_slope, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(intercept, expected_intercept, rtol=1e-9, atol=1e-6)
