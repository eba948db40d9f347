"""Views of results for people: text tables and JSON objects.

Nothing here computes impacts; it formats the Datasets of :mod:`mlimpact.model` (and of the
Monte Carlo engine) into the schemas documented in ``docs/cli.md``.
"""

import math

from mlimpact.factors import IMPACT_CRITERIA, UNITS
from mlimpact.runs import RUN_FIELDS

#: JSON keys of each criterion (name and unit, so that a number is never unitless).
JSON_KEYS = {"energy": "energy_kwh", "gwp": "gwp_kgco2eq", "adpe": "adpe_kgsbeq", "pe": "pe_mj"}
_LABELS = {"energy": "energy", "gwp": "GWP", "adpe": "ADPe", "pe": "PE"}


def format_number(value):
    """Four significant digits, scientific notation outside [0.01, 1e6)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value == 0:
        return "0"
    if 0.01 <= abs(value) < 1e6:
        digits = max(0, 3 - int(math.floor(math.log10(abs(value)))))
        return f"{value:,.{digits}f}"
    return f"{value:.3e}"


def _schema(result, model, number):
    """The estimate schema of one run: energy, then production/use/total per impact criterion,
    each leaf made by ``number`` from its (labelled) array."""
    row = result.isel(model=model)
    out = {JSON_KEYS["energy"]: number(row["energy"])}
    for criterion in IMPACT_CRITERIA:
        out[JSON_KEYS[criterion]] = {phase: number(row[criterion].sel(phase=phase))
                                     for phase in ("production", "use", "total")}
    return out


def point_json(result, model=0):
    """The point schema: every leaf a number."""
    return _schema(result, model, float)


#: Statistics of a Monte Carlo number in JSON, in this order.
MC_STATISTICS = ("mean", "median", "q025", "q975", "q05", "q95")


def monte_carlo_json(result, model=0):
    """The point schema where every number is ``{"mean", "median", "q025", "q975", "q05",
    "q95"}``."""
    return _schema(result, model,
                   lambda array: {s: float(array.sel(statistic=s)) for s in MC_STATISTICS})


def _criteria_table(values, cell):
    """Rows per criterion, columns per phase, each cell made by ``cell`` from a JSON leaf."""
    energy = cell(values[JSON_KEYS["energy"]])
    rows = [[f"energy [{UNITS['energy']}]", "-", energy, energy]]
    for criterion in IMPACT_CRITERIA:
        v = values[JSON_KEYS[criterion]]
        rows.append([f"{_LABELS[criterion]} [{UNITS[criterion]}]",
                     *(cell(v[p]) for p in ("production", "use", "total"))])
    return table(rows, ["criterion", "production", "use", "total"])


def monte_carlo_table(result, model=0):
    """Median and 95 % interval of every criterion and phase, one run."""
    return _criteria_table(monte_carlo_json(result, model), lambda v: (
        f"{format_number(v['median'])} [{format_number(v['q025'])}, {format_number(v['q975'])}]"))


def card_json(result, monte_carlo):
    """One card's production: ``{"gwp_kgco2eq": {"die", "memory", "other", "total"}, ...}``,
    each a number (point) or the Monte Carlo statistics."""
    row = result.isel(hardware=0)

    def number(array):
        if monte_carlo:
            return {s: float(array.sel(statistic=s)) for s in MC_STATISTICS}
        return float(array)

    return {JSON_KEYS[criterion]: {component: number(row[criterion].sel(component=component))
                                   for component in ("die", "memory", "other", "total")}
            for criterion in IMPACT_CRITERIA}


def card_table(result, monte_carlo):
    """Readable table of one card's production: criteria by component."""
    values = card_json(result, monte_carlo)
    components = ("die", "memory", "other", "total")

    def cell(v):
        if not monte_carlo:
            return format_number(v)
        return (f"{format_number(v['median'])} "
                f"[{format_number(v['q025'])}, {format_number(v['q975'])}]")

    rows = [[f"{_LABELS[c]} [{UNITS[c]}]", *(cell(values[JSON_KEYS[c]][p]) for p in components)]
            for c in IMPACT_CRITERIA]
    return table(rows, ["criterion", *components])


def table(rows, header):
    """Right-aligned plain-text table; first column left-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(r[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def point_table(result, model=0):
    """Readable table of one run's point estimate."""
    return _criteria_table(point_json(result, model), format_number)


def describe_setup(setup):
    """One line on what was estimated, with the provenance of the accelerator's values."""
    fields = dict(zip(RUN_FIELDS, setup.runs.values[0]))
    source = setup.provenance
    gpu = (f"{setup.gpu_label} (TDP {fields['gpu_tdp_w']:g} W [{source['gpu_tdp_w']}], "
           f"memory {fields['gpu_memory_gb']:g} GB [{source['gpu_memory_gb']}], "
           f"die {fields['gpu_die_area_cm2']:g} cm2 [{source['gpu_die_area_cm2']}])")
    grid = f"grid {setup.country}" + (f" {setup.year}" if setup.year is not None else "")
    repeats = (f" x {fields['repetitions']:g} repetitions" if fields["repetitions"] != 1 else "")
    return (f"{setup.runs.names[0]}: {fields['nodes']:g} node(s) x {fields['gpus']:g} {gpu}, "
            f"{fields['hours']:g} h{repeats}, {grid}, GPU usage {fields['gpu_usage']:g}, "
            f"server {'included' if fields['server'] else 'excluded'}; production model: "
            f"{source.get('production_model', 'MLCA')}")


CLAIMS_HEADER = ("claim", "criterion", "scenario", "estimate", "low", "high", "probability",
                 "statistic", "quantity", "uncertainty")
TRENDS_HEADER = ("quantity", "criterion", "scenario", "uncertainty", "claim",
                 "growth_per_year", "low", "high", "probability_growth",
                 "doubling_time_years", "doubling_low", "doubling_high")
MODELS_HEADER = ("model", "publication_date", "status", "hardware", "criterion", "phase",
                 "unit", "point", "mean", "median", "q025", "q975")


def _g(value):
    return "" if value is None or value != value else float(f"{value:.6g}")


def write_study(result, folder):
    """Write the main job's outputs into ``folder`` (prepared by the caller)."""
    from pathlib import Path

    import numpy as np
    import xarray as xr

    from mlimpact import output, plots
    from mlimpact.trends import UNCERTAINTIES

    folder = Path(folder)
    output.write_csv(folder / "claims.csv", CLAIMS_HEADER,
                     [[row.get(k, "") if k not in ("estimate", "low", "high", "probability")
                       else _g(row[k]) for k in CLAIMS_HEADER] for row in result.claims])
    output.write_csv(folder / "trends.csv", TRENDS_HEADER, [[
        row["quantity"], row["criterion"], row["scenario"], row["uncertainty"], row["claim"],
        _g(row["estimate"]), _g(row["low"]), _g(row["high"]), _g(row["probability"]),
        _g(row["doubling_time_years"]), _g(row["doubling_low"]), _g(row["doubling_high"])]
        for row in result.trends])
    baseline = result.scenarios.get("baseline") or next(iter(result.scenarios.values()))
    records = {r.name: r for r in baseline.notable.records}
    rows = []
    summary = baseline.summary
    phases = {c: ("use",) if c == "energy" else ("production", "use", "total")
              for c in ("energy", "gwp", "adpe", "pe")}
    # (model, phase, statistic) arrays, read once: selecting value by value took seconds
    table = {c: summary[c].sel(statistic=["point", "mean", "median", "q025", "q975"])
             .transpose("model", ..., "statistic").values.reshape(len(summary.model), -1, 5)
             for c in phases}
    for m, name in enumerate(summary.model.values):
        date = str(baseline.notable.dates[m])
        for criterion, names in phases.items():
            for p, phase in enumerate(names):
                rows.append([name, date, records[name].status, records[name].hardware,
                             criterion, phase, UNITS[criterion],
                             *(_g(float(x)) for x in table[criterion][m, p])])
    output.write_csv(folder / "models.csv", MODELS_HEADER, rows)
    # NetCDF: per-model statistics of every scenario and per-sample slopes
    datasets = []
    for name, scenario in result.scenarios.items():
        datasets.append(scenario.summary.expand_dims(scenario=[name]))
    combined = xr.concat(datasets, dim="scenario", join="outer")
    series = sorted({k[0] for s in result.scenarios.values() for k in s.slopes})
    slopes = np.full((len(result.scenarios), len(series), len(UNCERTAINTIES),
                      result.options.samples), np.nan)
    for i, scenario in enumerate(result.scenarios.values()):
        for j, key in enumerate(series):
            for k, uncertainty in enumerate(UNCERTAINTIES):
                if (key, uncertainty) in scenario.slopes:
                    slopes[i, j, k] = scenario.slopes[key, uncertainty]
    combined["slope"] = (("scenario", "series", "uncertainty", "sample"), slopes,
                         {"units": "1/year", "long_name": "slope of ln(value) against "
                          "publication date, per sample"})
    combined = combined.assign_coords(series=series, uncertainty=list(UNCERTAINTIES))
    combined.attrs.update({"samples": result.options.samples, "seed": result.options.seed,
                           "window": f"{result.options.window[0]}-{result.options.window[1]}"})
    output.write_netcdf(combined, folder / "results.nc")
    # figures
    for criterion in ("energy", "gwp", "adpe", "pe"):
        values = summary[criterion]
        if criterion != "energy":
            values = values.sel(phase="total")
        label, unit = plots.CRITERION_LABELS[criterion]
        figure = plots.trend_figure(
            baseline.dates, values.sel(statistic="median").values,
            values.sel(statistic="q025").values, values.sel(statistic="q975").values,
            baseline.slopes[criterion, "input"], baseline.intercepts[criterion],
            f"Training {label} of notable AI models, life cycle ({len(baseline.dates)} models)",
            f"{label} per training run [{unit}]")
        output.save_figure(figure, folder / f"impacts_{criterion}.png")
        plots.plt.close(figure)
    card = result.cards
    gwp = card["summary"].gwp.sel(component="total")
    figure = plots.trend_figure(
        card["dates"], gwp.sel(statistic="median").values, gwp.sel(statistic="q025").values,
        gwp.sel(statistic="q975").values, card["slopes"]["gwp", "input"],
        card["intercepts"]["gwp"],
        f"Production GWP of one card, data-centre and workstation GPUs ({len(card['dates'])})",
        "production GWP of one card [kg CO2eq]", colour=plots.SCENARIO_COLOURS["cards"],
        label="per card (MLCA or ACT, sampled): median and 95 % interval")
    output.save_figure(figure, folder / "cards_gwp.png")
    plots.plt.close(figure)
    figure = plots.scenario_figure([r for r in result.trends if r["uncertainty"] == "combined"
                                    and r["quantity"] in ("energy per model",
                                                          "life-cycle impact per model")])
    output.save_figure(figure, folder / "scenarios.png")
    plots.plt.close(figure)
    if result.sensitivity is not None:
        from mlimpact import sensitivity
        models, card = result.sensitivity["models"], result.sensitivity["cards"]
        output.write_csv(folder / "sensitivity.csv", sensitivity.SENSITIVITY_HEADER,
                         sensitivity.sensitivity_rows(models)
                         + sensitivity.sensitivity_rows(card))
        figure = plots.sensitivity_figure(
            [(f"growth rate of {c.upper() if c != 'energy' else 'energy'}",
              models.sel(output=f"growth rate | {c}")) for c in ("energy", "gwp", "adpe", "pe")])
        output.save_figure(figure, folder / "sensitivity_growth.png")
        plots.plt.close(figure)
    output.write_text(folder / "report.md", study_markdown(result))
    return folder


def _pct(p):
    return "-" if p != p else f"{100 * p:.1f} %"


def study_markdown(result):
    """report.md: the claims in plain words, the table, the figures."""
    from mlimpact import notable
    from mlimpact.study import CLAIMS

    options = result.options
    baseline = result.scenarios.get("baseline")
    lines = ["# Environmental impacts of training notable AI models: claims with confidence "
             "intervals", "",
             f"Monte Carlo over {options.samples:,} samples (seed {options.seed}, "
             f"{options.method}), models published {options.window[0]}-{options.window[1]}, "
             f"imputation {'on' if options.impute else 'off'}. Every interval is a 95 % "
             "interval; *probability* is the share of samples in which the claim holds. "
             "Intervals combine input uncertainty (Monte Carlo) and which models are in the "
             "dataset (a bootstrap over models, paired with the samples); `trends.csv` gives "
             "each source alone.", ""]
    if baseline is not None:
        report = notable.coverage(baseline.notable, options.window)
        lines += [f"**Dataset**: {report['included_total']} of "
                  f"{report['included_total'] + report['excluded_total']} notable models "
                  f"(Epoch AI) enter: {report['complete_total']} complete, "
                  f"{report['imputed_total']} with imputed fields; "
                  f"{report['excluded_total']} excluded (`mlimpact data` says why).", ""]
    lines += ["## The claims", ""]
    for claim, text in CLAIMS.items():
        rows = [r for r in result.claims if r["claim"] == claim]
        if not rows:
            continue
        lines.append(f"- **{text}**: " + "; ".join(_sentence(r) for r in rows) + ".")
    lines += ["", "| claim | quantity | criterion | scenario | estimate | 95 % interval | "
              "probability |", "|---|---|---|---|---|---|---|"]
    for r in result.claims:
        lines.append(f"| {r['claim']} | {r['quantity']} | {r['criterion']} | {r['scenario']} | "
                     f"{format_number(r['estimate'])} | [{format_number(r['low'])}, "
                     f"{format_number(r['high'])}] | {_pct(r['probability'])} |")
    lines += ["", "Growth factors are per year (x2 means doubling every year); the claim "
              "holds when the factor exceeds 1. For impact shifting, the estimate is the share "
              "of the summed impacts of all models that comes from producing the hardware, and "
              "the probability is P(share > 0.5).", "", "## Figures", ""]
    for criterion, title in (("energy", "Energy"), ("gwp", "Climate change (GWP)"),
                             ("adpe", "Abiotic depletion (ADPe)"), ("pe", "Primary energy")):
        lines += [f"### {title} per training run", "", f"![{title}](impacts_{criterion}.png)", ""]
    lines += ["### Production of one graphics card", "", "![cards](cards_gwp.png)", "",
              "### Scenarios", "", "![scenarios](scenarios.png)", "",
              "Scenarios: *baseline* (the organisation's country, the year before "
              "publication); *location shifting* (every run on "
              + (f"the grid of {options.low_carbon_country}" if options.low_carbon_country
                 else "the lowest-intensity grid of its year among Boavizta's countries")
              + "); *hardware efficiency* (every run with a known compute on the most "
                "efficient accelerator, in peak FLOP/s per W, released by its publication "
                "date).", "",
              *_sensitivity_markdown(result),
              "## Files", "", "- `claims.csv`: this table. `trends.csv`: every growth rate, "
              "per scenario and source of uncertainty.",
              "- `models.csv`: per-model point estimate, mean, median and 95 % interval "
              "(baseline).", "- `results.nc`: per-model statistics of every scenario and the "
              "per-sample slopes (xarray/NetCDF).", "",
              "Methods: docs/methodology.md, docs/uncertainty.md, docs/dataset.md.", ""]
    return "\n".join(lines)


def _sensitivity_markdown(result):
    """The report's section naming the dominant inputs per criterion and claim."""
    if result.sensitivity is None:
        return []
    from mlimpact.sensitivity import dominant

    models, card = result.sensitivity["models"], result.sensitivity["cards"]
    lines = ["## Which uncertain inputs dominate", "",
             f"Sobol' total-order indices (ST, with 95 % bootstrap intervals) of the inputs "
             f"of `data/parameters.toml`, from {models.attrs['base_points']} base points of a "
             "Saltelli design (`mlimpact sensitivity` runs the full analysis). ST is the share "
             "of an output's variance that involves the input.", ""]
    entries = [("impacts_grow", f"growth rate of {c}", models, f"growth rate | {c}")
               for c in ("energy", "gwp", "adpe", "pe")]
    entries += [("card_production_rises", f"card growth rate of {c}", card,
                 f"card growth rate | {c}") for c in ("gwp", "adpe", "pe")]
    entries += [("impact_shifting", f"production share of {c}", models,
                 f"production share | {c}") for c in ("adpe", "gwp")]
    entries += [("(totals)", f"sum over all models, {c}", models, f"all models | {c}")
                for c in ("energy", "gwp", "adpe", "pe")]
    lines += ["| claim | output | dominant inputs (ST) |", "|---|---|---|"]
    for claim, label, data, key in entries:
        top = ", ".join(f"{p} {st:.2f} ± {c:.2f}" for p, st, c in dominant(data, key))
        lines.append(f"| {claim} | {label} | {top} |")
    lines += ["", "![sensitivity](sensitivity_growth.png)", ""]
    return lines


def _sentence(r):
    if r["claim"] == "impact_shifting":
        return (f"{_LABELS[r['criterion']]} production share {100 * r['estimate']:.0f} % "
                f"[{100 * r['low']:.0f}, {100 * r['high']:.0f}], P(> 50 %) = "
                f"{_pct(r['probability'])}")
    what = ("FLOP per kWh" if r["quantity"] == "training FLOP per kWh"
            else _LABELS[r["criterion"]])
    where = "" if r["scenario"] in ("baseline", "cards") else f" ({r['scenario'].replace('_', ' ')})"
    return (f"{what}{where} x{r['estimate']:.2f} per year [{r['low']:.2f}, {r['high']:.2f}], "
            f"P(growth) = {_pct(r['probability'])}")
