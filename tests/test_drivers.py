"""Drivers of the energy trend: growth of reported compute, efficiency, time and power."""

from types import SimpleNamespace

import numpy as np
import pytest

from mlimpact.render.report import drivers_markdown
from mlimpact.runs.notable import DatasetOptions
from mlimpact.study import drivers
from mlimpact.study.scenarios import scenario_runs
from mlimpact.tables.hardware import hardware_table


def test_known_growth_is_recovered_with_a_covering_interval():
    rng = np.random.default_rng(3)
    dates = rng.uniform(2013, 2025, 200)
    values = 5.0 * 2.0 ** (dates - 2013) * np.exp(rng.normal(0, 0.3, dates.size))
    factors = np.exp(drivers.growth_slopes(dates, values, seed=1, resamples=500))
    low, median, high = np.quantile(factors, [0.025, 0.5, 0.975])
    assert low < 2.0 < high and abs(median - 2.0) < 0.05
    assert high - low < 0.2
    # a value that is missing or not positive is left out, not fitted as zero
    values[:20] = np.nan
    values[20:40] = 0.0
    again = np.exp(drivers.growth_slopes(dates, values, seed=1, resamples=500))
    assert abs(np.median(again) - 2.0) < 0.06


def test_too_few_items_give_no_fit():
    slopes = drivers.growth_slopes(np.arange(9.0), np.ones(9), resamples=10)
    assert slopes.shape == (10,) and np.isnan(slopes).all()


@pytest.fixture(scope="module")
def baseline():
    return scenario_runs("baseline", DatasetOptions(window=(2013, 2025)))


def test_model_series_keep_reported_facts_only(baseline):
    dates, values = drivers.model_series(baseline)
    runs = baseline.runs
    records = {r.name: r for r in baseline.records}
    for i, name in enumerate(runs.names):
        imputed = " ".join(records[name].imputed)
        assert np.isnan(values["training_time"][i]) == ("training time" in imputed)
        if "hardware" in imputed or "chip count" in imputed:
            assert np.isnan(values["installed_power"][i])
        if "hardware" in imputed:
            assert np.isnan(values["hardware_efficiency_used"][i])
    i = next(i for i, n in enumerate(runs.names) if not records[n].imputed)
    assert values["training_time"][i] == runs.column("hours")[i]
    chips = runs.column("nodes")[i] * runs.column("gpus")[i]
    assert values["installed_power"][i] == pytest.approx(chips * runs.column("gpu_tdp_w")[i] / 1e3)
    assert values["hardware_efficiency_used"][i] == pytest.approx(
        runs.column("peak_flops")[i] / runs.column("gpu_tdp_w")[i]
    )
    assert dates.shape == (len(runs.names),) and 2013 <= dates.min() and dates.max() < 2026


def test_released_efficiency_is_peak_over_tdp_of_data_centre_accelerators():
    dates, values = drivers.released_efficiency((2013, 2025))
    table = {h.name: h for h in hardware_table()}
    h100 = next(h for h in table.values() if h.name.startswith("NVIDIA H100 SXM"))
    expected = (
        max(
            v
            for k, v in h100.peak_flops.items()
            if k in ("tensor_fp16_bf16", "fp16", "fp32") and v == v
        )
        / h100.tdp_w
    )
    assert np.any(np.isclose(values, expected))
    assert values.size >= 20 and (values > 0).all() and 2013 <= dates.min() and dates.max() < 2026


def _result(compute, used):
    def row(quantity, criterion, uncertainty, estimate, low, high):
        return {
            "scenario": "baseline",
            "quantity": quantity,
            "criterion": criterion,
            "uncertainty": uncertainty,
            "estimate": estimate,
            "low": low,
            "high": high,
        }

    label = drivers.SERIES["hardware_efficiency_used"][0]
    trends = [
        row("energy per model", "energy", "combined", 2.9, 2.6, 3.3),
        row("training compute per model", "compute", "dataset", *compute),
        row(label, "hardware_efficiency_used", "dataset", *used),
    ]
    runs = SimpleNamespace(column=lambda name: np.array([1e20, 1e21, np.nan]))
    baseline = SimpleNamespace(dates=np.zeros(3), notable=SimpleNamespace(runs=runs))
    return SimpleNamespace(
        drivers={"hardware_efficiency_used": (None, 7)},
        trends=trends,
        scenarios={"baseline": baseline},
    )


def test_report_says_what_the_trends_can_and_cannot_show():
    text = "\n".join(drivers_markdown(_result((4.8, 4.3, 5.5), (1.5, 1.45, 1.6))))
    assert "| training compute per model | x4.80 [4.30, 5.50] | 2 |" in text
    assert "| peak FLOP/s per W of the accelerators used | x1.50 [1.45, 1.60] | 7 |" in text
    assert "would grow about x3.20 per year" in text
    assert "compute grows faster" in text and "consistent with backfire" in text
    assert "cannot show that the efficiency gains *caused*" in text
    unclear = "\n".join(drivers_markdown(_result((1.6, 1.2, 2.0), (1.5, 0.9, 1.7))))
    assert "do not tell whether compute outgrows efficiency" in unclear
    assert "consistent with backfire" not in unclear and "do not show both" in unclear
