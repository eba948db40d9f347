"""How honest are our intervals? Published footprints against our estimates of the same runs.

Every scored row of ``data/validation.csv`` (:mod:`mlimpact.tables.validation`) is compared
with our point, median and 95 % interval of the same quantity, computed two ways:

- ``dataset``: the model's run as the main job sees it (its Epoch AI record through
  :func:`mlimpact.runs.notable.build_runs`, imputation and the organisation's grid included);
- ``setup``: a run built from what the row publishes (accelerator, count, hours or
  accelerator-hours, training location, the year before publication for the grid), through
  the same mapping rules; the published PUE, power and grid factor are *not* used: they are
  what we estimate.

A published energy or operational GWP whose power counts the accelerators alone (their TDP
or their own meters: ``power_scope`` ``accelerators``) is compared with our estimate of the
same run with its host off (:func:`mlimpact.runs.table.accelerators_only`); one that counts the
whole node, or does not say, with our whole estimate.

Card rows (``card_gwp``) are compared with our production GWP of one card (way ``card``; the
production model sampled as in the main job). A row publishing the footprint of a board of
several accelerators is divided by their number.

For each comparison: whether the published value is inside our 95 % interval, and the ratio
median / published. Per quantity, basis and way: coverage of the interval, geometric-mean
ratio, median width (q975 / q025) and the mean interval score of Gneiting and Raftery [1]_ on
the logarithms (so that runs of every size weigh alike, and wide intervals are not free)::

    S = ln(u / l) + (2 / alpha) max(0, ln(l / x)) + (2 / alpha) max(0, ln(x / u)),  alpha = 0.05

Nothing here changes the model or the catalogue: validation only measures.

References
----------
.. [1] T. Gneiting, A. E. Raftery, "Strictly proper scoring rules, prediction, and estimation",
   J. Am. Stat. Assoc. 102(477), 359-378, 2007, doi:10.1198/016214506000001437 (section 6.2).
"""

import math
from dataclasses import dataclass

import numpy as np

from mlimpact.analysis.scores import ALPHA, interval_score  # noqa: F401 (re-exported)
from mlimpact.engine.propagate import propagate_runs
from mlimpact.errors import MlimpactError
from mlimpact.runs import notable
from mlimpact.runs.records import published_record
from mlimpact.runs.table import accelerators_only
from mlimpact.study.cards import card_estimate
from mlimpact.tables.hardware import hardware_table
from mlimpact.tables.models import load_models
from mlimpact.tables.validation import BASES, published_footprints

WAYS = ("dataset", "setup", "card")
#: Training quantities: (criterion, phase) of our results.
TRAINING = {
    "energy": ("energy", "use"),
    "operational_gwp": ("gwp", "use"),
    "embodied_gwp": ("gwp", "production"),
}
#: Statistics read from our results.
STATISTICS = ("point", "median", "q025", "q975")
#: The note of a comparison, by the published power's scope: a value counting the accelerators
#: alone is compared with our estimate of the accelerators alone (the host off).
_SCOPE_NOTES = {"accelerators": "accelerators alone, as published", "node": "", "": ""}


@dataclass
class ValidationResult:
    """``rows``: one dict per comparison (JSON schema of ``mlimpact validate``); ``summary``:
    one dict per quantity, basis and way; ``skipped``: (row id, way, reason) of the rows
    that could not be compared that way."""

    rows: list
    summary: list
    skipped: list
    samples: int
    seed: int


def comparison(row, way, stats, note=""):
    """One comparison as a JSON-ready dict (``stats`` maps :data:`STATISTICS` to numbers)."""
    published = row.value / row.chips if row.quantity == "card_gwp" and row.chips > 1 else row.value
    low, high, median = stats["q025"], stats["q975"], stats["median"]
    return {
        "id": row.id,
        "model": row.model,
        "quantity": row.quantity,
        "basis": row.basis,
        "way": way,
        "published": published,
        "point": stats["point"],
        "median": median,
        "low": low,
        "high": high,
        "inside": bool(low <= published <= high),
        "ratio": median / published,
        "note": note,
    }


def summarize(rows, alpha=ALPHA):
    """Summary rows per quantity, basis (each, and ``all``) and way."""
    out = []
    keys = sorted(
        {(r["quantity"], r["way"]) for r in rows},
        key=lambda k: (list(TRAINING).index(k[0]) if k[0] in TRAINING else 9, WAYS.index(k[1])),
    )
    for quantity, way in keys:
        for basis in (*BASES, "all"):
            group = [
                r
                for r in rows
                if r["quantity"] == quantity and r["way"] == way and basis in ("all", r["basis"])
            ]
            if not group:
                continue
            low = np.array([r["low"] for r in group])
            high = np.array([r["high"] for r in group])
            published = np.array([r["published"] for r in group])
            ratio = np.array([r["ratio"] for r in group])
            out.append(
                {
                    "quantity": quantity,
                    "basis": basis,
                    "way": way,
                    "n": len(group),
                    "coverage": float(np.mean([r["inside"] for r in group])),
                    "geometric_mean_ratio": float(np.exp(np.mean(np.log(ratio)))),
                    "median_width": float(np.median(high / low)),
                    "interval_score": float(np.mean(interval_score(low, high, published, alpha))),
                }
            )
    return out


def _stats(summary, model, criterion, phase):
    data = summary[criterion].sel(model=model)
    if criterion != "energy":
        data = data.sel(phase=phase)
    return {s: float(data.sel(statistic=s)) for s in STATISTICS}


def _usable(stats):
    return all(math.isfinite(v) and v > 0 for k, v in stats.items() if k != "point")


def _check_choices(basis, ways):
    """Check that ``basis`` is a basis or ``all`` and ``ways`` a non-empty subset of
    :data:`WAYS`."""
    if basis not in (*BASES, "all"):
        raise MlimpactError(f"basis must be measured, derived or all (got {basis!r})")
    unknown = set(ways) - set(WAYS)
    if unknown or not ways:
        raise MlimpactError(f"ways must be among {', '.join(WAYS)}")


def _estimate(runs, samples, propagate_options, table=None):
    """Per-model summary of ``runs`` (its run table replaced by ``table`` if given), by the
    path of ``estimate`` (:func:`mlimpact.engine.propagate.propagate_runs`)."""
    return propagate_runs(runs, samples, table=table, **propagate_options)


def _dataset_way(training, estimated, dataset, samples, propagate_options):
    """Comparisons and skipped rows of the ``dataset`` way (``estimated`` propagated here if
    None)."""
    results, skipped = [], []
    if estimated is None:
        runs = dataset.runs()
        estimated = (runs, _estimate(runs, samples, propagate_options))
    runs, summary = estimated
    included = set(runs.runs.names)
    reasons = {r.name: r.reason for r in runs.records}
    compared = []
    for row in training:
        if not row.epoch_model:
            skipped.append((row.id, "dataset", "no Epoch AI record of this model"))
        elif row.epoch_model not in included:
            skipped.append(
                (
                    row.id,
                    "dataset",
                    "not in the run: " + reasons.get(row.epoch_model, "outside the window"),
                )
            )
        else:
            compared.append(row)
    # the runs whose published power counts the accelerators alone, their host off
    scoped = {row.epoch_model for row in compared if row.power_scope == "accelerators"}
    alone = (
        _estimate(runs, samples, propagate_options, accelerators_only(runs.runs, scoped))
        if scoped
        else None
    )
    for row in compared:
        stats = _stats(
            alone if row.power_scope == "accelerators" else summary,
            row.epoch_model,
            *TRAINING[row.quantity],
        )
        results.append(comparison(row, "dataset", stats, _SCOPE_NOTES[row.power_scope]))
    return results, skipped


def _setup_way(training, location, power, samples, propagate_options):
    """Comparisons and skipped rows of the ``setup`` way."""
    results, skipped = [], []
    epoch = {m["model"]: m for m in load_models()}
    records = {}
    for row in training:
        record = published_record(row, epoch.get(row.epoch_model, {}))
        if record is None:
            skipped.append((row.id, "setup", "accelerator, count or hours not published"))
        else:
            records[row.id] = record
    if records:
        years = [int(r["year"]) for r in records.values()]
        runs = notable.build_runs(
            (min(years), max(years)),
            records=list(records.values()),
            location=location,
            power=power,
        )
        reasons = {r.name: r.reason for r in runs.records if r.status == "excluded"}
        compared = [row for row in training if row.id in records and row.id not in reasons]
        skipped += [(row.id, "setup", reasons[row.id]) for row in training if row.id in reasons]
        # each row is its own run: the accelerator-scope rows' hosts are off in one table
        summary = _estimate(
            runs,
            samples,
            propagate_options,
            accelerators_only(
                runs.runs, {row.id for row in compared if row.power_scope == "accelerators"}
            ),
        )
        for row in compared:
            stats = _stats(summary, row.id, *TRAINING[row.quantity])
            results.append(comparison(row, "setup", stats, _SCOPE_NOTES[row.power_scope]))
    return results, skipped


def _card_way(rows, samples, seed, catalogue, chunk_size):
    """Comparisons and skipped rows of the ``card`` way."""
    results, skipped = [], []
    table = hardware_table()
    for row in (r for r in rows if r.quantity == "card_gwp"):
        hardware = table.find(row.hardware)
        if hardware.variants:
            skipped.append((row.id, "card", f"{row.hardware!r} names several cards"))
            continue
        result = card_estimate(
            [hardware],
            "mixture",
            samples=samples,
            seed=seed,
            catalogue=catalogue,
            chunk_size=chunk_size,
        )
        data = result.gwp.sel(hardware=hardware.name, component="total")
        stats = {s: float(data.sel(statistic=s)) for s in STATISTICS}
        results.append(
            comparison(
                row, "card", stats, "per accelerator: board / count" if row.chips > 1 else ""
            )
        )
    return results, skipped


def _check_usable(results):
    """Check that every comparison's interval and median are finite and positive."""
    for r in results:
        if not _usable({k: r[k] for k in ("median", "low", "high")}):
            raise MlimpactError(
                f"validation row {r['id']!r} ({r['way']}): our interval is not finite and positive"
            )


def validate(
    samples=2048,
    seed=0,
    basis="all",
    catalogue=None,
    chunk_size=2048,
    estimated=None,
    client=None,
    ways=WAYS,
    dataset=None,
    method="mc",
):
    """Compare every scored row of ``data/validation.csv`` with our estimates.

    Parameters
    ----------
    samples, seed : int
        Monte Carlo samples and seed of every propagation.
    basis : {"all", "measured", "derived"}
        Which rows to compare.
    catalogue : dict, optional
        Uncertain inputs (default ``data/parameters.toml``).
    estimated : (NotableRuns, xarray.Dataset), optional
        The main job's baseline runs and their per-model summary, to reuse for the
        ``dataset`` way (propagated here otherwise).
    ways : tuple
        Which of :data:`WAYS` to compute.
    dataset : DatasetOptions, optional
        The notable models' records, location rule and power model
        (:class:`mlimpact.runs.notable.DatasetOptions`; default: the embedded dataset, every
        year); the setup way takes its location rule and power model. ``catalogue`` must be
        of that power model (by default it is).
    method : {"mc", "lhs", "sobol"}
        Sampling design of every propagation of training runs (that of ``estimated``'s
        summary, if given); the card way samples as :func:`mlimpact.study.cards.card_estimate`.

    Returns
    -------
    ValidationResult
    """
    _check_choices(basis, ways)
    rows = [
        r
        for r in published_footprints()
        if not r.not_scored and basis in ("all", r.basis) and r.value > 0
    ]
    training = [r for r in rows if r.quantity in TRAINING]
    results, skipped = [], []
    propagate_options = dict(
        catalogue=catalogue, seed=seed, method=method, chunk_size=chunk_size, client=client
    )
    dataset = notable.DatasetOptions() if dataset is None else dataset
    location, power = dataset.location, dataset.power
    if "dataset" in ways:
        way_results, way_skipped = _dataset_way(
            training, estimated, dataset, samples, propagate_options
        )
        results += way_results
        skipped += way_skipped
    if "setup" in ways:
        way_results, way_skipped = _setup_way(training, location, power, samples, propagate_options)
        results += way_results
        skipped += way_skipped
    if "card" in ways:
        way_results, way_skipped = _card_way(rows, samples, seed, catalogue, chunk_size)
        results += way_results
        skipped += way_skipped
    _check_usable(results)
    return ValidationResult(results, summarize(results), skipped, samples, seed)
