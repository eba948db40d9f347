"""Tests of mlimpact.uncertainty.distributions: quantiles, means and supports against scipy.stats,
invariants
by hypothesis, the discrete and empirical inverse CDFs, validation and the spec round trip."""

import math
import tomllib

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from mlimpact.errors import MlimpactError
from mlimpact.uncertainty.distributions import (
    DISTRIBUTIONS,
    PERT,
    Beta,
    Constant,
    Discrete,
    Distribution,
    Empirical,
    LogNormal,
    LogUniform,
    Normal,
    Triangular,
    TruncatedNormal,
    Uniform,
    from_spec,
)


def _pert_reference(low, mode, high):
    """Beta-PERT as scipy's beta on [low, high] with the lambda = 4 shapes (Vose 2008)."""
    width = high - low
    return st.beta(
        1 + 4 * (mode - low) / width, 1 + 4 * (high - mode) / width, loc=low, scale=width
    )


def _truncnorm_reference(mean, sd, low, high):
    return st.truncnorm((low - mean) / sd, (high - mean) / sd, loc=mean, scale=sd)


#: (distribution, the same distribution in scipy.stats, its scale [unit]). The scale sets the
#: absolute tolerance where a quantile is close to zero by cancellation (loc + scale * z).
REFERENCE_CASES = [
    (Uniform(2, 5), st.uniform(2, 3), 3),
    (Uniform(-1e6, 1e6), st.uniform(-1e6, 2e6), 2e6),
    (LogUniform(0.1, 1000), st.loguniform(0.1, 1000), 1000),
    (Normal(3, 0.5), st.norm(3, 0.5), 0.5),
    (Normal(-2e3, 40), st.norm(-2e3, 40), 40),
    (TruncatedNormal(1, 2, 0, 3), _truncnorm_reference(1, 2, 0, 3), 2),
    (TruncatedNormal(1, 2, -100, 3), _truncnorm_reference(1, 2, -100, 3), 2),
    (TruncatedNormal(0, 1, -3, 38), _truncnorm_reference(0, 1, -3, 38), 1),
    # Windows far in a tail, where Phi(low) and Phi(high) are both 1 or both underflow.
    (TruncatedNormal(0, 1, 40, 50), _truncnorm_reference(0, 1, 40, 50), 1),
    (TruncatedNormal(0, 1, -50, -40), _truncnorm_reference(0, 1, -50, -40), 1),
    (TruncatedNormal(10, 1, 2, 3), _truncnorm_reference(10, 1, 2, 3), 1),
    (LogNormal(2, 1.5), st.lognorm(math.log(1.5), scale=2), 2),
    (LogNormal(300, 10), st.lognorm(math.log(10), scale=300), 300),
    (Triangular(1, 6, 8), st.triang(5 / 7, loc=1, scale=7), 7),
    (Triangular(1, 1, 8), st.triang(0, loc=1, scale=7), 7),
    (Triangular(1, 8, 8), st.triang(1, loc=1, scale=7), 7),
    (PERT(1, 6, 8), _pert_reference(1, 6, 8), 7),
    (PERT(0, 0, 1), _pert_reference(0, 0, 1), 1),
    (PERT(-3, 0.5, 12), _pert_reference(-3, 0.5, 12), 15),
    (Beta(2, 3), st.beta(2, 3), 1),
    (Beta(0.5, 0.5, low=-1, high=3), st.beta(0.5, 0.5, loc=-1, scale=4), 4),
]
REFERENCE_IDS = [str(case[0]) for case in REFERENCE_CASES]

#: Probability levels: a fine interior grid and both tails.
U_GRID = np.concatenate([[1e-12, 1e-8, 1e-5], np.linspace(0.001, 0.999, 999), [1 - 1e-5, 1 - 1e-8]])

# The same closed forms and special functions (ndtri, log_ndtr, betaincinv from Boost) are
# evaluated in double precision on both sides, so the two agree to a few ulps (observed
# <= 6e-13, in the 40-sd tails); 1e-10 leaves room while catching any parameterisation slip.
# The absolute term covers quantiles that vanish by cancellation (loc + scale z near 0).
RTOL = 1e-10


@pytest.mark.parametrize("dist, reference, scale", REFERENCE_CASES, ids=REFERENCE_IDS)
def test_ppf_matches_scipy(dist, reference, scale):
    np.testing.assert_allclose(
        dist.ppf(U_GRID), reference.ppf(U_GRID), rtol=RTOL, atol=RTOL * scale
    )


@pytest.mark.parametrize("dist, reference, scale", REFERENCE_CASES, ids=REFERENCE_IDS)
def test_mean_median_support_match_scipy(dist, reference, scale):
    assert dist.mean() == pytest.approx(reference.mean(), rel=RTOL, abs=RTOL * scale)
    assert dist.median() == pytest.approx(reference.median(), rel=RTOL, abs=RTOL * scale)
    assert dist.support() == tuple(reference.support())


def test_truncated_normal_mean_in_a_far_tail_matches_high_precision():
    # E[Z | 40 < Z < 50] = phi(40) / (Phi(-40) - Phi(-50)) = 40.024968847207263723, computed
    # with mpmath at 50 and 400 digits; log-space evaluation loses ~1e-16 * 40^2 relative.
    assert TruncatedNormal(0, 1, 40, 50).mean() == pytest.approx(40.024968847207263723, rel=1e-12)
    assert TruncatedNormal(0, 1, -50, -40).mean() == pytest.approx(
        -40.024968847207263723, rel=1e-12
    )


def test_truncated_normal_with_a_wide_window_is_the_normal():
    u = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(
        TruncatedNormal(5, 2, -200, 200).ppf(u), Normal(5, 2).ppf(u), rtol=1e-12
    )


def test_lognormal_gsd_is_a_factor_around_the_median():
    # Limpert et al. (2001): 68.3 % of the mass lies in [median / gsd, median * gsd].
    dist = LogNormal(4.0, 2.0)
    lower, upper = dist.ppf(np.array([st.norm.cdf(-1), st.norm.cdf(1)]))
    assert lower == pytest.approx(2.0, rel=1e-12)
    assert upper == pytest.approx(8.0, rel=1e-12)


def test_pert_mean_is_the_weighted_three_point_estimate():
    assert PERT(1, 6, 8).mean() == pytest.approx((1 + 4 * 6 + 8) / 6, rel=1e-15)


# Parameters kept where quantiles are representable and distinct on the test grid.
_finite = hs.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)
_positive = hs.floats(1e-2, 1e3)


def _sorted_pair(values):
    low, high = sorted(values)
    return (low, high) if low < high else (low, low + 1.0)


_pairs = hs.tuples(_finite, _finite).map(_sorted_pair)


@hs.composite
def _three_points(draw):
    low, high = draw(_pairs)
    fraction = draw(hs.floats(0, 1))
    return low, min(max(low + fraction * (high - low), low), high), high


_values = hs.lists(_finite, min_size=1, max_size=20)

DISTRIBUTION_STRATEGY = hs.one_of(
    _pairs.map(lambda p: Uniform(*p)),
    hs.tuples(hs.floats(1e-6, 1e3), hs.floats(1.001, 1e6)).map(
        lambda p: LogUniform(p[0], p[0] * p[1])
    ),
    hs.builds(Normal, _finite, _positive),
    hs.tuples(_finite, _positive, _pairs).map(lambda p: TruncatedNormal(p[0], p[1], *p[2])),
    hs.builds(LogNormal, hs.floats(1e-6, 1e6), hs.floats(1.001, 20)),
    _three_points().map(lambda p: Triangular(*p)),
    _three_points().map(lambda p: PERT(*p)),
    hs.tuples(hs.floats(0.05, 50), hs.floats(0.05, 50), _pairs).map(
        lambda p: Beta(p[0], p[1], *p[2])
    ),
    _values.flatmap(
        lambda v: hs.tuples(
            hs.just(v), hs.lists(hs.floats(0, 10), min_size=len(v), max_size=len(v))
        )
    )
    .filter(lambda p: sum(p[1]) > 0)
    .map(lambda p: Discrete(*p)),
    _values.map(Empirical),
    _finite.map(Constant),
)

#: Interior levels where every distribution is finite, 0 included for the bounded ones below.
U_MONOTONE = np.linspace(1e-9, 1 - 1e-9, 2001)


@settings(max_examples=300, deadline=None)
@given(DISTRIBUTION_STRATEGY)
def test_ppf_is_monotone_finite_float64_and_inside_the_support(dist):
    x = dist.ppf(U_MONOTONE)
    assert x.dtype == np.float64 and x.shape == U_MONOTONE.shape
    assert np.all(np.isfinite(x))
    assert np.all(np.diff(x) >= 0)
    low, high = dist.support()
    assert np.all((x >= low) & (x <= high))
    assert low <= dist.median() <= high
    assert low <= dist.mean() <= high


@settings(max_examples=100, deadline=None)
@given(DISTRIBUTION_STRATEGY)
def test_spec_round_trip_for_generated_distributions(dist):
    assert from_spec(dist.to_spec()) == dist


@pytest.mark.parametrize(
    "dist",
    [case[0] for case in REFERENCE_CASES] + [Discrete([1, 2]), Empirical([3, 1, 2]), Constant(2.5)],
    ids=REFERENCE_IDS + ["discrete", "empirical", "constant"],
)
def test_ppf_keeps_the_shape_of_u(dist):
    u = np.random.default_rng(1).uniform(0.01, 0.99, size=(3, 4, 5))
    x = dist.ppf(u)
    assert x.shape == (3, 4, 5) and x.dtype == np.float64
    np.testing.assert_array_equal(x.ravel(), dist.ppf(u.ravel()))
    scalar = dist.ppf(0.3)
    assert isinstance(scalar, np.float64)
    assert scalar == dist.ppf(np.array([0.3]))[0]


def test_discrete_frequencies_on_a_fine_grid_match_the_weights():
    values = [10.0, -2.0, 3.5, 7.0]
    weights = [0.1, 3.0, 0.0, 1.9]
    dist = Discrete(values, weights)
    n = 100_000
    u = (np.arange(n) + 0.5) / n
    x = dist.ppf(u)
    probabilities = np.array(weights) / sum(weights)
    for value, probability in zip(values, probabilities):
        # The grid puts exactly floor or ceil of n * p points in each interval (P_k-1, P_k].
        assert abs(np.count_nonzero(x == value) / n - probability) <= 1 / n
    assert not np.any(x == 3.5)
    assert dist.ppf(5e-324) == -2.0  # zero-weight values are never drawn, not even near 0
    assert dist.support() == (-2.0, 10.0)
    assert dist.mean() == pytest.approx(float(np.dot(probabilities, values)), rel=1e-15)
    assert np.all(np.diff(x) >= 0)


def test_discrete_follows_the_smallest_index_rule_and_equal_default_weights():
    dist = Discrete([1, 2, 3])
    np.testing.assert_array_equal(
        dist.ppf(np.array([1e-300, 0.2, 1 / 3, 0.34, 2 / 3, 0.7, 0.999999])), [1, 1, 1, 2, 2, 3, 3]
    )
    np.testing.assert_allclose(dist.probabilities, [1 / 3] * 3)
    assert dist.mean() == pytest.approx(2.0)


def test_empirical_ppf_is_the_inverted_empirical_cdf():
    rng = np.random.default_rng(7)
    values = rng.integers(0, 20, size=57).astype(float)  # ties included
    dist = Empirical(values)
    u = np.concatenate(
        [
            [5e-324],
            rng.uniform(0, 1, 500),
            np.arange(1, 57) / 57,
            np.linspace(0, 1, 1001, endpoint=False)[1:],
        ]
    )
    np.testing.assert_array_equal(dist.ppf(u), np.quantile(values, u, method="inverted_cdf"))
    # On a fine grid every observation comes out n_grid / n times, to within one.
    n = 57 * 1000
    x = dist.ppf((np.arange(n) + 0.5) / n)
    for value in np.unique(values):
        assert abs(np.count_nonzero(x == value) - 1000 * np.count_nonzero(values == value)) <= 1
    assert dist.mean() == pytest.approx(values.mean(), rel=1e-15)
    assert dist.support() == (values.min(), values.max())


def test_constant_returns_its_value():
    dist = Constant(4.25, unit="kg")
    np.testing.assert_array_equal(dist.ppf(np.linspace(0.01, 0.99, 7)), np.full(7, 4.25))
    assert dist.mean() == dist.median() == 4.25
    assert dist.support() == (4.25, 4.25)


def test_str_is_readable():
    assert str(Triangular(1, 6, 8, unit="year")) == "triangular(low=1, mode=6, high=8) [year]"
    assert str(Normal(0.5, 2)) == "normal(mean=0.5, sd=2)"
    assert str(LogNormal(2, 1.5, unit="kg")) == "lognormal(median=2, gsd=1.5) [kg]"
    assert str(Discrete([1, 2], [3, 1])) == "discrete(values=[1, 2], weights=[3, 1])"
    assert str(Empirical([3, 1, 2])) == "empirical(n=3, min=1, max=3)"
    assert repr(Normal(0.5, 2, unit="W")) == "Normal(mean=0.5, sd=2.0, unit='W')"


def test_kinds_are_registered():
    assert set(DISTRIBUTIONS) == {
        "uniform",
        "loguniform",
        "normal",
        "truncnormal",
        "lognormal",
        "triangular",
        "pert",
        "beta",
        "discrete",
        "empirical",
        "constant",
    }
    for kind, cls in DISTRIBUTIONS.items():
        assert cls.kind == kind and issubclass(cls, Distribution)


INVALID = [
    (Uniform, dict(low=3, high=1), "low"),
    (Uniform, dict(low=1, high=1), "low"),
    (Uniform, dict(low=float("nan"), high=1), "low"),
    (Uniform, dict(low=0, high=float("inf")), "high"),
    (Uniform, dict(low=True, high=2), "low"),
    (Uniform, dict(low="0", high=2), "low"),
    (Uniform, dict(low=0, high=1, unit=3), "unit"),
    (LogUniform, dict(low=0, high=1), "low"),
    (LogUniform, dict(low=-1, high=1), "low"),
    (LogUniform, dict(low=2, high=1), "low"),
    (Normal, dict(mean=0, sd=0), "sd"),
    (Normal, dict(mean=0, sd=-1), "sd"),
    (Normal, dict(mean=float("nan"), sd=1), "mean"),
    (Normal, dict(mean=False, sd=1), "mean"),
    (TruncatedNormal, dict(mean=0, sd=0, low=-1, high=1), "sd"),
    (TruncatedNormal, dict(mean=0, sd=1, low=1, high=-1), "low"),
    (TruncatedNormal, dict(mean=0, sd=1, low=-1, high=float("nan")), "high"),
    (TruncatedNormal, dict(mean=0, sd=1, low=-float("inf"), high=1), "low"),
    (LogNormal, dict(median=0, gsd=2), "median"),
    (LogNormal, dict(median=-1, gsd=2), "median"),
    (LogNormal, dict(median=1, gsd=1), "gsd"),
    (LogNormal, dict(median=1, gsd=0.5), "gsd"),
    (LogNormal, dict(median=1, gsd=True), "gsd"),
    (Triangular, dict(low=1, mode=9, high=8), "mode"),
    (Triangular, dict(low=1, mode=0, high=8), "mode"),
    (Triangular, dict(low=8, mode=5, high=1), "low"),
    (Triangular, dict(low=2, mode=2, high=2), "low"),
    (Triangular, dict(low=1, mode=float("nan"), high=8), "mode"),
    (PERT, dict(low=1, mode=9, high=8), "mode"),
    (PERT, dict(low=1, mode=1, high=1), "low"),
    (PERT, dict(low=1, mode=2, high=None), "high"),
    (Beta, dict(a=0, b=1), "a"),
    (Beta, dict(a=1, b=-2), "b"),
    (Beta, dict(a=1, b=1, low=1, high=0), "low"),
    (Beta, dict(a=float("inf"), b=1), "a"),
    (Discrete, dict(values=[1, 2], weights=[1, -1]), "weights"),
    (Discrete, dict(values=[1, 2], weights=[0, 0]), "weights"),
    (Discrete, dict(values=[1, 2], weights=[1]), "weights"),
    (Discrete, dict(values=[]), "values"),
    (Discrete, dict(values=[1, float("nan")]), "values"),
    (Discrete, dict(values=[1, True]), "values"),
    (Discrete, dict(values="123"), "values"),
    (Discrete, dict(values=3), "values"),
    (Discrete, dict(values=np.array([1.0, np.inf])), "values"),
    (Discrete, dict(values=np.array([True, False])), "values"),
    (Empirical, dict(values=[]), "values"),
    (Empirical, dict(values=[1, float("nan")]), "values"),
    (Empirical, dict(values=[False]), "values"),
    (Constant, dict(value=float("nan")), "value"),
    (Constant, dict(value=True), "value"),
    (Constant, dict(value="3"), "value"),
]


@pytest.mark.parametrize(
    "cls, kwargs, parameter",
    INVALID,
    ids=[f"{c.kind}-{p}-{i}" for i, (c, _, p) in enumerate(INVALID)],
)
def test_invalid_parameters_raise_a_one_line_error_naming_them(cls, kwargs, parameter):
    with pytest.raises(MlimpactError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert message.startswith(f"{cls.kind}: {parameter}")
    assert "\n" not in message


ROUND_TRIP = [
    Uniform(2, 5, unit="kWh"),
    LogUniform(0.01, 10),
    Normal(3, 0.5, unit="kg"),
    TruncatedNormal(0.3, 0.2, 0, 1, unit="-"),
    LogNormal(2, 1.5, unit="kg CO2eq/kWh"),
    Triangular(1, 6, 8, unit="year"),
    PERT(0.5, 0.8, 0.95),
    Beta(2, 5),
    Beta(2, 5, low=10, high=20, unit="W"),
    Discrete([1, 2, 4], unit="GPU"),
    Discrete([1, 2, 4], [0.2, 0.5, 0.3]),
    Empirical([0.3, 0.1, 0.2, 0.2]),
    Constant(6, unit="year"),
]


@pytest.mark.parametrize("dist", ROUND_TRIP, ids=[str(d) for d in ROUND_TRIP])
def test_spec_round_trip(dist):
    spec = dist.to_spec()
    assert spec["type"] == dist.kind
    assert from_spec(spec) == dist
    assert all(isinstance(v, (str, float, list)) for v in spec.values())


def test_from_spec_reads_toml_tables():
    text = """
    lifetime = {type = "triangular", low = 1, mode = 6, high = 8, unit = "year"}
    usage = {type = "beta", a = 2, b = 3}
    pue = 1.2
    scenario = {type = "discrete", values = [1, 2, 4], weights = [1, 2, 1]}
    """
    table = tomllib.loads(text)
    assert from_spec(table["lifetime"], "lifetime") == Triangular(1, 6, 8, unit="year")
    assert from_spec(table["usage"]) == Beta(2, 3, 0, 1)
    assert from_spec(table["pue"]) == Constant(1.2)
    assert from_spec(table["scenario"]) == Discrete([1, 2, 4], [1, 2, 1])


def test_from_spec_bare_number_is_constant():
    assert from_spec(3) == Constant(3.0)
    assert from_spec(np.float64(0.5)) == Constant(0.5)
    dist = Normal(0, 1)
    assert from_spec(dist) is dist


@pytest.mark.parametrize(
    "spec, fragments",
    [
        ({"type": "gamma", "a": 1}, ["unknown distribution type 'gamma'", "triangular", "pert"]),
        ({"low": 1, "high": 2}, ["missing key 'type'"]),
        ({"type": "uniform", "low": 1, "high": 2, "hihg": 3}, ["unknown key(s) 'hihg'", "high"]),
        ({"type": "triangular", "low": 1, "high": 2}, ["missing key(s) 'mode'"]),
        ({"type": "normal", "mean": 1, "sd": -1}, ["normal: sd must be > 0"]),
        ("3", ["expected a number or a table"]),
        (True, ["expected a number or a table"]),
    ],
)
def test_from_spec_errors_start_with_the_name(spec, fragments):
    with pytest.raises(MlimpactError) as info:
        from_spec(spec, name="gpu_lifetime")
    message = str(info.value)
    assert message.startswith("gpu_lifetime: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
