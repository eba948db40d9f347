"""Figures for people. Each function takes tables or Datasets and returns a matplotlib figure;
nothing here computes impacts.

Figures are :class:`matplotlib.figure.Figure` objects made without pyplot, so that drawing them
neither needs nor changes the user's matplotlib backend, and they are freed with their last
reference.
"""

import datetime as dt
import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatterSciNotation

from mlimpact.quantities import CRITERIA, LABELS, PROSE
from mlimpact.render import files
from mlimpact.study.scenarios import REGISTRY, scenario_of


def _subplots(figsize, *args, **kwargs):
    figure = _figure(figsize)
    return figure, figure.subplots(*args, **kwargs)


def _figure(figsize):
    """A figure laid out by tight_layout as it is drawn (its subplots, their labels, titles
    and legends fit the figure), at the dpi it is saved at: the layout and the drawing measure
    each text once, with the same renderer, and the figure is saved at its size
    (:func:`mlimpact.render.files.save_figure`), not cropped by a third measurement.

    The rect of the layout is None, the whole figure: a rect, even (0, 0, 1, 1), measures the
    subplots twice, as ``tight_layout(rect=...)`` does; a figure with a legend below its panels
    sets one (``figure.get_layout_engine().set(rect=...)``)."""
    from matplotlib.layout_engine import TightLayoutEngine

    return Figure(figsize=figsize, dpi=FIGURE_DPI, layout=TightLayoutEngine(rect=None))


#: Resolution of the figures, as they are drawn and saved.
FIGURE_DPI = 150


#: One colour per production model, the same in every figure.
MODEL_COLOURS = {"mlca": "#1f77b4", "act": "#d95f02", "mixture": "#555555"}
MODEL_LABELS = {
    "mlca": "MLCA (per-area and per-GB factors)",
    "act": "ACT (fab energy, gases, yield)",
    "mixture": "mixture of both",
}


class _PowerFormatter(LogFormatterSciNotation):
    """matplotlib's labels of a log axis (10^5, 2x10^5) with the powers in Unicode superscripts
    rather than mathtext: the same text, but mathtext is parsed again for every figure (each
    renderer's parser caches its own), some 50 parses and 0.2 s in the main job's figures."""

    _superscripts = str.maketrans(
        "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
    )

    def __call__(self, x, pos=None):
        label = super().__call__(x, pos)
        math = re.fullmatch(r"\$\\mathdefault\{(.*)\}\$", label)
        if math is None:
            return label
        text = math[1].replace(r"\times", "\N{MULTIPLICATION SIGN}")
        text = re.sub(r"\^\{(-?\d+)\}", lambda power: power[1].translate(self._superscripts), text)
        return re.sub("^-", "\N{MINUS SIGN}", text)


def _log_scale(axes, *which):
    """A log scale on the axes' ``which`` ("x", "y"), labelled by :class:`_PowerFormatter`."""
    for name in which:
        getattr(axes, f"set_{name}scale")("log")
        axis = getattr(axes, f"{name}axis")
        axis.set_major_formatter(_PowerFormatter(10))
        axis.set_minor_formatter(_PowerFormatter(10, labelOnlyBase=False))


def _plain_log_ticks(axis):
    """Plain numbers (40, 100, 200) at 1-2-5 steps on a log axis that spans at most two decades
    between 0.001 and 100,000, where labels such as 4x10^1 read badly; wider or more extreme
    axes keep matplotlib's powers of ten."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    if not (low > 1e-3 and high < 1e5 and high / low <= 100):
        return
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def card_timeline(rows, criterion="gwp", unit="kg CO2eq"):
    """Total production impact of each card against its release date: median and 95 % interval
    per production model, log scale. ``rows`` are dicts with the columns of the cards table.

    Production models whose point values agree on every card for ``criterion`` (ACT models GWP
    only, so for ADPe and PE all three are MLCA's) are drawn once, under their joint name."""
    figure, axis = _subplots((9, 6))
    name = LABELS[criterion]
    totals = {
        m: [
            r
            for r in rows
            if r["model"] == m and r["criterion"] == criterion and r["component"] == "total"
        ]
        for m in MODEL_COLOURS
    }
    groups = []  # lists of models with the same point values
    for model, selected in totals.items():
        if not selected:
            continue
        points = np.array([float(r["point"]) for r in selected])
        same = next(
            (
                g
                for g in groups
                if len(totals[g[0]]) == len(selected)
                and np.allclose(
                    [float(r["point"]) for r in totals[g[0]]], points, rtol=1e-9, atol=0
                )
            ),
            None,
        )
        same.append(model) if same else groups.append([model])
    offsets = (-40, 0, 40) if len(groups) > 1 else (0,)
    for offset, group in zip(offsets, groups):
        selected = totals[group[0]]
        dates = [
            dt.date.fromisoformat(r["release_date"]) + dt.timedelta(days=offset) for r in selected
        ]
        median = [r["median"] for r in selected]
        low = [r["median"] - r["q025"] for r in selected]
        high = [r["q975"] - r["median"] for r in selected]
        label = (
            MODEL_LABELS[group[0]]
            if len(group) == 1
            else " = ".join(m.upper() if m != "mixture" else m for m in group)
            + " (same point values)"
        )
        axis.errorbar(
            dates,
            median,
            yerr=[low, high],
            fmt="o",
            ms=4,
            capsize=2,
            lw=0.8,
            color=MODEL_COLOURS[group[0]],
            label=label,
            alpha=0.85,
        )
    _log_scale(axis, "y")
    axis.set_xlabel("release date of the card")
    axis.set_ylabel(f"production {name} of one card [{unit}]")
    _plain_log_ticks(axis.yaxis)
    axis.set_title(
        f"Production {name} of data-centre and workstation GPUs (median and 95 % interval)"
    )
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=min(3, len(groups)),
        frameon=False,
        fontsize=9,
    )
    return figure


#: Colour of the cards' rows (not a scenario of the runs: the production of one card).
CARDS_COLOUR = "#d95f02"


def scenario_colour(name):
    """The colour of a scenario's figures (:data:`mlimpact.study.scenarios.REGISTRY`), or of
    the cards' rows; an unknown name is an error."""
    return CARDS_COLOUR if name == "cards" else scenario_of(name).colour


def _decimal_to_dates(years):
    return [dt.date(int(y), 1, 1) + dt.timedelta(days=float((y - int(y)) * 365.25)) for y in years]


def trend_figure(
    dates,
    median,
    low,
    high,
    slopes,
    intercepts,
    title,
    ylabel,
    colour="#1f77b4",
    label="per model: median and 95 % interval",
    xlabel="publication date",
    imputed=None,
    resampled="which models are in the dataset",
):
    """Per-item values against date (log scale) with the fitted trend and its 95 % band.

    ``slopes`` and ``intercepts`` are per-sample fits of ln(value) on decimal years;
    ``imputed`` (a mask of the items) draws the items with imputed facts as open markers,
    apart from the complete records. ``resampled`` names what the trend's bootstrap resamples
    besides the inputs (the items: models, or cards), for the legend.
    """
    figure, axis = _subplots((9, 5.5))
    when = np.array(_decimal_to_dates(dates), dtype=object)
    imputed = np.zeros(len(dates), bool) if imputed is None else np.asarray(imputed, bool)
    for chosen, face, text in (
        (~imputed, colour, label if not imputed.any() else f"{label} (complete record)"),
        (imputed, "white", "the same, with imputed facts"),
    ):
        if not chosen.any():
            continue
        axis.errorbar(
            list(when[chosen]),
            median[chosen],
            yerr=[
                np.maximum(median - low, 0)[chosen],
                np.maximum(high - median, 0)[chosen],
            ],
            fmt="o",
            ms=3,
            lw=0.6,
            capsize=0,
            color=colour,
            mfc=face,
            alpha=0.6,
            label=text,
        )
    from mlimpact.analysis.trends import MIN_MODELS, MIN_YEARS, enough_for_trend

    if not enough_for_trend(np.asarray(dates)[np.isfinite(median)]):
        axis.plot(
            [], [], " ", label=f"no trend: fewer than {MIN_MODELS} items over {MIN_YEARS} years"
        )
        return _finish_trend(figure, axis, title, xlabel, ylabel)
    grid = np.linspace(np.min(dates), np.max(dates), 60)
    ok = np.isfinite(slopes) & np.isfinite(intercepts)
    lines = np.exp(intercepts[ok, None] + slopes[ok, None] * grid[None, :])
    band = np.quantile(lines, [0.025, 0.5, 0.975], axis=0)
    growth = np.exp(np.quantile(slopes[ok], [0.025, 0.5, 0.975]))
    axis.fill_between(
        _decimal_to_dates(grid),
        band[0],
        band[2],
        color="black",
        alpha=0.15,
        label="trend: 95 % band of the fitted lines",
    )
    axis.plot(
        _decimal_to_dates(grid),
        band[1],
        color="black",
        lw=1.5,
        label=f"trend: x{growth[1]:.2f} per year [{growth[0]:.2f}, {growth[2]:.2f}] "
        f"(inputs and {resampled}, as the claims)",
    )
    return _finish_trend(figure, axis, title, xlabel, ylabel)


def _finish_trend(figure, axis, title, xlabel, ylabel):
    _log_scale(axis, "y")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(True, which="major", alpha=0.3)
    _plain_log_ticks(axis.yaxis)
    axis.legend(loc="upper left", frameon=False)
    return figure


def scenario_figure(rows):
    """Growth factors per year (median and 95 % interval) of each criterion and scenario."""
    figure, axis = _subplots((9, 4.8))
    criteria = list(CRITERIA)
    named = {r["scenario"] for r in rows}
    for name in named:
        scenario_colour(name)  # an unknown scenario is an error, not left out
    scenarios = [s for s in (*REGISTRY, "cards") if s in named]
    width = 0.8 / max(len(scenarios), 1)
    first = {}  # the row of each scenario and criterion (the first, if several)
    for r in rows:
        first.setdefault((r["scenario"], r["criterion"]), r)
    for k, scenario in enumerate(scenarios):
        # one errorbar per scenario (its criteria): one set of artists, not one per point
        shown = [(i, first[scenario, c]) for i, c in enumerate(criteria) if (scenario, c) in first]
        if not shown:
            continue
        axis.errorbar(
            [i + (k - (len(scenarios) - 1) / 2) * width for i, _ in shown],
            [r["estimate"] for _, r in shown],
            yerr=[
                [r["estimate"] - r["low"] for _, r in shown],
                [r["high"] - r["estimate"] for _, r in shown],
            ],
            fmt="o",
            capsize=4,
            color=scenario_colour(scenario),
            label=REGISTRY[scenario].label if scenario in REGISTRY else scenario,
        )
    axis.axhline(1.0, color="grey", lw=1, ls="--")
    axis.set_xticks(range(len(criteria)))
    axis.set_xticklabels([PROSE[c] for c in criteria])
    axis.set_ylabel("growth factor per year (x per year)")
    axis.set_title("Growth of training impacts per model, by scenario (median, 95 % interval)")
    axis.grid(True, axis="y", alpha=0.3)
    axis.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    axis.set_xlabel("criterion")
    return figure


def sensitivity_figure(
    results, title="Which uncertain inputs matter (Sobol' indices)", labels=None
):
    """Total-order (bars) and first-order (dots) indices of the inputs for a few outputs, two
    panels a row so that the figure fits a page column.

    ``results`` is a list of (label, Dataset row-selected to one output) pairs; ``labels``
    maps a parameter name to its name in the figure (default: underscores as spaces).
    """
    labels = labels or {}
    columns = min(2, len(results))
    rows = -(-len(results) // columns)
    figure, axes = _subplots(
        (7.2, 1.0 + 3.1 * rows), rows, columns, sharex=True, sharey=True, squeeze=False
    )
    parameters = list(results[0][1].parameter.values)
    order = np.argsort([-max(float(r.ST.sel(parameter=p)) for _, r in results) for p in parameters])
    shown = [parameters[i] for i in order[:10]][::-1]
    y = np.arange(len(shown))
    for axis, (label, result) in zip(axes.flat, results):
        st = np.array([float(result.ST.sel(parameter=p)) for p in shown])
        # the interval clipped to [0, 1], drawn around the estimate (never a negative arm)
        low = np.array([float(result.ST_low.sel(parameter=p)) for p in shown])
        high = np.array([float(result.ST_high.sel(parameter=p)) for p in shown])
        ct = np.maximum([np.maximum(st, 0.0) - low, high - np.maximum(st, 0.0)], 0.0)
        s1 = np.array([float(result.S1.sel(parameter=p)) for p in shown])
        axis.barh(
            y,
            np.maximum(st, 0.0),
            xerr=ct,
            color="#9ecae1",
            ecolor="#3182bd",
            capsize=2,
            label="total order ST (95 % interval)",
        )
        # S1 <= ST holds for the true indices: an estimate above is sampling error, drawn at
        # ST with an open marker rather than as if it were larger
        above = s1 > st
        axis.plot(s1[~above], y[~above], "o", color="#08519c", ms=4, label="first order S1")
        if above.any():
            axis.plot(
                np.maximum(st[above], 0.0),
                y[above],
                "o",
                mfc="none",
                color="#08519c",
                ms=4,
                label="S1 estimated above ST (sampling error): drawn at ST",
            )
        axis.set_title(label, fontsize=9)
        axis.grid(True, axis="x", alpha=0.3)
    top = max(
        max(float(r.ST.sel(parameter=p)), float(r.ST_high.sel(parameter=p)))
        for _, r in results
        for p in shown
    )
    axes[0][0].set_xlim(0, max(1.05, min(top, 2.0) + 0.05))  # ST estimates may exceed 1
    for index, axis in enumerate(axes.flat):
        if index >= len(results):
            axis.set_visible(False)
        elif index + columns >= len(results):  # the lowest panel of its column
            axis.xaxis.set_tick_params(labelbottom=True)
            axis.set_xlabel("Sobol' index", fontsize=8)
    axes[0][0].set_yticks(y)
    axes[0][0].set_yticklabels([labels.get(p, p.replace("_", " ")) for p in shown], fontsize=8)
    for axis in axes.flat:
        axis.tick_params(labelsize=8)
    legend = {}
    for axis in axes.flat:  # every kind of mark once, whichever panel has it
        for handle, name in zip(*axis.get_legend_handles_labels()):
            legend.setdefault(name, handle)
    figure.legend(
        list(legend.values()),
        list(legend),
        loc="lower center",
        ncol=min(3, len(legend)),
        fontsize=8,
        frameon=False,
    )
    figure.suptitle(title, fontsize=10)
    figure.get_layout_engine().set(rect=(0, 0.05, 1, 1))  # the legend below the panels
    return figure


VALIDATION_COLOURS = {
    "dataset": "#1f77b4",
    "setup": "#d95f02",
    "card": "#555555",
    "leave-one-out": "#2ca02c",
}
VALIDATION_MARKERS = {
    "energy": "o",
    "operational_gwp": "s",
    "embodied_gwp": "^",
    "card_gwp": "D",
    "water": "o",
    "onsite_water": "v",
    "offsite_water": "^",
}
#: Panels of the validation figure, one per unit: (quantities, title, unit).
VALIDATION_PANELS = (
    (("energy",), "Energy of training runs", "kWh"),
    (("operational_gwp", "embodied_gwp"), "Emissions of training runs", "kg CO2eq"),
    (("water", "onsite_water", "offsite_water"), "Water of training runs (use phase)", "L"),
    (("card_gwp",), "Production of one card", "kg CO2eq"),
)


def validation_figure(rows):
    """Published values (x) against our median and 95 % interval (y), log-log, with the
    identity line, one panel per unit (energy, emissions of runs, water of runs, production of
    a card). Colour: the way our estimate was made; marker: the quantity (each panel's legend
    names those it shows); filled: scored, open: a publisher's convention
    (docs/validation.md)."""

    figure, axes = _subplots((12, 10), 2, 2)
    for axis, (quantities, title, unit) in zip(axes.flat, VALIDATION_PANELS):
        selected = [r for r in rows if r["quantity"] in quantities]
        # one errorbar call per look (way, quantity, scored): an errorbar container per row
        # made this figure cost seconds
        looks = {}
        for r in selected:
            looks.setdefault((r["way"], r["quantity"], bool(r["scored"])), []).append(r)
        for (way, quantity, scored), group in looks.items():
            colour = VALIDATION_COLOURS[way]
            axis.errorbar(
                [r["published"] for r in group],
                [r["median"] for r in group],
                yerr=[
                    [r["median"] - r["low"] for r in group],
                    [r["high"] - r["median"] for r in group],
                ],
                fmt=VALIDATION_MARKERS[quantity],
                ms=5,
                lw=0.8,
                capsize=2,
                color=colour,
                mfc=colour if scored else "white",
                alpha=0.85,
            )
        axis.set_title(title)
        axis.set_xlabel(f"published [{unit}]")
        axis.set_ylabel(f"ours: median and 95 % interval [{unit}]")
        if not selected:
            axis.text(
                0.5, 0.5, "no row compared", ha="center", va="center", transform=axis.transAxes
            )
            axis.set_xticks([])
            axis.set_yticks([])
            continue
        values = [v for r in selected for v in (r["published"], r["low"], r["high"])]
        ends = [min(values) / 2, max(values) * 2]
        axis.plot(ends, ends, color="grey", lw=1, ls="--")
        _log_scale(axis, "x", "y")
        axis.grid(True, which="major", alpha=0.3)
        if max(values) / min(values) < 100:
            _plain_log_ticks(axis.xaxis)
            _plain_log_ticks(axis.yaxis)
        axis.legend(
            handles=_validation_handles(selected), loc="upper left", fontsize=7, frameon=False
        )
    figure.suptitle("Published footprints against our intervals")
    return figure


def _validation_handles(selected):
    """The legend of a validation panel: the ways, the quantities it shows, the filled and
    open markers and the identity line."""
    from matplotlib.lines import Line2D

    shown = dict.fromkeys(r["quantity"] for r in selected)
    ways = dict.fromkeys(r["way"] for r in selected)
    return (
        [
            Line2D([], [], color=VALIDATION_COLOURS[w], marker="o", ls="", label=f"way: {w}")
            for w in ways
        ]
        + [
            Line2D(
                [],
                [],
                color="black",
                marker=VALIDATION_MARKERS[q],
                ls="",
                mfc="white",
                label=q.replace("_", " "),
            )
            for q in shown
        ]
        + [
            Line2D([], [], color="black", marker="o", ls="", label="scored (filled)"),
            Line2D(
                [],
                [],
                color="black",
                marker="o",
                ls="",
                mfc="white",
                label="convention (open)",
            ),
            Line2D([], [], color="grey", ls="--", label="ours = published"),
        ]
    )


def specification_figure(rows, claim="impacts_grow", scenario="baseline"):
    """Specification curve of one claim: per criterion, each specification's estimate and 95 %
    interval sorted by estimate (top), and which choice each specification makes on every axis
    (bottom: a dot per axis option)."""
    from mlimpact.study.specifications import AXES

    selected = [r for r in rows if r["claim"] == claim and r["scenario"] == scenario]
    criteria = list(dict.fromkeys(r["criterion"] for r in selected))
    options = [(axis, option) for axis, values in AXES.items() for option in values]
    figure = _figure((2.8 * max(len(criteria), 1) + 1.6, 7.0))
    grid = figure.add_gridspec(2, max(len(criteria), 1), height_ratios=(1.1, 1.0))
    for k, criterion in enumerate(criteria):
        mine = sorted(
            (r for r in selected if r["criterion"] == criterion), key=lambda r: r["estimate"]
        )
        top = figure.add_subplot(grid[0, k])
        bottom = figure.add_subplot(grid[1, k], sharex=top)
        x = np.arange(len(mine))
        estimate = np.array([r["estimate"] for r in mine])
        top.errorbar(
            x,
            estimate,
            yerr=[
                estimate - [r["low"] for r in mine],
                np.array([r["high"] for r in mine]) - estimate,
            ],
            fmt="o",
            ms=4,
            capsize=2,
            color="#1f77b4",
        )
        top.axhline(1.0, color="grey", lw=1, ls="--")
        top.set_title(PROSE.get(criterion, criterion), fontsize=10)
        top.grid(True, axis="y", alpha=0.3)
        top.tick_params(labelbottom=False)
        # the choices of every specification as one line of markers (a line per dot cost
        # hundreds of artists to lay out and draw)
        chosen = [
            (i, j)
            for i, row in enumerate(mine)
            for j, (axis, option) in enumerate(options)
            if row[axis] == option
        ]
        bottom.plot([i for i, _ in chosen], [j for _, j in chosen], "s", ms=4, color="#333333")
        bottom.set_yticks(range(len(options)))
        bottom.set_ylim(len(options) - 0.5, -0.5)
        bottom.set_xticks(x)
        bottom.set_xticklabels([str(i + 1) for i in x], fontsize=7)
        bottom.set_xlabel("specification (sorted by estimate)")
        bottom.grid(True, alpha=0.2)
        if k == 0:
            top.set_ylabel("growth factor per year\n(median, 95 % interval)")
            bottom.set_yticklabels(
                [f"{axis.replace('_', ' ')}: {option}" for axis, option in options], fontsize=7
            )
        else:
            bottom.tick_params(labelleft=False)
    figure.suptitle("Growth of training impacts under other reasonable analysis choices")
    return figure


def levels_figure(levels, criteria=("energy", "gwp")):
    """Yearly totals per scenario: per criterion, the median and 95 % band over the samples of
    the sum of every model of each publication year (log scale), on common draws."""
    from mlimpact.quantities import UNITS

    years = levels["years"]
    names = [n for n in levels if n != "years"]
    figure, axes = _subplots((6.0 * len(criteria), 4.8), 1, len(criteria))
    for axis, criterion in zip(np.atleast_1d(axes), criteria):
        drawn = []
        for name in names:
            per_year = levels[name][criterion][1]
            low, median, high = np.quantile(per_year, [0.025, 0.5, 0.975], axis=0)
            colour = scenario_colour(name)
            label, style = name.replace("_", " "), "o-"
            # a scenario that does not change this criterion (location shifting leaves the
            # energy as it is) would hide the line drawn before it: dashed, and said so
            same = [other for other, values in drawn if np.array_equal(values, median)]
            if same:
                label, style = f"{label} (the same as {same[0].replace('_', ' ')})", "o--"
            drawn.append((name, median))
            axis.fill_between(years, low, high, color=colour, alpha=0.15)
            axis.plot(years, median, style, color=colour, ms=3, label=label)
        _log_scale(axis, "y")
        axis.set_xlabel("publication year")
        axis.set_ylabel(
            f"{PROSE.get(criterion, criterion)} of the year's models [{UNITS[criterion]}]"
        )
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(loc="upper left", frameon=False, fontsize=8)
    figure.suptitle("Yearly totals per scenario (median, 95 % band; common draws)")
    return figure


#: Colour of each source of a claim's variance (:data:`mlimpact.study.budget.SOURCES`).
BUDGET_COLOURS = {
    "inputs": "#1f77b4",
    "imputation": "#9467bd",
    "dataset": "#2ca02c",
    "specification": "#ff7f0e",
    "interactions": "#bbbbbb",
}


def budget_figure(rows):
    """One stacked bar per claim: the share of its variance due to each source (inputs,
    imputation, dataset, specification, interactions; a negative estimate, sampling noise
    around 0, is drawn as 0)."""
    labels = [_budget_label(r) for r in rows]
    figure, axis = _subplots((10.5, 0.32 * max(len(rows), 4) + 1.6), 1, 1)
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    for source, colour in BUDGET_COLOURS.items():
        width = np.array([max(r[source], 0.0) if r[source] == r[source] else 0.0 for r in rows])
        axis.barh(y, width, left=left, color=colour, label=source, height=0.7)
        left += width
    axis.set_yticks(y)
    axis.set_yticklabels(labels, fontsize=8)
    axis.set_ylim(len(rows) - 0.5, -0.5)
    axis.set_xlabel("share of the claim's variance")
    axis.set_xlim(0, max(1.0, float(left.max()) if len(rows) else 1.0))
    axis.grid(True, axis="x", alpha=0.3)
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=5, fontsize=8, frameon=False)
    axis.set_title("Where each claim's variance comes from", pad=24)
    return figure


def _budget_label(row):
    where = "" if row["scenario"] in ("baseline", "cards") else f", {row['scenario']}"
    what = "FLOP/kWh" if row["quantity"] == "training FLOP per kWh" else row["criterion"]
    return f"{row['claim']} ({what}{where})"


def calibration_figure(inputs, prior_weights, posterior_weights, labels=None):
    """Prior (grey) and posterior (blue) distributions of each calibrated input: weighted
    histograms of the same samples, one panel per input, three panels a row."""
    labels = labels or {}
    names = list(inputs)
    columns = min(3, len(names))
    rows = -(-len(names) // columns)
    figure, axes = _subplots((10, 0.6 + 2.4 * rows), rows, columns, squeeze=False)
    for axis, name in zip(axes.flat, names):
        values = np.asarray(inputs[name])
        edges = np.linspace(values.min(), values.max(), 41)
        axis.hist(
            values, edges, weights=prior_weights, density=True, color="#bbbbbb", label="prior"
        )
        axis.hist(
            values,
            edges,
            weights=posterior_weights,
            density=True,
            histtype="step",
            color="#08519c",
            lw=1.5,
            label="posterior",
        )
        axis.set_title(labels.get(name, name), fontsize=9)
        axis.tick_params(labelsize=8)
        axis.set_yticks([])
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    handles, names_ = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, names_, loc="lower center", ncol=2, fontsize=8, frameon=False)
    figure.suptitle("Calibrated inputs: prior and posterior (weighted samples)", fontsize=10)
    figure.get_layout_engine().set(rect=(0, 0.05, 1, 1))  # the legend below the panels
    return figure


def draw(job, folder):
    """Draw a job ``(function, args, kwargs, filename)``, the name of a figure function of
    this module and its arguments, into ``folder / filename`` (:func:`files.save_figure`): a
    figure :mod:`mlimpact.render.figure_worker` may draw in a second process."""
    function, args, kwargs, filename = job
    files.save_figure(globals()[function](*args, **kwargs), Path(folder) / filename)
