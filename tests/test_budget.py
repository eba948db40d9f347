"""The variance budget of a claim (mlimpact.study.budget): the estimator recovers known shares,
and the main job writes it."""

import numpy as np
import pytest

from mlimpact.study import budget


def _synthetic(sd, spec_means, n=4000, seed=0, product=False):
    """One (Y, pairs) per specification of an additive model Y = m_s + I + M + D (normal
    sources of standard deviations ``sd``), evaluated by the budget's design; with
    ``product`` Y = m_s + I * D (all of D's and I's effect is interaction)."""
    rng = np.random.default_rng(seed)
    per_spec = []
    for mean in spec_means:
        i_a, i_b = rng.normal(0, sd["inputs"], (2, n))
        m_a, m_b = rng.normal(0, sd["imputation"], (2, n))
        d_a, d_b = rng.normal(0, sd["dataset"], (2, n))

        def f(i, m, d, mean=mean):
            return mean + (i * d if product else i + m + d)

        y = f(i_a, m_a, d_a)
        pairs = {
            "base": f(i_b, m_b, d_b),
            "inputs": f(i_a, m_b, d_b),
            "imputation": f(i_b, m_a, d_b),
            "dataset": f(i_b, m_b, d_a),
        }
        per_spec.append((y, pairs))
    return per_spec


@pytest.mark.parametrize(
    "sd, spec_means, expected",
    [
        # inputs only
        (dict(inputs=1.0, imputation=0.0, dataset=0.0), [0.0] * 5, dict(inputs=1.0)),
        # the dataset only
        (dict(inputs=0.0, imputation=0.0, dataset=2.0), [0.0] * 5, dict(dataset=1.0)),
        # half inputs, half specification: specification means of variance 1 (+-1)
        (
            dict(inputs=1.0, imputation=0.0, dataset=0.0),
            [-1.0, 1.0] * 5,
            dict(inputs=0.5, specification=0.5),
        ),
        # a quarter each
        (
            dict(inputs=1.0, imputation=1.0, dataset=1.0),
            [-1.0, 1.0] * 5,
            dict(inputs=0.25, imputation=0.25, dataset=0.25, specification=0.25),
        ),
    ],
)
def test_known_shares_are_recovered(sd, spec_means, expected):
    for seed in (0, 1):
        shares = budget.combine(_synthetic(sd, spec_means, seed=seed))
        for source in budget.SOURCES:
            assert shares[source] == pytest.approx(expected.get(source, 0.0), abs=0.05), source
        assert sum(shares[s] for s in budget.SOURCES) == pytest.approx(1.0, abs=1e-9)


def test_a_product_of_sources_is_an_interaction():
    # Y = I * D: neither source alone moves E[Y], all of the variance is interaction
    sd = dict(inputs=1.0, imputation=0.0, dataset=1.0)
    shares = budget.combine(_synthetic(sd, [0.0] * 5, product=True))
    assert shares["inputs"] == pytest.approx(0.0, abs=0.05)
    assert shares["dataset"] == pytest.approx(0.0, abs=0.05)
    assert shares["interactions"] == pytest.approx(1.0, abs=0.05)


def test_a_source_without_effect_has_no_share_at_all():
    # Saltelli et al.'s form gives exactly 0 where C_g equals C (no effect, or no columns)
    sd = dict(inputs=1.0, imputation=0.0, dataset=1.0)
    per_spec = _synthetic(sd, [0.0] * 3)
    assert budget.combine(per_spec)["imputation"] == 0.0
    without = [(y, {k: v for k, v in p.items() if k != "imputation"}) for y, p in per_spec]
    assert budget.combine(without)["imputation"] == 0.0


def test_the_between_variance_is_corrected_for_the_noise_of_the_means():
    # every specification the same: the specifications' means differ by noise alone, which
    # the correction removes (the share is near 0, not 10 / n)
    sd = dict(inputs=1.0, imputation=0.0, dataset=0.0)
    shares = [budget.combine(_synthetic(sd, [0.0] * 8, n=50, seed=s)) for s in range(40)]
    assert abs(np.mean([s["specification"] for s in shares])) < 0.01


def _common(sd, spec_means, n=4000, seed=0):
    """As :func:`_synthetic`, every specification on the same draws (common random
    numbers): they differ by their means alone."""
    rng = np.random.default_rng(seed)
    i_a, i_b = rng.normal(0, sd["inputs"], (2, n))
    m_a, m_b = rng.normal(0, sd["imputation"], (2, n))
    d_a, d_b = rng.normal(0, sd["dataset"], (2, n))
    per_spec = []
    for mean in spec_means:

        def f(i, m, d, mean=mean):
            return mean + i + m + d

        pairs = {
            "base": f(i_b, m_b, d_b),
            "inputs": f(i_a, m_b, d_b),
            "imputation": f(i_b, m_a, d_b),
            "dataset": f(i_b, m_b, d_a),
        }
        per_spec.append((f(i_a, m_a, d_a), pairs))
    return per_spec


def test_specifications_on_common_draws_are_corrected_by_their_covariance():
    sd = dict(inputs=1.0, imputation=0.0, dataset=0.0)
    # the same specification K times on the same draws: no specification share at all (the
    # independent-draws correction would subtract noise that is not there)
    same = budget.combine(_common(sd, [0.0] * 8, n=50))
    assert same["specification"] == pytest.approx(0.0, abs=1e-12)
    assert same["inputs"] == pytest.approx(1.0, abs=0.1)
    # specifications that differ by their means alone: the share is exact up to the
    # sampling of the within variance (the means' noise is common and cancels)
    shares = [budget.combine(_common(sd, [-1.0, 1.0] * 4, n=200, seed=s)) for s in range(10)]
    values = [s["specification"] for s in shares]
    assert np.mean(values) == pytest.approx(0.5, abs=0.03)
    # and the independent draws' correction still holds (the covariances are estimated ~0)
    independent = budget.combine(_synthetic(sd, [-1.0, 1.0] * 4, n=4000))
    assert independent["specification"] == pytest.approx(0.5, abs=0.05)


def test_a_parameter_draws_the_same_numbers_under_any_binding():
    """Common random numbers: the budget's design addresses a column by its parameter and
    member, so that runs bound with different catalogues or alongside other runs draw the
    same uniforms for the same input."""
    from mlimpact.runs import notable
    from mlimpact.uncertainty.binding import bind
    from mlimpact.uncertainty.catalogue import default_catalogue, with_runs
    from mlimpact.uncertainty.sampling import Design

    def uniforms(window):
        runs = notable.build_runs(window, location="evidence", power="evidence")
        bound = bind(
            with_runs(default_catalogue("evidence"), runs),
            runs.runs,
            runs.hardware,
            runs.countries,
            runs.known,
            runs.classes,
        )
        design = Design(
            "mc", 8, bound.n_columns, 3, column_ids=budget.parameter_ids(bound)
        ).uniforms(0, 8)
        return dict(zip(bound.columns, design.T))

    one, two = uniforms((2020, 2021)), uniforms((2021, 2022))
    shared = set(one) & set(two)
    assert len(shared) > 10 and len(set(one) ^ set(two)) > 10  # different column sets
    for column in shared:
        np.testing.assert_array_equal(one[column], two[column])


def test_specifications_that_change_the_fit_alone_share_their_evaluations(monkeypatch):
    from mlimpact.study import specifications
    from mlimpact.study.claims import claim_evaluations
    from mlimpact.study.options import StudyOptions

    options = StudyOptions(scenarios=("baseline",), window=(2019, 2021))
    base = specifications.choices_of(options)
    specs = specifications.specification_set(
        base, {"fit": ("ols", "huber"), "power": ("evidence", "mlca")}
    )
    assert len(specs) == 3
    calls = []
    evaluate = budget.evaluate_design
    monkeypatch.setattr(
        budget, "evaluate_design", lambda *a, **k: calls.append(k.get("kind")) or evaluate(*a, **k)
    )
    collected = claim_evaluations(options, specs, n=16)
    # the Huber fit's specification reuses the main one's evaluations (runs and cards); the
    # MLCA power model's has its own runs' catalogue, so its own evaluations
    assert calls.count("card") == 2 and len(calls) == 4
    key = next(k for k in collected if k[0] == "impacts_grow" and k[1] == "gwp")
    (y_ols, pairs_ols), (y_huber, pairs_huber), _ = collected[key]
    assert not np.array_equal(y_ols, y_huber)  # the same samples fitted two ways


def test_evaluations_in_reused_blocks_equal_new_ones_and_blocks_go_back_once():
    # the specifications hold each design's evaluations in blocks that earlier ones, read for
    # the last time, gave back: the same values as new arrays, each block in one place
    from mlimpact.engine.propagate import bind_runs
    from mlimpact.runs import notable

    runs = notable.build_runs((2021, 2022))
    _, bound = bind_runs(runs)  # (the evidence catalogue, as the main job binds it)
    fresh = budget.evaluate_design(runs.runs, bound, 16, 2)
    assert fresh.storage == ()
    blocks = budget.Blocks()
    first = budget.evaluate_design(runs.runs, bound, 16, 2, blocks=blocks)
    assert len(first.storage) in (3, 4) and not blocks.free
    blocks.give(first.storage + first.storage[:1])  # (a block given twice is kept once)
    assert len(blocks.free) == len(first.storage)
    filler = np.full(blocks.free[0].size, np.nan)
    for block in blocks.free:
        block[...] = filler[: block.size]  # what the last evaluations left there
    again = budget.evaluate_design(runs.runs, bound, 16, 2, blocks=blocks)
    assert {id(b) for b in again.storage} == {id(b) for b in first.storage} and not blocks.free
    for name in ("a", "b", "inputs", "imputation"):
        if getattr(fresh, name) is not None:
            np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))
    assert blocks.take(10**6).size == 10**6  # none free: a new block
