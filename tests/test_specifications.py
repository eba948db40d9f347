"""Specification analysis: the claims under other reasonable analysis choices."""

import numpy as np
import pytest

from mlimpact.analysis.trends import fit_slopes
from mlimpact.errors import MlimpactError
from mlimpact.study import specifications as sp
from mlimpact.study.claims import frontier
from mlimpact.study.options import StudyOptions


def test_default_set_has_the_main_choices_and_every_alternative_once():
    base = sp.choices_of(StudyOptions())
    assert base == {
        "imputation": "all",
        "window": "2013-2025",
        "fit": "ols",
        "production_model": "mixture",
        "location": "evidence",
        "power": "evidence",
    }
    specs = sp.specification_set(base)
    assert specs[0] == base and len(specs) == 1 + sum(len(v) - 1 for v in sp.AXES.values())
    assert len(specs) >= 8
    for spec in specs[1:]:  # one axis at a time
        assert sum(spec[a] != base[a] for a in sp.AXES) == 1
    cross = sp.specification_set(
        base, {"fit": ("ols", "huber"), "power": ("evidence", "mlca")}, mode="cross"
    )
    assert len(cross) == 4 and cross[0] == base
    with pytest.raises(MlimpactError, match="unknown axis"):
        sp.specification_set(base, {"colour": ("red",)})
    with pytest.raises(MlimpactError, match="fit options must be among"):
        sp.specification_set(base, {"fit": ("guess",)})
    for window in ("2016", "2025-2016", "twenty-25"):
        with pytest.raises(MlimpactError, match="a window is FIRST-LAST"):
            sp.specification_set(base, {"window": (window,)})
    assert sp.window_of("2016-2025") == (2016, 2025)


def test_robustness_by_hand():
    def row(spec, p):
        return {
            "claim": "c",
            "criterion": "energy",
            "scenario": "baseline",
            "quantity": "q",
            "specification": spec,
            "probability": p,
        }

    rows = [row("main", 1.0), row("a", 0.97), row("b", 0.5), row("c", 0.949)]
    assert sp.robustness(rows) == {("c", "energy", "baseline", "q"): 0.5}  # 2 of 4 hold
    assert sp.breakers(rows) == {("c", "energy", "baseline", "q"): ["b", "c"]}


def test_options_of_a_specification():
    options = StudyOptions(samples=2048, uncertainty={"lifetime_years": 5})
    spec = dict(
        sp.choices_of(options),
        production_model="act",
        imputation="complete",
        window="2016-2025",
        fit="huber",
    )
    mine = sp.options_of(options, spec, 64)
    assert (mine.samples, mine.scenarios, mine.specifications) == (64, ("baseline",), False)
    assert mine.uncertainty == {"lifetime_years": 5, "production_model": 1}
    assert not mine.impute and mine.window == (2016, 2025) and mine.fit == "huber"
    assert sp.label(spec, sp.choices_of(options)) == (
        "imputation=complete; window=2016-2025; fit=huber; production_model=act"
    )


def test_known_growth_recovered_and_an_outlier_breaks_least_squares_not_huber():
    # synthetic models: growth x3 per year with log-normal scatter; 5 % of them are records
    # off by a factor 1e6 (like a speculative record)
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(2013, 2025, 300))
    truth = np.log(3.0)
    y = truth * (t - 2013) + rng.normal(0, 0.6, (200, 300))
    clean_ols, _ = fit_slopes(t, y)
    assert np.exp(np.median(clean_ols)) == pytest.approx(3.0, rel=0.02)
    broken = y.copy()
    outliers = rng.choice(np.flatnonzero(t > 2022), 15, replace=False)
    broken[:, outliers] -= np.log(1e6)
    ols, _ = fit_slopes(t, broken)
    huber, _ = fit_slopes(t, broken, method="huber")
    assert np.exp(np.median(ols)) < 2.7  # the outliers break least squares (x2.4)
    assert np.exp(np.median(huber)) == pytest.approx(3.0, rel=0.05)  # the robust fit holds


def test_frontier_keeps_the_largest_models_of_each_year():
    dates = np.array([2020.1, 2020.5, 2020.9, 2021.2, 2021.3])
    compute = np.array([1e20, 3e20, 0.0, 5e21, 1e21])
    assert frontier(dates, compute, per_year=1).tolist() == [False, True, False, True, False]
    assert frontier(dates, compute, per_year=5).tolist() == [True, True, False, True, True]


def test_report_section_names_robust_fragile_and_unsupported_claims():
    from types import SimpleNamespace

    from mlimpact.render.report import specifications_markdown

    def spec_row(claim, spec, p):
        return {
            "claim": claim,
            "criterion": "gwp",
            "scenario": "baseline",
            "quantity": "q",
            "specification": spec,
            "probability": p,
        }

    specified = [
        spec_row("steady", "main", 1.0),
        spec_row("steady", "fit=huber", 0.99),
        spec_row("fragile", "main", 0.99),
        spec_row("fragile", "fit=huber", 0.3),
        spec_row("never", "main", 0.0),
        spec_row("never", "fit=huber", 0.1),
    ]
    shares = sp.robustness(specified)
    claims = [
        dict(spec_row(c, "main", 1.0), robustness=shares[(c, "gwp", "baseline", "q")])
        for c in ("steady", "fragile", "never")
    ]
    result = SimpleNamespace(
        specifications=specified, claims=claims, options=StudyOptions(specification_samples=32)
    )
    text = "\n".join(specifications_markdown(result))
    assert "under 2 specifications" in text
    assert "Robust (hold in every specification): steady (gwp)." in text
    assert "**fragile (gwp)** holds in 50 % of them; it fails under: `fit=huber`." in text
    assert "Hold in no specification" in text and "never (gwp)." in text
    assert "steady (gwp)" not in text.split("Robust")[0]
