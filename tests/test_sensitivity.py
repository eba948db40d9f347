"""Sobol' indices: analytic cases, equality with SALib on the same samples, many outputs."""

import math
import threading

import numpy as np
import pytest
from SALib.analyze import sobol as salib_sobol

from mlimpact.analysis import sobol as sensitivity
from mlimpact.errors import MlimpactError
from mlimpact.runs.notable import DatasetOptions
from mlimpact.study import sensitivity as impact
from mlimpact.uncertainty import distributions as d
from mlimpact.uncertainty.sampling import SaltelliDesign

PI = np.pi
#: Ishigami (a = 7, b = 0.1) analytic indices (Ishigami & Homma 1990; Sobol' 1999)
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]

#: The notable models of 2021-2022: a small dataset for the impact analysis.
RECENT = DatasetOptions(window=(2021, 2022))


def ishigami(v):
    return np.sin(v["x1"]) + 7 * np.sin(v["x2"]) ** 2 + 0.1 * v["x3"] ** 4 * np.sin(v["x1"])


PARAMETERS = {name: d.Uniform(-PI, PI) for name in ("x1", "x2", "x3")}


@pytest.fixture(scope="module")
def ishigami_indices():
    return sensitivity.sobol(ishigami, PARAMETERS, 2**14, seed=3)


def test_ishigami_analytic_within_bootstrap_interval(ishigami_indices):
    r = ishigami_indices
    for i in range(3):
        # the analytic value lies within the 95 % interval, widened by its 4-digit rounding
        assert abs(r.S1.values[i] - ISHIGAMI_S1[i]) <= r.S1_halfwidth.values[i] + 5e-5
        assert abs(r.ST.values[i] - ISHIGAMI_ST[i]) <= r.ST_halfwidth.values[i] + 5e-5


@pytest.mark.parametrize("second_order", [False, True])
def test_equal_to_salib_on_the_same_samples(second_order):
    n = 2**10
    design = SaltelliDesign(3, [[0], [1], [2]], n, seed=5, second_order=second_order)
    x = -PI + 2 * PI * design.uniforms(0, design.rows)
    y = ishigami({"x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]})
    ours = sensitivity.sobol(ishigami, PARAMETERS, n, seed=5, second_order=second_order)
    theirs = salib_sobol.analyze(
        {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-PI, PI]] * 3},
        y,
        calc_second_order=second_order,
        print_to_console=False,
    )
    np.testing.assert_allclose(ours.S1.values, theirs["S1"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(ours.ST.values, theirs["ST"], atol=1e-10, rtol=0)
    if second_order:
        upper = np.triu_indices(3, 1)
        np.testing.assert_allclose(ours.S2.values[upper], theirs["S2"][upper], atol=1e-10)


def test_many_outputs_equal_one_at_a_time():
    rng_shift = np.linspace(1, 3, 7)

    def many(v):
        base = ishigami(v)
        return base[:, None] * rng_shift[None, :] + v["x3"][:, None] * np.arange(7)

    together = sensitivity.sobol(many, PARAMETERS, 2**9, seed=2)
    for k in range(7):
        alone = sensitivity.sobol(lambda v, k=k: many(v)[:, k], PARAMETERS, 2**9, seed=2)
        np.testing.assert_allclose(together.S1.isel(output=k), alone.S1, atol=1e-12)
        np.testing.assert_allclose(together.ST.isel(output=k), alone.ST, atol=1e-12)
        np.testing.assert_allclose(together.S1_low.isel(output=k), alone.S1_low, atol=1e-12)


def test_results_do_not_depend_on_chunk_size():
    a = sensitivity.sobol(ishigami, PARAMETERS, 2**11, seed=4, chunk_size=2**11)
    b = sensitivity.sobol(ishigami, PARAMETERS, 2**11, seed=4, chunk_size=300)
    for name in ("S1", "ST", "S1_low", "S1_high", "ST_low", "ST_high", "ST_halfwidth"):
        np.testing.assert_allclose(a[name], b[name], atol=1e-12)


def test_groups_of_a_product_of_independent_inputs():
    # f = (x1 + x2) * x3 with independent uniforms on [1, 2]: the groups {x1, x2} and {x3}
    # have S1 = Var(E[f|g]) / Var(f), computed exactly below.
    params = {name: d.Uniform(1, 2) for name in ("x1", "x2", "x3")}
    groups = {"sum": ["x1", "x2"], "scale": ["x3"]}
    result = sensitivity.sobol(
        lambda v: (v["x1"] + v["x2"]) * v["x3"], params, 2**14, seed=1, groups=groups
    )
    m, var_u = 1.5, 1 / 12  # mean and variance of U(1, 2)
    ms, vs = 2 * m, 2 * var_u  # of the sum
    var_f = (vs + ms**2) * (var_u + m**2) - (ms * m) ** 2
    expected = {"sum": vs * m**2 / var_f, "scale": var_u * ms**2 / var_f}
    for group, value in expected.items():
        s1 = result.S1.sel(parameter=group)
        assert abs(float(s1) - value) <= float(result.S1_halfwidth.sel(parameter=group)) + 1e-3


def test_convergence_check_stops_when_narrow_enough():
    result = sensitivity.sobol(ishigami, PARAMETERS, 2**8, seed=1, target_width=0.1, max_n=2**14)
    assert result.attrs["converged"] == 1
    widths = [float(part.split("interval ")[1]) for part in result.attrs["convergence"].split("; ")]
    assert widths[-1] <= 0.1 and all(w > 0.1 for w in widths[:-1])
    assert result.attrs["base_points"] < 2**14


def test_bad_inputs():
    with pytest.raises(MlimpactError, match="power of two"):
        sensitivity.sobol(ishigami, PARAMETERS, 1000)
    with pytest.raises(MlimpactError, match="unknown parameters"):
        sensitivity.sobol(ishigami, PARAMETERS, 64, groups={"g": ["x9"]})
    with pytest.raises(MlimpactError, match="must return shape"):
        sensitivity.sobol(lambda v: np.zeros(3), PARAMETERS, 64)


def test_sensitivity_command(tmp_path, capsys):
    import csv

    from mlimpact.cli import main

    out = tmp_path / "sens"
    # a target that cannot be met: the analysis extends 16 -> 32 base points, the most allowed
    command = ["sensitivity", "--samples", "16", "--target", "0.001", "--max-samples", "32"]
    assert main([*command, "--out", str(out), "--aggregates-only", "--quiet"]) == 0
    rows = list(csv.DictReader(open(out / "sensitivity.csv")))
    assert set(rows[0]) == set(impact.SENSITIVITY_HEADER)
    outputs = {(r["quantity"], r["criterion"], r["subject"]) for r in rows}
    assert {
        ("growth rate", "gwp", "all models"),
        ("impact", "adpe", "all models"),
        ("production share", "adpe", "all models"),
        ("card growth rate", "gwp", "all cards"),
    } <= outputs
    # outputs that do not exist (energy has no production share) are not written
    assert ("production share", "energy", "all models") not in outputs
    assert {r["parameter"] for r in rows} >= {"lifetime_years", "production_model", "mfu"}
    for name in ("sensitivity_growth.png", "sensitivity_totals.png", "sensitivity_cards.png"):
        assert (out / name).stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "growth of GWP" in printed
    assert "N = 32 base points" in printed and "NOT converged to +- 0.001" in printed


def test_sensitivity_command_has_the_precision_target_of_run():
    """`mlimpact sensitivity` alone and the report of `mlimpact run` aim at one precision."""
    from mlimpact.cli import build_parser
    from mlimpact.study.options import StudyOptions

    defaults, parser = StudyOptions(), build_parser()
    alone, run = parser.parse_args(["sensitivity"]), parser.parse_args(["run"])
    assert alone.target == run.sensitivity_target == defaults.sensitivity_target == 0.05
    assert alone.max_samples == run.sensitivity_max == defaults.sensitivity_max
    assert alone.samples == run.sensitivity_samples == defaults.sensitivity_samples


def test_sensitivity_command_refuses_a_largest_n_below_the_first(capsys):
    from mlimpact.cli import main

    assert main(["sensitivity", "--samples", "64", "--max-samples", "32", "--quiet"]) == 2
    assert "--max-samples: a power of two >= --samples 64 (got 32)" in capsys.readouterr().err


def test_saltelli_rows_follow_salib_layout_built_naively():
    from mlimpact.uncertainty.sampling import SaltelliDesign

    groups = [[0, 3], [1], [2, 4, 5]]
    for second_order in (False, True):
        design = SaltelliDesign(6, groups, 16, seed=3, second_order=second_order)
        u = design.uniforms(4 * design.step, 12 * design.step)
        a, b = design.base(4, 12)
        naive = []
        for i in range(8):
            naive.append(a[i])
            for columns in groups:
                row = a[i].copy()
                row[columns] = b[i, columns]
                naive.append(row)
            if second_order:
                for columns in groups:
                    row = b[i].copy()
                    row[columns] = a[i, columns]
                    naive.append(row)
            naive.append(b[i])
        assert np.array_equal(u, np.array(naive)) and u.flags.f_contiguous


def test_evaluating_a_design_in_place_gives_the_same_values():
    from mlimpact.engine.propagate import evaluate_rows, stage_plan
    from mlimpact.runs import notable
    from mlimpact.uncertainty.binding import bind
    from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters
    from mlimpact.uncertainty.sampling import SaltelliDesign

    runs = notable.build_runs((2020, 2021), location="evidence", power="evidence")
    bound = bind(
        {**default_catalogue("evidence"), **run_parameters(runs)},
        runs.runs,
        runs.hardware,
        runs.countries,
        runs.known,
        runs.classes,
    )
    design = SaltelliDesign(bound.n_columns, list(bound.groups.values()), 8, seed=1)
    u = design.uniforms(0, 8 * design.step)
    copied = evaluate_rows(runs.runs, bound, u.copy(order="F"))
    in_place = evaluate_rows(runs.runs, bound, u, plan=stage_plan(runs.runs, bound), overwrite=True)
    assert np.array_equal(copied, in_place) and np.isfinite(copied).all()


def test_unweighted_slopes_take_the_fast_path_and_agree_with_weighted_least_squares():
    from mlimpact.analysis.trends import fit_slopes

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(2013, 2025, 50))
    y = rng.normal(size=(7, 50)) + 0.8 * t
    fast = fit_slopes(t, y)
    weighted = fit_slopes(t, y, weights=np.ones_like(y))
    assert np.allclose(fast[0], weighted[0], rtol=1e-12) and np.allclose(fast[1], weighted[1])
    slope = np.polyfit(t, y[0], 1)[0]
    assert fast[0][0] == pytest.approx(slope, rel=1e-10)


def test_impact_analysis_extends_its_design_until_the_reported_intervals_are_narrow():
    fixed = impact.impact_sensitivity(n=64, dataset=RECENT, per_model=False)
    grown = impact.impact_sensitivity(
        n=16, dataset=RECENT, per_model=False, target=1e-9, max_n=64, budget=1e6
    )
    models = grown["models"]
    # the target cannot be met: it doubles 16 -> 32 -> 64 and says it did not converge
    assert models.attrs["base_points"] == 64 and models.attrs["converged"] == 0
    assert models.attrs["convergence"].count("N=") == 3
    # extending the design gives the indices of the design of that size in one go
    for name in ("models", "cards"):
        assert np.allclose(grown[name].ST.values, fixed[name].ST.values, equal_nan=True)
    for name, data in grown.items():  # each design's own widest interval
        assert data.attrs["widest_st_halfwidth"] == pytest.approx(
            impact.reported_halfwidth({name: data})
        )
    loose = impact.impact_sensitivity(n=16, dataset=RECENT, per_model=False, target=10.0, max_n=64)
    assert loose["models"].attrs["base_points"] == 16 and loose["models"].attrs["converged"]
    with pytest.raises(MlimpactError, match="power of two"):
        impact.impact_sensitivity(n=16, dataset=RECENT, target=0.1, max_n=24)


def test_no_input_below_the_threshold_is_called_dominant():
    import xarray as xr

    data = xr.Dataset(
        {
            "ST": (
                ("parameter", "quantity", "criterion", "subject"),
                np.array([0.6, 0.04, 0.001]).reshape(3, 1, 1, 1),
            ),
            "ST_halfwidth": (
                ("parameter", "quantity", "criterion", "subject"),
                np.full((3, 1, 1, 1), 0.01),
            ),
        },
        coords={
            "parameter": ["a", "b", "c"],
            "quantity": ["growth rate"],
            "criterion": ["gwp"],
            "subject": [impact.ALL_MODELS],
        },
    )
    named = impact.dominant(data, "growth rate", "gwp")
    assert [p for p, _, _ in named] == ["a"]
    assert impact.dominant(data, "growth rate", "gwp", threshold=0.0)[1][0] == "b"


def test_first_order_above_total_order_is_flagged():
    import xarray as xr

    dims = ("parameter", "quantity", "criterion", "subject")
    data = xr.Dataset(
        {
            "S1": (dims, np.array([0.30, 0.10]).reshape(2, 1, 1, 1)),
            "ST": (dims, np.array([0.25, 0.20]).reshape(2, 1, 1, 1)),
            "S1_low": (dims, np.array([0.28, 0.08]).reshape(2, 1, 1, 1)),
            "S1_high": (dims, np.array([0.32, 0.12]).reshape(2, 1, 1, 1)),
            "ST_low": (dims, np.array([0.23, 0.18]).reshape(2, 1, 1, 1)),
            "ST_high": (dims, np.array([0.27, 0.22]).reshape(2, 1, 1, 1)),
        },
        coords={
            "parameter": ["a", "b"],
            "quantity": ["impact"],
            "criterion": ["gwp"],
            "subject": [impact.ALL_MODELS],
        },
    )
    rows = {r[3]: r for r in impact.sensitivity_rows(data)}
    assert rows["a"][-1] == "S1 > ST (sampling error)" and rows["b"][-1] == ""


def test_a_wall_clock_budget_stops_the_doubling():
    stopped = impact.impact_sensitivity(
        n=16, dataset=RECENT, per_model=False, target=1e-9, max_n=64, budget=1e-6
    )
    assert stopped["models"].attrs["base_points"] == 16
    assert stopped["models"].attrs["converged"] == 0
    with pytest.raises(MlimpactError, match="sensitivity budget"):
        from mlimpact.study.options import StudyOptions, validate_options

        validate_options(StudyOptions(sensitivity_budget=-1))


def test_the_accumulators_terms_at_once_are_those_made_one_at_a_time():
    # add() writes a chunk's first-order terms at once: the same values, to the bit, as the
    # terms one at a time (so the same sums), over chunks of two sizes
    rng = np.random.default_rng(5)
    accumulator = sensitivity.SobolAccumulator(4, 3, resamples=10)
    chunks = []
    for points in (8, 5):
        y = rng.lognormal(size=(points, 6, 3))
        chunks.append(accumulator._first_order_terms(y))
        expected = np.stack(list(accumulator._terms(y)), axis=1)
        np.testing.assert_array_equal(chunks[-1], expected)
    # the fold of each chunk: its plain sums, and the bootstrap sums as the weighted ones
    accumulator.add(0, np.arange(8 * 6 * 3, dtype=float).reshape(48, 3))
    weights = sensitivity.poisson_weights(10, 0, 8, 0)
    y = np.arange(8 * 6 * 3, dtype=float).reshape(8, 6, 3) - accumulator.shift
    terms = np.stack(list(accumulator._terms(y)), axis=1)
    np.testing.assert_allclose(accumulator.sums, terms.sum(axis=0), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(accumulator.boot, np.einsum("rp,ptk->rtk", weights, terms))


def test_the_next_n_is_what_the_target_needs_not_a_doubling():
    # a half-width of 0.051 at N = 8192 needs 8192 x (0.051 / 0.05)^2 x 1.1 = 9375 base points:
    # 74 chunks of 128 (ten steps of 1024), not 16384
    assert impact.next_checkpoint(8192, 0.051, 0.05, 128) == 9472
    assert impact.next_checkpoint(8192, 0.051, 0.05, 1024) == 10240
    # far from the target: at most a doubling; close to it: at least one more multiple
    assert impact.next_checkpoint(1024, 0.5, 0.05, 1024) == 2048
    assert impact.next_checkpoint(4096, 0.0478, 0.05, 1024) == 5120
    assert impact.next_checkpoint(64, math.inf, 0.05, 16) == 128


def test_screening_groups_the_inputs_below_the_threshold_for_every_reported_output():
    import xarray as xr

    st = np.zeros((3, 1, 1, 2))  # parameter, quantity, criterion, subject
    st[0, 0, 0, 0] = 0.5  # matters for a reported output
    st[1, 0, 0, 1] = 0.9  # matters only for an output the report does not read
    data = xr.Dataset(
        {"ST": (("parameter", "quantity", "criterion", "subject"), st)},
        coords={
            "parameter": ["a", "b", "c"],
            "quantity": ["growth rate"],
            "criterion": ["energy"],
            "subject": [impact.ALL_MODELS, "year 2020"],
        },
    )
    assert impact.screened_inputs(data) == ("b", "c")
    groups = impact.screened_grouping({"a": [0], "b": [1, 2], "c": [3]}, ("b", "c"))
    assert groups == {"a": [0], impact.SCREENED: [1, 2, 3]}
    # a single screened input is left alone: one group of one saves nothing
    st[1, 0, 0, 0] = 0.2
    assert impact.screened_inputs(data) == ()


def test_a_screened_analysis_reports_the_group_and_names_its_members():
    result = impact.impact_sensitivity(
        n=16, dataset=RECENT, per_model=False, target=1e-9, max_n=32, screen=True
    )
    models = result["models"]
    screened = models.attrs["screened"].split(", ")
    assert len(screened) >= 2 and models.attrs["screening_base_points"] == 16
    assert impact.SCREENED in models.parameter.values
    assert not set(screened) & {str(p) for p in models.parameter.values}


def test_the_pilots_rows_reused_after_screening_give_the_indices_of_evaluating_them_all(
    monkeypatch,
):
    # after screening, the design shares A, B and every kept group's rows with the pilot: only
    # the screened group's rows are evaluated anew, and the sums are the same to the bit
    arguments = dict(n=16, dataset=RECENT, per_model=False, target=1e-9, max_n=32, screen=True)
    calls = []
    real = impact._group_task
    monkeypatch.setattr(impact, "_group_task", lambda *a, **k: calls.append(a) or real(*a, **k))
    reused = impact.impact_sensitivity(**arguments)["models"]
    assert calls, "the pilot was not reused"
    monkeypatch.setattr(impact, "PILOT_BYTES", 0)  # nothing kept: every row evaluated
    evaluated = impact.impact_sensitivity(**arguments)["models"]
    assert reused.attrs["screened"] == evaluated.attrs["screened"] != ""
    for name in ("S1", "ST", "ST_halfwidth"):
        np.testing.assert_array_equal(reused[name].values, evaluated[name].values)


def test_each_design_stops_when_its_own_reported_intervals_meet_the_target():
    # the cards' design (the same for every dataset) need not follow the models' to their N:
    # each stops at the first N where its own widest interval is within the target
    target = 0.3  # the cards' design meets it at N = 80, the models' at 512
    result = impact.impact_sensitivity(
        n=16, dataset=RECENT, per_model=False, target=target, max_n=512
    )
    reached = set()
    for data in result.values():
        widths = [float(p.split("half-width ")[1]) for p in data.attrs["convergence"].split("; ")]
        assert all(w > target for w in widths[:-1]) and widths[-1] <= target
        assert data.attrs["converged"] == 1
        reached.add(int(data.attrs["base_points"]))
    assert len(reached) == 2, "both designs stopped at the same N: the test shows nothing"


def test_design_chunks_share_one_scratch_and_give_the_indices_of_new_arrays(monkeypatch):
    # locally, the chunks' rows and samples are views of one block each (not new arrays);
    # the indices are those of evaluating every chunk into new arrays
    arguments = dict(n=32, dataset=RECENT, per_model=False, chunk_size=8)
    blocks = []
    real = impact._Scratch.take

    def take(self, name, per_row, rows):
        view = real(self, name, per_row, rows)
        blocks.append((name, view.base if view.base is not None else view))
        return view

    monkeypatch.setattr(impact._Scratch, "take", take)
    shared = impact.impact_sensitivity(**arguments)
    for name in ("rows", "samples"):
        mine = [block for kind, block in blocks if kind == name]
        assert len(mine) >= 8 and len({id(b) for b in mine}) <= 2  # grown once at most
    monkeypatch.setattr(impact._Scratch, "take", lambda self, name, per_row, rows: None)
    fresh = impact.impact_sensitivity(**arguments)
    for name in ("models", "cards"):
        for variable in ("S1", "ST", "ST_halfwidth"):
            np.testing.assert_array_equal(shared[name][variable], fresh[name][variable])


@pytest.mark.parametrize("order", ["by date", "shuffled"])
def test_training_outputs_against_a_naive_reduction(order):
    # totals, yearly totals (a slice of runs sorted by date, an index otherwise), growth
    # rates and production shares of each row, from the engine's (run, quantity, row) layout
    from types import SimpleNamespace

    from mlimpact.analysis import trends
    from mlimpact.quantities import CRITERIA, IMPACT_CRITERIA, training_index

    rng = np.random.default_rng(11)
    dates = np.sort(rng.integers(0, 4 * 365, 30)).astype("timedelta64[D]") + np.datetime64(
        "2019-01-01"
    )
    if order == "shuffled":
        dates = rng.permutation(dates)
    runs = SimpleNamespace(dates=dates, runs=SimpleNamespace(names=[f"m{k}" for k in range(30)]))
    outputs = impact.training_outputs(runs, per_model=True)
    stored = rng.lognormal(size=(30, len(outputs.quantities), 7))  # (run, quantity, row)
    values, names = outputs(stored.transpose(2, 0, 1))
    t = trends.decimal_years(dates)
    at = dict(zip(outputs.quantities, range(len(outputs.quantities))))
    column = {name: values[:, k] for k, name in enumerate(names)}
    for criterion in CRITERIA:
        x = stored[:, at[training_index(criterion)]].T  # (row, run)
        np.testing.assert_allclose(column["impact", criterion, "all models"], x.sum(axis=1))
        for year in sorted(set(t.astype(int))):
            np.testing.assert_allclose(
                column["impact", criterion, f"year {year}"], x[:, t.astype(int) == year].sum(1)
            )
        slopes = [np.polyfit(t, np.log(row), 1)[0] for row in x]
        np.testing.assert_allclose(column["growth rate", criterion, "all models"], slopes)
        np.testing.assert_allclose(column["impact", criterion, "m3"], x[:, 3])
    for criterion in IMPACT_CRITERIA:
        share = stored[:, at[training_index(criterion, "production")]].sum(0) / stored[
            :, at[training_index(criterion)]
        ].sum(0)
        np.testing.assert_allclose(column["production share", criterion, "all models"], share)


def test_half_of_each_chunk_is_reduced_on_a_second_thread_that_ends_with_the_analysis(
    monkeypatch,
):
    # the outputs of both halves are those of the whole chunk, to the bit (each row's are
    # its own); the thread is gone once the analysis returns, or fails
    arguments = dict(n=32, dataset=RECENT, per_model=False, chunk_size=16)
    threads = []
    real = impact._Scratch.second_thread

    def second_thread(self):
        threads.append(1)
        return real(self)

    monkeypatch.setattr(impact._Scratch, "second_thread", second_thread)
    split = impact.impact_sensitivity(**arguments)
    assert threads
    assert not [t for t in threading.enumerate() if t.name.startswith("mlimpact-outputs")]
    monkeypatch.setattr(impact, "_outputs_of", _whole_outputs_of(impact._outputs_of))
    whole = impact.impact_sensitivity(**arguments)
    for name in ("models", "cards"):
        for variable in ("S1", "ST", "ST_halfwidth"):
            np.testing.assert_array_equal(split[name][variable], whole[name][variable])

    def failing(samples):
        raise RuntimeError("reduction failed")

    made = impact.training_outputs(RECENT.runs(), per_model=False)
    failing.names, failing.quantities = made.names, made.quantities
    monkeypatch.setattr(impact, "training_outputs", lambda runs, per_model=True: failing)
    with pytest.raises(RuntimeError, match="reduction failed"):
        impact.impact_sensitivity(**arguments)
    assert not [t for t in threading.enumerate() if t.name.startswith("mlimpact-outputs")]


def _whole_outputs_of(real):
    """``_outputs_of`` without its scratch: every chunk reduced whole, on this thread."""

    def whole(rows, runs, bound, outputs, kind, plan, scratch=None):
        return real(rows, runs, bound, outputs, kind, plan, None)

    return whole
