"""Where runs trained and how they were powered: the location and power models."""

import csv
import dataclasses
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from mlimpact.engine.propagate import parameter_values
from mlimpact.runs import locations, notable
from mlimpact.runs.table import VARIANT_FIELDS
from mlimpact.tables import grid
from mlimpact.tables.locations import provider_sites, providers, published_locations
from mlimpact.tables.models import load_models
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters
from mlimpact.uncertainty.sampling import Design


def _rows(name):
    with (
        resources.files("mlimpact.data").joinpath(name).open(encoding="utf-8", newline="") as handle
    ):
        return list(csv.DictReader(handle))


def _drawn(runs, parameter, member, n):
    """``n`` Monte Carlo values of one parameter's column for one member, the notable runs
    ``runs`` bound to the evidence catalogue."""
    catalogue = {**default_catalogue("evidence"), **run_parameters(runs)}
    bound = bind(catalogue, runs.runs, runs.hardware, runs.countries, runs.known, runs.classes)
    column = bound.columns.index((parameter, member))
    return parameter_values(bound, Design("mc", n, bound.n_columns, 1).uniforms(0, n))[:, column]


@pytest.fixture(scope="module")
def evidence():
    return notable.build_runs()


def test_every_curated_row_names_a_known_model_organisation_and_region():
    models = {m["model"]: m for m in load_models()}
    organizations = {o.strip() for m in models.values() for o in m["organization"].split(",")}
    for row in _rows("locations.csv"):
        assert row["model"] in models and grid.is_region(row["region"]), row
        assert row["source"].strip()
    for row in _rows("providers.csv"):
        assert row["organization"] in organizations and row["source"].strip(), row
    for row in _rows("provider_sites.csv"):
        assert grid.is_region(row["region"]) and row["source"].strip(), row
    for model, regions in published_locations().items():
        assert abs(sum(w for _, w in regions) - 1) < 1e-9, model
    assert providers() and provider_sites()


def test_regions_table_is_rebuilt_identically(tmp_path, raw_dir):
    raw = raw_dir / "codecarbon"
    script = Path(__file__).resolve().parent.parent / "scripts" / "build_regions.py"
    subprocess.run(
        [sys.executable, str(script), "--raw", str(raw), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    shipped = resources.files("mlimpact.data").joinpath("grid_regions.csv").read_bytes()
    assert (tmp_path / "grid_regions.csv").read_bytes() == shipped


def test_region_factor_of_another_year_follows_its_country():
    # eGRID 2023's Oklahoma factor, moved to 2019 by the USA series of OWID/Ember
    base = grid.regions()["US-OK"]
    usa_2019, usa_2023 = grid.intensity("USA", 2019)[0], grid.intensity("USA", 2023)[0]
    assert grid.region_intensity("US-OK", 2019) == pytest.approx(base.gwp * usa_2019 / usa_2023)
    assert grid.region_intensity("US-OK", base.year) == pytest.approx(base.gwp)
    assert grid.region_intensity("FRA", 2021) == grid.intensity("FRA", 2021)[0]


def test_evidence_order_published_provider_country_unknown():
    assert locations.candidates("BLOOM-176B", ["Hugging Face"], "USA", 2022) == (
        (("FRA", 1.0),),
        "published",
    )
    regions, basis = locations.candidates("some model", ["OpenAI"], "USA", 2021)
    # OpenAI -> Microsoft Azure -> its US regions, weighted by the number of regions per state
    assert basis == "provider" and dict(regions)["US-VA"] == pytest.approx(
        2 * dict(regions)["US-IA"]
    )
    assert locations.candidates("GPT-4 (Mar 2023)", ["OpenAI"], "USA", 2023) == (
        (("US-IA", 1.0),),
        "published",
    )
    regions, basis = locations.candidates("some model", ["No Such Lab"], "USA", 2021)
    assert basis == "country" and len(regions) == len(grid.country_regions("USA"))
    assert sum(w for _, w in regions) == pytest.approx(1.0)
    assert locations.candidates("some model", ["No Such Lab"], "GBR", 2021) == (
        (("GBR", 1.0),),
        "country",
    )
    assert locations.candidates("some model", [], "", 2021) == ((), "unknown")
    # a record's own region or provider comes first
    assert locations.candidates("BLOOM-176B", [], "", 2022, region="US-OK")[0] == (("US-OK", 1.0),)


def test_published_location_moves_the_grid_and_its_country(evidence):
    r = evidence.runs.names.index("BLOOM-176B")  # Epoch: USA first; trained at IDRIS, France
    assert evidence.countries[r] == "FRA"
    assert evidence.runs.column("grid_gwp")[r] == pytest.approx(grid.intensity("FRA", 2021)[0])
    assert evidence.location_bases[r] == "published"


def test_a_location_choice_draws_only_its_candidates(evidence):
    name = "Llama 2-70B"  # Meta: a choice among Meta's data-centre regions
    ratios, weights = evidence.location_choices[name]
    assert len(ratios) > 1 and sum(weights) == pytest.approx(1.0)
    point = evidence.runs.column("grid_gwp")[evidence.runs.names.index(name)]
    assert point == pytest.approx(float(np.dot(ratios, weights)) * point)  # weighted mean
    drawn = _drawn(evidence, "location", name, 4096)
    assert set(np.round(drawn, 12)) <= set(np.round(ratios, 12))
    for ratio, weight in zip(ratios, weights):  # frequencies follow the weights (4096 draws)
        share = np.mean(np.isclose(drawn, ratio))
        assert abs(share - weight) < 4 * np.sqrt(weight * (1 - weight) / 4096) + 1e-9


def test_power_models_point_values(evidence):
    mlca = notable.build_runs(power="mlca", location="organisation")
    # TPU; GPU (8 P100 for 84 h); GPU of large pretraining (10,000 V100 for 355 h)
    for name, usage in (("T5-11B", 0.49), ("Transformer", 0.70), ("GPT-3 175B (davinci)", 0.88)):
        r = evidence.runs.names.index(name)
        assert evidence.runs.column("gpu_usage")[r] == usage
        assert mlca.runs.column("gpu_usage")[mlca.runs.names.index(name)] == 0.75
    r = evidence.runs.names.index("T5-11B")  # Google: hyperscale PUE
    assert evidence.classes["provider"][r] == "hyperscale"
    assert evidence.runs.column("dynamic_ratio")[r] == 1.13
    assert mlca.runs.column("dynamic_ratio")[mlca.runs.names.index("T5-11B")] == 200 / 109
    # the evidence catalogue replaces the dynamic ratio by the PUE and the non-training share
    assert "dynamic_ratio" not in default_catalogue("evidence")
    assert {"facility_pue", "non_training_overhead"} <= set(default_catalogue("evidence"))
    assert "facility_pue" not in default_catalogue("mlca")


def test_class_distributions_bind_per_run(evidence):
    catalogue = {**default_catalogue("evidence"), **run_parameters(evidence)}
    bound = bind(
        catalogue,
        evidence.runs,
        evidence.hardware,
        evidence.countries,
        evidence.known,
        evidence.classes,
    )
    by_run = {
        member: bound.distributions[j]
        for j, (parameter, member) in enumerate(bound.columns)
        if parameter == "gpu_usage"
    }
    classes = catalogue["gpu_usage"].by_class
    assert set(classes) == {"TPU", "GPU", "GPU_large"}
    seen = set()
    for name, klass in zip(evidence.runs.names, evidence.classes["accelerator"]):
        if name in by_run:
            assert by_run[name] == classes.get(klass, catalogue["gpu_usage"].distribution)
            seen.add(klass)
    assert {"TPU", "GPU", "GPU_large"} <= seen


def test_large_pretraining_is_told_by_count_and_time_at_the_point():
    # at least 256 GPUs for at least 7 days (data/accelerator_power.csv's metered large
    # runs); from the training compute where the record lacks the count or the time
    from mlimpact.runs.table import IMPUTE_CHIPS, IMPUTE_HOURS, NO_IMPUTATION

    fields = dict(nodes=32.0, gpus=8.0, hours=168.0, imputation=NO_IMPUTATION)
    assert notable.workload_class("GPU", fields) == "GPU_large"  # 256 GPUs, 7 days
    assert notable.workload_class("GPU", dict(fields, hours=167.0)) == "GPU"
    assert notable.workload_class("GPU", dict(fields, nodes=31.0)) == "GPU"
    assert notable.workload_class("TPU", dict(fields, nodes=1000.0)) == "TPU"
    # 256 GPUs, time from 1e24 FLOP at 1e15 FLOP/s and MFU 0.4: 1e24 / 1.44e18 = 694,444
    # GPU-hours, 2,713 h
    compute = dict(fields, imputation=IMPUTE_HOURS, training_compute=1e24, peak_flops=1e15)
    compute["mfu"] = 0.4
    assert notable.point_chips_and_hours(compute) == pytest.approx((256.0, 1e24 / 1.44e18 / 256))
    assert notable.workload_class("GPU", compute) == "GPU_large"
    # the count from the compute over a 24 h run: 28,935 GPUs but one day
    chips = dict(compute, imputation=IMPUTE_CHIPS, hours=24.0)
    assert notable.point_chips_and_hours(chips) == pytest.approx((1e24 / 1.44e18 / 24, 24.0))
    assert notable.workload_class("GPU", chips) == "GPU"


def test_every_record_fix_names_a_model_and_a_known_value():
    from mlimpact.tables.hardware import hardware_table
    from mlimpact.tables.models import FIX_FIELDS, record_fixes

    models = {m["model"] for m in load_models()}
    for row in _rows("record_fixes.csv"):
        assert row["model"] in models and row["source"].strip() and row["url"].strip(), row
        assert row["action"] in FIX_FIELDS[row["field"]], row
        if row["field"] == "hardware":
            hardware_table().find(row["value"])  # raises for an unknown accelerator
    assert record_fixes()


def test_record_fixes_replace_and_withdraw_in_any_epoch_export():
    from mlimpact.runs.records import epoch_record

    raw = {
        "Model": "ELMo",
        "Publication date": "2018-02-01",
        "Organization": "AI2",
        "Country (of organization)": "United States of America",
        "Training compute (FLOP)": "3.3e15",
        "Training hardware": "",
    }
    record = epoch_record(raw)
    assert record["hardware"] == "NVIDIA GeForce GTX 1080"
    assert (record["hardware_quantity"], record["training_time_hours"]) == ("3", "336")
    assert record["training_compute_flop"] == ""
    assert (record["hardware_status"], record["compute_status"]) == ("corrected", "withdrawn")
    other = epoch_record({**raw, "Model": "not fixed"})
    assert other["training_compute_flop"] == "3.3e+15" and other["compute_status"] == "reported"


def test_a_chip_hour_disagreement_spans_record_and_source(evidence):
    from mlimpact.tables.models import record_fixes

    name = "PaLM (540B)"
    row = evidence.runs.names.index(name)
    record_hours = (
        evidence.runs.column("hours")[row]
        * evidence.runs.column("nodes")[row]
        * evidence.runs.column("gpus")[row]
    )
    source = float(record_fixes()[name]["chip_hours"][1])
    low, high = evidence.record_ranges[name]
    assert (low, high) == pytest.approx((source / record_hours, 1.0))
    assert "Llama 3.1-405B" in evidence.record_ranges
    drawn = _drawn(evidence, "record_chip_hours", name, 2048)
    assert drawn.min() >= low and drawn.max() <= high and drawn.max() - drawn.min() > 0.08


def test_peak_rate_by_precision_tpu_fp32_and_integer_only_chips():
    from mlimpact.tables.hardware import hardware_table

    table = hardware_table()
    v3, v1, h800 = (table.find(n) for n in ("Google TPU v3", "Google TPU v1", "NVIDIA H800 SXM5"))
    assert notable.peak_rate(v3, "FP32") == (v3.peak_flops["tensor_fp16_bf16"], "tensor_fp16_bf16")
    assert notable.peak_rate(v1, "") == (92e12, "int8")
    assert notable.peak_rate(h800, "FP8") == (1.979e15, "fp8")
    # a float chip without the record's precision does not fall back to its integer rate
    gtx = table.find("NVIDIA GeForce GTX 1080")
    assert notable.peak_rate(gtx, "FP32")[1] == "fp32"
    a100 = table.find("NVIDIA A100 SXM4 80 GB")  # has an int8 rate, and no FP8 one
    assert notable.peak_rate(a100, "FP8")[1] == "tensor_fp16_bf16"


def test_records_once_excluded_for_a_missing_rate_or_memory_come_back(evidence):
    status = {r.name: r for r in evidence.records}
    for name in ("XLNet", "Transformer-XL (257M)", "AlphaGo Zero", "PanGu-Σ"):
        assert status[name].status != "excluded", (name, status[name].reason)
    assert any("bfloat16" in n for n in status["XLNet"].notes)


def test_every_chip_hour_disagreement_with_a_published_footprint_is_recorded():
    """A record whose chips x hours differ by more than 10 % from the chip-hours a published
    footprint states (data/validation.csv) has a ``disagree`` row in data/record_fixes.csv."""
    from mlimpact.tables.models import record_fixes

    models = {m["model"]: m for m in load_models()}
    flagged = set()
    for row in _rows("validation.csv"):
        record = models.get(row["epoch_model"])
        if (
            not record
            or not row["chip_hours"]
            or not (record["hardware_quantity"] and record["training_time_hours"])
        ):
            continue
        ours = float(record["hardware_quantity"]) * float(record["training_time_hours"])
        if abs(float(row["chip_hours"]) / ours - 1) > notable.DISAGREEMENT:
            flagged.add(row["epoch_model"])
    assert flagged  # the table has such records
    for model in flagged:
        assert record_fixes().get(model, {}).get("chip_hours", ("",))[0] == "disagree", model


# --- host power from node configurations (evidence power model) -------------------------------


def test_node_configurations_name_known_accelerators_with_their_tdp():
    from mlimpact.tables.hardware import hardware_table
    from mlimpact.tables.nodes import node_configurations

    configs = node_configurations()
    assert configs, "data/node_configurations.csv is empty"
    table = hardware_table()
    for name, config in configs.items():
        hardware = table.find(name)
        assert hardware.name == name and hardware.tdp_w == config.accelerator_tdp_w
        assert hardware.type == "GPU" and config.accelerators == notable.GPUS_PER_NODE
        assert config.rated_power_w > config.accelerators * config.accelerator_tdp_w
    for row in _rows("node_configurations.csv"):
        assert row["source"].strip() and row["notes"].strip(), row["node"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"rated_power_w": "3000"}, "rated at or below"),  # 8 x 400 W = 3200 W
        ({"rated_power_w": "-1"}, "must be > 0"),
        ({"accelerator_tdp_w": "350"}, "with its TDP"),  # data/hardware.csv says 400 W
        ({"hardware": "NVIDIA A100 SXM4 40 GB;NVIDIA A100 SXM4 40 GB"}, "two node configurations"),
        ({"source": " "}, "no source"),
        ({"source_key": ""}, "no source_key"),
        ({"source_key": "nobody1999"}, "not in data/sources.csv"),
        ({"accelerators": "8.5"}, "whole number"),
    ],
)
def test_a_bad_node_configuration_is_refused(change, message):
    from mlimpact.errors import MlimpactError
    from mlimpact.tables.nodes import parse_configurations

    row = {
        "node": "DGX A100",
        "hardware": "NVIDIA A100 SXM4 40 GB",
        "accelerators": "8",
        "accelerator_tdp_w": "400",
        "rated_power_w": "6500",
        "source_key": "nvidia-dgx-a100-guide2026",
        "source": "a datasheet",
    }
    assert (
        parse_configurations([row])["NVIDIA A100 SXM4 40 GB"].host_rated_w_per_accelerator
        == (6500 - 8 * 400) / 8
    )
    with pytest.raises(MlimpactError, match=message):
        parse_configurations([{**row, **change}])


def test_host_power_of_a_rated_node_against_the_hand_computed_value():
    from mlimpact.engine.kernels.training import evaluate_runs
    from mlimpact.runs.defaults import default_row
    from mlimpact.runs.table import RunTable
    from mlimpact.tables.factors import PRODUCTION_FACTORS, RAM_POWER_W_PER_GB

    base = dict(
        hours=1.0,
        nodes=1.0,
        gpus=8.0,
        gpu_usage=0.7,
        gpu_tdp_w=400.0,
        dynamic_ratio=1.0,
        gpu_memory_gb=80.0,
        gpu_die_area_cm2=8.26,
        lifetime_years=6.0,
        lifetime_usage=0.85,
        memory_density=1.0,
    )
    rated = default_row(**base, host_rated_w_per_gpu=412.5, host_usage=0.6)
    four = default_row(**{**base, "gpus": 4.0}, host_rated_w_per_gpu=412.5, host_usage=0.6)
    mlca = default_row(**base, host_rated_w_per_gpu=0.0, host_usage=0.6)
    off = default_row(**base, host_rated_w_per_gpu=412.5, host_usage=0.6, server=0.0)
    runs = RunTable.from_records([("rated", rated), ("four", four), ("mlca", mlca), ("off", off)])
    energy = evaluate_runs(runs, PRODUCTION_FACTORS)[:, 0]
    gpus_kw = 8 * 0.7 * 400 / 1000
    ram_gb = mlca["ram_modules"] * mlca["ram_module_gb"]
    assert energy[0] == pytest.approx(gpus_kw + 0.6 * 8 * 412.5 / 1000, rel=1e-14)
    assert energy[1] == pytest.approx(energy[0] / 2, rel=1e-14)  # the host scales with the GPUs
    assert energy[2] == pytest.approx(
        gpus_kw
        + (mlca["cpu_usage"] * mlca["cpus"] * mlca["cpu_tdp_w"] + RAM_POWER_W_PER_GB * ram_gb)
        / 1000,
        rel=1e-14,
    )
    assert energy[3] == pytest.approx(gpus_kw, rel=1e-14)  # host off: accelerators alone


def test_evidence_runs_take_the_host_of_their_node(evidence):
    from mlimpact.engine.model import training_impacts
    from mlimpact.tables.catalogue import point_values
    from mlimpact.tables.nodes import node_configurations

    mlca = notable.build_runs(power="mlca", location="organisation")
    per_gpu = {name: c.host_rated_w_per_accelerator for name, c in node_configurations().items()}
    host = evidence.runs.column("host_rated_w_per_gpu")
    for name, expected in (
        ("BLOOM-176B", per_gpu["NVIDIA A100 SXM4 80 GB"]),
        ("T5-11B", 0.0),
    ):  # TPU v3: no published rating, MLCA's host
        assert host[evidence.runs.names.index(name)] == expected
        assert mlca.runs.column("host_rated_w_per_gpu")[mlca.runs.names.index(name)] == 0.0
    # the point of the host's share is the catalogue's, in every evidence run (not in MLCA's)
    assert set(evidence.runs.column("host_usage")) == {point_values("evidence")["host_usage"]}
    assert set(mlca.runs.column("host_usage")) == {0.0}
    # each variant its own host per accelerator (SXM parts on rated nodes, others MLCA's),
    # whatever the run's node size (a run whose first candidate is a TPU has 4 per node)
    field = VARIANT_FIELDS.index("host_rated_w_per_gpu")
    mixed = 0
    for r, labels in enumerate(evidence.runs.variant_labels):
        kinds = {label.startswith("Google TPU") for label in labels}
        mixed += len(kinds) == 2 and any(label in per_gpu for label in labels)
        for v, label in enumerate(labels):
            assert evidence.runs.variant_values[r, v, field] == per_gpu.get(label, 0.0)
    assert mixed > 0  # the case that a count per node would get wrong is in the data
    # BLOOM's point energy by hand: 48 nodes of 8 A100 SXM4 for 2,808 h, its GPUs at the point
    # of the class of large pretraining (384 GPUs for 117 days), its host at the catalogue's
    # point, academic HPC's PUE point (Jean Zay)
    r = evidence.runs.names.index("BLOOM-176B")
    assert evidence.classes["accelerator"][r] == "GPU_large"
    point = training_impacts(evidence.runs)["energy"].sel(model="BLOOM-176B").item()
    node_w = 8 * 0.88 * 400 + 0.61 * 8 * per_gpu["NVIDIA A100 SXM4 80 GB"]
    assert evidence.runs.column("dynamic_ratio")[r] == 1.2
    assert point == pytest.approx(48 * 2808 * node_w / 1000 * 1.2, rel=1e-12)
    assert "host_usage" in default_catalogue("evidence")
    assert "host_usage" not in default_catalogue("mlca")


def test_monte_carlo_draws_the_host_share_and_applies_it_linearly(evidence):
    # the evidence catalogue's host_usage replaced by three constants, every other input drawn
    # the same way: per sample, a rated run's energy is affine in the share (P_host =
    # u_host x n_gpu x h_gpu), and a TPU run's does not depend on it (MLCA's host terms)
    from mlimpact.engine.propagate import propagate
    from mlimpact.uncertainty.distributions import Constant

    catalogue = {**default_catalogue("evidence"), **run_parameters(evidence)}
    energy = {}
    for share in (0.2, 0.5, 0.9):
        fixed = dict(catalogue)
        fixed["host_usage"] = dataclasses.replace(
            catalogue["host_usage"], distribution=Constant(share), point=None
        )
        bound = bind(
            fixed,
            evidence.runs,
            evidence.hardware,
            evidence.countries,
            evidence.known,
            evidence.classes,
        )
        result = propagate(evidence.runs, bound, 64, seed=3, keep_samples=True)
        energy[share] = {
            name: result["energy_samples"].sel(model=name).values
            for name in ("BLOOM-176B", "T5-11B")
        }
    bloom = [energy[s]["BLOOM-176B"] for s in (0.2, 0.5, 0.9)]
    np.testing.assert_allclose((bloom[2] - bloom[0]) / (bloom[1] - bloom[0]), 0.7 / 0.3, rtol=1e-9)
    assert np.all(bloom[1] > bloom[0])
    np.testing.assert_array_equal(energy[0.2]["T5-11B"], energy[0.9]["T5-11B"])
    # with the catalogue's own triangular distribution the share varies between samples
    drawn = _drawn(evidence, "host_usage", "", 2048)
    assert 0.47 <= drawn.min() < drawn.max() <= 0.83
    # triangular(0.47, 0.61, 0.83)'s median: 0.83 - sqrt(0.5 x 0.36 x 0.22) = 0.631
    assert abs(np.median(drawn) - 0.631) < 0.01


def test_the_tables_of_measured_draws_and_pues_are_consistent():
    # data/accelerator_power.csv and data/facility_pue.csv are written by hand; the catalogue's
    # gpu_usage, host_usage and facility_pue ranges cite them
    from mlimpact.tables.hardware import hardware_table
    from mlimpact.tables.locations import PROVIDER_CLASSES

    table = hardware_table()
    for row in _rows("accelerator_power.csv"):
        assert row["source"].strip() and row["basis"] in ("measured", "estimated"), row
        watts = float(row["measured_w"])
        assert 0 < watts < 2000
        if row["tdp_w"]:  # a row with a share of TDP names a known accelerator (its TDP is
            table.find(row["hardware"])  # the source's, which may be a variant's)
            assert float(row["fraction_of_tdp"]) == pytest.approx(
                watts / float(row["tdp_w"]), abs=5e-4
            ), row
        else:  # no TDP, no share (Dodge et al.'s TITAN X, whose exact part is not stated)
            assert not row["fraction_of_tdp"], row
    for row in _rows("facility_pue.csv"):
        assert row["source"].strip() and row["provider_class"] in PROVIDER_CLASSES, row
        assert 1.0 <= float(row["pue"]) <= 3.0


def test_grids_and_evidence_are_made_once_per_distinct_location_and_equal_a_fresh_make():
    # the builds of the dataset under every scenario and specification share them: the same
    # frozen object for equal arguments (a list of choices taken as its tuple), equal to what
    # a fresh computation gives
    choices = [("CA-AB", 0.5), ("CA-BC", 0.5)]
    first = notable.run_grid("CAN", choices, "provider", 2023)
    assert notable.run_grid("CAN", tuple(choices), "provider", 2023) is first
    assert first == notable._run_grid.__wrapped__("CAN", tuple(choices), "provider", 2023)
    assert first != notable.run_grid("CAN", choices, "provider", 2021)
    arguments = ("GPT-4", ["OpenAI"], "USA", 2023, "", "")
    evidence = locations._evidence(*arguments)
    assert locations._evidence("GPT-4", ("OpenAI",), "USA", 2023, "", "") is evidence
    fresh = locations._evidence_of.__wrapped__("GPT-4", ("OpenAI",), "USA", 2023, "", "")
    choices, basis, keys = evidence  # (none of them can be changed by a caller)
    assert evidence == fresh and isinstance(choices, tuple) and isinstance(keys, tuple)
