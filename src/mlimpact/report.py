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
