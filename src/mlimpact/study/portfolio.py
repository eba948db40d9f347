"""A lab's portfolio of training runs: each run's impacts and the portfolio's total, with
intervals that keep correlated inputs correlated.

The runs of an inventory (:mod:`mlimpact.runs.records`) go through the dataset's rules and one
pass of the engine. In every Monte Carlo sample the inputs shared by several runs take one
value for all of them: the global ones (lifetime, share in use, the production model and its
factors), each country's grid error, and, for the runs of one cluster (the same accelerator,
location or provider, organisation and year), their utilisation, facility PUE and location.
The total's interval is that of the per-sample sums, not a sum of intervals.

Memory is bounded whatever the number of runs: the runs are evaluated :data:`PART_RUNS` at a
time (the engine's accumulators take about 0.8 MB per run), each part with only the sampled
columns it reads, addressed in the whole binding so that every part draws the same values of
the shared inputs (:func:`mlimpact.uncertainty.binding.bound_runs`), and in chunks of samples
whose values take at most :data:`CHUNK_BYTES`; the per-sample sums of the parts add up to the
total's.
"""

from dataclasses import dataclass

import numpy as np
import xarray as xr

from mlimpact.engine.propagate import bind_runs, metered_checks, propagate
from mlimpact.quantities import (
    CRITERIA,
    ENERGY_SCOPES,
    N_TRAINING_QUANTITIES,
    UNITS,
    training_index,
)
from mlimpact.runs.notable import build_runs
from mlimpact.runs.setupfile import check_power
from mlimpact.uncertainty.binding import bound_runs

#: Runs evaluated at once: the engine's accumulators (a histogram of 6,144 bins per quantity
#: and run, :data:`mlimpact.engine.kernels.montecarlo.N_BINS`) take about 0.8 MB per run, so a
#: part takes about 400 MB.
PART_RUNS = 512
#: Largest chunk of sampled values of one part [bytes]: the chunk's samples are cut to it.
CHUNK_BYTES = 256 * 2**20
#: Statistics of the per-run and total rows.
STATISTICS = ("median", "q025", "q975", "mean")
_LEVELS = {"median": 0.5, "q025": 0.025, "q975": 0.975}


@dataclass
class Portfolio:
    """``runs``: per-run statistics (xarray Dataset of the engine); ``total``: name of
    :data:`BATCH_NAMES` (a criterion, or the energy of a scope) -> {statistic: value} of the
    per-sample sums over the runs; ``measured``: run -> metered
    energy [kWh] where the inventory gives one (the run's energy then rests on it);
    ``records``: the runs' records."""

    runs: object
    total: dict
    measured: dict
    records: list
    excluded: list
    #: Metered runs against the power model (:func:`mlimpact.engine.propagate.metered_checks`).
    checks: list = ()
    power: str = "evidence"
    location: str = "evidence"


#: Quantities of the batch's rows and totals, as (criterion, phase or scope): each criterion's
#: total, then the energy by scope; their names in the batch CSV.
BATCH_QUANTITIES = (*((c, "total") for c in CRITERIA), *(("energy", s) for s in ENERGY_SCOPES))
BATCH_NAMES = (*CRITERIA, *(f"energy_{s}" for s in ENERGY_SCOPES))


def _totals(start, stop, samples):
    """Per-sample sums over the runs of each quantity of :data:`BATCH_QUANTITIES`
    (chunk, quantity)."""
    return np.stack(
        [samples[..., training_index(*k)].sum(axis=1) for k in BATCH_QUANTITIES], axis=-1
    )


def _chunk(chunk_size, n_runs):
    """Samples per chunk of ``n_runs`` runs: ``chunk_size``, cut so that the chunk's values
    (sample, run, quantity) take at most :data:`CHUNK_BYTES` (at least 64)."""
    return int(max(64, min(chunk_size, CHUNK_BYTES // (8 * N_TRAINING_QUANTITIES * n_runs))))


def _propagate_in_parts(table, bound, samples, seed, chunk_size, client):
    """Per-run statistics (Dataset over every run) and per-sample sums (sample, quantity of
    :data:`BATCH_QUANTITIES`) of ``table`` bound to ``bound``, :data:`PART_RUNS` runs at a
    time on common draws."""
    parts, sums = [], None
    for start in range(0, len(table), PART_RUNS):
        indices = np.arange(start, min(start + PART_RUNS, len(table)))
        part = table.subset(indices)
        result, chunks = propagate(
            part,
            bound_runs(bound, indices) if len(indices) < len(table) else bound,
            samples,
            seed=seed,
            chunk_size=_chunk(chunk_size, len(indices)),
            client=client,
            on_chunk=_totals,
        )
        parts.append(result)
        partial = np.concatenate(chunks)
        sums = partial if sums is None else sums + partial
    summary = parts[0] if len(parts) == 1 else xr.concat(parts, dim="model")
    summary.attrs["parameters"] = "; ".join(bound.groups)
    return summary, sums


def estimate_portfolio(
    records,
    samples=10_000,
    seed=0,
    chunk_size=4096,
    catalogue=None,
    location="evidence",
    power="evidence",
    client=None,
):
    """Impacts of every run of an inventory and of their total.

    Parameters
    ----------
    records : list of dict
        Records of an inventory (:func:`mlimpact.runs.records.inventory_records`).
    samples, seed : int
    catalogue : dict, optional
        Uncertain inputs (default ``data/parameters.toml`` of the power model).
    location, power : str
        Location rule and power model (:func:`mlimpact.runs.notable.build_runs`).
    client : dask.distributed.Client, optional

    Returns
    -------
    Portfolio
    """
    for record in records:
        if "stated" in record:
            check_power(record, power, record["model"])
    years = [int(r["year"]) for r in records]
    runs = build_runs((min(years), max(years)), records=records, location=location, power=power)
    by_name = {r["model"]: r for r in records}
    keys = [
        (
            by_name[n]["hardware"],
            by_name[n].get("region", ""),
            by_name[n].get("provider", ""),
            by_name[n].get("organization", ""),
            by_name[n]["year"],
        )
        for n in runs.runs.names
    ]
    table, bound = bind_runs(runs, catalogue, run_keys=keys)
    summary, sums = _propagate_in_parts(table, bound, samples, seed, chunk_size, client)
    options = dict(catalogue=catalogue, seed=seed, client=client)
    checks = []
    metered = np.flatnonzero(runs.runs.column("metered_scope") > 0)
    for start in range(0, metered.size, PART_RUNS):
        part = runs.subset(metered[start : start + PART_RUNS])
        checks += metered_checks(
            part, samples, chunk_size=_chunk(chunk_size, len(part.runs)), **options
        )
    total = {}
    for c, name in enumerate(BATCH_NAMES):
        values = sums[:, c]
        total[name] = {
            **{s: float(np.quantile(values, level)) for s, level in _LEVELS.items()},
            "mean": float(values.mean()),
        }
    measured = {r["model"]: float(r["energy_kwh"]) for r in records if r.get("energy_kwh")}
    excluded = [(r.name, r.reason) for r in runs.records if r.status == "excluded"]
    return Portfolio(summary, total, measured, records, excluded, checks, power, location)


#: Columns of the batch CSV.
BATCH_HEADER = ("run", "criterion", "unit", "median", "q025", "q975", "mean", "measured_energy_kwh")


def _g(value):
    return float(f"{value:.6g}")


def batch_rows(portfolio):
    """Rows of the batch CSV: each run's energy, its energy by scope (criteria
    ``energy_accelerators``, ``energy_host``, ``energy_overhead``) and the totals of GWP, ADPe,
    PE, then the portfolio's total (run ``TOTAL``)."""
    rows = []
    summary = portfolio.runs
    columns = []  # per quantity of BATCH_QUANTITIES: (model, statistic) values
    for criterion, phase in BATCH_QUANTITIES:
        if criterion == "energy":
            data = summary.energy if phase == "total" else summary.energy_by_scope.sel(scope=phase)
        else:
            data = summary[criterion].sel(phase=phase)
        columns.append(data.sel(statistic=list(STATISTICS)).transpose("model", "statistic").values)
    for m, name in enumerate(summary.model.values):
        for k, ((criterion, _), label) in enumerate(zip(BATCH_QUANTITIES, BATCH_NAMES)):
            measured = portfolio.measured.get(name, "") if label == "energy" else ""
            rows.append(
                (
                    str(name),
                    label,
                    UNITS[criterion],
                    *(_g(float(v)) for v in columns[k][m]),
                    measured,
                )
            )
    for (criterion, _), label in zip(BATCH_QUANTITIES, BATCH_NAMES):
        stats = portfolio.total[label]
        rows.append(("TOTAL", label, UNITS[criterion], *(_g(stats[s]) for s in STATISTICS), ""))
    return rows
