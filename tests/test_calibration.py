"""Calibration of the power model against measured footprints (mlimpact.study.calibration)."""

import dataclasses
import json

import numba
import numpy as np
import pytest

from mlimpact.cli import main
from mlimpact.errors import MlimpactError
from mlimpact.study import calibration
from mlimpact.uncertainty.catalogue import load_parameters

QUICK = dict(samples=1024, rounds=3, draws=4)


@pytest.fixture(scope="module")
def measured():
    rows, _ = calibration.informative_rows()
    return rows


def _synthetic(rows, truth, sigma=0.05, seed=11):
    """The rows with values made by the model at the normal scores ``truth`` of the calibrated
    inputs (one draw of the others) times a lognormal scatter of ``sigma``."""
    problem = calibration._Problem(rows, seed=5, chunk_size=4096)
    inputs, log_f, _ = problem.evaluate(truth[None, :], offset=10**6, draws=1)
    noise = np.random.default_rng(seed).normal(0.0, sigma, len(problem.rows))
    values = np.exp(log_f[0, 0] + noise)
    made = [dataclasses.replace(row, value=float(v)) for row, v in zip(problem.rows, values)]
    return made, {label: float(v[0]) for label, v in inputs.items()}


def _interval(prepared, label):
    weights = prepared.weights()
    return calibration.weighted_quantiles(prepared.inputs[label], weights, [0.025, 0.975])


def test_known_inputs_are_recovered_and_more_rows_narrow_them(measured):
    # energies made by the model at known class inputs (the published runs' hardware, counts
    # and hours, the inputs' normal scores below) with a 10 % scatter
    energy = [r for r in measured if r.quantity == "energy"]
    truth = np.array([0.8, -1.0, 0.3, 0.5, -0.6])
    rows, true_values = _synthetic(energy, truth, sigma=0.1)
    assert set(true_values) == {
        "facility_pue[hyperscale]",
        "gpu_usage[TPU]",
        "gpu_usage[GPU_large]",  # GPT-3's 10,000 V100 (Strubell et al.'s rows are derived)
        "non_training_overhead",
        "host_usage",
    }
    everything = calibration.prepare(rows=rows, **QUICK)
    assert calibration.effective_sample_size(everything.weights()) > 50
    for label, value in true_values.items():
        low, high = _interval(everything, label)
        assert low <= value <= high, (label, low, value, high)
    # the data move the posterior: the scatter between runs (0.1 here) is found, where the
    # prior spans 0.01-1
    low, high = _interval(everything, "sigma_energy")
    assert low <= 0.1 <= high < 0.4
    # Google's TPU runs: one, then all of them. The share of TDP, the PUE and the overhead
    # multiply one another (only their product is identified), so what narrows is the
    # posterior of a run's energy and of the scatter between runs, which still hold the truth.
    tpu = [r for r in rows if r.hardware.startswith("Google TPU")]
    assert len(tpu) >= 5
    widths = {}
    for n in (1, len(tpu)):
        prepared = calibration.prepare(rows=tpu[:n], **QUICK)
        low, _, high = calibration.predictive_interval(
            prepared, prepared.weights(), prepared.rows[0]
        )
        assert low <= tpu[0].value <= high
        low_sigma, high_sigma = _interval(prepared, "sigma_energy")
        assert low_sigma <= 0.1 <= high_sigma
        widths[n] = (high / low, high_sigma - low_sigma)
    assert widths[len(tpu)][0] < 0.7 * widths[1][0]
    assert widths[len(tpu)][1] < 0.5 * widths[1][1]


def test_without_rows_the_posterior_is_the_prior():
    prepared = calibration.prepare(rows=[], samples=256)
    assert np.allclose(prepared.weights(), 1 / 256)
    for row in calibration.summary(prepared):
        for q in ("q025", "median", "q975"):
            assert row[f"posterior_{q}"] == pytest.approx(row[f"prior_{q}"])


def test_weights_do_not_depend_on_chunks_or_threads(measured):
    options = dict(rows=measured[:6], samples=256, rounds=2, draws=4)
    reference = calibration.prepare(chunk_size=4096, **options).weights()
    chunked = calibration.prepare(chunk_size=100, **options).weights()
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        single = calibration.prepare(chunk_size=333, **options).weights()
    finally:
        numba.set_num_threads(threads)
    assert np.array_equal(reference, chunked) and np.array_equal(reference, single)


def test_derived_rows_are_listed_as_not_informative():
    used, skipped = calibration.informative_rows("all")
    assert used and all(r.basis == "measured" for r in used)
    assert skipped and all("derived" in why for _, why in skipped)
    with pytest.raises(MlimpactError, match="basis must be measured or all"):
        calibration.informative_rows("derived")


def test_leave_one_out_checks_each_model_without_its_rows(measured):
    prepared = calibration.prepare(rows=measured, **QUICK)
    # with these few samples some folds rest on few effective samples, and say so
    with pytest.warns(UserWarning, match="effective sample size"):
        rows = calibration.leave_one_out(prepared)
    assert {r["id"] for r in rows} == {r.id for r in prepared.rows}
    for r in rows:
        assert r["low"] <= r["median"] <= r["high"]
        assert r["inside"] == (r["low"] <= r["published"] <= r["high"])
    summary = {s["quantity"]: s for s in calibration.loo_summary(rows)}
    assert summary["all"]["n"] == len(rows) and summary["all"]["way"] == "leave-one-out"
    assert 0 <= summary["all"]["coverage"] <= 1 and summary["all"]["prior_interval_score"] > 0


def test_calibrate_command_writes_a_catalogue_that_validate_reads(tmp_path, capsys):
    out = tmp_path / "cal"
    assert main(["calibrate", "--samples", "512", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "effective sample size" in text and "gpu_usage[TPU]" in text
    catalogue = load_parameters(out / "parameters.toml")
    assert {
        "gpu_usage",
        "facility_pue",
        "non_training_overhead",
        "energy_scatter",
        "grid_scatter",
    } <= set(catalogue)
    assert catalogue["gpu_usage"].by_class["TPU"].kind == "discrete"
    assert (out / "calibration.png").stat().st_size > 10_000
    header = (out / "calibration.csv").read_text().splitlines()[0]
    assert header.startswith("input,prior_q025")
    assert (
        main(
            [
                "validate",
                "--samples",
                "256",
                "--parameters",
                str(out / "parameters.toml"),
                "--basis",
                "measured",
                "--format",
                "json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["rows"]
    # under MLCA's power model the evidence entries do not apply (and do not fail)
    assert (
        main(
            [
                "validate",
                "--samples",
                "256",
                "--parameters",
                str(out / "parameters.toml"),
                "--power",
                "mlca",
                "--basis",
                "measured",
            ]
        )
        == 0
    )


@pytest.mark.filterwarnings("ignore:calibration. without:UserWarning")
def test_validate_leave_one_out_reports_out_of_sample_rows(capsys):
    assert (
        main(
            [
                "validate",
                "--samples",
                "256",
                "--basis",
                "measured",
                "--leave-one-out",
                "--format",
                "json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    loo = [s for s in document["summary"] if s["way"] == "leave-one-out"]
    assert {s["quantity"] for s in loo} == {"energy", "operational_gwp", "all"}
    assert all("prior_interval_score" in s and "prior_coverage" in s for s in loo)
    assert any(r["way"] == "leave-one-out" for r in document["rows"])


def test_calibrate_refuses_too_few_samples(capsys):
    with pytest.raises(SystemExit):
        main(["calibrate", "--samples", "8"])
    assert "--samples" in capsys.readouterr().err
    with pytest.raises(MlimpactError, match="at least 16 samples"):
        calibration.prepare(rows=[], samples=4)


def test_card_calibration_weighs_the_production_models_by_the_published_cards():
    cards = calibration.calibrate_cards(samples=512)
    assert cards.rows and all(r.quantity == "card_gwp" for r in cards.rows)
    assert any("names several cards" in why for _, why in cards.skipped)
    # the posterior probability of MLCA's model is its share of the summed likelihoods
    a = np.exp(cards.log_mlca - max(cards.log_mlca.max(), cards.log_act.max())).sum()
    b = np.exp(cards.log_act - max(cards.log_mlca.max(), cards.log_act.max())).sum()
    assert cards.mlca_weight == pytest.approx(a / (a + b))
    # ACT's medians (about 90 kg for A100-class cards) sit below every published estimate
    # (128-330 kg): the published cards favour MLCA's model
    assert cards.mlca_weight > 0.9
    assert cards.weights().sum() == pytest.approx(1.0)
    for card in cards.cards:
        assert card["prior_low"] <= card["prior_median"] <= card["prior_high"]
        assert card["posterior_low"] <= card["posterior_median"] <= card["posterior_high"]
        assert card["posterior_median"] > card["prior_median"]  # pulled towards MLCA's
    prepared = calibration.prepare(rows=[], samples=64)
    document = calibration.calibrated_document(prepared, prepared.weights(), cards=cards)
    weights = document["production_model"]["distribution"]["weights"]
    assert weights[0] == pytest.approx(cards.mlca_weight, abs=1e-4)
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)
    density = document["memory_density"]["distribution"]["values"]
    assert (
        len(density) == calibration.POSTERIOR_POINTS
        and 0.625 <= min(density) <= max(density) <= 2.375
    )


def test_leave_one_out_refuses_options_it_would_ignore(capsys):
    for extra in (["--power", "mlca"], ["--location", "organisation"], ["--basis", "derived"]):
        assert main(["validate", "--leave-one-out", "--samples", "64", *extra]) == 2
        assert (
            "--leave-one-out calibrates the default evidence catalogue" in capsys.readouterr().err
        )


def test_a_row_of_the_accelerators_alone_is_calibrated_with_its_host_off():
    # no measured row of the shipped table counts the accelerators alone, but a table that
    # has one (here LLaMA-65B's GPU-hours x TDP) compares it with the run's accelerators alone
    from mlimpact.runs.table import RUN_FIELDS
    from mlimpact.tables.validation import published_footprints

    rows = {r.id: r for r in published_footprints()}
    chosen = [rows["llama-65b-energy"], rows["t5-11b-energy"]]
    assert [r.power_scope for r in chosen] == ["accelerators", "node"]
    problem = calibration._Problem(chosen, seed=0, chunk_size=4096)
    server = problem.runs.values[:, RUN_FIELDS.index("server")]
    assert server[problem.runs.names.index("llama-65b-energy")] == 0.0
    assert server[problem.runs.names.index("t5-11b-energy")] == 1.0


def test_the_card_calibration_weighs_both_models_whatever_the_catalogues_weights():
    # the calibration's draws pick MLCA's model (0.25) and ACT's (0.75) at equal prior
    # weights: with the catalogue's calibrated weights (0.9997 / 0.0003) both draws would
    # land on MLCA's and the likelihoods would be equal
    from mlimpact.uncertainty.catalogue import default_catalogue

    weights = default_catalogue()["production_model"].distribution.weights
    assert weights[0] > 0.99  # the default is the calibrated mixture
    cards = calibration.calibrate_cards(samples=256)
    assert not np.allclose(cards.log_mlca, cards.log_act)
    assert cards.mlca_weight > 0.99


def test_the_default_cards_beat_equal_weights_out_of_sample():
    # each card predicted with the weights calibrated on the others (as the default was
    # chosen: data/parameters.toml, production_model) against the equal weights
    from mlimpact.study.card_calibration import card_leave_one_out

    rows, summary = card_leave_one_out(samples=512)
    assert len(rows) >= 7
    assert summary["calibrated_better"]
    assert summary["calibrated"]["coverage"] == 1.0
    for row in rows:
        for name in ("equal", "calibrated"):
            low, median, high = (row[name][k] for k in ("low", "median", "high"))
            assert low <= median <= high


def test_cards_with_several_published_estimates_have_their_median_inside_them():
    from mlimpact.study.cards import card_estimate
    from mlimpact.tables.hardware import hardware_table
    from mlimpact.tables.validation import published_footprints

    table = hardware_table()
    published = {}
    for row in published_footprints():
        if row.quantity == "card_gwp" and not row.not_scored:
            card = table.find(row.hardware)
            if not card.variants:
                value = row.value / row.chips if row.chips > 1 else row.value
                published.setdefault(card.name, []).append(value)
    several = {name: values for name, values in published.items() if len(values) >= 2}
    assert {"NVIDIA H100 SXM5 80GB", "NVIDIA A100 SXM4 80 GB"} <= set(several)
    for name, values in several.items():
        card = table.find(name)
        result = card_estimate([card], "mixture", samples=2048, seed=0)
        median = float(result.gwp.sel(hardware=name, component="total", statistic="median"))
        assert min(values) <= median <= max(values), (name, median, values)
