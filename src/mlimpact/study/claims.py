"""The main job: the study's claims with confidence intervals, over scenarios.

:func:`run_study` builds the runs of the notable models for each scenario
(:mod:`mlimpact.study.scenarios`), propagates the uncertain inputs
(:mod:`mlimpact.engine.propagate`), and,
chunk by chunk, fits per sample the log-linear trends of every per-model quantity against
publication date (:mod:`mlimpact.analysis.trends`). It does the same for the production of one card
against its release date. The result holds per-model summaries, per-sample growth rates per
scenario and uncertainty source, and the claims table.

The claims (Morand, Ligozat, Névéol 2025; ``docs/methodology.md``) and how each is tested:

1. ``card_production_rises``: growth factor per year of one card's production impacts against
   its release date (data-centre and workstation GPUs); P(factor > 1).
2. ``impacts_grow``: growth factor per year of each model's energy, GWP, ADPe, PE (totals)
   against its publication date; P(factor > 1).
3. ``grow_under_location_shifting``: the same with every run on a low-carbon grid.
4. ``rebound``: energy efficiency (training FLOP per kWh) grows (P(factor > 1)), yet energy
   keeps growing even if every run used the most efficient hardware of its time
   (hardware-efficiency scenario; P(energy factor > 1)).
5. ``impact_shifting``: the share of the models' summed impacts that comes from production
   (what use-phase-only accounting misses); P(share > 0.5) for ADPe.
"""

import collections
from dataclasses import dataclass
from functools import partial

import numpy as np

from mlimpact.analysis import trends
from mlimpact.engine.propagate import propagate
from mlimpact.quantities import (
    CARD_QUANTITIES,
    CRITERIA,
    IMPACT_CRITERIA,
    TRAINING_QUANTITIES,
    card_index,
    training_index,
)
from mlimpact.runs.cards import card_runs, priced_gpus
from mlimpact.study import warmup
from mlimpact.study.coverage import coverage
from mlimpact.study.options import (
    Catalogues,
    StudyOptions,
    content_key,
    dataset_of,
    records_of,
    validate_options,
)
from mlimpact.study.progress import sobol_progress, study_stages
from mlimpact.study.scenarios import scenario_of, scenario_runs
from mlimpact.study.series import (
    CLAIM_NUMBERS,
    REBOUND_STATISTIC,
    SHIFTING_ORDER,
    frontier,
    rebound_probability,
    series_quantity,
)
from mlimpact.study.series import SOURCES as BUDGET_SOURCES
from mlimpact.uncertainty.binding import bind

#: The scenarios' levels: not a claim of the paper, the finding of a scenario (a rule that
#: scales every run moves the level, not the slope).
LEVEL_CLAIM = "scenario_levels"
CLAIMS = {
    "card_production_rises": "the production impacts of one graphics card rise with its "
    "release year",
    "impacts_grow": "training energy and impacts grow exponentially with publication date",
    "grow_under_location_shifting": "they still grow under location shifting (low-carbon grid)",
    "rebound": "efficiency gains (FLOP per kWh) do not offset the growth (rebound effect)",
    "impact_shifting": "use-phase-only accounting misses a large share of ADPe "
    "(impact shifting to production)",
    LEVEL_CLAIM: "what each scenario changes in the summed energy and impacts of every model",
}


def _log(index):
    def transform(samples):
        with np.errstate(divide="ignore"):
            return np.log(np.where(samples[..., index] > 0, samples[..., index], np.nan))

    return transform


def _share(criterion):
    production, total = training_index(criterion, "production"), training_index(criterion)

    def transform(samples):
        with np.errstate(invalid="ignore", divide="ignore"):
            return samples[..., production] / samples[..., total]

    return transform


def _constant_log(values):
    """ln of a per-model constant (training compute), NaN where unknown."""
    logs = np.log(np.where(values > 0, values, np.nan))

    def transform(samples):
        return np.broadcast_to(logs, samples.shape[:-1])

    return transform


def _efficiency(compute):
    """ln(training FLOP per kWh) per model; NaN where the compute is unknown."""
    log_compute = np.log(np.where(compute > 0, compute, np.nan))

    def transform(samples):
        with np.errstate(divide="ignore", invalid="ignore"):
            return log_compute - np.log(samples[..., training_index("energy")])

    return transform


@dataclass
class ScenarioResult:
    name: str
    notable: object
    summary: object  # xarray Dataset of per-model statistics
    slopes: dict  # (series, uncertainty) -> per-sample slopes
    intercepts: dict  # series -> per-sample intercepts (input uncertainty)
    shares: dict  # criterion -> per-sample production share of the summed impacts
    dates: np.ndarray
    combined_intercepts: dict = None  # series -> per-sample intercepts (input and dataset)


@dataclass
class StudyResult:
    """Everything the report is made of: per-scenario results, cards, the claims and trends
    tables (lists of dicts), the coverage of the baseline's dataset and the Sobol' indices."""

    options: StudyOptions
    scenarios: dict
    cards: dict
    claims: list
    trends: list
    sensitivity: dict = None
    coverage: dict = None
    #: Claim id -> the claim in words (:data:`CLAIMS`), in report order.
    claim_texts: dict = None
    #: Published footprints against our intervals (:mod:`mlimpact.study.validation`).
    validation: object = None
    #: SHA-256 of the user's models file (None: the embedded snapshot).
    models_sha256: str = None
    #: The claims under every specification (:mod:`mlimpact.study.specifications`).
    specifications: list = None
    #: Series -> (bootstrap slopes, items) of the drivers of the energy trend
    #: (:mod:`mlimpact.study.drivers`), from the baseline's runs.
    drivers: dict = None
    #: The variance budget of every claim (:func:`mlimpact.study.budget.budget_rows`).
    budget: list = None
    #: The scenarios' summed impacts on common draws (:func:`scenario_levels`).
    levels: dict = None


def _shares(start, stop, samples):
    """Per-sample production share of the summed impacts, per criterion."""
    return {
        ("share", criterion): samples[..., training_index(criterion, "production")].sum(axis=1)
        / samples[..., training_index(criterion)].sum(axis=1)
        for criterion in IMPACT_CRITERIA
    }


def _chunk_statistics(dates, series, seed, with_shares, method, start, stop, samples):
    out = trends.chunk_trends(dates, series, seed, start, stop, samples, method)
    if with_shares:
        out.update(_shares(start, stop, samples))
    return out


def _propagate_trends(
    runs, bound, dates, series, options, progress, client, kind, shares, point_samples
):
    """Propagate and fit every series per sample.

    Returns the per-model summary, the slopes per (series, uncertainty) (the dataset-only ones
    from the point values that ``point_samples(summary)`` gives, shape (run, quantity)), the
    input-uncertainty intercepts per series, and the per-sample arrays of the chunks.
    """
    method = "huber" if options.fit == "huber" else "ols"
    on_chunk = partial(_chunk_statistics, dates, series, options.seed, shares, method)
    summary, chunks = propagate(
        runs,
        bound,
        options.samples,
        seed=options.seed,
        method=options.method,
        chunk_size=options.chunk_size,
        on_chunk=on_chunk,
        progress=progress,
        kind=kind,
        client=client,
    )
    stats = trends.merge_chunks(chunks)
    point = point_samples(summary)
    dataset = trends.dataset_slopes(dates, series, point, options.samples, options.seed, method)
    slopes = {}
    for key in series:
        slopes[key, "input"] = stats[key, "input"]
        slopes[key, "combined"] = stats[key, "combined"]
        slopes[key, "dataset"] = dataset[key]
    return summary, slopes, {k: stats[k, "intercept"] for k in series}, stats


def _training_point(summary):
    """Point values of the training quantities, (run, quantity)."""
    point = summary.sel(statistic="point")
    return np.stack(
        [
            point.energy.values
            if criterion == "energy"
            else point[criterion].sel(phase=phase).values
            for criterion, phase in TRAINING_QUANTITIES
        ],
        axis=-1,
    )


def _card_point(summary):
    """Point values of the card quantities, (card, quantity)."""
    point = summary.sel(statistic="point")
    return np.stack(
        [
            point[criterion].sel(component=component).values
            for criterion, component in CARD_QUANTITIES
        ],
        axis=-1,
    )


def _scenario(name, options, progress, client=None, records=None, catalogues=None):
    catalogues = Catalogues() if catalogues is None else catalogues
    runs = scenario_runs(name, dataset_of(options, records), options.low_carbon_country)
    dates = trends.decimal_years(runs.dates)
    compute = runs.runs.column("training_compute")
    series = {criterion: _log(training_index(criterion)) for criterion in CRITERIA}
    series.update({f"{c}_use": _log(training_index(c, "use")) for c in IMPACT_CRITERIA})
    series["efficiency"] = _efficiency(compute)
    series["compute"] = _constant_log(compute)
    series.update({f"{c}_production_share": _share(c) for c in IMPACT_CRITERIA})
    if options.fit == "frontier":
        keep = frontier(dates, compute)
        series = {
            name: partial(_only, keep, transform)
            for name, transform in series.items()
            if not name.endswith("_production_share")
        }
    bound = catalogues.bound(options, runs)
    summary, slopes, intercepts, stats = _propagate_trends(
        runs.runs,
        bound,
        dates,
        series,
        options,
        progress,
        client,
        "training",
        True,
        _training_point,
    )
    return ScenarioResult(
        name,
        runs,
        summary,
        slopes,
        intercepts,
        {c: stats["share", c] for c in IMPACT_CRITERIA},
        dates,
        {k: stats[k, "combined_intercept"] for k in series},
    )


def _only(keep, transform, samples):
    """A series restricted to the ``keep`` runs (NaN elsewhere: no weight in the fit)."""
    return np.where(keep, transform(samples), np.nan)


def _cards(options, progress, client=None, catalogues=None):
    priced = priced_gpus("mixture")
    runs, known = card_runs(priced, "mixture")
    dates = trends.decimal_years(np.array([h.release_date for h in priced], dtype="datetime64[D]"))
    series = {c: _log(card_index(c)) for c in IMPACT_CRITERIA}
    catalogue = (Catalogues() if catalogues is None else catalogues).catalogue(options)
    bound = bind(catalogue, runs, list(runs.names), [""] * len(runs), known)
    summary, slopes, intercepts, stats = _propagate_trends(
        runs, bound, dates, series, options, progress, client, "card", False, _card_point
    )
    return {
        "hardware": priced,
        "summary": summary,
        "slopes": slopes,
        "dates": dates,
        "intercepts": intercepts,
        "combined_intercepts": {k: stats[k, "combined_intercept"] for k in series},
    }


def _growth_row(claim, quantity, criterion, scenario, uncertainty, slopes):
    """A row of the trends table: the growth factor per year of a quantity (and its doubling
    time), or for a production share the change of the share per year."""
    row = {
        "claim": claim,
        "quantity": quantity,
        "criterion": criterion,
        "scenario": scenario,
        "uncertainty": uncertainty,
    }
    if quantity.startswith("production share"):
        change = trends.summarize(slopes, threshold=0.0)
        times = {"estimate": np.nan, "low": np.nan, "high": np.nan}
        row["statistic"] = "change of the share per year"
    else:
        factor, doubling = trends.growth(slopes)
        change = trends.summarize(factor, threshold=1.0)
        times = trends.summarize(doubling)
        row["statistic"] = "growth factor per year"
    row.update({key: change[key] for key in ("estimate", "low", "high", "probability")})
    row.update(
        doubling_time_years=times["estimate"],
        doubling_low=times["low"],
        doubling_high=times["high"],
    )
    return row


def run_study(options, progress=None, client=None, stages=None):
    """Run every scenario and the cards, and derive trends and claims.

    Parameters
    ----------
    options : StudyOptions
    progress : callable, optional
        ``progress(fraction_done, stage label)`` (:func:`mlimpact.study.progress.study_stages`
        names the stages and gives each its share).
    client : dask.distributed.Client, optional
        Run the sample chunks on a Dask cluster (same results).
    stages : mlimpact.study.progress.Stages, optional
        The stages to report to instead of ``progress`` (a caller that runs stages after the
        study, the figures, makes them).
    """
    validate_options(options)
    stages = study_stages(options, progress) if stages is None else stages
    # with an empty numba cache the kernels compile first, in two processes where the cache
    # can be written (mlimpact.study.warmup; else each as the study first reaches it): the
    # bar names that until the cards' first chunk is done
    stages.start("compiling" if "compiling" in stages else "cards")
    child = warmup.start()
    try:
        warmup.wait(child)
        result = _run_study(options, client, stages)
    except BaseException:  # an error or an interrupt does not wait for the compilation
        warmup.finish(child)
        raise
    return result


def _run_study(options, client, stages):
    """:func:`run_study` (its options validated, its kernels compiled or compiling)."""
    # the catalogues and bindings every stage below shares (made once each)
    catalogues = Catalogues()
    card_result = _cards(options, stages.step("cards"), client, catalogues)
    records, models_sha256 = records_of(options)
    scenarios = {}
    for name in options.scenarios:
        stages.start(name)
        scenarios[name] = _scenario(name, options, stages.step(name), client, records, catalogues)
    trend_rows = _trend_rows(card_result, scenarios)
    driven = None
    if "baseline" in scenarios:
        driven, driver_rows = _driver_trends(scenarios["baseline"], options)
        trend_rows += driver_rows
    levels = scenario_levels(options, scenarios, catalogues)
    claims = _claims_rows(trend_rows, scenarios) + level_rows(levels)
    sensitivity_result = None
    if options.sensitivity_samples:
        stages.start("sensitivity")
        sensitivity_result = _sensitivity_indices(
            options,
            records,
            client,
            sobol_progress(stages.step("sensitivity")),
            # the baseline's runs are the dataset's own (no scenario rule)
            scenarios["baseline"].notable if "baseline" in scenarios else None,
        )
    covered = (
        coverage(scenarios["baseline"].notable, options.window, records)
        if "baseline" in scenarios
        else None
    )
    checked = None
    if options.validate and "baseline" in scenarios:
        stages.start("validation")
        checked = _validate_baseline(options, scenarios["baseline"], records, client, catalogues)
    specified = budgets = None
    if options.specifications:
        stages.start("specifications")
        specified, budgets = _evaluate_specifications(
            options, claims, scenarios, records, stages.step("specifications"), catalogues
        )
    unfit = _unfit_trends(scenarios, options.window)
    set_verdicts(claims, unfit)
    for row in budgets or ():
        if row["scenario"] in unfit and row["claim"] != "impact_shifting":
            row.update({k: np.nan for k in row if k in ("variance", *BUDGET_SOURCES)})
    return StudyResult(
        options,
        scenarios,
        card_result,
        claims,
        trend_rows,
        sensitivity_result,
        covered,
        dict(CLAIMS),
        checked,
        models_sha256,
        specified,
        driven,
        budgets,
        levels,
    )


def _series_criterion(series):
    """The criterion (trends.csv's column) of a scenario's trend series."""
    if series == "efficiency":
        return "energy"
    if series == "compute":
        return "compute"
    return series.removesuffix("_use").removesuffix("_production_share")


def _trend_rows(card_result, scenarios):
    """The growth rows of the cards and of every scenario's series, per source of
    uncertainty."""
    rows = []
    for uncertainty in trends.UNCERTAINTIES:
        for criterion in IMPACT_CRITERIA:
            rows.append(
                _growth_row(
                    "card_production_rises",
                    "production of one card",
                    criterion,
                    "cards",
                    uncertainty,
                    card_result["slopes"][criterion, uncertainty],
                )
            )
        for name, result in scenarios.items():
            for key in result.slopes:
                if key[1] != uncertainty:
                    continue
                series = key[0]
                rows.append(
                    _growth_row(
                        _claim_of(series, name),
                        series_quantity(series),
                        _series_criterion(series),
                        name,
                        uncertainty,
                        result.slopes[key],
                    )
                )
    return rows


def _driver_trends(baseline, options):
    """The per-sample slopes of the energy trend's drivers (:mod:`mlimpact.study.drivers`) on
    the baseline scenario, and their growth rows."""
    from mlimpact.study import drivers

    driven = drivers.driver_slopes(baseline.notable, options.window, options.seed)
    rows = [
        _growth_row("", drivers.SERIES[name][0], name, "baseline", "dataset", slopes)
        for name, (slopes, _) in driven.items()
    ]
    return driven, rows


def _claims_rows(trend_rows, scenarios):
    """The claims table: the trend rows that test a claim, then (with a baseline) the
    impact-shifting rows."""
    claims = [
        row
        for row in trend_rows
        if row["uncertainty"] == "combined" and row["claim"] and _is_default_claim(row)
    ]
    if "baseline" in scenarios:
        slopes = scenarios["baseline"].slopes
        joint = rebound_probability(slopes["efficiency", "combined"], slopes["energy", "combined"])
        for row in claims:
            if row["claim"] == "rebound" and row["quantity"] == "training FLOP per kWh":
                row["probability"] = joint
                row["statistic"] = REBOUND_STATISTIC
    if "baseline" in scenarios:
        for criterion in SHIFTING_ORDER:
            share = trends.summarize(scenarios["baseline"].shares[criterion], threshold=0.5)
            claims.append(
                {
                    "claim": "impact_shifting",
                    "quantity": "production share of the summed impacts",
                    "criterion": criterion,
                    "scenario": "baseline",
                    "uncertainty": "input",
                    "statistic": "share (P: share > 0.5)",
                    "estimate": share["estimate"],
                    "low": share["low"],
                    "high": share["high"],
                    "probability": share["probability"],
                }
            )
    return claims


def scenario_levels(options, scenarios, catalogues=None):
    """Scenario -> criterion -> (per-sample sum over every run, per-sample sums per
    publication year (sample, year)), every scenario on draws common with the baseline's
    (:mod:`mlimpact.study.levels`), and ``"years"`` -> the years; None without a baseline
    and another scenario. ``catalogues`` (:class:`mlimpact.study.options.Catalogues`) holds
    the scenarios' bindings made already."""
    from mlimpact.study import levels

    if "baseline" not in scenarios or len(scenarios) < 2:
        return None
    catalogues = Catalogues() if catalogues is None else catalogues
    runs = {name: result.notable for name, result in scenarios.items()}
    bounds = {name: catalogues.bound(options, r) for name, r in runs.items()}
    dates = {name: result.dates for name, result in scenarios.items()}
    out = levels.scenario_sums(runs, bounds, options.samples, options.seed, dates)
    out["years"] = np.unique(np.floor(scenarios["baseline"].dates).astype(int))
    return out


def level_rows(levels):
    """The claims table's rows of the scenarios' levels: per scenario other than the baseline
    and criterion, the relative change of the summed energy or impact of every model (median,
    95 % interval) and P(lower than the baseline)."""
    from mlimpact.study.levels import relative_change

    rows = []
    for name, sums in (levels or {}).items():
        if name in ("baseline", "years"):
            continue
        for criterion, (total, _) in sums.items():
            change = relative_change(total, levels["baseline"][criterion][0])
            summary = trends.summarize(-change, threshold=0.0)  # P(change < 0)
            rows.append(
                {
                    "claim": LEVEL_CLAIM,
                    "quantity": "change of the summed impacts against the baseline",
                    "criterion": criterion,
                    "scenario": name,
                    "uncertainty": "input",
                    "statistic": "relative change (P: lower than the baseline)",
                    "estimate": -summary["estimate"] + 0.0,  # + 0.0: no negative zero
                    "low": -summary["high"] + 0.0,
                    "high": -summary["low"] + 0.0,
                    "probability": summary["probability"],
                }
            )
    return rows


def _sensitivity_indices(options, records, client, progress=None, runs=None):
    """The Sobol' indices of :func:`mlimpact.study.sensitivity.impact_sensitivity` under the
    options' sensitivity settings (``progress(done, total)`` as it goes); ``runs``: the
    dataset's runs if built already (the baseline's)."""
    from mlimpact.study.sensitivity import impact_sensitivity

    return impact_sensitivity(
        n=options.sensitivity_samples,
        seed=options.seed,
        dataset=dataset_of(options, records),
        per_model=False,
        progress=progress,
        client=client,
        target=options.sensitivity_target or None,
        max_n=options.sensitivity_max if options.sensitivity_target else None,
        budget=options.sensitivity_budget,
        screen=True,
        runs=runs,
    )


def _validate_baseline(options, baseline, records, client, catalogues=None):
    """The comparison of published footprints with the baseline's intervals
    (:func:`mlimpact.study.validation.validate`)."""
    from mlimpact.study.validation import validate

    return validate(
        samples=options.samples,
        seed=options.seed,
        catalogue=(Catalogues() if catalogues is None else catalogues).catalogue(options),
        chunk_size=options.chunk_size,
        runs=baseline.notable,
        client=client,
        dataset=dataset_of(options, records),
        method=options.method,
    )


def claim_evaluations(
    options, specs, records=None, n=256, progress=None, built=None, catalogues=None
):
    """Claim key (claim, criterion, scenario, quantity: as in the claims table) -> one
    ``(y, pairs)`` per specification of ``specs`` (:func:`mlimpact.study.budget.combine`'s
    input), for the claims of the scenarios in ``options``, ``n`` rows per specification.
    ``built`` maps (:func:`mlimpact.study.budget.dataset_key`, scenario) to runs already
    built (the main job's); the runs of each dataset are built once for every specification
    that shares it, and their catalogue and binding once for every specification that also
    shares the ``[uncertainty]`` section (``catalogues``, a
    :class:`mlimpact.study.options.Catalogues`, may hold the main job's)."""
    from mlimpact.study import budget, specifications

    collected, built = {}, dict(built or {})
    catalogues = Catalogues() if catalogues is None else catalogues
    cards = {}  # (power model, section) -> the cards' design inputs (budget.card_design)
    scenarios = [s for s in options.scenarios if s in budget.CLAIM_SCENARIOS]
    every = [specifications.options_of(options, spec, n) for spec in specs]

    def keys_of(spec_options):
        """A specification's dataset, the key of its runs in ``built`` per scenario, and its
        catalogue's key (power model, section)."""
        dataset = dataset_of(spec_options, records)
        runs_keys = [(*budget.dataset_key(dataset), scenario) for scenario in scenarios]
        return dataset, runs_keys, (spec_options.power, content_key(spec_options.uncertainty))

    # every specification draws the same numbers (budget.seed_of): those of the same runs and
    # catalogue (that change the fit alone) have the same evaluations, made once and kept
    # until the last specification that reads them (each holds 4 x n x runs x quantities):
    # they are evaluated one after the other, their results put back in the specifications'
    # order
    planned = [keys_of(spec_options) for spec_options in every]
    uses, groups = collections.Counter(), {}
    for k, (_, runs_keys, section) in enumerate(planned):
        uses.update([*((*key, *section) for key in runs_keys), ("cards", *section)])
        groups.setdefault((*runs_keys, section), []).append(k)
    evaluations, own = {}, [{} for _ in every]
    blocks = budget.Blocks()  # the memory of evaluations read for the last time, reused
    order = [k for members in groups.values() for k in members]
    for done, k in enumerate(order):
        spec_options, mine = every[k], own[k]
        dataset, runs_keys, section = planned[k]
        for scenario, key in zip(scenarios, runs_keys):
            if key not in built:
                built[key] = scenario_runs(scenario, dataset, options.low_carbon_country)
            runs, same = built[key], (*key, *section)
            if same not in evaluations:
                evaluations[same] = budget.evaluate_design(
                    runs.runs,
                    catalogues.bound(spec_options, runs),
                    n,
                    budget.seed_of(options),
                    plan=catalogues.plan(spec_options, runs),
                    blocks=blocks,
                )
            evaluated = _last_use(evaluations, uses, same)
            statistics = budget.scenario_statistics(scenario, runs, spec_options.fit)
            for claim, statistic in statistics.items():
                mine.setdefault(claim, []).append(evaluated.pairs(statistic))
            if same not in evaluations:  # (read for the last time: the statistics are copies)
                blocks.give(evaluated.storage)
        if section not in cards:
            cards[section] = budget.card_design(catalogues.catalogue(spec_options))
        same = ("cards", *section)
        evaluations[same] = budget.card_evaluations(
            cards[section],
            spec_options.fit,
            n,
            budget.seed_of(options),
            mine,
            evaluated=evaluations.get(same),
        )
        _last_use(evaluations, uses, same)
        if progress is not None:
            progress(done + 1, len(specs))
    for mine in own:
        for claim, evaluated in mine.items():
            collected.setdefault(claim, []).extend(evaluated)
    return collected


def _last_use(kept, uses, key):
    """``kept[key]``, dropped from ``kept`` if this was the last of its ``uses``."""
    uses[key] -= 1
    return kept.pop(key) if uses[key] <= 0 else kept[key]


def _evaluate_specifications(options, claims, scenarios, records, progress, catalogues=None):
    """The claims under every specification (:mod:`mlimpact.study.specifications`) and the
    variance budget of each claim (:mod:`mlimpact.study.budget`), from one design per
    specification; sets each claim's ``robustness`` and its interval over the
    specifications (``total_*``) in ``claims``. Returns ``(specification rows, budget
    rows)``."""
    from mlimpact.study import budget, specifications

    base = specifications.choices_of(options)
    specs = specifications.specification_set(
        base, options.specification_axes, options.specification_mode
    )
    key = budget.dataset_key(dataset_of(options, records))
    built = {(*key, name): result.notable for name, result in scenarios.items()}
    evaluations = claim_evaluations(
        options, specs, records, options.specification_samples, progress, built, catalogues
    )
    specified = budget.specification_rows(evaluations, specs, base)
    shares = specifications.robustness(specified)
    totals = budget.total_summaries(evaluations)
    for row in claims:
        claim = specifications.claim_key(row)
        row["robustness"] = shares.get(claim, np.nan)
        total = totals.get(claim)
        if total is not None:
            row.update({f"total_{k}": total[k] for k in ("estimate", "low", "high", "probability")})
    return specified, budget.budget_rows(evaluations, options.specification_samples)


#: A claim holds when its probability is at least this (as a specification's, in
#: :mod:`mlimpact.study.specifications`).
HOLDS = 0.95
#: Rows of the claims table that test what the paper did not claim (it claims impact
#: shifting for ADPe only): checks, reported with their probability, never "not supported".
CHECKS = {("impact_shifting", c) for c in IMPACT_CRITERIA if c != "adpe"}


#: The numbers of a claims row, blanked where the claim is not evaluable.
_CLAIM_NUMBERS = (*CLAIM_NUMBERS, "doubling_time_years", "doubling_low", "doubling_high")


def _unfit_trends(scenarios, window):
    """Scenario -> why its runs cannot carry a trend (fewer than
    :data:`mlimpact.analysis.trends.MIN_MODELS` models over
    :data:`mlimpact.analysis.trends.MIN_YEARS` publication years: a user's own runs may be)."""
    out = {}
    for name, result in scenarios.items():
        count = len(result.notable.runs)
        years = len(np.unique(np.floor(result.dates)))
        if not trends.enough_for_trend(result.dates):
            out[name] = (
                f"{count} run(s) over {years} publication year(s) in {window[0]}-{window[1]}; "
                f"a trend needs at least {trends.MIN_MODELS} over {trends.MIN_YEARS} years"
            )
    return out


def set_verdicts(claims, unfit=None):
    """Each claim's ``verdict`` (``holds``, ``not supported``, or ``not evaluable`` and why)
    and ``verdict_on``: the interval over every specification where it was computed (it
    also holds the analyst's choices), else the default specification's. ``unfit`` maps a
    scenario to why its runs cannot carry a trend (:func:`_unfit_trends`): its trend claims
    are not evaluable, their numbers blanked."""
    unfit = unfit or {}
    for row in claims:
        trend = row["claim"] not in ("impact_shifting", LEVEL_CLAIM)
        if row["scenario"] in unfit and trend:
            row.update(dict.fromkeys((k for k in _CLAIM_NUMBERS if k in row), np.nan))
            row["kind"] = "claim"
            row["verdict_on"] = ""  # not evaluable: no interval to rest on
            row["verdict"] = "not evaluable: " + unfit[row["scenario"]]
            continue
        total = row.get("total_probability")
        on_total = total is not None and total == total
        probability = total if on_total else row["probability"]
        row["kind"] = (
            "level"
            if row["claim"] == LEVEL_CLAIM
            else "check"
            if (row["claim"], row["criterion"]) in CHECKS
            else "claim"
        )
        row["verdict_on"] = "total over specifications" if on_total else "default specification"
        if not probability == probability:
            row["verdict"] = "not evaluable: " + _why_not_evaluable(row)
        elif row["kind"] == "level":
            row["verdict"] = _level_verdict(row, probability)
        elif row["kind"] == "check":
            row["verdict"] = "check: holds" if probability >= HOLDS else "check: does not hold"
        else:
            row["verdict"] = "holds" if probability >= HOLDS else "not supported"


def _level_verdict(row, probability):
    """A scenario's level against the baseline, in words: lower (P >= :data:`HOLDS`), higher
    (its whole interval above), unchanged (the rule does not touch it), or not
    distinguishable."""
    if max(abs(row["low"]), abs(row["high"])) < 1e-9:
        return "unchanged"
    if probability >= HOLDS:
        return "lower than the baseline"
    if row["low"] > 0:
        return "higher than the baseline"
    return "not distinguishable from the baseline"


def _why_not_evaluable(row):
    """Why a claim has no probability: its series has too few models with a value."""
    if row["quantity"] == "training FLOP per kWh":
        return "fewer than two models with a known training compute"
    return "fewer than two models with a value"


def _claim_of(series, scenario):
    if series == "efficiency":
        return "rebound" if scenario == "baseline" else ""
    if series.endswith("_use") or series.endswith("_share") or series == "compute":
        return ""
    return scenario_of(scenario).claim


def _is_default_claim(row):
    """The claims table keeps the rows that test a claim (not every trend)."""
    if row["claim"] == "rebound":
        return row["quantity"] == "training FLOP per kWh" or (
            row["scenario"] == "hardware_efficiency" and row["criterion"] == "energy"
        )
    return True
