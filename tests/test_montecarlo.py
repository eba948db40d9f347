"""The Monte Carlo engine: designs, parameter binding, the fused kernel and its reductions."""

import dataclasses
import tracemalloc

import naive
import numpy as np
import pytest
import xarray as xr
from conftest import random_runs
from hypothesis import given, settings
from hypothesis import strategies as st

from mlimpact.engine.kernels.montecarlo import CARD_STAGE, HOST_STAGE, SUB_BINS
from mlimpact.engine.kernels.production import CARD_INPUTS
from mlimpact.engine.kernels.training import HOST_INPUTS
from mlimpact.engine.model import training_impacts
from mlimpact.engine.propagate import (
    parameter_values,
    ppf_spec,
    propagate,
    propagate_setup,
    stage_plan,
)
from mlimpact.errors import MlimpactError
from mlimpact.quantities import CRITERIA, IMPACT_CRITERIA
from mlimpact.runs.setupfile import load_setup
from mlimpact.runs.table import RUN_FIELDS, VARIANT_FIELDS, RunTable
from mlimpact.tables.factors import PRODUCTION_FACTORS
from mlimpact.uncertainty import catalogue as p
from mlimpact.uncertainty import distributions as d
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.sampling import Design, chunks


def bind_all(runs, catalogue=None, known=None):
    catalogue = p.default_catalogue() if catalogue is None else catalogue
    n = len(runs)
    hardware = [f"hw{i % 3}" for i in range(n)]
    countries = ["USA" if i % 2 else "FRA" for i in range(n)]
    return bind(catalogue, runs, hardware, countries, known)


@pytest.fixture
def runs():
    return random_runs(np.random.default_rng(7), 6)


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_same_seed_same_results_whatever_the_chunk_size(runs, method):
    bound = bind_all(runs)
    a = propagate(runs, bound, 8192, seed=3, method=method, chunk_size=8192)
    b = propagate(runs, bound, 8192, seed=3, method=method, chunk_size=1024)
    c = propagate(runs, bound, 8192, seed=3, method=method, chunk_size=3000)
    for other in (b, c):
        for name in CRITERIA:
            np.testing.assert_allclose(other[name], a[name], rtol=1e-12, atol=0)
    again = propagate(runs, bound, 8192, seed=3, method=method, chunk_size=3000)
    xr.testing.assert_identical(again, c)


@pytest.mark.parametrize("table", [True, False])
def test_sobol_chunks_are_the_same_points_in_any_order(table, monkeypatch):
    """From the scrambled table, or (without one) from scipy's engine, where a chunk that
    starts where the last one stopped goes on from the kept engine and others fast-forward a
    pristine one: the same points either way, bit for bit."""
    from mlimpact.uncertainty import sampling

    if not table:
        monkeypatch.setattr(sampling, "_sobol_table", lambda dimension, seed: None)
    whole = sampling.sobol_points(7, 11, 0, 96)
    for start, stop in ((0, 32), (32, 64), (64, 96), (40, 50), (10, 40), (50, 96), (0, 5)):
        np.testing.assert_array_equal(sampling.sobol_points(7, 11, start, stop), whole[start:stop])


def test_sobol_points_from_the_stored_table_are_scipys_to_the_bit(tmp_path, monkeypatch):
    # the scrambled direction numbers and shift are taken from scipy's engine once, stored,
    # and read back by the next process: its points are the engine's, anywhere in the sequence
    import warnings

    from scipy.stats import qmc

    from mlimpact import _config
    from mlimpact.uncertainty import sampling

    monkeypatch.setattr(_config, "cache_dir", lambda: str(tmp_path))
    sampling._sobol_table.cache_clear()
    try:
        made = sampling._sobol_table(37, 5)
        assert made is not None and len(list(tmp_path.glob("sobol-37-5-*.npz"))) == 1
        sampling._sobol_table.cache_clear()
        directions, shift, scale = sampling._sobol_table(37, 5)  # read from the file
        np.testing.assert_array_equal(directions, made[0])
        engine = qmc.Sobol(37, scramble=True, rng=np.random.default_rng(5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # (chunks that are not powers of 2)
            for start, count in ((0, 1), (0, 64), (3, 61), (4096, 100), (99_999, 7)):
                reference = qmc.Sobol(37, scramble=True, rng=np.random.default_rng(5))
                if start:
                    reference.fast_forward(start)
                expected = np.clip(reference.random(count), 2.0**-54, 1.0 - 2.0**-53)
                got = sampling.sobol_points(37, 5, start, start + count)
                np.testing.assert_array_equal(got, expected)
                assert got.flags.f_contiguous
        # a damaged file is made again; an engine without the expected state gives no table
        path = next(tmp_path.glob("sobol-37-5-*.npz"))
        path.write_bytes(b"not a table")
        sampling._sobol_table.cache_clear()
        np.testing.assert_array_equal(sampling._sobol_table(37, 5)[0], made[0])
        assert sampling._checked_table(object()) is None
        engine.bits = 29  # (a state read otherwise than the engine reads it: other points)
        assert sampling._checked_table(engine) is None
    finally:
        sampling._sobol_table.cache_clear()


def test_different_seeds_give_different_samples(runs):
    bound = bind_all(runs)
    a = propagate(runs, bound, 2048, seed=1)
    b = propagate(runs, bound, 2048, seed=2)
    assert not np.allclose(a.gwp.sel(statistic="mean"), b.gwp.sel(statistic="mean"), rtol=1e-9)


def fused_and_naive(runs, bound, n, seed, chunk_size):
    """Every sample from propagate, checked against tests/naive.py on the same values;
    returns both."""
    result = propagate(runs, bound, n, seed=seed, keep_samples=True, chunk_size=chunk_size)
    design = Design("mc", n, bound.n_columns, seed)
    expected = naive.monte_carlo(runs, parameter_values(bound, design.uniforms(0, n)), bound)
    energy = expected["energy", "use"]
    np.testing.assert_allclose(result.energy_samples, energy, rtol=1e-13)
    for criterion in IMPACT_CRITERIA:
        for phase in ("production", "use", "total"):
            np.testing.assert_allclose(
                result[f"{criterion}_samples"].sel(phase=phase),
                expected[criterion, phase],
                rtol=1e-13,
            )
    for scope in ("accelerators", "host", "overhead"):  # differences: to the energy's scale
        np.testing.assert_allclose(
            result.energy_by_scope_samples.sel(scope=scope),
            expected["energy", scope],
            rtol=1e-13,
            atol=1e-13 * energy.max(initial=0.0),
        )
    return result, energy


def test_fused_kernel_equals_naive_numpy(runs):
    result, expected = fused_and_naive(runs, bind_all(runs), 1500, seed=11, chunk_size=1024)
    # Streaming mean and std agree with the full arrays
    np.testing.assert_allclose(result.energy.sel(statistic="mean"), expected.mean(0), rtol=1e-12)
    np.testing.assert_allclose(
        result.energy.sel(statistic="std"), expected.std(0, ddof=1), rtol=1e-9
    )


def test_histogram_quantiles_within_one_bin_of_exact(runs):
    result = propagate(runs, bind_all(runs), 20000, seed=5, keep_samples=True)
    for criterion in IMPACT_CRITERIA:
        samples = result[f"{criterion}_samples"]
        for name, level in (("q025", 0.025), ("median", 0.5), ("q975", 0.975)):
            exact = samples.quantile(level, dim="sample")
            estimate = result[criterion].sel(statistic=name)
            # a bin spans 1/SUB_BINS of its lower edge; rank conventions differ by < 1 sample
            assert np.all(np.abs(estimate - exact) <= exact / SUB_BINS + 1e-12 * exact.max())


def _quantile_of_histogram(h, tails, anchor, extremes, count, level):
    """One quantile read from one histogram by a plain scan from the first bin (the kernel
    reads every level in one pass)."""
    from mlimpact.engine.kernels.montecarlo import OCTAVES

    target, cumulative = level * count, tails[0]
    if target <= cumulative and cumulative > 0:
        return 0.0
    cumulative += tails[1]
    if target <= cumulative and tails[1] > 0:
        return np.nan
    for j, inside in enumerate(h):
        if inside > 0 and target <= cumulative + inside:
            octave, sub = divmod(j, SUB_BINS)
            scale = 2.0 ** (anchor + octave - OCTAVES // 2 - 1023)
            value = scale * (1 + (sub + min(max((target - cumulative) / inside, 0), 1)) / SUB_BINS)
            return min(max(value, extremes[0]), extremes[1])
        cumulative += inside
    return np.nan


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n_levels=st.integers(1, 7))
def test_histogram_quantiles_in_one_pass_equal_a_scan_per_level(seed, n_levels):
    from mlimpact.engine.kernels.montecarlo import N_BINS, histogram_quantiles

    rng = np.random.default_rng(seed)
    hist = np.zeros((2, 3, N_BINS), dtype=np.int64)
    for r in range(2):
        for k in range(3):  # a few occupied bins, anywhere
            hist[r, k, rng.integers(0, N_BINS, rng.integers(0, 6))] = rng.integers(1, 50, 1)[0]
    tails = rng.integers(0, 3, (2, 3, 3)) * rng.integers(0, 2, (2, 3, 3))
    count = hist.sum(axis=2) + tails.sum(axis=2)
    if (count == 0).any():
        hist[..., 0] += 1
        count = hist.sum(axis=2) + tails.sum(axis=2)
    anchor = rng.integers(1000, 1040, (2, 3))
    extremes = np.stack([np.zeros((2, 3)), np.full((2, 3), np.inf)], axis=-1)
    levels = rng.permutation(np.concatenate([rng.random(n_levels - 1), [1.0]]))
    for r in range(2):  # one count per call: give each (run) its own
        for k in range(3):
            out = np.empty((len(levels), 2, 3))
            histogram_quantiles(hist, tails, anchor, extremes, int(count[r, k]), levels, out)
            expected = [
                _quantile_of_histogram(
                    hist[r, k], tails[r, k], anchor[r, k], extremes[r, k], count[r, k], level
                )
                for level in levels
            ]
            np.testing.assert_array_equal(out[:, r, k], expected)


def test_mean_converges_to_analytic_mean_for_linear_case(bert_base):
    # Only the GWP grid factor is uncertain: use-phase GWP is linear in it, so its mean is the
    # point value times E[X] = exp(ln(gsd)^2 / 2) for a lognormal of median 1.
    gsd = 1.4
    catalogue = {
        "grid_gwp_error": p.Parameter(
            "grid_gwp_error",
            d.LogNormal(1.0, gsd),
            scope="country",
            target="grid_gwp",
            mode="scale",
        )
    }
    n = 200_000
    result = propagate(bert_base, bind_all(bert_base, catalogue), n, seed=0)
    point = float(training_impacts(bert_base).gwp.sel(phase="use")[0])
    expected = point * np.exp(np.log(gsd) ** 2 / 2)
    mean = float(result.gwp.sel(phase="use", statistic="mean")[0])
    std = float(result.gwp.sel(phase="use", statistic="std")[0])
    assert abs(mean - expected) < 4 * std / np.sqrt(n)  # 4 standard errors
    # production does not depend on the grid: no spread at all
    production = result.gwp.sel(phase="production")[0]
    assert float(production.sel(statistic="std")) == pytest.approx(0, abs=1e-9)


def test_reference_interval_brackets_point_estimate(repo_root):
    setup = load_setup(repo_root / "examples" / "bert_base.toml")
    result = propagate_setup(setup, 20_000, seed=0)
    for criterion in CRITERIA:
        values = result[criterion].isel(model=0)
        if "phase" in values.dims:
            values = values.sel(phase="total")
        assert (
            float(values.sel(statistic="q025"))
            < float(values.sel(statistic="point"))
            < float(values.sel(statistic="q975"))
        )


def test_known_fields_are_not_sampled(runs):
    known = np.zeros((len(runs), len(RUN_FIELDS)), bool)
    known[:, RUN_FIELDS.index("gpu_usage")] = True
    known[0, RUN_FIELDS.index("grid_gwp")] = True
    bound = bind_all(runs, known=known)
    assert "gpu_usage" not in bound.groups
    field = RUN_FIELDS.index("grid_gwp")
    row = list(bound.apply_field).index(field)
    assert bound.apply_column[row, 0] == -1 and bound.apply_column[row, 1] >= 0


def test_scopes_give_one_column_per_member(runs):
    bound = bind_all(runs)
    assert len(bound.groups["lifetime_years"]) == 1  # global
    assert len(bound.groups["grid_gwp_error"]) == 2  # FRA and USA
    assert len(bound.groups["gpu_usage"]) == len(runs)  # per run
    assert len(bound.groups["production_gwp_error"]) == PRODUCTION_FACTORS.shape[0]


def test_memory_does_not_grow_with_samples(runs):
    bound = bind_all(runs)
    propagate(runs, bound, 2048, seed=0, chunk_size=1024)  # compile first

    def peak(n):
        tracemalloc.start()
        propagate(runs, bound, n, seed=0, chunk_size=1024)
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    assert peak(32 * 1024) < 1.2 * peak(4 * 1024)


def test_lhs_has_one_sample_per_stratum():
    u = Design("lhs", 1000, 4, seed=9).uniforms(0, 1000)
    strata = np.sort(np.floor(u * 1000).astype(int), axis=0)
    assert np.array_equal(strata, np.repeat(np.arange(1000)[:, None], 4, axis=1))


def test_designs_are_addressable():
    for method in ("mc", "lhs", "sobol"):
        design = Design(method, 4096, 3, seed=4)
        whole = design.uniforms(0, 4096)
        np.testing.assert_array_equal(design.uniforms(1500, 2600), whole[1500:2600])
        assert whole.min() > 0 and whole.max() < 1


def test_chunks_cover_every_sample_once():
    ranges = chunks(10_000, 3000)
    assert ranges[0] == (0, 3000) and ranges[-1] == (9000, 10_000)
    assert sum(b - a for a, b in ranges) == 10_000


@pytest.mark.parametrize(
    "method, n, message",
    [
        ("sobol", 1000, "power of two"),
        ("grid", 16, "sampling method"),
        ("mc", 0, ">= 1"),
    ],
)
def test_bad_designs_rejected(method, n, message):
    with pytest.raises(MlimpactError, match=message):
        Design(method, n, 2, seed=0)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {
                "distribution": {"type": "normal", "mean": 10, "sd": 5},
                "scope": "run",
                "target": "hours",
                "mode": "replace",
            },
            "can leave the valid range of hours",
        ),
        (
            {
                "distribution": {"type": "uniform", "low": 0.5, "high": 1.5},
                "scope": "global",
                "target": "lifetime_usage",
                "mode": "replace",
            },
            "valid range of lifetime_usage",
        ),
        (
            {
                "distribution": {"type": "normal", "mean": 1, "sd": 0.5},
                "scope": "global",
                "target": "grid_gwp",
                "mode": "scale",
            },
            "multiplicative error must be >= 0",
        ),
        ({"distribution": 1.0, "scope": "planet", "target": "hours", "mode": "replace"}, "scope"),
        (
            {"distribution": 1.0, "scope": "run", "target": "colour", "mode": "replace"},
            "unknown target 'colour'",
        ),
        ({"distribution": 1.0, "scope": "run", "target": "hours"}, "mode is required"),
        (
            {"distribution": 1.0, "scope": "run", "target": "hours", "mode": "replace", "x": 1},
            "unknown key",
        ),
        (
            {
                "distribution": {"type": "uniform", "low": 3, "high": 1},
                "scope": "global",
                "target": "hours",
                "mode": "replace",
            },
            "low",
        ),
    ],
)
def test_invalid_parameters_rejected(spec, message):
    with pytest.raises(MlimpactError, match=message) as error:
        p.parse_parameters({"bad": spec}, source="params.toml")
    assert "\n" not in str(error.value) and str(error.value).startswith("params.toml")


def test_parameters_file_errors(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[lifetime_years\n")
    with pytest.raises(MlimpactError, match="malformed TOML"):
        p.load_parameters(broken)
    with pytest.raises(MlimpactError, match="no such parameters file"):
        p.load_parameters(tmp_path / "absent.toml")


def test_uncertainty_section_overrides_catalogue():
    catalogue = p.apply_uncertainty(
        p.default_catalogue(),
        {
            "lifetime_years": {"type": "uniform", "low": 2, "high": 4},
            "hours": {"type": "lognormal", "median": 80, "gsd": 1.1},
            "memory_density": 1.875,
        },
    )
    assert catalogue["lifetime_years"].distribution == d.Uniform(2, 4)
    assert catalogue["hours"].scope == "run" and catalogue["hours"].target == "hours"
    assert catalogue["memory_density"].distribution == d.Constant(1.875)
    with pytest.raises(MlimpactError, match="not a parameter"):
        p.apply_uncertainty(p.default_catalogue(), {"banana": 1.0})


def test_every_catalogue_entry_is_documented():
    for parameter in p.default_catalogue().values():
        assert parameter.source and parameter.description and parameter.unit


def test_results_save_to_netcdf(runs, tmp_path):
    from mlimpact.render.files import write_netcdf

    result = propagate(runs, bind_all(runs), 1024, seed=0)
    write_netcdf(result, tmp_path / "r.nc")
    back = xr.load_dataset(tmp_path / "r.nc")
    xr.testing.assert_allclose(back, result)
    assert back.gwp.attrs["units"] == "kg CO2eq"


@pytest.mark.parametrize(
    "distribution",
    [
        d.Constant(3.0),
        d.Uniform(1, 2),
        d.LogUniform(0.1, 10),
        d.Normal(1, 2),
        d.LogNormal(2, 1.5),
        d.Triangular(1, 6, 8),
        d.Triangular(0, 0, 1),
        d.Triangular(0, 1, 1),
    ],
)
def test_compiled_ppf_equals_numpy_ppf(distribution):
    from mlimpact.engine.kernels import ppf

    code, params = ppf_spec(distribution)
    assert code != ppf.NOT_HERE
    u = np.asfortranarray(
        np.concatenate([[1e-12, 0.5, 1 - 1e-12], np.random.default_rng(0).random(2000)])[:, None]
    )
    out = np.empty_like(u, order="F")
    ppf.ppf_columns(u.T, np.array([code]), np.array([params]), out.T)
    expected = distribution.ppf(u)
    # relative to the values, and near a zero crossing (normal) to their scale
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-14 * np.abs(expected).max())


def test_compiled_ndtri_equals_scipy_to_1e14():
    from scipy.special import ndtri

    from mlimpact.engine.kernels import ppf

    u = np.concatenate(
        [
            np.random.default_rng(1).random(200_000),
            np.logspace(-300, -1, 3000),
            1 - np.logspace(-16, -1, 3000),
            [0.5, 0.075, 0.925],
        ]
    )
    out = np.empty_like(u)
    ppf.ppf_column(ppf.NORMAL, np.array([0.0, 1.0, 0.0, 0.0]), u, out)
    np.testing.assert_allclose(out, ndtri(u), rtol=1e-14, atol=0)
    assert out[-3] == 0.0 and np.all(np.diff(out[:-3][np.argsort(u[:-3])]) >= 0)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([0.0, 1e-300, 0.1, 1.0, 3.0, 1e300]),
        ),
        min_size=1,
        max_size=9,
    ).filter(lambda entries: any(w > 0 for _, w in entries))
)
def test_compiled_discrete_ppf_equals_numpy_ppf(entries):
    """The compiled discrete quantile (a binary search per value) selects what numpy's
    searchsorted does, at and around every cumulative probability (ties go left), with
    duplicate values and zero or extreme weights."""
    from mlimpact.engine.kernels import ppf

    values, weights = zip(*entries)
    distributions = [d.Discrete(values, weights), d.Discrete(values)]
    starts, cumulative, table = [0], [], []
    u = [np.random.default_rng(0).random(64)]
    for distribution in distributions:
        c, v = distribution.quantile_table
        cumulative.append(c)
        table.append(v)
        starts.append(starts[-1] + len(c))
        u.append(
            np.clip(np.concatenate([c, np.nextafter(c, 0), np.nextafter(c, 1)]), 1e-16, 1 - 2**-53)
        )
    u = np.concatenate(u)
    uniforms = np.stack([u, u, u])  # (column, sample); column 1 is left alone
    out = uniforms.copy()
    ppf.discrete_columns(
        uniforms,
        np.array([0, 2]),
        np.array(starts),
        np.concatenate(cumulative),
        np.concatenate(table),
        out,
    )
    np.testing.assert_array_equal(out[0], distributions[0].ppf(u))
    np.testing.assert_array_equal(out[2], distributions[1].ppf(u))
    np.testing.assert_array_equal(out[1], u)


@pytest.mark.parametrize(
    "distribution",
    [
        d.Discrete([0.5, 0.7, 0.9], [1, 2, 1]),
        d.PERT(0.2, 0.5, 0.9),
        d.Beta(2, 5, 0.1, 0.9),
    ],
)
def test_kinds_outside_ppf_columns_equal_numpy(runs, distribution):
    """Discrete columns go through their own kernel, the others through numpy: both equal
    the numpy ppf, also in place."""
    assert ppf_spec(distribution)[0] == -1
    catalogue = {
        **p.default_catalogue(),
        "gpu_usage": p.Parameter(
            "gpu_usage", distribution, scope="run", target="gpu_usage", mode="replace"
        ),
    }
    bound = bind_all(runs, catalogue)
    u = Design("mc", 256, bound.n_columns, 0).uniforms(0, 256)
    values = parameter_values(bound, u)
    columns = bound.groups["gpu_usage"]
    np.testing.assert_array_equal(values[:, columns], distribution.ppf(u[:, columns]))
    # in place (as propagate does), the numpy kinds still read the uniforms, not the values
    np.testing.assert_array_equal(parameter_values(bound, u, out=u), values)


def test_results_do_not_depend_on_thread_count(runs):
    import numba

    bound = bind_all(runs)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = propagate(runs, bound, 4096, seed=8, method="lhs")
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = propagate(runs, bound, 4096, seed=8, method="lhs")
    finally:
        numba.set_num_threads(before)
    xr.testing.assert_identical(one, many)


def shared_hardware_runs():
    """Runs of which every third has the card (fields and variants) of run 0, so that with
    bind_all's labels (hw0 for every third run) and a known variant they form one card
    group; runs 4 and 7 have the host server of run 1."""
    table = random_runs(np.random.default_rng(21), 9)
    values, variant_values, variant_cdf = (
        table.values.copy(),
        table.variant_values.copy(),
        table.variant_cdf.copy(),
    )
    card = CARD_INPUTS.tolist() + [RUN_FIELDS.index("variant")]
    for r in (3, 6):
        values[r, card] = values[0, card]
        variant_values[r], variant_cdf[r] = variant_values[0], variant_cdf[0]
    host = HOST_INPUTS.tolist()
    values[4, host] = values[1, host]
    values[7, host] = values[1, host]
    return dataclasses.replace(
        table, values=values, variant_values=variant_values, variant_cdf=variant_cdf
    )


def n_units(plan, stage):
    return int((plan.stages.unit_stage == stage).sum())


def test_runs_sharing_a_card_or_host_share_its_evaluation_and_equal_naive_numpy():
    runs = shared_hardware_runs()
    known = np.zeros((len(runs), len(RUN_FIELDS)), bool)
    known[:, RUN_FIELDS.index("variant")] = True
    bound = bind_all(runs, known=known)
    plan = stage_plan(runs, bound)
    assert plan.stages.card_of_run[0] == plan.stages.card_of_run[3] == plan.stages.card_of_run[6]
    assert n_units(plan, CARD_STAGE) == len(runs) - 2
    assert plan.stages.host_of_run[1] == plan.stages.host_of_run[4] == plan.stages.host_of_run[7]
    assert n_units(plan, HOST_STAGE) == len(runs) - 2
    fused_and_naive(runs, bound, 3000, seed=4, chunk_size=1000)


@pytest.mark.parametrize("known_variant", [False, True])
def test_stage_plan_equals_the_plan_built_run_by_run(known_variant):
    """The whole-array stage plan (unit keys by np.unique of their bytes, applications by
    one selection over every run) equals the run-by-run reference of tests/naive.py, on runs
    that share cards and hosts, with variants drawn per run or known, and on the embedded
    dataset."""
    from mlimpact.runs import notable
    from mlimpact.uncertainty.catalogue import default_catalogue, with_runs

    runs = shared_hardware_runs()
    known = np.zeros((len(runs), len(RUN_FIELDS)), bool)
    known[:, RUN_FIELDS.index("variant")] = known_variant
    cases = [(runs, bind_all(runs, known=known))]
    if known_variant:
        notable_runs = notable.build_runs((2019, 2021), location="evidence", power="evidence")
        catalogue = with_runs(default_catalogue("evidence"), notable_runs)
        cases.append(
            (
                notable_runs.runs,
                bind(
                    catalogue,
                    notable_runs.runs,
                    notable_runs.hardware,
                    notable_runs.countries,
                    notable_runs.known,
                    notable_runs.classes,
                ),
            )
        )
    for table, bound in cases:
        plan = stage_plan(table, bound).stages
        reference = naive.stage_plan(
            table, bound.apply_field, bound.apply_mode, bound.apply_column, bound.variant_column
        )
        for name, expected in zip(
            [f.name for f in dataclasses.fields(plan)], reference, strict=True
        ):
            got = getattr(plan, name)
            assert got.dtype == expected.dtype and np.array_equal(got, expected), name


def test_a_card_sampled_per_run_is_not_shared():
    runs = shared_hardware_runs()
    known = np.zeros((len(runs), len(RUN_FIELDS)), bool)
    known[:, RUN_FIELDS.index("variant")] = True
    assert n_units(stage_plan(runs, bind_all(runs, known=known)), CARD_STAGE) < len(runs)
    catalogue = {
        **p.default_catalogue(),
        "gpu_die_area_cm2": p.Parameter(
            "gpu_die_area_cm2",
            d.Uniform(1, 2),
            scope="run",
            target="gpu_die_area_cm2",
            mode="scale",
        ),
    }
    plan = stage_plan(runs, bind_all(runs, catalogue, known))
    assert len(set(plan.stages.card_of_run.tolist())) == len(runs)
    # nor is one whose hardware variant is drawn per run
    assert n_units(stage_plan(runs, bind_all(runs)), CARD_STAGE) == len(runs)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 700), chunk_size=st.integers(1, 700), seed=st.integers(0, 2**31))
def test_any_chunking_equals_naive_numpy(n, chunk_size, seed):
    # odd chunk sizes cut tiles, blocks of rows and spans anywhere
    runs = shared_hardware_runs()
    result, expected = fused_and_naive(runs, bind_all(runs), n, seed=seed, chunk_size=chunk_size)
    np.testing.assert_allclose(result.energy.sel(statistic="mean"), expected.mean(0), rtol=1e-12)


@pytest.mark.parametrize("chunk_size", [97, 4096])
def test_card_kind_equals_naive_numpy(chunk_size):
    runs = shared_hardware_runs()  # with variants drawn per run and a shared card
    bound = bind_all(runs)
    n = 2500
    result = propagate(
        runs, bound, n, seed=6, keep_samples=True, chunk_size=chunk_size, kind="card"
    )
    values = parameter_values(bound, Design("mc", n, bound.n_columns, 6).uniforms(0, n))
    inputs, factors = naive.apply_parameters(runs, values, bound)
    v = {name: inputs[..., j] for j, name in enumerate(RUN_FIELDS)}
    die, memory, other = naive.card_of_run(v, factors[:, None])  # (sample, run, criterion)
    for c, criterion in enumerate(IMPACT_CRITERIA):
        got = result[f"{criterion}_samples"]  # (hardware, component, sample)
        for component, expected in (
            ("die", die),
            ("memory", memory),
            ("other", other),
            ("total", die + memory + other),
        ):
            np.testing.assert_allclose(got.sel(component=component).T, expected[..., c], rtol=1e-13)


def variant_runs():
    """Two runs: run 0 stands for chip A or chip B (equal weights), run 1 is chip A alone;
    MLCA production, so that a card's die part is its area times the die factor."""
    table = random_runs(np.random.default_rng(3), 2)
    values = table.values.copy()
    values[:, RUN_FIELDS.index("production_model")] = 0.0
    records = [(name, dict(zip(RUN_FIELDS, row))) for name, row in zip(table.names, values)]
    chip_b = {f: values[1, RUN_FIELDS.index(f)] for f in VARIANT_FIELDS}
    chip_b["gpu_die_area_cm2"] = 3.0
    chip_a = {f: values[1, RUN_FIELDS.index(f)] for f in VARIANT_FIELDS}
    return RunTable.from_records(
        records,
        {table.names[0]: [(1.0, chip_a), (1.0, chip_b)]},
        {table.names[0]: ["chip A", "chip B"]},
    )


def test_hardware_parameters_act_on_the_chosen_variant_by_its_name():
    runs = variant_runs()
    catalogue = {
        "die_area[chip A]": p.Parameter(
            "die_area[chip A]",
            d.Uniform(5.0, 9.0),
            scope="hardware",
            target="gpu_die_area_cm2",
            mode="replace",
            members=("chip A",),
        ),
        "hardware_variant": p.default_catalogue()["hardware_variant"],
    }
    bound = bind(catalogue, runs, ["A or B", "chip A"], ["USA", "USA"])
    (die,) = bound.groups["die_area[chip A]"]
    assert list(
        bound.apply_column[bound.apply_field == RUN_FIELDS.index("gpu_die_area_cm2")][0]
    ) == [-1, die]  # run 1 by its own label, run 0 by its variant's
    n = 4000
    result = propagate(runs, bound, n, seed=2, keep_samples=True, kind="card")
    values = parameter_values(bound, Design("mc", n, bound.n_columns, 2).uniforms(0, n))
    area = result.gwp_samples.sel(component="die") / PRODUCTION_FACTORS[0, 0]
    chose_a = values[:, bound.groups["hardware_variant"][0]] <= 0.5
    # the same draw for chip A in both runs; chip B keeps its table value
    np.testing.assert_allclose(area[0].values[chose_a], values[chose_a, die], rtol=1e-14)
    np.testing.assert_allclose(area[0].values[~chose_a], 3.0, rtol=1e-14)
    np.testing.assert_allclose(area[1].values, values[:, die], rtol=1e-14)
    assert 0.3 < chose_a.mean() < 0.7


def test_variant_parameters_equal_naive_numpy():
    runs = shared_hardware_runs()
    labels = [("chip A", "chip B", "chip C")[: int(n)] if n > 1 else () for n in runs.n_variants]
    runs = dataclasses.replace(runs, variant_labels=tuple(labels))
    catalogue = {
        **p.default_catalogue(),
        "die_area[chip B]": p.Parameter(
            "die_area[chip B]",
            d.Uniform(2.0, 4.0),
            scope="hardware",
            target="gpu_die_area_cm2",
            mode="replace",
            members=("chip B",),
        ),
    }
    bound = bind_all(runs, catalogue)
    assert (bound.variant_column >= 0).any()  # fab_intensity_error and the die area
    fused_and_naive(runs, bound, 2000, seed=9, chunk_size=333)


@pytest.mark.parametrize("method", ["mc", "lhs"])
def test_a_part_of_a_design_draws_the_numbers_of_its_columns(method):
    whole = Design(method, 300, 9, seed=5).uniforms(40, 120)
    ids = np.array([7, 0, 3])
    part = Design(method, 300, 3, seed=5, column_ids=ids).uniforms(40, 120)
    np.testing.assert_array_equal(part, whole[:, ids])
    with pytest.raises(MlimpactError, match="cannot draw a part"):
        Design("sobol", 256, 3, seed=5, column_ids=ids)


def test_the_binding_of_some_runs_keeps_their_columns_and_addresses(runs):
    bound = bind_all(runs)
    from mlimpact.uncertainty.binding import bound_runs

    chosen = [1, 4]
    sub = bound_runs(bound, chosen)
    # every application of the chosen runs reads the column of the same address
    for a in range(bound.apply_column.shape[0]):
        for k, r in enumerate(chosen):
            old, new = bound.apply_column[a, r], sub.apply_column[a, k]
            assert (old < 0 and new < 0) or sub.column_ids[new] == old
    assert sub.n_columns <= bound.n_columns
    assert all(sub.columns[j] == bound.columns[sub.column_ids[j]] for j in range(sub.n_columns))
    n = 256
    values_whole = Design("mc", n, bound.n_columns, 0).uniforms(0, n)
    values_part = Design("mc", n, sub.n_columns, 0, column_ids=sub.column_ids).uniforms(0, n)
    np.testing.assert_array_equal(values_part, values_whole[:, sub.column_ids])


def test_histogram_counts_are_int32_only_where_every_count_fits():
    from mlimpact.engine.propagate import COUNT32, Accumulator

    point = np.ones((2, 3))
    assert Accumulator.empty(point, COUNT32).hist.dtype == np.int32
    assert Accumulator.empty(point, COUNT32 + 1).hist.dtype == np.int64
    assert Accumulator.empty(point).hist.dtype == np.int64  # size unknown: the wide counts


def test_a_chunk_of_one_sample_takes_the_kernels_compiled_for_many():
    # a one-row column-major array counts as C-ordered: the kernels read (column, sample)
    # transposes, laid out alike for any number of samples, so a last chunk of one sample
    # does not compile a second version of each (6 s for the fused kernel)
    from mlimpact.engine.kernels import montecarlo as mc
    from mlimpact.engine.kernels import ppf
    from mlimpact.runs import notable

    runs = notable.DatasetOptions(window=(2021, 2021)).runs()
    bound = bind(p.default_catalogue(), runs.runs, runs.hardware, runs.countries, runs.known)
    propagate(runs.runs, bound, 65, chunk_size=64)
    # the parameter values' argument of each kernel, in every version compiled in this process
    for kernel, argument in ((mc.fused_kernel, 6), (mc.sample_factors, 1), (ppf.ppf_columns, 0)):
        layouts = {signature[argument].layout for signature in kernel.signatures}
        assert layouts == {"C"}, (kernel, layouts)
