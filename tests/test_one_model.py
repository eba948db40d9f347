"""One model on every path: a setup file, an inventory, the Python API and the main job give the
same distribution for the same run; metered energy counts; the MLCA cases stay exact."""

import json

import numpy as np
import pytest

import mlimpact
from mlimpact.cli import main
from mlimpact.engine.model import training_impacts
from mlimpact.engine.propagate import propagate_setup
from mlimpact.quantities import IMPACT_CRITERIA
from mlimpact.runs.notable import build_runs
from mlimpact.runs.records import read_models_file
from mlimpact.runs.setupfile import parse_setup
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.study import claims
from mlimpact.study.options import StudyOptions
from mlimpact.study.portfolio import estimate_portfolio
from mlimpact.uncertainty.catalogue import default_catalogue

#: 16 x A100 SXM4 40 GB in two nodes of 8, 100 h in France, grid of 2023 (issue 26's case).
SETUP = {
    "name": "a",
    "run": {"hours": 100.0, "nodes": 2, "region": "FRA", "year": 2023},
    "node": {"gpu": "NVIDIA A100 SXM4 40 GB", "gpus": 8},
}
SETUP_TOML = """name = "a"
[run]
hours = 100
nodes = 2
region = "FRA"
year = 2023
[node]
gpu = "NVIDIA A100 SXM4 40 GB"
gpus = 8
"""
#: The same run as an inventory row: dated 2024, its grid is of 2023.
INVENTORY = (
    "name,date,hardware,accelerators,hours,location\n"
    "a,2024-06-30,NVIDIA A100 SXM4 40 GB,16,100,FRA\n"
)
SAMPLES, SEED = 2048, 4
STATISTICS = ("median", "q025", "q975", "mean")


def _values(dataset):
    """Energy and every criterion's phases of the one run, at :data:`STATISTICS`."""
    out = [dataset.energy.sel(statistic=list(STATISTICS)).values.ravel()]
    for criterion in IMPACT_CRITERIA:
        out.append(dataset[criterion].sel(statistic=list(STATISTICS)).values.ravel())
    return np.concatenate(out)


def test_every_path_gives_the_same_distribution(tmp_path, capsys):
    setup_file = tmp_path / "a.toml"
    setup_file.write_text(SETUP_TOML)
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY)
    records, _ = read_models_file(inventory)

    from_file = propagate_setup(mlimpact.Setup.from_toml(setup_file).parsed, SAMPLES, seed=SEED)
    from_api = mlimpact.estimate(
        mlimpact.Setup(
            **{k: v for section in ("run", "node") for k, v in SETUP[section].items()}, name="a"
        ),
        samples=SAMPLES,
        seed=SEED,
    )
    from_batch = estimate_portfolio(records, samples=SAMPLES, seed=SEED).runs
    # the main job's per-model estimate of an inventory of one run (run --models)
    options = StudyOptions(
        samples=SAMPLES, seed=SEED, window=(2024, 2024), models_file=str(inventory)
    )
    from_run = claims._scenario("baseline", options, None, records=records).summary
    reference = _values(from_file)
    for name, result in (("api", from_api), ("batch", from_batch), ("run", from_run)):
        np.testing.assert_allclose(_values(result), reference, rtol=1e-9, err_msg=name)
    assert (
        main(
            [
                "estimate",
                str(setup_file),
                "--samples",
                str(SAMPLES),
                "--seed",
                str(SEED),
                "--format",
                "json",
            ]
        )
        == 0
    )
    cli = json.loads(capsys.readouterr().out)
    assert cli["energy_kwh"]["median"] == pytest.approx(
        float(from_file.energy.sel(statistic="median")[0]), rel=1e-12
    )
    assert cli["power_model"] == "evidence"


def _point_energy(document):
    return float(training_impacts(parse_setup(document).runs).energy[0])


def _row(setup):
    return dict(zip(RUN_FIELDS, setup.runs.values[0]))


def test_mlca_cases_stay_exact_under_power_mlca(capsys):
    # MLCA's published BERT_base case (Morand et al., ICT4S 2024): 2082.5 kWh, 770.5 kg CO2eq
    # of use and 60.8 of production; the evidence model differs (measured draws, rated host)
    assert (
        main(
            [
                "estimate",
                "examples/bert_base.toml",
                "--point",
                "--power",
                "mlca",
                "--format",
                "json",
            ]
        )
        == 0
    )
    mlca = json.loads(capsys.readouterr().out)
    assert mlca["energy_kwh"] == pytest.approx(2082.5, abs=0.5)
    assert mlca["gwp_kgco2eq"]["use"] == pytest.approx(770.5, abs=0.05)
    assert mlca["gwp_kgco2eq"]["production"] == pytest.approx(60.8, abs=0.05)
    assert mlca["power_model"] == "mlca"
    assert main(["estimate", "examples/bert_base.toml", "--point", "--format", "json"]) == 0
    evidence = json.loads(capsys.readouterr().out)
    assert evidence["power_model"] == "evidence"
    assert evidence["energy_kwh"] != pytest.approx(mlca["energy_kwh"], rel=0.01)
    # production does not depend on the power model
    assert evidence["gwp_kgco2eq"]["production"] == mlca["gwp_kgco2eq"]["production"]


def test_an_unstated_gpu_usage_and_pue_are_the_evidence_models_class_values():
    setup = parse_setup(SETUP)
    row = _row(setup)
    # data/parameters.toml: the GPU class's point 0.70 and the unknown provider's PUE 1.365
    assert row["gpu_usage"] == 0.70 and row["dynamic_ratio"] == 1.365
    assert "gpu_usage" not in setup.given_fields
    stated = parse_setup(
        {
            **SETUP,
            "node": {**SETUP["node"], "gpu_usage": 0.9},
            "assumptions": {"pue": 1.1, "host_usage": 0.6},
        }
    )
    assert _row(stated)["gpu_usage"] == 0.9 and _row(stated)["dynamic_ratio"] == 1.1
    result = propagate_setup(stated, 512, seed=0)
    # power stated, the PUE fixed: only the cluster's non-training overhead (>= 1) is drawn
    energy = result.energy.sel(statistic=["q025", "q975"]).values[0]
    point = float(training_impacts(stated.runs).energy[0])
    assert energy[0] >= point * (1 - 1e-9) > 0 and energy[1] > point


def test_a_stated_pue_or_host_share_is_refused_by_mlcas_model():
    document = {**SETUP, "assumptions": {"pue": 1.2}}
    with pytest.raises(mlimpact.MlimpactError, match="evidence power model"):
        parse_setup(document, power="mlca")


def test_a_country_without_boavizta_factors_falls_back_to_the_worlds_with_its_error(capsys):
    document = {**SETUP, "run": {"hours": 10.0, "country": "ESP"}}
    setup = parse_setup(document)
    assert setup.country == "ESP"
    assert any("ADPe and PE factors of the world" in note for note in setup.notes)
    result = propagate_setup(setup, 256, seed=0)
    assert "grid_adpe_world" in result.attrs["parameters"]
    assert "grid_pe_world" in result.attrs["parameters"]
    # a country that has Boavizta's factors does not take the world's error
    assert (
        "grid_adpe_world"
        not in propagate_setup(
            parse_setup({**SETUP, "run": {"hours": 10.0, "country": "FRA"}}), 256, seed=0
        ).attrs["parameters"]
    )


@pytest.mark.parametrize("scope", ["accelerators", "node", "facility"])
def test_metered_energy_replaces_the_power_model_at_its_scope(scope):
    metered = {**SETUP, "run": {**SETUP["run"], "energy_kwh": 1000.0, "energy_scope": scope}}
    plain, setup = parse_setup(SETUP), parse_setup(metered)
    row = _row(plain)
    accelerators = row["gpu_usage"] * row["gpus"] * row["gpu_tdp_w"]
    node = accelerators + row["host_usage"] * row["gpus"] * row["host_rated_w_per_gpu"]
    expected = (
        1000.0
        * {
            "accelerators": node / accelerators * row["dynamic_ratio"],
            "node": row["dynamic_ratio"],
            "facility": 1.0,
        }[scope]
    )
    assert _point_energy(metered) == pytest.approx(expected, rel=1e-12)
    # production is still the model's
    metered_gwp = training_impacts(setup.runs).gwp.sel(phase="production")
    plain_gwp = training_impacts(plain.runs).gwp.sel(phase="production")
    assert float(metered_gwp[0]) == float(plain_gwp[0])


def test_metered_energy_carries_its_measurement_error():
    metered = {**SETUP, "run": {**SETUP["run"], "energy_kwh": 1000.0, "energy_scope": "facility"}}
    result = propagate_setup(parse_setup(metered), 8192, seed=0)
    low, median, high = result.energy.sel(statistic=["q025", "median", "q975"]).values[0]
    # metered_energy_error: lognormal, gsd 1.10 (data/parameters.toml); the quantiles come from
    # histograms of relative resolution 1/128 and 8,192 samples
    assert median == pytest.approx(1000.0, rel=0.02)
    assert high / low == pytest.approx(1.10 ** (2 * 1.959964), rel=0.03)


def test_a_metered_energy_outside_the_power_model_is_noted(tmp_path, capsys):
    path = tmp_path / "run.toml"
    path.write_text(SETUP_TOML.replace("year = 2023", "year = 2023\nenergy_kwh = 10"))
    assert main(["estimate", str(path), "--samples", "512"]) == 0
    out = capsys.readouterr().out
    assert "a: metered 10.00 kWh (node) is OUTSIDE the power model's 95 % interval" in out
    assert main(["estimate", str(path), "--samples", "512", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["metered"][0]["inside"] is False
    assert document["energy_kwh"]["median"] < 20


def test_the_inventory_takes_the_setup_files_keys_as_columns(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(
        "name,date,hardware,accelerators,hours,location,gpu_usage,pue\n"
        "a,2024-06-30,NVIDIA A100 SXM4 40 GB,16,100,FRA,0.9,1.1\n"
    )
    records, _ = read_models_file(path)
    runs = build_runs((2024, 2024), records=records)
    row = dict(zip(RUN_FIELDS, runs.runs.values[0]))
    assert row["gpu_usage"] == 0.9 and row["dynamic_ratio"] == 1.1
    assert runs.known[0, RUN_FIELDS.index("gpu_usage")]
    assert runs.fixed == {"a": {"facility_pue": 1.1}}


@pytest.mark.parametrize(
    "arguments, run, other, message",
    [
        (
            ["--power", "mlca"],
            "",
            "[assumptions]\npue = 1.2\n",
            "belong to the evidence power model",
        ),
        ([], "energy_kwh = -5\n", "", "energy_kwh must be > 0"),
        (
            [],
            'energy_kwh = 5\nenergy_scope = "rack"\n',
            "",
            "energy_scope must be one of accelerators, node, facility",
        ),
        ([], 'region = "Atlantis"\n', "", "unknown region 'Atlantis'"),
    ],
)
def test_bad_setups_are_one_line(tmp_path, capsys, arguments, run, other, message):
    path = tmp_path / "bad.toml"
    path.write_text(f'[run]\nhours = 100\n{run}[node]\ngpu = "A100 SXM4 40 GB"\ngpus = 8\n{other}')
    assert main(["estimate", str(path), "--point", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    "row, message",
    [
        ("b,2024-01-01,H100 SXM,8,10,FRA,5,rack", "column energy_scope: must be one of"),
        ("b,2024-01-01,H100 SXM,8,10,FRA,,node", "column energy_scope: given without energy_kwh"),
        ("b,2024-01-01,H100 SXM,8,10,FRA,-5,node", "column energy_kwh: must be a number > 0"),
    ],
)
def test_bad_metered_inventory_rows_are_one_line(tmp_path, capsys, row, message):
    path = tmp_path / "inventory.csv"
    path.write_text(
        "name,date,hardware,accelerators,hours,location,energy_kwh,energy_scope\n" + row + "\n"
    )
    assert main(["estimate", "--batch", str(path), "--samples", "64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_the_catalogue_of_each_power_model_has_the_metered_error():
    for power in ("evidence", "mlca"):
        assert default_catalogue(power)["metered_energy_error"].target == "metered_energy_kwh"


def test_energy_by_scope_adds_up_and_counts_the_accelerators_alone():
    # the point: accelerators = nodes x gpus x usage x TDP x hours, host = the rest of the
    # node's power, overhead = the facility beyond the nodes (DR - 1 times the node)
    setup = parse_setup(SETUP)
    row = _row(setup)
    result = training_impacts(setup.runs)
    scopes = dict(zip(result.scope.values, result.energy_by_scope.values[0]))
    device_hours = row["nodes"] * row["hours"] * row["repetitions"]
    accelerators = device_hours * row["gpus"] * row["gpu_usage"] * row["gpu_tdp_w"] / 1000
    host = device_hours * row["gpus"] * row["host_usage"] * row["host_rated_w_per_gpu"] / 1000
    assert scopes["accelerators"] == pytest.approx(accelerators, rel=1e-12)
    assert scopes["host"] == pytest.approx(host, rel=1e-12)
    assert scopes["overhead"] == pytest.approx(
        (accelerators + host) * (row["dynamic_ratio"] - 1), rel=1e-12
    )
    assert sum(scopes.values()) == pytest.approx(float(result.energy[0]), rel=1e-12)


@pytest.mark.parametrize("scope", ["accelerators", "node", "facility"])
def test_a_metered_run_gives_its_measurement_at_its_scope(scope):
    metered = {**SETUP, "run": {**SETUP["run"], "energy_kwh": 1000.0, "energy_scope": scope}}
    result = propagate_setup(parse_setup(metered), 4096, seed=0, keep_samples=True)
    parts = result.energy_by_scope_samples.isel(model=0)  # (sample, scope)
    energy = result.energy_samples.isel(model=0).values
    np.testing.assert_allclose(parts.sum("scope").values, energy, rtol=1e-12)
    assert (parts.values >= 0).all()
    at_scope = {
        "accelerators": parts.sel(scope="accelerators").values,
        "node": parts.sel(scope=["accelerators", "host"]).sum("scope").values,
        "facility": energy,
    }[scope]
    # the measurement with its error (lognormal, gsd 1.10): median 1000 kWh
    assert np.median(at_scope) == pytest.approx(1000.0, rel=0.01)
    assert np.quantile(at_scope, 0.975) / np.quantile(at_scope, 0.025) == pytest.approx(
        1.10 ** (2 * 1.959964), rel=0.03
    )


def test_the_batch_gives_the_energy_by_scope_per_run_and_in_total(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY + "b,2024-06-30,NVIDIA H100 SXM5 80 GB,8,50,DEU\n")
    records, _ = read_models_file(path)
    from mlimpact.study.portfolio import batch_rows

    rows = batch_rows(estimate_portfolio(records, samples=1024, seed=0))
    criteria = [row[1] for row in rows if row[0] == "a"]
    assert criteria == [
        "energy",
        "gwp",
        "adpe",
        "pe",
        "water",
        "energy_accelerators",
        "energy_host",
        "energy_overhead",
    ]
    means = {(row[0], row[1]): row[6] for row in rows}  # the mean: additive
    for name in ("a", "b", "TOTAL"):
        assert sum(
            means[name, f"energy_{s}"] for s in ("accelerators", "host", "overhead")
        ) == pytest.approx(means[name, "energy"], rel=1e-5)
    assert means["TOTAL", "energy_host"] == pytest.approx(
        means["a", "energy_host"] + means["b", "energy_host"], rel=1e-5
    )


def test_only_a_metered_run_draws_its_measurement_error():
    # the metered energy of a run without a meter is never read: it takes no column, even
    # when the caller marks nothing known
    from mlimpact.uncertainty.binding import bind

    metered = parse_setup({**SETUP, "run": {**SETUP["run"], "energy_kwh": 1000.0}}).notable
    plain = parse_setup(SETUP).notable
    catalogue = default_catalogue("evidence")
    for runs, columns in ((metered, 1), (plain, 0)):
        bound = bind(catalogue, runs.runs, runs.hardware, runs.countries)
        assert sum(name == "metered_energy_error" for name, _ in bound.columns) == columns


PUE_FILE = """[facility_pue]
distribution = { type = "uniform", low = 1.05, high = 1.1 }
scope = "run"
target = "dynamic_ratio"
mode = "replace"
"""


def test_an_input_of_the_other_power_model_is_left_out_with_a_warning(tmp_path, capsys):
    # a calibrated catalogue's facility_pue (the evidence model's) under --power mlca: it has
    # no effect there, and the command says so; under the evidence model it applies
    path = tmp_path / "pue.toml"
    path.write_text(PUE_FILE)
    args = ["estimate", "examples/bert_base.toml", "--samples", "512", "--format", "json"]
    medians = {}
    for power, extra in (
        ("mlca", []),
        ("mlca", ["--parameters", str(path)]),
        ("evidence", []),
        ("evidence", ["--parameters", str(path)]),
    ):
        assert main([*args, "--power", power, *extra]) == 0
        captured = capsys.readouterr()
        medians[power, bool(extra)] = json.loads(captured.out)["energy_kwh"]["median"]
        warned = "facility_pue is an input of the evidence power model" in captured.err
        assert warned == (power == "mlca" and bool(extra))
        if warned:
            assert captured.err.count("\n") == 1 and captured.err.startswith("mlimpact: warning:")
    assert medians["mlca", True] == medians["mlca", False]
    assert medians["evidence", True] < medians["evidence", False]  # PUE 1.05-1.1: less energy


def test_merge_catalogue_follows_the_tag_and_the_name():
    import warnings

    from mlimpact.uncertainty.catalogue import merge_catalogue, parse_parameters

    extra = parse_parameters(
        {
            "facility_pue": {
                "distribution": {"type": "constant", "value": 1.2},
                "scope": "global",
                "target": "dynamic_ratio",
                "mode": "replace",
            },
            "mine": {
                "distribution": {"type": "constant", "value": 0.5},
                "scope": "global",
                "target": "gpu_usage",
                "mode": "replace",
                "power_model": "evidence",
            },
            "lifetime_years": {
                "distribution": {"type": "constant", "value": 4.0},
                "scope": "global",
                "target": "lifetime_years",
                "mode": "replace",
            },
        }
    )
    base = default_catalogue("mlca")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        merged = merge_catalogue(base, extra, "mlca")
    assert sorted(str(w.message).split(":")[1].split()[0] for w in caught) == [
        "facility_pue",
        "mine",
    ]
    assert "facility_pue" not in merged and "mine" not in merged
    assert merged["lifetime_years"] is extra["lifetime_years"]
    evidence = merge_catalogue(default_catalogue("evidence"), extra, "evidence")
    assert evidence["facility_pue"] is extra["facility_pue"] and "mine" in evidence


def test_a_portfolio_in_parts_gives_what_it_gives_in_one(tmp_path, monkeypatch):
    # seven runs sharing hardware, grids and a metered one, evaluated two at a time: every
    # run's statistics are the same numbers, the total's (sums of the parts) equal to rounding
    from mlimpact.study import portfolio

    path = tmp_path / "inventory.csv"
    rows = [
        "a,2024-06-30,NVIDIA A100 SXM4 40 GB,16,100,FRA,",
        "b,2024-06-30,NVIDIA A100 SXM4 40 GB,16,100,FRA,",
        "c,2023-03-01,NVIDIA H100 SXM5 80GB,64,300,US-VA,",
        "d,2022-01-01,NVIDIA Tesla V100 SXM2 32 GB,8,50,DEU,",
        "e,2024-02-01,NVIDIA H100 SXM5 80GB,8,20,,",
        "f,2023-09-01,NVIDIA A100 SXM4 40 GB,32,70,SWE,900",
        "g,2021-05-05,NVIDIA Tesla V100 SXM2 32 GB,128,400,US-TX,",
    ]
    path.write_text(
        "name,date,hardware,accelerators,hours,location,energy_kwh\n" + "\n".join(rows) + "\n"
    )
    records, _ = read_models_file(path)
    whole = portfolio.batch_rows(estimate_portfolio(records, samples=512, seed=3))
    monkeypatch.setattr(portfolio, "PART_RUNS", 2)
    monkeypatch.setattr(portfolio, "CHUNK_BYTES", 2 * 8 * 16 * 100)  # 100-sample chunks
    parts = portfolio.batch_rows(estimate_portfolio(records, samples=512, seed=3))
    assert [r for r in parts if r[0] != "TOTAL"] == [r for r in whole if r[0] != "TOTAL"]
    for mine, theirs in zip(parts, whole):
        if mine[0] == "TOTAL":
            assert mine[:3] == theirs[:3]
            np.testing.assert_allclose(mine[3:7], theirs[3:7], rtol=1e-9)
