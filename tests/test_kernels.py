"""Kernels against their naive numpy references, and properties of the model (hypothesis)."""

import dataclasses

import naive
import numpy as np
import pytest
from conftest import random_runs
from hypothesis import given, settings
from hypothesis import strategies as st

from mlimpact.engine.kernels.training import evaluate_runs
from mlimpact.engine.model import card_production, training_impacts, validate_runs
from mlimpact.errors import MlimpactError
from mlimpact.quantities import (
    CRITERIA,
    IMPACT_CRITERIA,
    N_CARD_PARTS,
    N_IMPACTS,
    PRODUCTION,
    SCOPES,
    USE,
)
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.tables.factors import PRODUCTION_FACTORS

seeds = st.integers(0, 2**32 - 1)


def scaled(table, **factors):
    values = table.values.copy()
    for field, factor in factors.items():
        values[:, RUN_FIELDS.index(field)] *= factor
    return dataclasses.replace(table, values=values)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(1, 40))
def test_training_kernel_equals_naive_reference(seed, n):
    runs = random_runs(np.random.default_rng(seed), n)
    out = evaluate_runs(runs, PRODUCTION_FACTORS)
    energy, production, use, scopes = naive.training(naive.point_inputs(runs))
    # Same operations in a different order: agreement to a few ulps.
    np.testing.assert_allclose(out[:, 0], energy, rtol=1e-13)
    np.testing.assert_allclose(out[:, PRODUCTION : PRODUCTION + N_IMPACTS], production, rtol=1e-13)
    np.testing.assert_allclose(out[:, USE : USE + N_IMPACTS], use, rtol=1e-13)
    # the host and overhead are differences: compared to the energy's scale
    np.testing.assert_allclose(
        out[:, SCOPES : SCOPES + 3], scopes, rtol=1e-13, atol=1e-13 * energy.max(initial=0.0)
    )


@settings(max_examples=20, deadline=None)
@given(seed=seeds, n=st.integers(1, 40))
def test_a_dynamic_ratio_below_one_scales_the_nodes_down_and_leaves_no_scope_negative(seed, n):
    # a multiplicative energy scatter (mlimpact calibrate's) draws ratios below 1, which no
    # stated value has: an unmetered run's nodes scale down with the facility, a metered run
    # keeps its measurement (its ratio taken at least 1); the kernel equals the reference
    from mlimpact.engine.kernels.training import N_OUT, training_kernel

    runs = random_runs(np.random.default_rng(seed), n)
    ratio = np.random.default_rng(seed).uniform(0.2, 1, n)
    values = runs.values.copy()
    values[:, RUN_FIELDS.index("dynamic_ratio")] = ratio
    out = np.empty((n, N_OUT))
    training_kernel(
        values, runs.variant_values, runs.variant_cdf, PRODUCTION_FACTORS[np.newaxis].copy(), out
    )
    inputs = naive.point_inputs(runs)
    inputs[:, RUN_FIELDS.index("dynamic_ratio")] = ratio
    energy, _, _, scopes = naive.training(inputs)
    np.testing.assert_allclose(out[:, 0], energy, rtol=1e-13)
    np.testing.assert_allclose(
        out[:, SCOPES : SCOPES + 3], scopes, rtol=1e-13, atol=1e-13 * energy.max(initial=0.0)
    )
    assert (out[:, SCOPES : SCOPES + 3] >= -1e-12 * energy.max(initial=0.0)).all()


@settings(max_examples=30, deadline=None)
@given(seed=seeds, n=st.integers(1, 20))
def test_card_kernel_equals_naive_reference(seed, n):
    runs = random_runs(np.random.default_rng(seed), n)
    cards = card_production(runs)
    inputs = naive.point_inputs(runs)
    fields = {name: inputs[:, j] for j, name in enumerate(RUN_FIELDS)}
    parts = naive.card_of_run(fields)
    parts = (*parts, sum(parts))
    for c, criterion in enumerate(IMPACT_CRITERIA):
        for k, component in enumerate(("die", "memory", "other", "total")):
            np.testing.assert_allclose(
                cards[criterion].sel(component=component), parts[k][:, c], rtol=1e-13
            )


@settings(max_examples=25, deadline=None)
@given(
    seed=seeds,
    field=st.sampled_from(["hours", "nodes", "repetitions"]),
    factor=st.floats(0.01, 100),
)
def test_impacts_linear_in_hours_nodes_repetitions(seed, field, factor):
    # with nothing imputed (an imputed field is computed from compute, not scaled) and no
    # metered energy (a measurement is the run's, whatever its size)
    runs = scaled(random_runs(np.random.default_rng(seed), 5), imputation=0, metered_scope=0)
    base = training_impacts(runs)
    more = training_impacts(scaled(runs, **{field: factor}))
    for criterion in CRITERIA:
        np.testing.assert_allclose(more[criterion], factor * base[criterion], rtol=1e-12)


@settings(max_examples=25, deadline=None)
# subnormal factors would test float rounding, not the model
@given(seed=seeds, factor=st.one_of(st.just(0.0), st.floats(1e-6, 9)))  # grid GWP <= 10
def test_use_impacts_linear_in_grid_factor(seed, factor):
    runs = random_runs(np.random.default_rng(seed), 5)
    base = training_impacts(runs)
    # every factor of a kWh: the grids', and water's hydropower and on-site terms
    per_kwh = {f"grid_{c}": factor for c in IMPACT_CRITERIA} | {
        "hydro_water": factor,
        "wue": factor,
    }
    more = training_impacts(scaled(runs, **per_kwh))
    for criterion in IMPACT_CRITERIA:
        np.testing.assert_allclose(
            more[criterion].sel(phase="use"),
            factor * base[criterion].sel(phase="use"),
            rtol=1e-12,
            atol=0,
        )
        np.testing.assert_array_equal(
            more[criterion].sel(phase="production"), base[criterion].sel(phase="production")
        )
    np.testing.assert_array_equal(more.energy, base.energy)


@settings(max_examples=25, deadline=None)
@given(seed=seeds)
def test_production_share_between_zero_and_one(seed):
    result = training_impacts(random_runs(np.random.default_rng(seed), 10))
    for criterion in IMPACT_CRITERIA:
        share = result[criterion].sel(phase="production") / result[criterion].sel(phase="total")
        share = share.values[np.isfinite(share.values)]
        assert np.all((share >= 0) & (share <= 1))


@settings(max_examples=25, deadline=None)
@given(seed=seeds, factor=st.floats(1.01, 10))
def test_production_grows_with_die_area_and_memory(seed, factor):
    runs = random_runs(np.random.default_rng(seed), 5)
    base = training_impacts(runs).gwp.sel(phase="production")
    for field in ("gpu_die_area_cm2", "gpu_memory_gb"):
        more = training_impacts(scaled(runs, **{field: factor})).gwp.sel(phase="production")
        assert np.all(more.values >= base.values)


@settings(max_examples=25, deadline=None)
@given(seed=seeds, factor=st.floats(1.01, 10))
def test_imputed_hours_inversely_proportional_to_mfu_and_chips(seed, factor):
    runs = scaled(random_runs(np.random.default_rng(seed), 4), imputation=0, metered_scope=0)
    values = runs.values.copy()
    values[:, RUN_FIELDS.index("imputation")] = 1  # hours from compute
    imputed = dataclasses.replace(runs, values=values)
    base = training_impacts(imputed).energy.values
    assert np.allclose(
        training_impacts(scaled(imputed, mfu=1 / factor)).energy.values, base * factor, rtol=1e-12
    )
    # energy ~ chips x hours: more chips, shorter imputed time, same energy from the GPUs
    more = training_impacts(scaled(imputed, training_compute=factor)).energy.values
    assert np.allclose(more, base * factor, rtol=1e-12)


@pytest.mark.parametrize(
    "field, value",
    [
        ("hours", 0.0),
        ("hours", -1.0),
        ("gpu_usage", 1.5),
        ("lifetime_usage", 0.0),
        ("lifetime_years", np.nan),
        ("grid_gwp", -0.1),
        ("memory_density", 0.0),
    ],
)
def test_validate_runs_rejects_out_of_range(bert_base, field, value):
    values = bert_base.values.copy()
    values[0, RUN_FIELDS.index(field)] = value
    with pytest.raises(MlimpactError, match=field):
        validate_runs(dataclasses.replace(bert_base, values=values))


def test_stage_inputs_are_exactly_the_fields_each_stage_reads():
    # The Monte Carlo kernel evaluates a card or a host once for all the runs that share
    # its declared inputs: a stage must not read any other field, and reads each declared one.
    from mlimpact.engine.kernels.prepare import impute
    from mlimpact.engine.kernels.production import CARD_INPUTS, card_of_rows, server_of_rows
    from mlimpact.engine.kernels.training import HOST_INPUTS, N_OUT, RUN_INPUTS, run_from_parts
    from mlimpact.runs.table import VARIANT_INDEX

    factors = PRODUCTION_FACTORS[np.newaxis].copy()  # one sample's

    def card(row):
        out = np.empty((N_IMPACTS * N_CARD_PARTS, 1))
        card_of_rows(row[:, None].copy(), factors, out, 1)
        return out

    def host(row):
        out = np.empty((N_IMPACTS, 1))
        server_of_rows(row[:, None].copy(), factors, out, 1)
        return out

    def run(row):
        x = row[:, None].copy()
        impute(x, 1)
        out = np.empty((N_OUT, 1))
        card = np.linspace(1.0, 3.0, N_IMPACTS)[:, None].copy()
        host = np.linspace(2.0, 5.0, N_IMPACTS)[:, None].copy()
        run_from_parts(x, card, host, out, 1)
        return out

    rows = random_runs(np.random.default_rng(5), 40).values
    for stage, inputs in ((card, CARD_INPUTS), (host, HOST_INPUTS), (run, RUN_INPUTS)):
        read = set()
        for row in rows:
            before = stage(row)
            for f in range(len(RUN_FIELDS)):
                for change in (lambda x: 1.3 * x + 0.05, lambda x: 1.0 - x, lambda x: x + 1.0):
                    other = row.copy()
                    other[f] = change(row[f])
                    # (a zero divisor gives inf or nan: a change too)
                    if not np.array_equal(stage(other), before, equal_nan=True):
                        read.add(f)
        assert sorted(read) == sorted(inputs.tolist()), stage.__name__
    assert not set(HOST_INPUTS.tolist()) & set(VARIANT_INDEX.tolist())  # hosts have no variant
