"""How honest are our intervals? Published footprints against our estimates of the same runs.

Every scored row of ``data/validation.csv`` (:mod:`mlimpact.tables.validation`) is compared
with our point, median and 95 % interval of the same quantity, computed two ways:

- ``dataset``: the model's run as the main job sees it (its Epoch AI record through
  :func:`mlimpact.runs.notable.build_runs`, imputation and the organisation's grid included);
- ``setup``: a run built from what the row publishes (accelerator, count, hours or
  accelerator-hours, training location, the year before publication for the grid), through
  the same mapping rules; the published PUE, power and grid factor are *not* used: they are
  what we estimate.

Every published energy or operational GWP is compared at its own scope: one whose power
counts the accelerators alone (their TDP or their own meters: ``power_scope``
``accelerators``) with our estimate of the same run with its host off
(:func:`mlimpact.runs.table.accelerators_only`); one that leaves the facility out
(``pue_basis`` ``none``) with ours at PUE 1; one that applies a PUE its authors assumed
(``assumed``) with ours at that PUE; the others with our whole estimate, our PUE drawn.

Rows are **scored** or **conventions** (:attr:`mlimpact.tables.validation.Published.convention`):
a figure that rests on a publisher's convention (an assumed power, an unpublished site) is
compared and reported, but it tests the convention, not the world, and is left out of the
scores. A row is **in-sample** when one of its sources (``source_key``) is among the sources
of the inputs of the run it checks (:func:`mlimpact.study.provenance.run_sources`): the
summaries are given for the independent rows and for all rows.

Card rows (``card_gwp``) are compared with our production GWP of one card (way ``card``; the
production model sampled as in the main job). A row publishing the footprint of a board of
several accelerators is divided by their number.

For each comparison: whether the published value is inside our 95 % interval, and the ratio
median / published. Per quantity, way, kind of row (scored, convention) and sample
(independent, all): coverage of the interval, geometric-mean ratio, median width
(q975 / q025) and the mean interval score of Gneiting and Raftery [1]_ on the logarithms (so
that runs of every size weigh alike, and wide intervals are not free)::

    S = ln(u / l) + (2 / alpha) max(0, ln(l / x)) + (2 / alpha) max(0, ln(x / u)),  alpha = 0.05

Coverage alone rewards width. The scored groups are also measured against a naive reference:
our point estimate x/÷ k, with k fitted on the *other* rows of the group (leave-one-out) to the
same coverage target: the 95th percentile of their |ln(published / point)|. The skill is
``1 - S_ours / S_reference``: positive when our intervals beat a band around our own point.

Nothing here changes the model or the catalogue: validation only measures.

References
----------
.. [1] T. Gneiting, A. E. Raftery, "Strictly proper scoring rules, prediction, and estimation",
   J. Am. Stat. Assoc. 102(477), 359-378, 2007, doi:10.1198/016214506000001437 (section 6.2).
"""

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from mlimpact.analysis.scores import ALPHA, interval_score, naive_band
from mlimpact.engine.propagate import bind_runs, propagate, propagate_runs
from mlimpact.errors import MlimpactError
from mlimpact.runs import notable
from mlimpact.runs.records import published_record
from mlimpact.runs.table import RUN_FIELDS, accelerators_only
from mlimpact.study.cards import card_estimate
from mlimpact.study.provenance import RunSources
from mlimpact.tables.hardware import hardware_table
from mlimpact.tables.models import load_models
from mlimpact.tables.validation import BASES, published_footprints
from mlimpact.uncertainty.binding import bound_runs
from mlimpact.uncertainty.catalogue import default_catalogue

WAYS = ("dataset", "setup", "card")
#: Training quantities: (criterion, phase) of our results.
TRAINING = {
    "energy": ("energy", "use"),
    "operational_gwp": ("gwp", "use"),
    "water": ("water", "use"),
    "onsite_water": ("water", "use"),
    "offsite_water": ("water", "use"),
    "embodied_gwp": ("gwp", "production"),
}
#: Run fields set to 0 (and known) so that the water of a run's use phase counts one side
#: only: on site (the grid's water off) or off site (the facility's WUE off).
WATER_SIDES = {
    "onsite_water": ("grid_water", "hydro_share"),
    "offsite_water": ("wue",),
}
#: Statistics read from our results.
STATISTICS = ("point", "median", "q025", "q975")


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


def comparison(row, way, stats, note="", in_sample=False):
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
        "scored": not row.convention,
        "convention": row.convention,
        "in_sample": bool(in_sample),
        "note": note,
    }


#: Kinds of rows (:func:`summarize`): ``scored`` (facts), ``convention`` (not scored).
ROW_KINDS = ("scored", "convention")
#: Samples of rows: those whose sources are not among their run's inputs, and all.
SAMPLES = ("independent", "all")


def _group_summary(group, alpha, scored):
    """Coverage, ratio, width and interval score of a group of comparisons; for a scored
    group also the naive reference's score and our skill
    (:func:`mlimpact.analysis.scores.naive_band`)."""
    low = np.array([r["low"] for r in group])
    high = np.array([r["high"] for r in group])
    published = np.array([r["published"] for r in group])
    ratio = np.array([r["ratio"] for r in group])
    ours = float(np.mean(interval_score(low, high, published, alpha)))
    out = {
        "n": len(group),
        "coverage": float(np.mean([r["inside"] for r in group])),
        "geometric_mean_ratio": float(np.exp(np.mean(np.log(ratio)))),
        "median_width": float(np.median(high / low)),
        "interval_score": ours,
        "reference_band": None,
        "reference_interval_score": None,
        "skill": None,
    }
    points = np.array([r["point"] for r in group])
    if scored and len(group) >= 2 and np.all(np.isfinite(points) & (points > 0)):
        k, reference = naive_band(points, published, alpha)
        out["reference_band"] = float(np.median(k))
        out["reference_interval_score"] = float(np.mean(reference))
        out["skill"] = 1.0 - ours / out["reference_interval_score"]
    return out


def summarize(rows, alpha=ALPHA):
    """Summary rows per quantity, way, kind of row (:data:`ROW_KINDS`) and sample
    (:data:`SAMPLES`), each where it has rows."""
    out = []
    keys = sorted(
        {(r["quantity"], r["way"]) for r in rows},
        key=lambda k: (list(TRAINING).index(k[0]) if k[0] in TRAINING else 9, WAYS.index(k[1])),
    )
    for quantity, way in keys:
        for kind in ROW_KINDS:
            scored = kind == "scored"
            group = [
                r
                for r in rows
                if r["quantity"] == quantity and r["way"] == way and r["scored"] == scored
            ]
            independent = [r for r in group if not r["in_sample"]]
            for sample, members in (("independent", independent), ("all", group)):
                if members:
                    out.append(
                        {
                            "quantity": quantity,
                            "way": way,
                            "rows": kind,
                            "sample": sample,
                            **_group_summary(members, alpha, scored),
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


def _estimate(runs, samples, propagate_options):
    """Per-model summary of ``runs`` by the path of ``estimate``
    (:func:`mlimpact.engine.propagate.propagate_runs`)."""
    return propagate_runs(runs, samples, **propagate_options)


def _estimate_models(runs, names, samples, propagate_options):
    """The summary of :func:`_estimate` for the runs ``names`` of ``runs`` alone: bound
    with every run, then evaluated on the columns those read
    (:func:`mlimpact.uncertainty.binding.bound_runs`), so that they draw the numbers they
    draw in the whole propagation and their statistics are the same, for a few of the
    dataset's 442 runs' work. A Sobol' design cannot draw a part of its columns: with it,
    every run is evaluated."""
    if propagate_options.get("method") == "sobol":
        return _estimate(runs, samples, propagate_options)
    options = dict(propagate_options)
    table, bound = bind_runs(runs, options.pop("catalogue", None))
    position = {name: k for k, name in enumerate(table.names)}
    indices = np.array(sorted(position[name] for name in names), dtype=np.int64)
    return propagate(table.subset(indices), bound_runs(bound, indices), samples, **options)


#: Entries of the catalogue that count energy outside the training run itself (a cluster's
#: idle nodes): published footprints count the run alone (its accelerator-hours, restarts
#: and repeated steps included), so validation leaves them out.
OUTSIDE_THE_RUN = ("non_training_overhead",)


def run_alone(catalogue):
    """``catalogue`` without the entries of :data:`OUTSIDE_THE_RUN`."""
    return {name: entry for name, entry in catalogue.items() if name not in OUTSIDE_THE_RUN}


def published_scope(row):
    """The scope a published training figure counts, as ``(host off, PUE, fields off)``: the
    host is off where its power counts the accelerators alone; the PUE is 1 where it leaves the
    facility out, the authors' where they assumed one, None (ours, drawn) otherwise; the run
    fields set to 0 are those of the side of the water a figure leaves out
    (:data:`WATER_SIDES`)."""
    pue = {"none": 1.0, "assumed": row.pue}.get(row.pue_basis)
    return row.power_scope == "accelerators", pue, WATER_SIDES.get(row.quantity, ())


def _scope_note(scope):
    host_off, pue, off = scope
    notes = ["accelerators alone, as published"] if host_off else []
    if pue == 1.0:
        notes.append("no facility overhead, as published")
    elif pue is not None:
        notes.append(f"PUE {pue:g} as its authors assumed")
    if off:
        notes.append("on-site water alone" if "wue" not in off else "off-site water alone")
    return "; ".join(notes)


def at_scopes(runs, scopes):
    """``runs`` (:class:`mlimpact.runs.notable.NotableRuns`) with the runs named in ``scopes``
    (name -> :func:`published_scope`) at that scope: the host off, the facility's ratio (PUE
    and overhead) set and known, the fields of a side of the water left out set to 0 and
    known, so that none is drawn."""
    table = accelerators_only(runs.runs, {name for name, (off, _, _) in scopes.items() if off})
    values, known = table.values.copy(), runs.known.copy()
    position = {name: i for i, name in enumerate(runs.runs.names)}
    column = RUN_FIELDS.index("dynamic_ratio")
    for name, (_, pue, fields) in scopes.items():
        if pue is not None:
            values[position[name], column] = pue
            known[position[name], column] = True
        for field in fields:
            values[position[name], RUN_FIELDS.index(field)] = 0.0
            known[position[name], RUN_FIELDS.index(field)] = True
    return dataclasses.replace(runs, runs=dataclasses.replace(table, values=values), known=known)


def _run_hardware(runs, name):
    """The accelerators of the run ``name`` of ``runs``: its variants, or its one accelerator."""
    position = runs.runs.names.index(name)
    return runs.runs.variant_labels[position] or (runs.hardware[position],)


def _scope_layers(rows):
    """The rows' models at their published scopes, as few maps (model -> scope) as can hold
    them (a model published at two scopes needs two), and the layer of each row."""
    layers, of_row = [], {}
    for row in rows:
        scope = published_scope(row)
        k = next(
            (k for k, layer in enumerate(layers) if layer.get(row.epoch_model, scope) == scope),
            len(layers),
        )
        if k == len(layers):
            layers.append({})
        layers[k][row.epoch_model] = scope
        of_row[row.id] = k
    return layers, of_row


def _dataset_way(training, runs, samples, propagate_options, sources):
    """Comparisons and skipped rows of the ``dataset`` way: a propagation of the dataset's
    ``runs`` with the rows' models at their published scopes (one per layer of
    :func:`_scope_layers`)."""
    results, skipped = [], []
    included = set(runs.runs.names)
    reasons = {r.name: r.reason for r in runs.records}
    compared = []
    for row in training:
        if not row.epoch_model:
            skipped.append((row.id, "dataset", "no Epoch AI record of this model"))
        elif row.epoch_model not in included:
            reason = reasons.get(row.epoch_model, "not a model of the dataset or not in its window")
            skipped.append((row.id, "dataset", "not in the run: " + reason))
        else:
            compared.append(row)
    layers, of_row = _scope_layers(compared)
    summaries = [
        _estimate_models(at_scopes(runs, layer), layer, samples, propagate_options)
        for layer in layers
    ]
    for row in compared:
        stats = _stats(summaries[of_row[row.id]], row.epoch_model, *TRAINING[row.quantity])
        note = _scope_note(published_scope(row))
        hardware = _run_hardware(runs, row.epoch_model)
        inside = sources.in_sample(row, hardware, row.epoch_model)
        results.append(comparison(row, "dataset", stats, note, inside))
    return results, skipped


def _setup_way(training, location, power, samples, propagate_options, sources):
    """Comparisons and skipped rows of the ``setup`` way: each row is its own run, at its
    published scope."""
    results, skipped = [], []
    epoch = {m["model"]: m for m in load_models()}
    records = {}
    for row in training:
        record = published_record(row, epoch.get(row.epoch_model, {}))
        if record is None:
            skipped.append((row.id, "setup", "accelerator, count, hours or year not published"))
        else:
            records[row.id] = record
    if not records:
        return results, skipped
    years = [int(r["year"]) for r in records.values()]
    runs = notable.build_runs(
        (min(years), max(years)), records=list(records.values()), location=location, power=power
    )
    reasons = {r.name: r.reason for r in runs.records if r.status == "excluded"}
    compared = [row for row in training if row.id in records and row.id not in reasons]
    skipped += [(row.id, "setup", reasons[row.id]) for row in training if row.id in reasons]
    scopes = {row.id: published_scope(row) for row in compared}
    summary = _estimate(at_scopes(runs, scopes), samples, propagate_options)
    for row in compared:
        stats = _stats(summary, row.id, *TRAINING[row.quantity])
        inside = sources.in_sample(row, _run_hardware(runs, row.id))
        results.append(comparison(row, "setup", stats, _scope_note(scopes[row.id]), inside))
    return results, skipped


def _card_way(rows, samples, seed, catalogue, chunk_size, sources):
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
        note = "per accelerator: board / count" if row.chips > 1 else ""
        results.append(comparison(row, "card", stats, note, sources.in_sample(row, ())))
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
    runs=None,
    client=None,
    ways=WAYS,
    dataset=None,
    method="mc",
    table=None,
):
    """Compare every row of ``data/validation.csv`` (or of ``table``) with our estimates.

    Parameters
    ----------
    samples, seed : int
        Monte Carlo samples and seed of every propagation.
    basis : {"all", "measured", "derived"}
        Which rows to compare.
    catalogue : dict, optional
        Uncertain inputs (default ``data/parameters.toml``).
    runs : NotableRuns, optional
        The dataset's runs (the main job's baseline), reused for the ``dataset`` way (built
        from ``dataset`` otherwise); they are propagated here at the scope of each published
        figure.
    ways : tuple
        Which of :data:`WAYS` to compute.
    dataset : DatasetOptions, optional
        The notable models' records, location rule and power model
        (:class:`mlimpact.runs.notable.DatasetOptions`; default: the embedded dataset, every
        year); the setup way takes its location rule and power model. ``catalogue`` must be
        of that power model (by default it is).
    method : {"mc", "lhs", "sobol"}
        Sampling design of every propagation of training runs; the card way samples as
        :func:`mlimpact.study.cards.card_estimate`.
    table : sequence of Published, optional
        The published footprints to compare instead of ``data/validation.csv`` (a user's
        table: :func:`mlimpact.tables.validation.read_footprints`).

    Returns
    -------
    ValidationResult
    """
    _check_choices(basis, ways)
    listed = [
        r
        for r in (published_footprints() if table is None else table)
        if not r.not_scored and basis in ("all", r.basis)
    ]
    rows = [r for r in listed if r.value > 0]
    training = [r for r in rows if r.quantity in TRAINING]
    results = []
    skipped = [
        (r.id, "all", "no positive published value (scores are on logarithms)")
        for r in listed
        if not r.value > 0
    ]
    dataset = notable.DatasetOptions() if dataset is None else dataset
    location, power = dataset.location, dataset.power
    catalogue = default_catalogue(power) if catalogue is None else catalogue
    propagate_options = dict(
        catalogue=run_alone(catalogue),
        seed=seed,
        method=method,
        chunk_size=chunk_size,
        client=client,
    )
    sources = RunSources(catalogue)
    if "dataset" in ways:
        runs = dataset.runs() if runs is None else runs
        way_results, way_skipped = _dataset_way(training, runs, samples, propagate_options, sources)
        results += way_results
        skipped += way_skipped
    if "setup" in ways:
        way_results, way_skipped = _setup_way(
            training, location, power, samples, propagate_options, sources
        )
        results += way_results
        skipped += way_skipped
    if "card" in ways:
        way_results, way_skipped = _card_way(rows, samples, seed, catalogue, chunk_size, sources)
        results += way_results
        skipped += way_skipped
    _check_usable(results)
    return ValidationResult(results, summarize(results), skipped, samples, seed)
