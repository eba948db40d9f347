"""Which uncertain inputs dominate the study's outputs: Sobol' indices over the notable models.

The generic estimator (:mod:`mlimpact.analysis.sobol`) is applied to the impact model: the
Saltelli design's rows are evaluated by the engine (:func:`mlimpact.engine.propagate.evaluate_rows`)
and reduced to the study's outputs, each named by three coordinates:

- ``quantity``: ``impact`` (a model's, a year's or all models' summed impact), ``growth rate``
  (slope of ln impact on publication date, as in the claims), ``production share`` (of the
  summed impacts), and for cards ``card impact`` and ``card growth rate``;
- ``criterion``: energy, gwp, adpe, pe;
- ``subject``: a model's or card's name, ``year YYYY``, ``all models`` or ``all cards``.

Results are Datasets over (parameter, quantity, criterion, subject), NaN where an output does
not exist (energy has no production share).
"""

import numpy as np

from mlimpact.analysis import trends
from mlimpact.analysis.sobol import SobolAccumulator, indices_dataset
from mlimpact.engine.propagate import stage_plan
from mlimpact.quantities import CRITERIA, IMPACT_CRITERIA, card_index, training_index
from mlimpact.runs import notable
from mlimpact.runs.cards import card_runs, catalogue_gpus, why_not_priced
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters
from mlimpact.uncertainty.sampling import SaltelliDesign

#: Subject of the outputs that aggregate every model, every card.
ALL_MODELS, ALL_CARDS = "all models", "all cards"


def impact_sensitivity(n=256, seed=0, window=notable.WINDOW, impute=True, resamples=100,
                       per_model=True, chunk_size=128, progress=None, client=None,
                       location="evidence", power="evidence", speculative=True,
                       records=None):
    """Sobol' indices of the impact model's outputs over the notable models.

    Outputs: each model's energy, GWP, ADPe and PE (``per_model``); the sum over all models and
    the total of each publication year, per criterion; the growth rate (slope of ln impact on
    date) per criterion, as in the claims; the production share of the summed GWP, ADPe and
    PE; and, for one card of each data-centre and workstation GPU, its production GWP, ADPe
    and PE and their growth rates with release date. Parameters are the inputs of the
    catalogue (all columns of one input form one group).

    Returns
    -------
    dict
        ``{"models": Dataset, "cards": Dataset}``: ``S1``, ``ST``, ``S1_conf``, ``ST_conf``
        over (parameter, quantity, criterion, subject).
    """
    runs = notable.build_runs(window, impute, location=location, power=power,
                              speculative=speculative, records=records)
    catalogue = {**default_catalogue(power), **run_parameters(runs)}
    bound = bind(catalogue, runs.runs, runs.hardware, runs.countries, runs.known, runs.classes)
    outputs = training_outputs(runs, per_model)
    models = _run_design(runs.runs, bound, n, seed, resamples, chunk_size, outputs, "training",
                         progress, client)
    priced = [h for h in catalogue_gpus() if why_not_priced(h, "mixture") is None]
    cards, known = card_runs(priced, "mixture")
    card_bound = bind(default_catalogue(), cards, list(cards.names), [""] * len(cards), known)
    card_dates = trends.decimal_years(np.array([h.release_date for h in priced],
                                               dtype="datetime64[D]"))

    def card_outputs(samples):
        columns, names = [], []
        for criterion in IMPACT_CRITERIA:
            values = samples[..., card_index(criterion)]
            columns.append(values)
            names += [("card impact", criterion, h.name) for h in priced]
            slope, _ = trends.fit_slopes(card_dates, np.log(values))
            columns.append(slope[:, None])
            names.append(("card growth rate", criterion, ALL_CARDS))
        return np.concatenate(columns, axis=1), names

    card_result = _run_design(cards, card_bound, n, seed, resamples, chunk_size, card_outputs,
                              "card", None, client)
    return {"models": models, "cards": card_result}


def training_outputs(runs, per_model=True):
    """The reduction of :func:`impact_sensitivity` for notable runs
    (:class:`mlimpact.runs.notable.NotableRuns`): a function from evaluated samples (row, run,
    quantity) to ``(values (row, output), names)``, each name ``(quantity, criterion,
    subject)``. Whole-array operations only: yearly totals are one product with the runs'
    year indicator matrix."""
    dates = trends.decimal_years(runs.dates)
    years = dates.astype(int)
    year_list = sorted(set(years))
    by_year = (years[:, None] == np.array(year_list)[None, :]).astype(np.float64)
    names = []
    for criterion in CRITERIA:
        if per_model:
            names += [("impact", criterion, m) for m in runs.runs.names]
        names.append(("impact", criterion, ALL_MODELS))
        names += [("impact", criterion, f"year {y}") for y in year_list]
        names.append(("growth rate", criterion, ALL_MODELS))
    names += [("production share", criterion, ALL_MODELS) for criterion in IMPACT_CRITERIA]

    def outputs(samples):
        columns, totals = [], []
        for criterion in CRITERIA:
            values = samples[..., training_index(criterion)]
            if per_model:
                columns.append(values)
            total = values.sum(axis=1)
            if criterion in IMPACT_CRITERIA:
                totals.append(total)
            columns.append(total[:, None])
            columns.append(values @ by_year)
            with np.errstate(divide="ignore"):
                slope, _ = trends.fit_slopes(dates, np.log(values))
            columns.append(slope[:, None])
        for c, criterion in enumerate(IMPACT_CRITERIA):
            production = samples[..., training_index(criterion, "production")]
            columns.append((production.sum(axis=1) / totals[c])[:, None])
        return np.concatenate(columns, axis=1), names

    return outputs


def _design_task(base_start, base_stop, runs, bound, design, outputs, kind, plan=None):
    """Outputs of base points base_start..base_stop-1 (a task, locally or on a worker)."""
    from mlimpact.engine.propagate import evaluate_rows

    u = design.uniforms(base_start * design.step, base_stop * design.step)
    return outputs(evaluate_rows(runs, bound, u, kind=kind, plan=plan, overwrite=True))


def _run_design(runs, bound, n, seed, resamples, chunk_size, outputs, kind, progress,
                client=None):
    groups = list(bound.groups)
    design = SaltelliDesign(bound.n_columns, [bound.groups[g] for g in groups], n, seed)
    ranges = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    shared = dict(runs=runs, bound=bound, design=design, outputs=outputs, kind=kind,
                  plan=stage_plan(runs, bound))
    if client is not None:
        from mlimpact.engine import distributed
        results = distributed.map_chunks(client, _design_task, ranges, progress, n, **shared)
    else:
        results = (_design_task(start, stop, **shared) for start, stop in ranges)
    accumulator, names = None, None
    for (base_start, base_stop), (values, names) in zip(ranges, results):
        if accumulator is None:
            accumulator = SobolAccumulator(len(groups), values.shape[1], resamples, seed)
        accumulator.add(base_start, values)
        if progress is not None and client is None:
            progress(base_stop, n)
    return named_outputs(indices_dataset(accumulator, groups, output_names=range(len(names))),
                         names)


def named_outputs(result, names):
    """A Sobol' Dataset over (parameter, output) with outputs named by ``(quantity,
    criterion, subject)`` tuples, as a Dataset over (parameter, quantity, criterion,
    subject)."""
    quantity, criterion, subject = (list(x) for x in zip(*names))
    flat = result.assign_coords(quantity=("output", quantity), criterion=("output", criterion),
                                subject=("output", subject))
    named = flat.set_index(output=["quantity", "criterion", "subject"]).unstack("output")
    named.attrs = result.attrs
    return named.transpose("parameter", "quantity", "criterion", "subject")


#: Columns of sensitivity.csv.
SENSITIVITY_HEADER = ("quantity", "criterion", "subject", "parameter", "S1", "S1_low",
                      "S1_high", "ST", "ST_low", "ST_high")


def sensitivity_rows(result):
    """Rows of sensitivity.csv from a Dataset of :func:`impact_sensitivity` (outputs that
    exist only), built by whole-array operations."""
    frame = result[["S1", "S1_conf", "ST", "ST_conf"]].to_dataframe().dropna(
        subset=["S1", "ST"], how="all")
    frame = frame.reset_index()
    table = np.column_stack([
        frame["S1"], frame["S1"] - frame["S1_conf"], frame["S1"] + frame["S1_conf"],
        frame["ST"], frame["ST"] - frame["ST_conf"], frame["ST"] + frame["ST_conf"]])
    rounded = [[float(f"{x:.6g}") for x in row] for row in table.tolist()]
    keys = frame[["quantity", "criterion", "subject", "parameter"]].itertuples(index=False)
    return [(*key, *numbers) for key, numbers in zip(keys, rounded)]


def dominant(result, quantity, criterion, subject=ALL_MODELS, count=3):
    """The ``count`` parameters with the largest total-order index for one output:
    ``[(parameter, ST, ST_conf)]``."""
    cell = result.sel(quantity=quantity, criterion=criterion, subject=subject)
    st = cell.ST.values
    order = np.argsort(-np.nan_to_num(st, nan=-1.0))[:count]
    return [(str(result.parameter.values[i]), float(st[i]), float(cell.ST_conf.values[i]))
            for i in order]


def output(result, quantity, criterion, subject=ALL_MODELS):
    """The indices of one output, over ``parameter``."""
    return result.sel(quantity=quantity, criterion=criterion, subject=subject)

