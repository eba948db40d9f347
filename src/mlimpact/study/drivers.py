"""What drives the energy trend, on series that do not come from our energy model.

The energy of a run is, for most models, imputed from its compute, the chip's peak rate and an
assumed utilisation, so "training FLOP per kWh" of the runs is largely a datasheet ratio and
cannot test a rebound effect on its own. This module fits growth rates of series that are
independent of that model, each from reported facts only:

- training compute per model [FLOP] (Epoch AI's records) is fitted with the other trends
  (:mod:`mlimpact.study.claims`, quantity "training compute per model");
- ``hardware_efficiency_used``: peak FLOP/s per W of the accelerator each run used, at the run's
  precision (hardware table; runs whose hardware is imputed are left out);
- ``hardware_efficiency_released``: the same ratio for every data-centre accelerator of the
  hardware table, against its release date (the highest 16-bit or 32-bit peak rate);
- ``training_time``: reported wall-clock training time [h] (imputed times left out);
- ``installed_power``: accelerators x thermal design power of the run [kW], the power the
  run's accelerators could draw (runs with an imputed chip count or hardware left out).

Each growth factor per year is the exponential of the least-squares slope of ln(value) on the
date; its 95 % interval comes from a bootstrap over the items (which models or accelerators
are in the data), the only uncertainty these reported values carry here.

What such trends can show about a rebound effect: the rebound effect is the share of the
energy savings expected from an efficiency gain that the response to that gain takes back; it
"backfires" when energy use rises (L. A. Greening, D. L. Greene, C. Difiglio, "Energy
efficiency and consumption - the rebound effect - a survey", Energy Policy 28(6-7), 389-401,
2000;
S. Sorrell, "Jevons' Paradox revisited", Energy Policy 37(4), 1456-1469, 2009). Energy per
model growing while hardware efficiency grows is *consistent* with backfire; that the
efficiency gain *caused* the growth of compute needs a counterfactual (what compute would
have been without it), which a regression on publication dates does not give.
"""

import math

import numpy as np

from mlimpact.analysis import trends
from mlimpact.runs.notable import DEFAULT_PRECISION
from mlimpact.tables.hardware import hardware_table

#: Series -> (quantity in trends.csv, unit), in the order of the report.
SERIES = {
    "hardware_efficiency_used": ("peak FLOP/s per W of the accelerators used", "FLOP/s/W"),
    "hardware_efficiency_released": (
        "peak FLOP/s per W of data-centre accelerators, by release date",
        "FLOP/s/W",
    ),
    "training_time": ("training time per model (reported)", "h"),
    "installed_power": ("accelerator power of the run (chips x TDP, reported)", "kW"),
}
#: Bootstrap resamples of the items behind each interval.
RESAMPLES = 2000
#: Fewer items than this and a series gets no fit (NaN), rather than a fit on a handful.
MIN_ITEMS = 10


def _reported(record, what):
    return not any(what in imputed for imputed in record.imputed)


def model_series(notable):
    """Per-model values of the model-side series (NaN where not reported), keyed by series
    name, and the runs' publication dates [decimal years]."""
    runs = notable.runs
    records = {r.name: r for r in notable.records}
    kept = [records[name] for name in runs.names]
    hardware = np.array([_reported(r, "hardware") for r in kept])
    hours = np.array([_reported(r, "training time") for r in kept])
    chips = np.array([_reported(r, "chip count") for r in kept])
    peak, tdp = runs.column("peak_flops"), runs.column("gpu_tdp_w")
    count = runs.column("nodes") * runs.column("gpus")
    with np.errstate(divide="ignore", invalid="ignore"):
        values = {
            "hardware_efficiency_used": np.where(
                hardware & (peak > 0) & (tdp > 0), peak / tdp, np.nan
            ),
            "training_time": np.where(hours, runs.column("hours"), np.nan),
            "installed_power": np.where(hardware & chips & (tdp > 0), count * tdp / 1e3, np.nan),
        }
    return trends.decimal_years(notable.dates), values


def released_efficiency(window=None):
    """Release dates [decimal years] and peak FLOP/s per W of the data-centre accelerators of
    the hardware table with both facts (released within ``window``, inclusive years)."""
    dates, values = [], []
    for hardware in hardware_table():
        if hardware.segment != "data_centre" or not hardware.release_date or not hardware.tdp_w > 0:
            continue
        if window and not window[0] <= hardware.release_year <= window[1]:
            continue
        peak = max(
            (hardware.peak_flops.get(c, math.nan) for c in DEFAULT_PRECISION),
            key=lambda v: v if math.isfinite(v) else -1.0,
        )
        if math.isfinite(peak) and peak > 0:
            dates.append(hardware.release_date)
            values.append(peak / hardware.tdp_w)
    return (
        trends.decimal_years(np.array(dates, dtype="datetime64[D]")),
        np.array(values, dtype=float),
    )


def growth_slopes(dates, values, seed=0, resamples=RESAMPLES):
    """Bootstrap slopes of ln(values) on dates (resampling the items); NaN slopes when fewer
    than :data:`MIN_ITEMS` values are positive and finite."""
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < MIN_ITEMS:
        return np.full(resamples, np.nan)
    dates, logs = np.asarray(dates, dtype=float)[ok], np.log(values[ok])
    weights = trends.bootstrap_weights(logs.size, 0, resamples, seed)
    slopes, _ = trends.fit_slopes(dates, logs, weights)
    return slopes


def driver_slopes(notable, window, seed=0, resamples=RESAMPLES):
    """Series name -> (bootstrap slopes, number of items) for every series of
    :data:`SERIES`."""
    dates, values = model_series(notable)
    out = {}
    for name, series in values.items():
        n = int(np.sum(np.isfinite(series) & (series > 0)))
        out[name] = growth_slopes(dates, series, seed, resamples), n
    released_dates, released = released_efficiency(window)
    out["hardware_efficiency_released"] = (
        growth_slopes(released_dates, released, seed, resamples),
        released.size,
    )
    return {name: out[name] for name in SERIES}
