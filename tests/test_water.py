"""Water: a hand-computed case through the point model and the Monte Carlo engine, the
off-site factors of the grids and their builder, and the catalogue's water inputs."""

import csv
import importlib.util
import math
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mlimpact.engine.model import training_impacts
from mlimpact.engine.propagate import propagate
from mlimpact.runs.table import RUN_FIELDS, RunTable
from mlimpact.tables import grid
from mlimpact.tables.factors import FAB_WATER_L_PER_CM2
from mlimpact.uncertainty import catalogue as p
from mlimpact.uncertainty import distributions as d
from mlimpact.uncertainty.binding import bind

ROOT = Path(__file__).resolve().parent.parent


def _rows(name):
    path = resources.files("mlimpact.data").joinpath(name)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _hand_case(bert_base, **fields):
    """BERT base's run with the water inputs of ``fields``, and its water by hand [L]:
    production (dies only) and use (off site: the grid's and hydropower's water per kWh of the
    facility's energy; on site: the WUE per kWh of the nodes' energy)."""
    grid_error = fields.pop("grid_error", 1.0)
    row = dict(zip(RUN_FIELDS, bert_base.values[0])) | fields
    runs = RunTable.from_records([("hand", row)])
    # the nodes' power [kW]: 16 V100 at 0.75259 of 250 W; the host: CPUs at usage 0 and
    # 24 x 64 GB of RAM at 0.3725 W/GB (MLCA's reference case, docs/methodology.md section 5)
    node_kw = (16 * 0.75259 * 250 + 0.0 + 0.3725 * 24 * 64) / 1000
    node = 4 * 79.2 * node_kw  # 4 nodes, 79.2 h [kWh]
    energy = node * row["dynamic_ratio"]
    per_kwh = row["grid_water"] * grid_error
    per_kwh += row["hydro_share"] * row["hydro_water"]
    use = energy * per_kwh + node * row["wue"]
    allocation = 4 * 79.2 / (6 * 8760 * 0.85)
    dies = 16 * 8.15 + 2 * 6.94  # the GPUs' and the CPUs' die area per node [cm2]
    production = allocation * dies * FAB_WATER_L_PER_CM2
    return runs, production, use


def test_hand_computed_case_at_the_point(bert_base):
    runs, production, use = _hand_case(
        bert_base, grid_water=1.5, hydro_share=0.2, hydro_water=30.0, wue=0.7
    )
    water = training_impacts(runs).water.isel(model=0)
    assert float(water.sel(phase="use")) == pytest.approx(use, rel=1e-9)
    assert float(water.sel(phase="production")) == pytest.approx(production, rel=1e-9)
    assert float(water.sel(phase="total")) == pytest.approx(production + use, rel=1e-9)


def test_hand_computed_case_through_the_monte_carlo_engine(bert_base):
    # degenerate distributions: the grid's error 1.3, hydropower's water 30 L/kWh, the WUE
    # 0.7 L/kWh, the fab's water twice the table's: every sample is the hand-computed value
    # the run states other values of the replaced inputs: the catalogue's are used
    runs, _, _ = _hand_case(bert_base, grid_water=1.5, hydro_share=0.2, hydro_water=5.0, wue=0.1)
    _, production, use = _hand_case(
        bert_base, grid_water=1.5, hydro_share=0.2, hydro_water=30.0, wue=0.7, grid_error=1.3
    )
    catalogue = {
        "grid_water_error": p.Parameter(
            "grid_water_error", d.Constant(1.3), scope="country", target="grid_water", mode="scale"
        ),
        "hydro_water": p.Parameter(
            "hydro_water", d.Constant(30.0), scope="global", target="hydro_water", mode="replace"
        ),
        "facility_wue": p.Parameter(
            "facility_wue", d.Constant(0.7), scope="run", target="wue", mode="replace"
        ),
        "production_water_error": p.Parameter(
            "production_water_error", d.Constant(2.0), scope="factor", target="water", mode="scale"
        ),
    }
    bound = bind(catalogue, runs, ["V100"], ["USA"])
    water = propagate(runs, bound, 64, seed=0).water.isel(model=0)
    assert float(water.sel(phase="use", statistic="mean")) == pytest.approx(use, rel=1e-9)
    assert float(water.sel(phase="production", statistic="mean")) == pytest.approx(
        2.0 * production, rel=1e-9
    )


def test_on_site_water_counts_the_nodes_energy_not_the_facilitys(bert_base):
    runs, _, _ = _hand_case(bert_base, grid_water=0.0, hydro_share=0.0, wue=1.0)
    result = training_impacts(runs).isel(model=0)
    by_scope = result.energy_by_scope
    nodes = float(by_scope.sel(scope="accelerators") + by_scope.sel(scope="host"))
    assert float(result.water.sel(phase="use")) == pytest.approx(nodes, rel=1e-12)


def _build_water():
    spec = importlib.util.spec_from_file_location("build_water", ROOT / "scripts/build_water.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_builder_sums_shares_times_factors():
    build = _build_water()
    table = {s: (float(i + 1), float(i), float(i + 2)) for i, s in enumerate(build.SOURCES)}
    mix = dict.fromkeys(build.SOURCES, 0.0) | {"coal": 1.0, "hydroelectricity": 1.0, "wind": 2.0}
    row = build.mix_row("X", "X", "X", 2023, mix, table, "test")
    coal, wind = table["coal"], table["wind"]
    # hydropower apart: its share only; the rest per kWh of the whole generation
    assert row[4] == pytest.approx((coal[0] + 2 * wind[0]) / 4, rel=1e-9)
    assert row[5] == pytest.approx((coal[1] + 2 * wind[1]) / 4, rel=1e-9)
    assert row[6] == pytest.approx((coal[2] + 2 * wind[2]) / 4, rel=1e-9)
    assert row[7] == pytest.approx(0.25)


def test_every_country_with_a_grid_factor_has_water_or_the_stated_world_fallback():
    water = grid.grid_water()
    assert grid.WORLD in water
    for code in grid.intensity_countries() | set(grid.electricity_factors()):
        found, note = grid.water_of(code)
        assert found.grid == code or (found.grid == grid.WORLD and "world" in note), code
    for row in water.values():
        assert 0 <= row.water <= 10 and 0 <= row.hydro_share <= 1, row
    # a region takes its own mix where the table has it, else its country's
    assert grid.water_of("CA-QC")[0].grid == "CA-QC"
    assert grid.water_of("US-TX")[0].grid == "USA"


def test_the_shipped_table_is_the_builders_output():
    build = _build_water()
    factors = build.factors(ROOT / "data/water_generation.csv")
    for row in _rows("grid_water.csv"):
        low, point, high = (
            float(row[k]) for k in ("low_l_per_kwh", "water_l_per_kwh", "high_l_per_kwh")
        )
        assert low <= point <= high, row["grid"]
    assert set(factors) == set(build.SOURCES)
    for source, (point, low, high) in factors.items():
        assert 0 <= low <= point <= high, source


def test_every_water_factor_has_a_source_row():
    rows = _rows("water_generation.csv")
    assert {r["generation"] for r in rows} == set(_build_water().SOURCES)
    for row in rows:
        assert row["source_key"] and row["source"] and row["kind"], row["generation"]
    for row in _rows("facility_wue.csv"):
        assert row["source_key"] and 0 <= float(row["wue"]) <= 3, row


def test_the_catalogues_wue_by_class_spans_the_published_values():
    entry = p.default_catalogue()["facility_wue"]
    hyperscale = [
        float(r["wue"]) for r in _rows("facility_wue.csv") if r["provider_class"] == "hyperscale"
    ]
    low, high = entry.by_class["hyperscale"].support()
    assert low <= min(hyperscale) and max(hyperscale) <= high
    hydro = p.default_catalogue()["hydro_water"].distribution
    # log-uniform whose median is Macknick et al.'s 17 L/kWh
    assert math.sqrt(hydro.low * hydro.high) == pytest.approx(17.0, rel=0.01)
    assert np.isclose(float(hydro.ppf(np.array([0.5]))[0]), 17.0, rtol=0.01)
