"""The published reference values of MLCA (Morand et al., ICT4S 2024; docs/methodology.md sections 1
and 5).

Tolerances: the issue asks for 0.5 % on values that MLCA prints to 3-4 significant digits; where the
published values have 4 digits (energy 2082.5, per-card values) the gap we see is far smaller.
"""

import dataclasses

import numpy as np
import pytest
from conftest import BERT_BASE

from mlimpact.engine.model import card_production, training_impacts
from mlimpact.runs.cards import card_fields
from mlimpact.runs.table import RUN_FIELDS, RunTable


def with_fields(table, **changes):
    values = table.values.copy()
    for field, value in changes.items():
        values[:, RUN_FIELDS.index(field)] = value
    return dataclasses.replace(table, values=values)


def test_bert_base_reference_case(bert_base):
    # MLCA's published BERT_base results (Strubell et al. 2019 setup; docs/methodology.md section
    # 5).
    result = training_impacts(bert_base).isel(model=0)
    assert float(result.energy) == pytest.approx(2082.5, rel=5e-3)
    assert float(result.gwp.sel(phase="total")) == pytest.approx(831, rel=5e-3)
    assert float(result.gwp.sel(phase="use")) == pytest.approx(770.5, rel=5e-3)
    assert float(result.gwp.sel(phase="production")) == pytest.approx(60.8, rel=5e-3)
    assert float(result.adpe.sel(phase="total")) == pytest.approx(4.91e-3, rel=5e-3)
    # MLCA prints 24,000 after rounding; its factors give about 24,400 before it.
    assert float(result.pe.sel(phase="total")) == pytest.approx(24400, rel=5e-3)


@pytest.mark.parametrize(
    "lifetime, usage, expected_gwp",
    [
        (8, 0.95, 811),
        (3, 0.5, 977),
        (1, 0.10, 3870),  # MLCA's allocation bounds (docs/methodology.md section 5)
    ],
)
def test_bert_base_allocation_bounds(bert_base, lifetime, usage, expected_gwp):
    table = with_fields(bert_base, lifetime_years=lifetime, lifetime_usage=usage)
    result = training_impacts(table)
    assert float(result.gwp.sel(phase="total")[0]) == pytest.approx(expected_gwp, rel=5e-3)


@pytest.mark.parametrize(
    "name, die, memory, gwp, pe, adpe",
    [
        # MLCA defaults (docs/methodology.md section 1) (memory density 0.625 GB/cm2)
        ("A100 80 GB", 8.26, 80, 330.1, 3943, 0.02683),
        ("V100 32 GB", 8.15, 32, 160.9, 1844, 0.02199),
        ("A100 40 GB", 8.26, 40, 189.3, 2196, 0.02280),
    ],
)
def test_card_reference_values(name, die, memory, gwp, pe, adpe):
    runs = RunTable.from_records([(name, card_fields(name, die, memory, "mlca"))])
    cards = card_production(runs).sel(hardware=name, component="total")
    assert float(cards.gwp) == pytest.approx(gwp, rel=5e-3)
    assert float(cards.pe) == pytest.approx(pe, rel=5e-3)
    assert float(cards.adpe) == pytest.approx(adpe, rel=5e-3)


def test_results_carry_units_and_dimensions(bert_base):
    result = training_impacts(bert_base)
    assert result.energy.attrs["units"] == "kWh"
    assert result.gwp.attrs["units"] == "kg CO2eq"
    assert result.adpe.attrs["units"] == "kg Sb eq"
    assert result.pe.attrs["units"] == "MJ"
    assert result.gwp.dims == ("model", "phase")
    assert list(result.phase.values) == ["production", "use", "total"]
    np.testing.assert_allclose(
        result.gwp.sel(phase="total"),
        result.gwp.sel(phase="production") + result.gwp.sel(phase="use"),
    )


def test_server_dropped_removes_its_power_and_production(bert_base):
    without = training_impacts(with_fields(bert_base, server=0)).isel(model=0)
    with_server = training_impacts(bert_base).isel(model=0)
    # RAM power 0.3725 W/GB x 1536 GB per node is the only server power here (u_cpu = 0).
    ram_energy = 4 * 0.3725 * 24 * 64 / 1000 * 79.2 * 1.835
    assert float(with_server.energy - without.energy) == pytest.approx(ram_energy, rel=1e-12)
    assert float(without.gwp.sel(phase="production")) < float(
        with_server.gwp.sel(phase="production")
    )


def test_run_table_rejects_missing_fields():
    fields = dict(BERT_BASE)
    del fields["hours"]
    with pytest.raises(ValueError, match="hours"):
        RunTable.from_records([("x", fields)])
