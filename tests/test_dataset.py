"""The notable-models dataset: known rows against their source, coverage, imputation."""

import json

import numpy as np
import pytest

from mlimpact.cli import main
from mlimpact.engine.model import training_impacts
from mlimpact.runs import notable
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.tables import grid
from mlimpact.tables.hardware import hardware_table
from mlimpact.tables.models import load_models


@pytest.fixture(scope="module")
def dataset():
    return notable.build_runs()


def field(dataset, model, name):
    r = dataset.runs.names.index(model)
    return dataset.runs.values[r, RUN_FIELDS.index(name)]


def test_no_model_disappears_without_a_reason(dataset):
    in_window = [r for r in load_models() if 2013 <= int(r["year"]) <= 2025]
    assert len(dataset.records) == len(in_window) == 830
    assert {r.name for r in dataset.records} == {r["model"] for r in in_window}
    for record in dataset.records:
        assert record.status in ("complete", "imputed", "excluded")
        assert (record.status == "excluded") == bool(record.reason)
    included = [r.name for r in dataset.records if r.status != "excluded"]
    assert list(dataset.runs.names) == included


def test_at_least_400_models_with_imputation(dataset):
    assert len(dataset.runs) >= 400


def test_complete_only_has_no_imputation():
    strict = notable.build_runs(impute=False)
    assert all(r.status in ("complete", "excluded") for r in strict.records)
    assert np.all(strict.runs.values[:, RUN_FIELDS.index("imputation")] == 0)
    assert 140 <= len(strict.runs) <= 153  # 153 records have hardware, count and time


def test_gpt3_as_reported(dataset):
    # Epoch AI: 10,000 V100 for 355.2 h; Epoch's DGX Station part (V100 DGXS 32 GB, 250 W) is
    # replaced by the SXM2 part from the sources (data/record_fixes.csv)
    name = "GPT-3 175B (davinci)"
    chips = field(dataset, name, "nodes") * field(dataset, name, "gpus")
    assert chips == pytest.approx(10_000)
    assert field(dataset, name, "hours") == pytest.approx(355.2)
    assert field(dataset, name, "imputation") == 0
    v100 = hardware_table().find("NVIDIA Tesla V100 SXM2")
    assert v100.tdp_w == 300.0  # Patterson et al. 2021, Table 4
    assert field(dataset, name, "gpu_die_area_cm2") == pytest.approx(v100.die_area_cm2)
    assert field(dataset, name, "gpu_tdp_w") == v100.tdp_w


def test_llama_31_405b_as_reported(dataset):
    # Epoch AI: 16,384 H100 SXM5 80GB for 2,142 h
    name = "Llama 3.1-405B"
    assert field(dataset, name, "nodes") * field(dataset, name, "gpus") == pytest.approx(16384)
    assert field(dataset, name, "hours") == pytest.approx(2142)


def test_imputed_hours_follow_compute(dataset):
    # chips * hours = compute / (peak * MFU * 3600) for a model whose time is imputed
    runs = dataset.runs
    imputation = runs.values[:, RUN_FIELDS.index("imputation")]
    r = int(np.flatnonzero(imputation == 1)[0])
    point = training_impacts(runs)
    row = dict(zip(RUN_FIELDS, runs.values[r]))
    hours = row["training_compute"] / (
        row["nodes"] * row["gpus"] * row["peak_flops"] * row["mfu"] * 3600
    )
    if runs.n_variants[r] == 1:
        power = (
            row["gpu_usage"] * row["gpus"] * row["gpu_tdp_w"]
            + 0.3725 * row["ram_modules"] * row["ram_module_gb"]
        ) / 1000
        energy = row["nodes"] * power * hours * row["dynamic_ratio"]
        assert float(point.energy[r]) == pytest.approx(energy, rel=1e-12)


def test_generic_names_are_a_choice_among_variants(dataset):
    table = hardware_table()
    a100 = table.find("NVIDIA A100")
    models = [
        r.name for r in dataset.records if r.hardware == "NVIDIA A100" and r.status != "excluded"
    ]
    assert models
    r = dataset.runs.names.index(models[0])
    assert dataset.runs.n_variants[r] == len(a100.variants)
    assert not dataset.known[r, RUN_FIELDS.index("variant")]


def test_missing_hardware_is_imputed_from_its_year(dataset):
    imputed = [r for r in dataset.records if any(i.startswith("hardware") for i in r.imputed)]
    assert imputed
    r = dataset.runs.names.index(imputed[0].name)
    assert dataset.runs.n_variants[r] >= 1
    assert dataset.hardware[r].startswith("imputed ")


def test_unpublished_die_areas_are_uncertain(dataset):
    from mlimpact.uncertainty.catalogue import die_area_parameters

    parameter = die_area_parameters(dataset.unpublished_dies)["die_area[Google TPU v3]"]
    low, high = parameter.distribution.support()
    assert (low, high) == (3.25, 8.58)  # data/die_areas.csv: 325-858 mm2, one die
    assert parameter.members == ("Google TPU v3",)


def test_grid_follows_country_and_year_before_publication():
    # the organisation rule (MLCA's, and the study's): the organisation's country, the year
    # before publication; tests/test_locations.py checks the evidence rule
    by_organisation = notable.build_runs(location="organisation")
    name = "GPT-3 175B (davinci)"  # published 2020, USA
    assert field(by_organisation, name, "grid_gwp") == pytest.approx(grid.intensity("USA", 2019)[0])


def test_data_command_json(capsys):
    assert main(["data", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["included_total"] >= 400
    assert sum(report["excluded_reasons"].values()) == report["excluded_total"]
    assert set(report["years"]) == {str(y) for y in range(2013, 2026)}
    for counts in report["years"].values():
        assert set(counts) == {"complete", "imputed", "excluded"}
    total = sum(sum(c.values()) for c in report["years"].values())
    assert total == report["included_total"] + report["excluded_total"]
    assert report["hardware_mapping"]["NVIDIA A100"] == list(
        hardware_table().find("NVIDIA A100").variants
    )


def test_monte_carlo_over_the_dataset(dataset):
    from mlimpact.engine.propagate import propagate
    from mlimpact.uncertainty.binding import bind
    from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters

    catalogue = {**default_catalogue(), **run_parameters(dataset)}
    bound = bind(catalogue, dataset.runs, dataset.hardware, dataset.countries, dataset.known)
    result = propagate(dataset.runs, bound, 1024, seed=0)
    total = result.gwp.sel(phase="total")
    assert np.all(np.isfinite(total.sel(statistic="median")))
    assert np.all(total.sel(statistic="q025") <= total.sel(statistic="q975"))
