"""The main job's report folder: claims, trends and models tables, NetCDF, figures, report.md.

Nothing here computes: :func:`write_study` renders a :class:`mlimpact.study.claims.StudyResult`
and :func:`write_sensitivity` the Sobol' indices of :mod:`mlimpact.study.sensitivity`.
"""

from pathlib import Path

import numpy as np
import xarray as xr

from mlimpact._io import toml_text
from mlimpact.analysis.trends import UNCERTAINTIES
from mlimpact.quantities import (
    CRITERIA,
    ENERGY_SCOPES,
    IMPACT_CRITERIA,
    LABELS,
    PHASES,
    PROSE,
    TITLES,
    UNITS,
)
from mlimpact.render import files, plots
from mlimpact.render.text import format_number, probability_text, share_text
from mlimpact.study.sensitivity import (
    ALL_CARDS,
    ALL_MODELS,
    DOMINANCE_THRESHOLD,
    SCREENING_THRESHOLD,
    SENSITIVITY_HEADER,
    dominant,
    output,
    reported_halfwidth,
    sensitivity_rows,
)
from mlimpact.study.series import CLAIM_NUMBERS
from mlimpact.tables.models import record_fixes

CLAIMS_HEADER = (
    "claim",
    "criterion",
    "scenario",
    "estimate",
    "low",
    "high",
    "probability",
    "statistic",
    "quantity",
    "uncertainty",
    "robustness",
    "total_estimate",
    "total_low",
    "total_high",
    "total_probability",
    "verdict",
    "verdict_on",
    "kind",
)
SPECIFICATIONS_HEADER = (
    "claim",
    "criterion",
    "scenario",
    "quantity",
    "specification",
    "imputation",
    "window",
    "fit",
    "production_model",
    "location",
    "power",
    "estimate",
    "low",
    "high",
    "probability",
)
TRENDS_HEADER = (
    "quantity",
    "criterion",
    "scenario",
    "uncertainty",
    "claim",
    "statistic",
    "growth_per_year",
    "growth_low",
    "growth_high",
    "change_per_year",
    "change_low",
    "change_high",
    "probability",
    "doubling_time_years",
    "doubling_low",
    "doubling_high",
)
MODELS_HEADER = (
    "model",
    "publication_date",
    "status",
    "hardware",
    "confidence",
    "record_fixes",
    "criterion",
    "phase",
    "unit",
    "point",
    "mean",
    "median",
    "q025",
    "q975",
)


def _trend_row(row):
    """A row of trends.csv: a growth factor per year and a linear change per year (of a
    share) in separate columns, each empty where it does not apply."""
    values = (_g(row["estimate"]), _g(row["low"]), _g(row["high"]))
    growth = row["statistic"] == "growth factor per year"
    return [
        row["quantity"],
        row["criterion"],
        row["scenario"],
        row["uncertainty"],
        row["claim"],
        row["statistic"],
        *(values if growth else ("", "", "")),
        *(("", "", "") if growth else values),
        _g(row["probability"]),
        _g(row["doubling_time_years"]),
        _g(row["doubling_low"]),
        _g(row["doubling_high"]),
    ]


def _g(value):
    return "" if value is None or value != value else float(f"{value:.6g}")


def write_study(result, folder, command=None, second=None):
    """Write the main job's outputs into ``folder`` (prepared by the caller); ``command``
    is recorded in results.nc's history. ``second(jobs, folder)``, if given, starts a second
    process that draws figures (:func:`_figure_jobs`) while this one writes the tables, and
    returns its handle, whose ``finish()`` draws this process's share and returns the jobs
    left undrawn, or None (:meth:`mlimpact.render.figure_worker.FigureWorker.start`); every
    figure nobody else draws is drawn here."""
    folder = Path(folder)
    baseline = result.scenarios.get("baseline") or next(iter(result.scenarios.values()))
    jobs = _figure_jobs(result, baseline)
    worker = None if second is None else second(jobs, folder)
    try:
        _write_claims(result.claims, folder)
        if result.specifications:
            _write_specifications(result.specifications, folder)
        if result.budget:
            _write_budget(result.budget, folder)
        if result.levels:
            _write_levels(result.levels, folder)
        files.write_csv(
            folder / "trends.csv", TRENDS_HEADER, [_trend_row(row) for row in result.trends]
        )
        _write_models(baseline, folder)
        _write_netcdf(result, baseline, folder, command)
        if result.sensitivity is not None:
            write_sensitivity(result.sensitivity, folder, figures=())
        if result.validation is not None:
            write_validation(result.validation, folder, figure=False)
        files.write_text(folder / "report.md", study_markdown(result))
        for job in jobs if worker is None else worker.finish():
            plots.draw(job, folder)
    except BaseException:  # an error or an interrupt does not wait for the worker
        if worker is not None:
            worker.stop()
        raise
    return folder


def _figure_jobs(result, baseline):
    """Every figure of :func:`write_study` as a job (:mod:`mlimpact.render.figure_worker`),
    the slowest first (validation.png 0.7 s, specifications.png 0.45 s, the Sobol' figure
    0.27 s, levels.png 0.25 s, budget.png 0.16 s, then the trend figures, 0.07-0.13 s each):
    two processes taking them in turn end about together."""
    jobs = []
    if result.validation is not None:
        jobs.append(_validation_job(result.validation))
    if result.specifications:
        jobs.append(_specifications_job(result.specifications))
    if result.sensitivity is not None:
        jobs += sensitivity_jobs(result.sensitivity, ("growth",))
    if result.levels:
        jobs.append(_levels_job(result.levels))
    if result.budget:
        jobs.append(_budget_job(result.budget))
    return jobs + _trend_jobs(result, baseline)


#: Columns of levels.csv.
LEVELS_HEADER = (
    "scenario",
    "criterion",
    "year",
    "total_median",
    "total_low",
    "total_high",
    "change_median",
    "change_low",
    "change_high",
)


def _levels_job(levels):
    """The job (:mod:`mlimpact.render.figure_worker`) of levels.png."""
    return ("levels_figure", (levels,), {}, "levels.png")


def _write_levels(levels, folder):
    """levels.csv: each scenario's yearly and overall totals and their change against the
    baseline (levels.png, the yearly totals, is :func:`_levels_job`)."""
    from mlimpact.study.levels import relative_change

    rows = []
    for name in (n for n in levels if n != "years"):
        for criterion, (total, per_year) in levels[name].items():
            base_total, base_year = levels["baseline"][criterion]
            columns = [("all", total, base_total)] + [
                (int(y), per_year[:, k], base_year[:, k]) for k, y in enumerate(levels["years"])
            ]
            for year, values, base in columns:
                level = np.quantile(values, [0.5, 0.025, 0.975])
                change = np.nanquantile(relative_change(values, base), [0.5, 0.025, 0.975])
                rows.append([name, criterion, year, *map(_g, level), *map(_g, change)])
    files.write_csv(folder / "levels.csv", LEVELS_HEADER, rows)


def _budget_job(rows):
    """The job (:mod:`mlimpact.render.figure_worker`) of budget.png."""
    return ("budget_figure", (rows,), {}, "budget.png")


def _write_budget(rows, folder):
    """budget.csv, the variance budget of every claim (budget.png is :func:`_budget_job`)."""
    from mlimpact.study.series import BUDGET_HEADER

    files.write_csv(
        folder / "budget.csv",
        BUDGET_HEADER,
        [[_g(r[k]) if isinstance(r[k], float) else r[k] for k in BUDGET_HEADER] for r in rows],
    )


def _write_claims(claims, folder):
    """claims.csv of the claims rows; returns nothing."""
    files.write_csv(
        folder / "claims.csv",
        CLAIMS_HEADER,
        [
            [_g(row.get(k)) if k in CLAIM_NUMBERS else row.get(k, "") for k in CLAIMS_HEADER]
            for row in claims
        ],
    )


def _specifications_job(specifications):
    """The job (:mod:`mlimpact.render.figure_worker`) of specifications.png."""
    return ("specification_figure", (specifications,), {}, "specifications.png")


def _write_specifications(specifications, folder):
    """specifications.csv of the specification rows (specifications.png is
    :func:`_specifications_job`); returns nothing."""
    files.write_csv(
        folder / "specifications.csv",
        SPECIFICATIONS_HEADER,
        [
            [
                _g(row[k]) if k in ("estimate", "low", "high", "probability") else row[k]
                for k in SPECIFICATIONS_HEADER
            ]
            for row in specifications
        ],
    )


def _write_models(baseline, folder):
    """models.csv: the baseline's per-model statistics, one row per criterion and phase;
    returns nothing."""
    records = {r.name: r for r in baseline.notable.records}
    rows = []
    summary = baseline.summary
    # rows of each variable: (criterion, phase) of its values; the energy's scopes are rows of
    # criterion energy whose phase is the scope
    phases = {
        "energy": ("energy", ("use",)),
        "energy_by_scope": ("energy", ENERGY_SCOPES),
        **{c: (c, PHASES) for c in IMPACT_CRITERIA},
    }
    # (model, phase, statistic) arrays, read once: selecting value by value took seconds
    table = {
        v: summary[v]
        .sel(statistic=["point", "mean", "median", "q025", "q975"])
        .transpose("model", ..., "statistic")
        .values.reshape(len(summary.model), -1, 5)
        for v in phases
    }
    fixes = record_fixes()
    for m, name in enumerate(summary.model.values):
        date = str(baseline.notable.dates[m])
        fixed = ";".join(
            f"{field} {action}" for field, (action, _, _) in fixes.get(name, {}).items()
        )
        for variable, (criterion, names) in phases.items():
            for p, phase in enumerate(names):
                rows.append(
                    [
                        name,
                        date,
                        records[name].status,
                        records[name].hardware,
                        records[name].confidence,
                        fixed,
                        criterion,
                        phase,
                        UNITS[criterion],
                        *(_g(float(x)) for x in table[variable][m, p]),
                    ]
                )
    files.write_csv(folder / "models.csv", MODELS_HEADER, rows)


def _per_sample_slopes(result, series):
    """The (scenario, series, uncertainty, sample) array of every scenario's per-sample slopes,
    NaN where a series has no fit."""
    slopes = np.full(
        (len(result.scenarios), len(series), len(UNCERTAINTIES), result.options.samples), np.nan
    )
    for i, scenario in enumerate(result.scenarios.values()):
        for j, key in enumerate(series):
            for k, uncertainty in enumerate(UNCERTAINTIES):
                if (key, uncertainty) in scenario.slopes:
                    slopes[i, j, k] = scenario.slopes[key, uncertainty]
    return slopes


def _per_sample_intercepts(result, series):
    """The (scenario, series, sample) array of every scenario's per-sample intercepts, NaN
    where a series has no fit."""
    intercepts = np.full((len(result.scenarios), len(series), result.options.samples), np.nan)
    for i, scenario in enumerate(result.scenarios.values()):
        for j, key in enumerate(series):
            if key in scenario.intercepts:
                intercepts[i, j] = scenario.intercepts[key]
    return intercepts


def _write_netcdf(result, baseline, folder, command):
    """results.nc: per-model statistics of every scenario and per-sample slopes and
    intercepts; returns nothing."""
    datasets = []
    for name, scenario in result.scenarios.items():
        datasets.append(scenario.summary.expand_dims(scenario=[name]))
    combined = xr.concat(datasets, dim="scenario", join="outer")
    series = sorted({k[0] for s in result.scenarios.values() for k in s.slopes})
    combined["slope"] = (
        ("scenario", "series", "uncertainty", "sample"),
        _per_sample_slopes(result, series),
        {"units": "1/year", "long_name": "slope of ln(value) against publication date, per sample"},
    )
    combined["intercept"] = (
        ("scenario", "series", "sample"),
        _per_sample_intercepts(result, series),
        {
            "units": "1",
            "long_name": "intercept of ln(value) against "
            "publication date [decimal years], per sample (input uncertainty)",
        },
    )
    combined = combined.assign_coords(series=series, uncertainty=list(UNCERTAINTIES))
    combined = combined.assign_coords(_model_coordinates(baseline, combined.model.values))
    combined.attrs.update(
        {
            "samples": result.options.samples,
            "seed": result.options.seed,
            "window": f"{result.options.window[0]}-{result.options.window[1]}",
            "location": result.options.location,
            "power_model": result.options.power,
        }
    )
    files.write_netcdf(
        files.describe_dataset(
            files.split_point(combined),
            "Environmental impacts of training notable AI models: "
            "per-model statistics and per-sample trends (mlimpact run)",
            command=command,
        ),
        folder / "results.nc",
    )


def _trend_jobs(result, baseline):
    """The jobs (:mod:`mlimpact.render.figure_worker`) of the figures
    impacts_<criterion>.png, cards_gwp.png and scenarios.png."""
    jobs = []
    summary = baseline.summary
    status = {r.name: r.status for r in baseline.notable.records}
    imputed = np.array([status.get(n) == "imputed" for n in baseline.notable.runs.names])
    for criterion in CRITERIA:
        values = summary[criterion]
        if criterion != "energy":
            values = values.sel(phase="total")
        label, unit = PROSE[criterion], UNITS[criterion]
        arguments = (
            baseline.dates,
            values.sel(statistic="median").values,
            values.sel(statistic="q025").values,
            values.sel(statistic="q975").values,
            baseline.slopes[criterion, "combined"],
            baseline.combined_intercepts[criterion],
            f"Training {label} of notable AI models, "
            f"{'use phase' if criterion == 'energy' else 'life cycle'} "
            f"({len(baseline.dates)} models)",
            f"{label} per training run [{unit}]",
        )
        jobs.append(("trend_figure", arguments, {"imputed": imputed}, f"impacts_{criterion}.png"))
    card = result.cards
    gwp = card["summary"].gwp.sel(component="total")
    arguments = (
        card["dates"],
        gwp.sel(statistic="median").values,
        gwp.sel(statistic="q025").values,
        gwp.sel(statistic="q975").values,
        card["slopes"]["gwp", "combined"],
        card["combined_intercepts"]["gwp"],
        f"Production GWP of one card, data-centre and workstation GPUs ({len(card['dates'])})",
        "production GWP of one card [kg CO2eq]",
    )
    options = {
        "colour": plots.CARDS_COLOUR,
        "label": "per card (MLCA or ACT, sampled): median and 95 % interval",
        "xlabel": "release date of the card",
        "resampled": "which cards are priced",
    }
    jobs.append(("trend_figure", arguments, options, "cards_gwp.png"))
    rows = [
        r
        for r in result.trends
        if r["uncertainty"] == "combined"
        and r["quantity"] in ("energy per model", "life-cycle impact per model")
    ]
    jobs.append(("scenario_figure", (rows,), {}, "scenarios.png"))
    return jobs


def _model_coordinates(baseline, names):
    """Per-model coordinates of results.nc (the baseline's records): publication date,
    hardware, status, country and the evidence of the location."""
    notable = baseline.notable
    index = {name: r for r, name in enumerate(notable.runs.names)}
    records = {r.name: r for r in notable.records}

    def column(values, missing=""):
        return [values[index[n]] if n in index else missing for n in names]

    # a date coordinate (CF time, decoded by xarray), NaT for a model the baseline lacks
    dates = np.array(column([str(d) for d in notable.dates], "NaT"), dtype="datetime64[ns]")
    return {
        "publication_date": ("model", dates, {"long_name": "publication date of the model"}),
        "hardware": (
            "model",
            column(list(notable.hardware)),
            {"long_name": "accelerator of the run (or its choice of variants)"},
        ),
        "status": (
            "model",
            [records[n].status if n in records else "" for n in names],
            {"long_name": "record status: complete or imputed"},
        ),
        "country": (
            "model",
            column(list(notable.countries)),
            {"long_name": "country of the run's grid (ISO 3166 alpha-3)"},
        ),
        "location_basis": (
            "model",
            column(list(notable.location_bases)),
            {"long_name": "evidence of where the run trained"},
        ),
    }


def _pct(p):
    return probability_text(p)


def study_markdown(result):
    """report.md: the claims in plain words, the table, the figures."""
    lines = [
        *_intro_markdown(result.options, custom=result.models_sha256 is not None),
        *_dataset_markdown(result),
        *_claims_markdown(result),
        *_figures_markdown(result),
        *drivers_markdown(result),
        *budget_markdown(result),
        *_sensitivity_markdown(result),
        *specifications_markdown(result),
        *validation_markdown(result.validation),
        *_files_markdown(result),
    ]
    return "\n".join(lines)


def _intro_markdown(options, custom=False):
    """The report's title and its paragraph on the sampling and the intervals; ``custom``:
    the runs are a user's models file, named in the title."""
    subject = f"the runs of `{options.models_file}`" if custom else "notable AI models"
    return [
        f"# Environmental impacts of training {subject}: claims with confidence intervals",
        "",
        f"Monte Carlo over {options.samples:,} samples (seed {options.seed}, "
        f"{options.method}), models published {options.window[0]}-{options.window[1]}, "
        f"imputation {'on' if options.impute else 'off'}. Every interval is a 95 % "
        "interval; *probability* is the share of samples in which the claim holds. "
        "Intervals combine input uncertainty (Monte Carlo) and which models are in the "
        "dataset (a bootstrap over models, paired with the samples); `trends.csv` gives "
        "each source alone.",
        "",
    ]


def _dataset_markdown(result):
    """The report's paragraph on the models that enter and the catalogue (none without a
    coverage report)."""
    if result.coverage is None:
        return []
    options = result.options
    report = result.coverage
    origin = (
        "notable models (Epoch AI, the embedded snapshot)"
        if result.models_sha256 is None
        else f"runs of `{options.models_file}` (SHA-256 {result.models_sha256})"
    )
    return [
        f"**Dataset**: {report['included_total']} of "
        f"{report['included_total'] + report['excluded_total']} {origin} "
        f"enter: {report['complete_total']} complete, "
        f"{report['imputed_total']} with imputed fields; "
        f"{report['excluded_total']} excluded (`mlimpact data` says why); "
        + _outside_text(report, options.window)
        + f"{report.get('speculative_included', 0)} of them are records Epoch AI marks "
        "Speculative. Location: "
        f"{options.location}; power model: {options.power}. Catalogue of uncertain "
        "inputs: the prior of `data/parameters.toml`"
        + (", amended by the configuration's [uncertainty] section" if options.uncertainty else "")
        + " (the power model not calibrated: out of sample the calibrated catalogue of "
        "`mlimpact calibrate` scores worse, docs/calibration.md). "
        + _production_model_text(options),
        "",
    ]


def _screened_markdown(models, card):
    """The report's line on the inputs the Sobol' analysis screened, or none."""
    screened = {*models.attrs.get("screened", "").split(", ")}
    screened = sorted((screened | {*card.attrs.get("screened", "").split(", ")}) - {""})
    if not screened:
        return []
    return [
        f"Screened: a pilot of {models.attrs.get('screening_base_points', 'N')} base "
        f"points found these inputs below ST {SCREENING_THRESHOLD:.2f} for every output "
        "below, so they were analysed as one group, *screened inputs*, whose index "
        f"bounds each one's: {', '.join(f'`{name}`' for name in screened)}.",
        "",
    ]


def _outside_text(report, window):
    """The runs of a user's file outside the window, named (up to ten), or ""."""
    outside = report.get("outside_window") or []
    if not outside:
        return ""
    more = f" and {len(outside) - 10} more" if len(outside) > 10 else ""
    names = ", ".join(outside[:10]) + more
    return (
        f"{len(outside)} of the file's runs are outside the window {window[0]}-{window[1]} "
        f"and left out ({names}; `--first-year`, `--last-year`); "
    )


def _production_model_text(options):
    """Which production model carries the cards' figures and claims, from the run's
    catalogue (its ``production_model`` entry)."""
    from mlimpact.study.options import catalogue_of

    entry = catalogue_of(options, {}).get("production_model")
    weights = getattr(entry.distribution, "weights", None) if entry else None
    if weights is None or len(weights) != 2:
        return ""
    mlca = weights[0] / sum(weights)
    why = (
        "weights calibrated on the published per-card estimates, which beat equal weights "
        "out of sample (`data/parameters.toml`, docs/validation.md)"
        if (getattr(entry, "source", "") or "").startswith("calibrated on")
        else "the weights of the catalogue's `production_model` entry"
    )
    return (
        f"Cards (the production of the hardware, in every embodied figure and claim) are "
        f"made by MLCA's production model with probability {mlca:.4g} and by ACT's with "
        f"{1 - mlca:.2g}: {why}."
    )


def _number_or_dash(value):
    return "-" if value is None or value != value else format_number(value)


def _interval_or_dash(low, high):
    if any(v is None or v != v for v in (low, high)):
        return "-"
    return f"[{format_number(low)}, {format_number(high)}]"


def _total_text(row):
    """A claim's interval and probability over every specification, "-" if not computed."""
    if row.get("total_probability") is None or row["total_probability"] != row["total_probability"]:
        return "-"
    return (
        f"{_interval_or_dash(row['total_low'], row['total_high'])}, "
        f"{_pct(row['total_probability'])}"
    )


def budget_markdown(result):
    """The report's section on where each claim's uncertainty comes from (the variance
    budget), ahead of the Sobol' indices of the inputs."""
    if not result.budget:
        return []
    from mlimpact.study.series import SOURCES

    header = " | ".join(SOURCES)
    lines = [
        "## Where the uncertainty of each claim comes from",
        "",
        "Share of each claim's variance (over every specification, equally weighted) due to "
        "the uncertain inputs of the catalogue, the imputation of missing facts, which "
        "models are in the dataset (a bootstrap over models), and the analyst's "
        f"specification (the {result.budget[0]['specifications']} specifications of the "
        "next sections); *interactions* is what the first-order shares leave "
        f"(`budget.csv`, `budget.png`; {result.budget[0]['samples']} rows per "
        "specification; `mlimpact.study.budget` gives the estimator). The Sobol' indices "
        "of the next section split the *inputs* share only.",
        "",
        f"| claim | quantity | criterion | scenario | {header} |",
        "|---|---|---|---|" + "---|" * len(SOURCES),
    ]
    for r in result.budget:
        shares = " | ".join(share_text(r[s]) for s in SOURCES)
        lines.append(
            f"| {r['claim']} | {r['quantity']} | {r['criterion']} | {r['scenario']} | {shares} |"
        )
    lines += ["", "![budget](budget.png)", ""]
    return lines


def _claims_markdown(result):
    """The report's section on the claims: one sentence per claim, then the table."""
    lines = ["## The claims", ""]
    for claim, text in result.claim_texts.items():
        rows = [r for r in result.claims if r["claim"] == claim and r.get("kind") != "check"]
        if not rows:
            continue
        lines.append(f"- **{text}**: " + "; ".join(_sentence(r) for r in rows) + ".")
    checks = [r for r in result.claims if r.get("kind") == "check"]
    if checks:
        lines.append(
            "- Checks, not claims of the paper (it claims impact shifting for ADPe only): "
            + "; ".join(_sentence(r) for r in checks)
            + "."
        )
    lines += [
        "",
        "| claim | quantity | criterion | scenario | estimate | 95 % interval | "
        "probability | over specifications: 95 % interval, probability | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result.claims:
        lines.append(
            f"| {r['claim']} | {r['quantity']} | {r['criterion']} | {r['scenario']} | "
            f"{_number_or_dash(r['estimate'])} | {_interval_or_dash(r['low'], r['high'])} | "
            f"{_pct(r['probability'])} | {_total_text(r)} | {r.get('verdict', '-')} |"
        )
    lines += [
        "",
        "Growth factors are per year (x2 means doubling every year); the claim "
        "holds when the factor exceeds 1. For impact shifting, the estimate is the share "
        "of the summed impacts of all models that comes from producing the hardware, and "
        "the probability is P(share > 0.5).",
        "",
    ]
    return lines


#: The baseline's grid, in words, per location model (``StudyOptions.location``).
BASELINE_GRID = {
    "evidence": "the grid regions where the evidence places the run: its published site, "
    "else its organisation's compute provider's regions, else its organisation's country's "
    "regions",
    "organisation": "the organisation's country, as MLCA",
}


def _cards_note(result):
    """Why the card figure counts the cards it does: the mixture of MLCA and ACT prices
    them, and ACT lacks an input for some that MLCA alone prices."""
    from mlimpact.study.cards import mlca_only

    only = mlca_only()
    count = len(result.cards["hardware"])
    if not only:
        return f"{count} data-centre and workstation GPUs, priced by MLCA's or ACT's model."
    names = "; ".join(f"{name}: {reason}" for name, reason in only)
    return (
        f"{count} data-centre and workstation GPUs, each priced by MLCA's or ACT's model "
        f"(sampled). {len(only)} more that MLCA alone can price are left out, ACT lacking "
        f"an input ({names}); `mlimpact cards` prices them with MLCA."
    )


def _figures_markdown(result):
    """The report's section of figures: the trends, the cards and the scenarios."""
    options = result.options
    lines = ["## Figures", ""]
    for criterion, title in TITLES.items():
        lines += [f"### {title} per training run", "", f"![{title}](impacts_{criterion}.png)", ""]
    lines += [
        "### Production of one graphics card",
        "",
        "![cards](cards_gwp.png)",
        "",
        _cards_note(result),
        "",
        "### Scenarios",
        "",
        "![scenarios](scenarios.png)",
        "",
        "Yearly totals per scenario, on common draws (`levels.csv` also gives each "
        "year's change against the baseline): a rule applied to every run moves the "
        "level of the trend more than its slope.",
        "",
        "![levels](levels.png)",
        "",
        f"Scenarios: *baseline* ({BASELINE_GRID[options.location]}, in the year before "
        "publication); *location shifting* (every run on "
        + (
            f"the grid of {options.low_carbon_country}"
            if options.low_carbon_country
            else "the lowest-intensity grid of its year among Boavizta's countries"
        )
        + "); *hardware efficiency* (every run with a known compute on the most "
        "efficient accelerator, in peak FLOP/s per W, released by its publication "
        "date).",
        "",
    ]
    return lines


def _files_markdown(result):
    """The report's closing section: the files of the folder and where the methods are."""
    return [
        "## Files",
        "",
        "- `claims.csv`: this table. `trends.csv`: every growth rate, "
        "per scenario and source of uncertainty.",
        "- `models.csv`: per-model point estimate, mean, median and 95 % interval "
        "(baseline); the energy also by scope (phase accelerators, host, overhead).",
        "- `results.nc`: per-model statistics of every scenario and the "
        "per-sample slopes (NetCDF-4, CF-1.8: xarray.open_dataset reads it).",
        *(
            [
                "- `validation.csv`, `validation_summary.csv`: published footprints against "
                "our intervals, per row and summarised."
            ]
            if result.validation
            else []
        ),
        "",
        "Methods: docs/methodology.md, docs/uncertainty.md, docs/dataset.md, docs/validation.md.",
        "",
    ]


def _sensitivity_markdown(result):
    """The report's section naming the dominant inputs per criterion and claim."""
    if result.sensitivity is None:
        return []
    models, card = result.sensitivity["models"], result.sensitivity["cards"]
    widest = max(reported_halfwidth({"models": models, "cards": card}), 0.0)
    target = models.attrs.get("target_halfwidth")
    if target is None:
        precision = "no convergence target was set"
    elif models.attrs.get("converged") and card.attrs.get("converged"):
        precision = f"the analysis went on until every one was at most ± {target:.2f}"
    else:
        precision = (
            f"the target of ± {target:.2f} was **not reached** within the time or "
            "size limit: read the indices with their intervals"
        )
    lines = [
        "## Which uncertain inputs dominate",
        "",
        f"Sobol' total-order indices (ST, with 95 % bootstrap intervals) of the inputs "
        f"of `data/parameters.toml`, from N = {models.attrs['base_points']:,} base points "
        f"of a Saltelli design for the models ({card.attrs['base_points']:,} for the cards, "
        "each design extended until its own intervals met the target; `mlimpact "
        "sensitivity` runs the full analysis). ST is the "
        "share of an output's variance that involves the input. The widest interval of "
        f"the outputs below is ± {widest:.3f}; {precision}. An input is named only if its "
        f"ST is at least {DOMINANCE_THRESHOLD:.2f}; first-order estimates above the "
        "total-order one (sampling error) are flagged in sensitivity.csv and drawn at "
        "the total-order value.",
        "",
    ]
    lines += _screened_markdown(models, card)
    entries = [
        ("impacts_grow", f"growth rate of {c}", models, "growth rate", c, ALL_MODELS)
        for c in CRITERIA
    ]
    entries += [
        (
            "card_production_rises",
            f"card growth rate of {c}",
            card,
            "card growth rate",
            c,
            ALL_CARDS,
        )
        for c in IMPACT_CRITERIA
    ]
    entries += [
        ("impact_shifting", f"production share of {c}", models, "production share", c, ALL_MODELS)
        for c in ("adpe", "gwp")
    ]
    entries += [
        ("(totals)", f"sum over all models, {c}", models, "impact", c, ALL_MODELS) for c in CRITERIA
    ]
    # the table names the inputs as the figure does; their keys (sensitivity.csv's
    # ``parameter``) are listed once below it
    names, named = _parameter_labels(), {}
    lines += ["| claim | output | dominant inputs (ST) |", "|---|---|---|"]
    for claim, label, data, quantity, criterion, subject in entries:
        top = dominant(data, quantity, criterion, subject)
        named.update({p: names.get(p, p.replace("_", " ")) for p, _, _ in top})
        text = ", ".join(f"{named[p]} {st:.2f} ± {c:.2f}" for p, st, c in top)
        lines.append(
            f"| {claim} | {label} | {text or f'none with ST >= {DOMINANCE_THRESHOLD:.2f}'} |"
        )
    keys = "; ".join(f"{label}: `{p}`" for p, label in named.items())
    lines += [
        "",
        f"The inputs' keys in `data/parameters.toml` and sensitivity.csv: {keys}.",
        "",
        "![sensitivity](sensitivity_growth.png)",
        "",
    ]
    return lines


def _sentence(r):
    """A claims-table row in words; a row without a value says it is not evaluable."""
    if not r["estimate"] == r["estimate"]:
        return f"{_subject(r)}: {r.get('verdict') or 'not evaluable'}"
    if r.get("kind") == "level" and r.get("verdict") == "unchanged":
        return f"{_subject(r)}: unchanged (the scenario does not touch it)"
    if r.get("kind") == "level":
        return (
            f"{_subject(r)}: {100 * r['estimate']:+.0f} % [{100 * r['low']:+.0f}, "
            f"{100 * r['high']:+.0f}] against the baseline ({r.get('verdict', '')})"
        )
    if r["claim"] == "impact_shifting":
        return (
            f"{LABELS[r['criterion']]} production share {100 * r['estimate']:.0f} % "
            f"[{100 * r['low']:.0f}, {100 * r['high']:.0f}], P(> 50 %) = "
            f"{_pct(r['probability'])}"
        )
    chance = (
        "P(it grows while energy grows)"
        if r["quantity"] == "training FLOP per kWh"
        else "P(growth)"
    )
    return (
        f"{_subject(r)} x{r['estimate']:.2f} per year [{r['low']:.2f}, {r['high']:.2f}], "
        f"{chance} = {_pct(r['probability'])}"
    )


def _subject(r):
    """What a claims-table row measures, in words."""
    if r["claim"] == "impact_shifting":
        return f"{LABELS[r['criterion']]} production share"
    what = "FLOP per kWh" if r["quantity"] == "training FLOP per kWh" else LABELS[r["criterion"]]
    where = (
        "" if r["scenario"] in ("baseline", "cards") else f" ({r['scenario'].replace('_', ' ')})"
    )
    return f"{what}{where}"


#: The sensitivity figures: file suffix -> (quantity, subject, criteria, title of a panel).
SENSITIVITY_FIGURES = {
    "growth": ("growth rate", ALL_MODELS, CRITERIA, "growth rate of {label}"),
    "totals": ("impact", ALL_MODELS, CRITERIA, "all models, {label}"),
    "cards": ("card growth rate", ALL_CARDS, IMPACT_CRITERIA, "card growth rate, {label}"),
}


def _parameter_labels():
    """Parameter name -> its short name (the ``label`` keys of data/parameters.toml)."""
    from mlimpact.uncertainty.catalogue import default_catalogue, location_parameters

    labels = {"location": location_parameters({"run": ([1.0], [1.0])})["location"].display_name}
    for power_model in ("mlca", "evidence"):
        labels.update({name: p.display_name for name, p in default_catalogue(power_model).items()})
    return labels


def write_sensitivity(result, folder, figures=tuple(SENSITIVITY_FIGURES)):
    """sensitivity.csv and the figures ``sensitivity_<name>.png`` of :data:`SENSITIVITY_FIGURES`
    from the ``{"models", "cards"}`` result of
    :func:`mlimpact.study.sensitivity.impact_sensitivity`; returns the number of CSV rows."""
    folder = Path(folder)
    models, card = result["models"], result["cards"]
    rows = sensitivity_rows(models) + sensitivity_rows(card)
    files.write_csv(folder / "sensitivity.csv", SENSITIVITY_HEADER, rows)
    for job in sensitivity_jobs(result, figures):
        plots.draw(job, folder)
    return len(rows)


def sensitivity_jobs(result, figures):
    """The jobs (:mod:`mlimpact.render.figure_worker`) of the figures
    ``sensitivity_<name>.png`` of :data:`SENSITIVITY_FIGURES` named in ``figures``."""
    if not figures:
        return []
    labels = _parameter_labels()
    jobs = []
    for name in figures:
        quantity, subject, criteria, title = SENSITIVITY_FIGURES[name]
        data = result["cards"] if quantity.startswith("card") else result["models"]
        panels = [
            (title.format(label=LABELS[c]), output(data, quantity, c, subject)) for c in criteria
        ]
        kwargs, filename = {"labels": labels}, f"sensitivity_{name}.png"
        jobs.append(("sensitivity_figure", (panels,), kwargs, filename))
    return jobs


def _validation_job(result):
    """The job (:mod:`mlimpact.render.figure_worker`) of validation.png."""
    return ("validation_figure", (result.rows,), {}, "validation.png")


def write_validation(result, folder, figure=True):
    """validation.csv (every comparison), validation_summary.csv and (with ``figure``)
    validation.png."""
    from mlimpact.render.text import VALIDATION_ROW_KEYS, VALIDATION_SUMMARY_KEYS

    folder = Path(folder)

    def cell(value):
        return _g(value) if isinstance(value, float) else "" if value is None else value

    files.write_csv(
        folder / "validation.csv",
        VALIDATION_ROW_KEYS,
        [[cell(r.get(k)) for k in VALIDATION_ROW_KEYS] for r in result.rows],
    )
    files.write_csv(
        folder / "validation_summary.csv",
        VALIDATION_SUMMARY_KEYS,
        [[cell(s.get(k)) for k in VALIDATION_SUMMARY_KEYS] for s in result.summary],
    )
    if figure:
        plots.draw(_validation_job(result), folder)


def _factor(row):
    if not row["estimate"] == row["estimate"]:
        return "not evaluable (too few items with this fact)"
    return f"x{row['estimate']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"


def drivers_markdown(result):
    """The report's section on what drives the energy trend and what it says of a rebound."""
    if not result.drivers:
        return []
    from mlimpact.study.drivers import SERIES

    energy = _baseline_trend(result.trends, "energy per model", "energy", "combined")
    compute = _baseline_trend(result.trends, "training compute per model", "compute", "dataset")
    rows = _driver_rows(result, energy, compute)
    lines = [
        "## What drives the energy trend",
        "",
        "Growth factors per year of the energy trend's factors, each fitted on reported "
        "facts only (Epoch AI's records and the hardware table; imputed values left "
        "out), with 95 % intervals from a bootstrap over the items "
        "(`trends.csv`, uncertainty = dataset):",
        "",
        "| series | growth per year | items |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {_factor(row)} | {n} |" for label, row, n in rows if row]
    used = _baseline_trend(
        result.trends, SERIES["hardware_efficiency_used"][0], "hardware_efficiency_used", "dataset"
    )
    lines += _compute_against_efficiency(energy, compute, used)
    lines += _rebound_markdown(energy, used)
    return lines


def _baseline_trend(rows, quantity, criterion, uncertainty):
    """The first baseline row of ``rows`` (trends.csv's) of that quantity, criterion and
    source of uncertainty, or None."""
    return next(
        (
            r
            for r in rows
            if r["scenario"] == "baseline"
            and r["quantity"] == quantity
            and r["criterion"] == criterion
            and r["uncertainty"] == uncertainty
        ),
        None,
    )


def _driver_rows(result, energy, compute):
    """The (label, trend row or None, number of items) rows of the drivers' table: the energy,
    the compute, then every driver series."""
    from mlimpact.study.drivers import SERIES

    baseline = result.scenarios["baseline"]
    rows = [
        ("energy per training run (our model, use phase)", energy, len(baseline.dates)),
        (
            "training compute per model",
            compute,
            int(np.sum(baseline.notable.runs.column("training_compute") > 0)),
        ),
    ]
    rows += [
        (SERIES[name][0], _baseline_trend(result.trends, SERIES[name][0], name, "dataset"), n)
        for name, (_, n) in result.drivers.items()
    ]
    return rows


def _compute_against_efficiency(energy, compute, used):
    """The lines comparing the growth of compute with that of the accelerators' efficiency
    (none unless the three trends are known and the efficiency's is positive)."""
    if not (energy and compute and used and used["estimate"] > 0):
        return []
    return [
        "",
        f"Compute per model grows x{compute['estimate']:.2f} per year and the "
        f"peak efficiency of the accelerators it runs on x{used['estimate']:.2f}: "
        f"with utilisation and overheads unchanged, energy per model would grow "
        f"about x{compute['estimate'] / used['estimate']:.2f} per year; our model "
        f"gives x{energy['estimate']:.2f}. "
        + (
            "Efficiency gains are real but compute grows faster (the intervals do "
            "not overlap), so energy rises."
            if compute["low"] > used["high"] and used["low"] > 1
            else "The intervals do not tell whether compute outgrows efficiency."
        ),
    ]


def _rebound_markdown(energy, used):
    """The lines on what the energy and efficiency trends can say about a rebound effect."""
    backfire = energy and used and energy["low"] > 1 and used["low"] > 1
    evaluable = energy and used and energy["estimate"] == energy["estimate"]
    evaluable = evaluable and used["estimate"] == used["estimate"]
    return [
        "",
        "*What this can say about a rebound effect.* A rebound effect is the share "
        "of the energy savings expected from an efficiency gain that the response to "
        "the gain takes back; when energy use rises it is called backfire (Greening, "
        "Greene and Difiglio, Energy Policy 28, 389-401, 2000; Sorrell, Energy Policy "
        "37, 1456-1469, 2009). "
        + (
            "The trends above are consistent with backfire: efficiency rises and so "
            "does energy per model. "
            if backfire
            else "The trends above do not show both a rise in efficiency and a rise in "
            "energy per model. "
            if evaluable
            else "The trends above cannot be evaluated on these runs. "
        )
        + "Trends alone cannot show that the "
        "efficiency gains *caused* the growth of compute, which would need the compute "
        "that would have been used without them. The claim table's `rebound` rows "
        "(FLOP per kWh of the runs) are weaker evidence still: for most runs that "
        "energy was itself computed from compute, peak rate and an assumed utilisation.",
        "",
    ]


def specifications_markdown(result):
    """The report's section on the claims under other reasonable analysis choices."""
    if not result.specifications:
        return []
    from mlimpact.study.specifications import AXES, HOLDS, breakers, claim_key

    labels = list(dict.fromkeys(r["specification"] for r in result.specifications))
    broken = breakers(result.specifications)
    robust = [r for r in result.claims if r.get("robustness") == 1.0]
    fragile = [
        r
        for r in result.claims
        if r.get("robustness") == r.get("robustness") and 0 < r.get("robustness", 0) < 1
    ]
    never = [r for r in result.claims if r.get("robustness") == 0.0 and r.get("kind") != "check"]
    lines = [
        "## Claims under other reasonable choices",
        "",
        f"The claims of the baseline and of the cards, re-evaluated under {len(labels)} "
        f"specifications: the main run's choices and every alternative on one axis at a "
        f"time ({', '.join(AXES)}); {result.options.specification_samples} samples each "
        "(`specifications.csv`, `specifications.png`). *Robustness* is the share of the "
        f"specifications in which a claim holds with probability >= {HOLDS:.2f}; claims "
        "of the other scenarios were not re-evaluated (-).",
        "",
    ]
    if robust:
        lines.append(
            "Robust (hold in every specification): "
            + "; ".join(f"{r['claim']} ({r['criterion']})" for r in robust)
            + "."
        )
    for r in fragile:
        lines.append(
            f"- **{r['claim']} ({r['criterion']})** holds in "
            f"{100 * r['robustness']:.0f} % of them; it fails under: "
            + ", ".join(f"`{s}`" for s in broken.get(claim_key(r), []))
            + "."
        )
    if never:
        lines.append(
            "Hold in no specification (the data do not support them under any of "
            "these choices): " + "; ".join(f"{r['claim']} ({r['criterion']})" for r in never) + "."
        )
    lines += ["", "![specifications](specifications.png)", ""]
    return lines


def validation_markdown(result):
    """The report's "how far to trust this" section: skill and width of the scored rows
    first, coverage after."""
    if result is None:
        return []
    lines = [
        "## How far to trust this",
        "",
        "Published footprints of training runs (model cards, papers, published LCAs: "
        "`data/validation.csv`) against our 95 % intervals of the same quantity, each at the "
        "scope it was published at: *dataset* is the model as this run sees it, *setup* a run "
        "built from what the source publishes (accelerator, count, hours, location). The "
        "**skill** compares our interval score with a naive band, our own point x/÷ k with k "
        "fitted on the other rows (positive: our intervals earn their width); the width is "
        "q975 / q025; the coverage should be near 95 %. Only facts are scored (metered "
        "energy, emissions with a published site); *independent* rows leave out those whose "
        "sources feed the run they check. `docs/validation.md` explains the misses.",
        "",
        "| quantity | way | sample | n | skill | naive band | width | coverage | ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in result.summary:
        if s["rows"] == "scored" or s["way"] == "card":
            skill = "-" if s["skill"] is None else f"{s['skill']:+.2f}"
            band = "-" if s["reference_band"] is None else f"x/÷ {s['reference_band']:.2f}"
            lines.append(
                f"| {s['quantity'].replace('_', ' ')} | {s['way']} | {s['sample']} | "
                f"{s['n']} | {skill} | {band} | {s['median_width']:.1f} | "
                f"{100 * s['coverage']:.0f} % | {s['geometric_mean_ratio']:.2f} |"
            )
    conventions = [s for s in result.summary if s["rows"] == "convention" and s["sample"] == "all"]
    if conventions:
        lines += [
            "",
            "Not scored, compared at their own scope (a publisher's convention: an assumed "
            "power, an unpublished site): "
            + "; ".join(
                f"{s['quantity'].replace('_', ' ')} ({s['way']}): {s['n']} "
                f"row{'s' if s['n'] > 1 else ''}, coverage "
                f"{100 * s['coverage']:.0f} %, ratio {s['geometric_mean_ratio']:.2f}"
                for s in conventions
            )
            + ".",
        ]
    lines += ["", "![validation](validation.png)", ""]
    return lines


#: Columns of calibration.csv.
CALIBRATION_HEADER = (
    "input",
    "prior_q025",
    "prior_median",
    "prior_q975",
    "posterior_q025",
    "posterior_median",
    "posterior_q975",
)


#: Columns of calibration_cards.csv.
CALIBRATION_CARDS_HEADER = (
    "id",
    "hardware",
    "basis",
    "published",
    "prior_low",
    "prior_median",
    "prior_high",
    "posterior_low",
    "posterior_median",
    "posterior_high",
)


#: Comment lines at the top of the calibrated catalogue's parameters.toml.
CALIBRATION_TOML_COMMENTS = (
    "Calibrated catalogue written by mlimpact calibrate (docs/calibration.md).",
    "Use it with --parameters FILE.",
)


def write_calibration(result, folder):
    """Write the calibration folder of a :class:`mlimpact.study.calibration.CalibrationResult`
    into ``folder``: parameters.toml (the calibrated catalogue), calibration.csv (prior and
    posterior of every calibrated input), calibration_cards.csv (each published card against
    our prior and posterior intervals) and calibration.png. Returns nothing."""
    folder = Path(folder)
    files.write_text(
        folder / "parameters.toml", toml_text(result.document, CALIBRATION_TOML_COMMENTS)
    )
    files.write_csv(
        folder / "calibration_cards.csv",
        CALIBRATION_CARDS_HEADER,
        [
            [_g(r[k]) if isinstance(r[k], float) else r[k] for k in CALIBRATION_CARDS_HEADER]
            for r in result.cards.cards
        ],
    )
    files.write_csv(
        folder / "calibration.csv",
        CALIBRATION_HEADER,
        [
            [row["input"], *(_g(float(row[k])) for k in CALIBRATION_HEADER[1:])]
            for row in result.inputs
        ],
    )
    files.save_figure(
        plots.calibration_figure(result.prepared.inputs, result.prior_weights, result.weights),
        folder / "calibration.png",
    )
