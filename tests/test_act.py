"""The ACT production model: published reproduction values and monotonicity properties."""

import csv
import json
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlimpact.cli import main
from mlimpact.engine.kernels.production import act_die, die_yield
from mlimpact.engine.model import training_impacts
from mlimpact.runs import cards
from mlimpact.runs.setupfile import parse_setup
from mlimpact.runs.table import CONSTANT_YIELD, MURPHY_YIELD, POISSON_YIELD
from mlimpact.study.cards import card_estimate
from mlimpact.tables import fab, grid

# the yield models as the run rows hold them (floats): the kernels compiled for the rows
# are the ones tested, not a second version for ints
CONSTANT_YIELD, MURPHY_YIELD, POISSON_YIELD = map(
    float, (CONSTANT_YIELD, MURPHY_YIELD, POISSON_YIELD)
)

MPA = 0.5  # ACT: 500 g/cm2 at every node (Gupta et al., ISCA 2022; docs/methodology.md, section 1b)


def test_act_carbon_per_area_at_7nm():
    # ACT (Gupta et al., ISCA 2022), docs/methodology.md section 1b: 7 nm, CI_fab 583 g/kWh, GPA at
    # 97 % (mean of the 95 % and 99 % values, 350 and 200 g/cm2), Y = 0.875 -> 2.318 kg CO2eq per
    # cm2 of good die.
    node = fab.node_parameters(7)
    gpa = (node["gpa_95"] + node["gpa_99"]) / 2
    per_cm2 = act_die(1.0, 0.583, node["epa"], gpa, 0.0, CONSTANT_YIELD, 0.875) - 0.150
    assert per_cm2 == pytest.approx(2.318, abs=5e-4)


@pytest.mark.parametrize(
    "yield_model, d0, expected",
    [
        (CONSTANT_YIELD, 0.0, 24.1),  # Y = 0.875
        (POISSON_YIELD, 0.1136, 53.2),  # Y = exp(-0.1136 * 8.14)
    ],
)
def test_act_h100_die(yield_model, d0, expected):
    # ACT (Gupta et al., ISCA 2022), docs/methodology.md section 1b: H100 die 8.14 cm2, 5 nm, Taiwan
    # 2023 grid 642 g/kWh, GPA at 97 %; values printed to 3 significant digits (tolerance half a
    # unit of the last).
    node = fab.node_parameters(5)
    gpa = (node["gpa_95"] + node["gpa_99"]) / 2
    die = act_die(8.14, 0.642, node["epa"], gpa, d0, yield_model, 0.875) - 0.150
    assert die == pytest.approx(expected, abs=0.05)


areas = st.floats(0.1, 40)
densities = st.floats(0.01, 0.5)


@settings(max_examples=60, deadline=None)
@given(
    area=areas,
    more=st.floats(1.001, 5),
    d0=densities,
    model=st.sampled_from([POISSON_YIELD, MURPHY_YIELD]),
)
def test_yield_falls_with_area_and_die_impact_rises(area, more, d0, model):
    assert die_yield(model, area * more, d0, 0.875) < die_yield(model, area, d0, 0.875)
    assert act_die(area * more, 0.5, 2.0, 0.3, d0, model, 0.875) > act_die(
        area, 0.5, 2.0, 0.3, d0, model, 0.875
    )


@settings(max_examples=60, deadline=None)
@given(
    area=areas,
    d0=densities,
    more=st.floats(1.001, 5),
    model=st.sampled_from([POISSON_YIELD, MURPHY_YIELD]),
)
def test_die_impact_rises_with_defect_density(area, d0, more, model):
    assert act_die(area, 0.5, 2.0, 0.3, d0 * more, model, 0.875) > act_die(
        area, 0.5, 2.0, 0.3, d0, model, 0.875
    )


@settings(max_examples=60, deadline=None)
@given(area=areas, y=st.floats(0.05, 0.99), more=st.floats(1.001, 1.5))
def test_die_impact_falls_with_yield(area, y, more):
    higher = min(y * more, 1.0)
    assert act_die(area, 0.5, 2.0, 0.3, 0.0, CONSTANT_YIELD, higher) < act_die(
        area, 0.5, 2.0, 0.3, 0.0, CONSTANT_YIELD, y
    )


def test_murphy_between_poisson_and_one():
    # Murphy's yield is higher than Poisson's for the same D0 A (Murphy 1964).
    for x in (0.01, 0.5, 2.0):
        assert np.exp(-x) < die_yield(MURPHY_YIELD, x, 1.0, 0) < 1


def test_node_interpolation_and_clamping():
    # between 10 nm (1.475) and 14 nm (1.2): linear in node size
    assert fab.node_parameters(12)["epa"] == pytest.approx((1.475 + 1.2) / 2)
    # older than the table: 28 nm values; defect density from the nearest PCAM node (16 nm)
    old = fab.node_parameters(40)
    assert old["epa"] == 0.9 and (old["defect_density_low"], old["defect_density_high"]) == (
        0.07,
        0.21,
    )


def test_fab_intensity_comes_from_the_foundry_country():
    assert fab.fab_intensity("TSMC", 2022) == grid.intensity("TWN", 2022)[0]
    with pytest.raises(Exception, match="no fab country"):
        fab.fab_intensity("Unknown Fab", 2022)


def test_card_command_mlca_point_equals_model_md(capsys):
    # MLCA (Morand et al., ICT4S 2024), docs/methodology.md section 1: A100 80 GB (8.26 cm2) ->
    # 330.1 kg CO2eq, 3943 MJ, 0.02683 kg Sb eq
    assert (
        main(["card", "NVIDIA A100 SXM4 80 GB", "--model", "mlca", "--point", "--format", "json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["gwp_kgco2eq"]["total"] == pytest.approx(330.1, rel=5e-3)
    assert result["pe_mj"]["total"] == pytest.approx(3943, rel=5e-3)
    assert result["adpe_kgsbeq"]["total"] == pytest.approx(0.02683, rel=5e-3)
    parts = result["gwp_kgco2eq"]
    assert parts["die"] + parts["memory"] + parts["other"] == pytest.approx(parts["total"])


def test_card_command_monte_carlo_schema(capsys):
    assert main(["card", "H100 SXM5 80GB", "--samples", "2048", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"gwp_kgco2eq", "adpe_kgsbeq", "pe_mj", "water_l"}
    for parts in result.values():
        assert set(parts) == {"die", "memory", "other", "total"}
        for stats in parts.values():
            assert set(stats) == {"mean", "median", "q025", "q975", "q05", "q95"}
            assert stats["q025"] <= stats["median"] <= stats["q975"]


def test_card_without_die_area_is_refused(capsys):
    assert main(["card", "Google TPU v4", "--point"]) == 2
    assert "die area not published" in capsys.readouterr().err


def test_mixture_spans_both_models():
    # At equal weights the mixture's interval reaches both models' point values for the
    # H100's GWP; at the catalogue's calibrated weights (MLCA's at 0.9997) it is MLCA's
    from mlimpact.study.card_calibration import equal_weights
    from mlimpact.uncertainty.catalogue import default_catalogue

    h100 = [cards.find_card("H100 SXM5 80GB")]
    mlca = float(card_estimate(h100, "mlca").gwp.sel(component="total")[0])
    act = float(card_estimate(h100, "act").gwp.sel(component="total")[0])
    equal = equal_weights(default_catalogue())
    mixture = card_estimate(h100, "mixture", samples=8192, catalogue=equal)
    mixture = mixture.gwp.sel(component="total")[0]
    assert float(mixture.sel(statistic="q025")) < act < mlca < float(mixture.sel(statistic="q975"))
    calibrated = card_estimate(h100, "mixture", samples=8192).gwp.sel(component="total")[0]
    alone = card_estimate(h100, "mlca", samples=8192).gwp.sel(component="total")[0]
    assert float(calibrated.sel(statistic="median")) == pytest.approx(
        float(alone.sel(statistic="median")), rel=0.05
    )


def test_act_in_a_training_run_changes_only_production_gwp(repo_root):
    document = tomllib.loads((repo_root / "examples" / "bert_base.toml").read_text())
    mlca = training_impacts(
        parse_setup({**document, "assumptions": {"production_model": "mlca"}}).runs
    )
    act = training_impacts(
        parse_setup({**document, "assumptions": {"production_model": "act"}}).runs
    )
    assert float(act.gwp.sel(phase="production")[0]) != float(mlca.gwp.sel(phase="production")[0])
    for criterion in ("adpe", "pe"):
        assert float(act[criterion].sel(phase="production")[0]) == float(
            mlca[criterion].sel(phase="production")[0]
        )
    assert float(act.energy[0]) == float(mlca.energy[0])


def test_cards_command_writes_table_and_figures(tmp_path, capsys):
    out = tmp_path / "cards"
    assert main(["cards", "--out", str(out), "--samples", "512", "--models", "mlca", "act"]) == 0
    rows = list(csv.DictReader(open(out / "cards.csv")))
    assert {r["model"] for r in rows} == {"mlca", "act"}
    h100 = [
        r
        for r in rows
        if r["hardware"] == "NVIDIA H100 SXM5 80GB"
        and r["model"] == "mlca"
        and r["criterion"] == "gwp"
        and r["component"] == "total"
    ]
    assert float(h100[0]["point"]) == pytest.approx(
        329.8, rel=1e-3
    )  # MLCA, docs/methodology.md section 1
    skipped = list(csv.DictReader(open(out / "skipped.csv")))
    assert any("die area not published" in r["reason"] for r in skipped)
    assert (out / "cards_gwp.png").stat().st_size > 10_000
    (out / "notes.txt").write_text("mine")  # no longer a complete result: refused
    assert main(["cards", "--out", str(out), "--samples", "512"]) == 2
    assert (out / "notes.txt").exists()
