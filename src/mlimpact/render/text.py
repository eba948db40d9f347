"""Views of results for people: text tables and JSON objects.

Nothing here computes impacts; it formats the Datasets of :mod:`mlimpact.engine.model` (and of
the Monte Carlo engine) into the schemas documented in the README and ``docs/user-guide.md``.
"""

import math

from mlimpact.quantities import (
    COMPONENTS,
    ENERGY_SCOPES,
    IMPACT_CRITERIA,
    JSON_KEYS,
    LABELS,
    PHASES,
    UNITS,
)
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.tables.nodes import node_configurations

#: JSON key of the energy by scope (accelerators, host, overhead; they add up to energy_kwh).
SCOPES_KEY = "energy_by_scope_kwh"
#: Labels of the energy's scopes in text tables.
SCOPE_LABELS = {
    "accelerators": "accelerators",
    "host": "host (rest of the nodes)",
    "overhead": "facility overhead (PUE)",
}


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
    """The estimate schema of one run: energy, its scopes, then production/use/total per impact
    criterion, each leaf made by ``number`` from its (labelled) array."""
    row = result.isel(model=model)
    out = {
        JSON_KEYS["energy"]: number(row["energy"]),
        SCOPES_KEY: {
            scope: number(row["energy_by_scope"].sel(scope=scope)) for scope in ENERGY_SCOPES
        },
    }
    for criterion in IMPACT_CRITERIA:
        out[JSON_KEYS[criterion]] = {
            phase: number(row[criterion].sel(phase=phase)) for phase in PHASES
        }
    return out


def point_json(result, model=0):
    """The point schema: every leaf a number."""
    return _schema(result, model, float)


#: Statistics of a Monte Carlo number in JSON, in this order.
MC_STATISTICS = ("mean", "median", "q025", "q975", "q05", "q95")


def monte_carlo_json(result, model=0):
    """The point schema where every number is ``{"mean", "median", "q025", "q975", "q05",
    "q95"}``."""
    return _schema(
        result, model, lambda array: {s: float(array.sel(statistic=s)) for s in MC_STATISTICS}
    )


def _criteria_table(values, cell):
    """Rows per criterion, columns per phase, each cell made by ``cell`` from a JSON leaf."""
    energy = cell(values[JSON_KEYS["energy"]])
    rows = [[f"energy [{UNITS['energy']}]", "-", energy, energy]]
    for scope in ENERGY_SCOPES:
        part = cell(values[SCOPES_KEY][scope])
        rows.append([f"  of which {SCOPE_LABELS[scope]}", "-", part, part])
    for criterion in IMPACT_CRITERIA:
        v = values[JSON_KEYS[criterion]]
        rows.append(
            [
                f"{LABELS[criterion]} [{UNITS[criterion]}]",
                *(cell(v[p]) for p in ("production", "use", "total")),
            ]
        )
    return table(rows, ["criterion", "production", "use", "total"])


def monte_carlo_table(result, model=0):
    """Median and 95 % interval of every criterion and phase, one run."""
    return _criteria_table(
        monte_carlo_json(result, model),
        lambda v: (
            f"{format_number(v['median'])} [{format_number(v['q025'])}, {format_number(v['q975'])}]"
        ),
    )


def card_json(result, monte_carlo):
    """One card's production: ``{"gwp_kgco2eq": {"die", "memory", "other", "total"}, ...}``,
    each a number (point) or the Monte Carlo statistics."""
    row = result.isel(hardware=0)

    def number(array):
        if monte_carlo:
            return {s: float(array.sel(statistic=s)) for s in MC_STATISTICS}
        return float(array)

    return {
        JSON_KEYS[criterion]: {
            component: number(row[criterion].sel(component=component)) for component in COMPONENTS
        }
        for criterion in IMPACT_CRITERIA
    }


def card_table(result, monte_carlo):
    """Readable table of one card's production: criteria by component."""
    values = card_json(result, monte_carlo)
    components = COMPONENTS

    def cell(v):
        if not monte_carlo:
            return format_number(v)
        return (
            f"{format_number(v['median'])} [{format_number(v['q025'])}, {format_number(v['q975'])}]"
        )

    rows = [
        [f"{LABELS[c]} [{UNITS[c]}]", *(cell(values[JSON_KEYS[c]][p]) for p in components)]
        for c in IMPACT_CRITERIA
    ]
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


#: What each power model is, in a few words, for the outputs that name it.
POWER_MODEL_WORDS = {
    "evidence": "evidence (measured draws by accelerator class, host power of rated nodes, "
    "PUE by provider class)",
    "mlca": "MLCA (0.75 x TDP, dynamic ratio 1.835, MLCA's host terms)",
}


def describe_setup(setup, checks=()):
    """What was estimated, with the provenance of the accelerator's values, the power and
    location models, the notes of the rules (once each), and where a metered energy falls
    against the power model."""
    fields = dict(zip(RUN_FIELDS, setup.runs.values[0]))
    source = setup.provenance
    gpu = (
        f"{setup.gpu_label} (TDP {fields['gpu_tdp_w']:g} W [{source['gpu_tdp_w']}], "
        f"memory {fields['gpu_memory_gb']:g} GB [{source['gpu_memory_gb']}], "
        f"die {fields['gpu_die_area_cm2']:g} cm2 [{source['gpu_die_area_cm2']}])"
    )
    grid = f"grid {setup.country}" + (f" ({source['grid']})" if "grid" in source else "")
    repeats = f" x {fields['repetitions']:g} repetitions" if fields["repetitions"] != 1 else ""
    usage = (
        f"GPU usage {fields['gpu_usage']:g}"
        if "gpu_usage" in setup.given_fields
        else f"GPU usage drawn (point {fields['gpu_usage']:g})"
    )
    lines = [
        f"{setup.runs.names[0]}: {fields['nodes']:g} node(s) x {fields['gpus']:g} {gpu}, "
        f"{fields['hours']:g} h{repeats}, {grid}, {usage}, "
        f"server {'included' if fields['server'] else 'excluded'}; production model: "
        f"{source.get('production_model', 'MLCA')}",
        f"power model: {POWER_MODEL_WORDS[setup.power]}; location: {setup.location}",
    ]
    said = f"location (published): {setup.country} 100 %"  # the first line names the grid
    lines += [f"note: {note}" for note in setup.notes if note != said]
    lines += [metered_text(check) for check in checks]
    return "\n".join(lines)


def metered_text(check):
    """One line on a metered energy against what the power model gives at its scope."""
    where = "inside" if check["inside"] else "OUTSIDE"
    return (
        f"note: {check['run']}: metered {format_number(check['metered'])} kWh "
        f"({check['scope']}) is {where} the power model's 95 % interval at that scope, "
        f"{format_number(check['median'])} [{format_number(check['q025'])}, "
        f"{format_number(check['q975'])}] kWh; the estimate uses the metered value"
    )


def setup_json(setup, checks=()):
    """The JSON keys that say how a setup was estimated: power and location models, notes,
    metered checks."""
    return {
        "power_model": setup.power,
        "location_model": setup.location,
        "notes": list(setup.notes),
        "metered": list(checks),
    }


def coverage_text(summary, impute, records=None):
    """The coverage report of :func:`mlimpact.study.coverage.coverage` as text; with
    ``records`` (:class:`mlimpact.runs.notable.ModelRecord` list) every model too."""
    window = summary["window"]
    lines = [
        f"Notable AI models (Epoch AI), publication years {window[0]}-{window[1]}, "
        f"imputation {'on' if impute else 'off'}",
        f"included: {summary['included_total']} ({summary['complete_total']} complete, "
        f"{summary['imputed_total']} imputed); excluded: {summary['excluded_total']}",
        *(
            [
                f"outside the window, left out: {len(summary['outside_window'])} "
                f"({', '.join(summary['outside_window'][:10])}"
                + (" ..." if len(summary["outside_window"]) > 10 else "")
                + ")"
            ]
            if summary.get("outside_window")
            else []
        ),
        "",
        table(
            [
                [year, *counts.values(), sum(counts.values())]
                for year, counts in summary["years"].items()
            ],
            ["year", "complete", "imputed", "excluded", "models"],
        ),
        "",
        "excluded, by reason:",
    ]
    lines += [f"  {count:4d}  {reason}" for reason, count in summary["excluded_reasons"].items()]
    lines += ["", "imputed fields (a model may have several):"]
    lines += [f"  {count:4d}  {what}" for what, count in summary["imputed_fields"].items()]
    lines += ["", "hardware names and what they stand for:"]
    for name, targets in summary["hardware_mapping"].items():
        arrow = targets[0] if targets == [name] else " | ".join(targets)
        lines.append(f"  {name} -> {'itself' if targets == [name] else arrow}")
    if records is not None:
        lines += ["", "per model:"]
        for r in records:
            detail = r.reason or "; ".join(r.imputed) or "complete"
            lines.append(f"  {r.year} {r.name}: {r.status}: {detail}")
    return "\n".join(lines)


def _json_number(value):
    return None if value != value else value


def hardware_json(rows):
    """Accelerators of the hardware table as JSON-ready dicts (unknown numbers are null); the
    rated node of the evidence power model's host, where one is known."""
    nodes = node_configurations()
    return [
        {
            "name": h.name,
            "aliases": list(h.aliases),
            "segment": h.segment,
            "release_date": h.release_date or None,
            "die_area_cm2": _json_number(h.die_area_cm2),
            "memory_gb": _json_number(h.memory_gb),
            "memory_type": h.memory_type or None,
            "tdp_w": _json_number(h.tdp_w),
            "node": nodes[h.name].node if h.name in nodes else None,
            "host_rated_w_per_gpu": (
                nodes[h.name].host_rated_w_per_accelerator if h.name in nodes else None
            ),
        }
        for h in rows
    ]


def hardware_text(rows):
    """Accelerators of the hardware table as a text table, with the rated node whose host
    power the evidence power model counts (rating less the TDPs, per accelerator)."""
    nodes = node_configurations()
    return table(
        [
            [
                h.name,
                h.release_date or "-",
                format_number(h.die_area_cm2),
                format_number(h.memory_gb),
                h.memory_type or "-",
                format_number(h.tdp_w),
                (
                    f"{nodes[h.name].node}, "
                    f"{format_number(nodes[h.name].host_rated_w_per_accelerator)}"
                    if h.name in nodes
                    else "-"
                ),
            ]
            for h in rows
        ],
        [
            "name",
            "released",
            "die [cm2]",
            "memory [GB]",
            "memory type",
            "TDP [W]",
            "rated node, host [W per accelerator]",
        ],
    )


def card_header(hardware, model, what):
    """Two lines on the card priced: its model and what the table says of it."""
    return (
        f"{hardware.name}: production of one card, model {model}; {what}\n"
        f"(die {hardware.die_area_cm2:g} cm2, {hardware.memory_gb:g} GB "
        f"{hardware.memory_type or 'memory of unknown type'}, node "
        f"{hardware.process_node_nm:g} nm, {hardware.foundry or 'foundry unknown'}, "
        f"released {hardware.release_date or 'unknown'})"
    )


def claims_lines(claims):
    """The claims as printed at the end of ``mlimpact run``, with a header row."""
    rows = [
        [
            row["claim"],
            "FLOP/kWh" if row["quantity"] == "training FLOP per kWh" else row["criterion"],
            row["scenario"],
            format_number(row["estimate"]),
            f"[{format_number(row['low'])}, {format_number(row['high'])}]",
            probability_text(row["probability"]),
            share_text(row.get("robustness")),
            _short_verdict(row.get("verdict", "")),
        ]
        for row in claims
    ]
    return table(
        rows,
        [
            "claim",
            "criterion",
            "scenario",
            "estimate",
            "95 % interval",
            "P(holds)",
            "robustness",
            "verdict",
        ],
    )


def _short_verdict(verdict):
    """A claim's verdict for the terminal: a reason after "not evaluable" is left to the
    report and claims.csv."""
    return "not evaluable" if verdict.startswith("not evaluable") else verdict or "-"


#: Samples behind a probability printed as "> 99.9 %" rather than "100 %": a finite sample
#: cannot show certainty.
def probability_text(p, samples=None):
    """A probability in percent; 1 and 0 from a finite sample are "> 99.9 %" and "< 0.1 %"."""
    if p != p:
        return "-"
    if p >= 0.999:
        return "> 99.9 %"
    if p <= 0.001:
        return "< 0.1 %"
    return f"{100 * p:.1f} %"


def share_text(share):
    """A share of specifications in percent, "-" if not evaluated."""
    return "-" if share is None or share != share else f"{100 * share:.0f} %"


#: Columns of the per-row and summary tables of ``mlimpact validate``.
VALIDATION_ROW_KEYS = (
    "id",
    "model",
    "quantity",
    "basis",
    "way",
    "published",
    "point",
    "median",
    "low",
    "high",
    "inside",
    "ratio",
    "scored",
    "convention",
    "in_sample",
    "note",
)
VALIDATION_SUMMARY_KEYS = (
    "quantity",
    "way",
    "rows",
    "sample",
    "n",
    "coverage",
    "geometric_mean_ratio",
    "median_width",
    "interval_score",
    "reference_band",
    "reference_interval_score",
    "skill",
)


def validation_json(result):
    """The JSON of ``mlimpact validate``: ``{"rows": [...], "summary": [...], "skipped":
    [...]}`` (numbers as numbers, ``inside`` as a boolean)."""
    return {
        "samples": result.samples,
        "seed": result.seed,
        "rows": [{k: r[k] for k in VALIDATION_ROW_KEYS} for r in result.rows],
        "summary": [
            {
                k: s[k]
                for k in (*VALIDATION_SUMMARY_KEYS, "prior_coverage", "prior_interval_score")
                if k in s
            }
            for s in result.summary
        ],
        "skipped": [{"id": i, "way": w, "reason": why} for i, w, why in result.skipped],
    }


def _optional(value, text):
    """``text`` of ``value``, "-" where it is None (not computed)."""
    return "-" if value is None else text.format(value)


def _validation_summary_text(summary):
    """The summary table of a validation (every way but the leave-one-out) and its legend."""
    return [
        table(
            [
                [
                    s["quantity"],
                    s["way"],
                    s["rows"],
                    s["sample"],
                    s["n"],
                    f"{100 * s['coverage']:.0f} %",
                    f"{s['geometric_mean_ratio']:.2f}",
                    f"{s['median_width']:.2f}",
                    f"{s['interval_score']:.2f}",
                    _optional(s.get("reference_interval_score"), "{:.2f}"),
                    _optional(s.get("reference_band"), "x/÷ {:.2f}"),
                    _optional(s.get("skill"), "{:+.2f}"),
                ]
                for s in summary
                if s["way"] != "leave-one-out"
            ],
            [
                "quantity",
                "way",
                "rows",
                "sample",
                "n",
                "coverage",
                "ratio",
                "width",
                "score",
                "naive score",
                "naive band",
                "skill",
            ],
        ),
        "",
        "score: mean interval score of our 95 % intervals (log scale; lower is better); naive: "
        "our point x/÷ k, k fitted leave-one-out on the other rows to the same coverage; skill "
        "= 1 - score / naive score (positive: our intervals do better). Scored rows are "
        "facts; conventions (an assumed power, an unpublished site) are compared at their "
        "own scope but not scored; independent rows leave out those whose sources feed the "
        "run they check (docs/validation.md).",
    ]


def validation_text(result, rows=False):
    """The summary of a validation as a text table, and with ``rows`` every comparison."""
    lines = _validation_summary_text(result.summary)
    loo = [s for s in result.summary if s["way"] == "leave-one-out"]
    if loo:
        lines += [
            "",
            "leave-one-out (calibrated without the model, then checked on it): "
            + "; ".join(
                f"{s['quantity']}: coverage {100 * s['coverage']:.0f} % against "
                f"the prior's {100 * s['prior_coverage']:.0f} %, interval score "
                f"{s['interval_score']:.2f} against the prior's "
                f"{s['prior_interval_score']:.2f}"
                for s in loo
            ),
        ]
    if rows:
        lines += ["", _validation_rows_text(result.rows)]
    return "\n".join(lines)


def _validation_rows_text(rows):
    """Every comparison of a validation as a text table."""
    return table(
        [
            [
                r["id"],
                r["way"],
                ("scored" if r["scored"] else "convention")
                + (", in-sample" if r["in_sample"] else ""),
                format_number(r["published"]),
                f"{format_number(r['median'])} [{format_number(r['low'])}, "
                f"{format_number(r['high'])}]",
                "yes" if r["inside"] else "NO",
                f"{r['ratio']:.2f}",
                r["note"],
            ]
            for r in rows
        ],
        [
            "row",
            "way",
            "rows",
            "published",
            "ours: median [95 %]",
            "inside",
            "ratio",
            "note",
        ],
    )


def validate_text(result, basis, rows=False, folder=None, source="data/validation.csv"):
    """The text ``mlimpact validate`` prints: what was compared (``basis``: the rows read, of
    the table ``source``), the tables of :func:`validation_text` (with ``rows`` every
    comparison), how many row-way pairs were not compared, and with ``folder`` the files
    written there. Returns the text."""
    lines = [
        f"Published footprints ({source}) against our 95 % intervals; "
        f"{result.samples:,} samples, seed {result.seed}, basis {basis}",
        "",
        validation_text(result, rows=rows),
    ]
    if result.skipped:
        lines += ["", f"{len(result.skipped)} row-way pairs not compared (--format json lists why)"]
    if folder is not None:
        lines += ["", f"wrote {folder}/validation.csv, validation_summary.csv, validation.png"]
    return "\n".join(lines)


def calibration_json(result):
    """The JSON of ``mlimpact calibrate`` for a
    :class:`mlimpact.study.calibration.CalibrationResult`: the options, the rows used and
    skipped, the effective sample sizes, the prior and posterior of every input and every
    published card. Returns a JSON-ready dict."""
    return {
        "samples": result.samples,
        "seed": result.seed,
        "basis": result.basis,
        "rows_used": [r.id for r in result.prepared.rows],
        "skipped": [{"id": i, "reason": why} for i, why in result.skipped],
        "effective_sample_size": result.ess,
        "effective_sample_size_by_round": result.prepared.history,
        "inputs": [
            {k: (float(v) if k != "input" else v) for k, v in r.items()} for r in result.inputs
        ],
        "cards": [
            {k: (float(v) if isinstance(v, float) else v) for k, v in r.items()}
            for r in result.cards.cards
        ],
    }


def _interval_text(median, low, high, number):
    """``median [low, high]``, each made by ``number``."""
    return f"{number(median)} [{number(low)}, {number(high)}]"


def calibration_text(result, folder=None):
    """The text ``mlimpact calibrate`` prints for a
    :class:`mlimpact.study.calibration.CalibrationResult`: the effective sample sizes, the
    prior and posterior of every input, every published card against our prior and posterior,
    how many rows were not used, and with ``folder`` the files written there. Returns the
    text."""
    prepared = result.prepared

    def g3(value):
        return f"{value:.3g}"

    lines = [
        f"Calibration of the evidence power model on {len(prepared.rows)} measured "
        f"footprints; {result.samples:,} samples per round, seed {result.seed}; effective "
        f"sample size {result.ess:,.0f} (by round: "
        f"{', '.join(f'{h:,.0f}' for h in prepared.history)})",
        "",
        table(
            [
                [
                    r["input"],
                    _interval_text(r["prior_median"], r["prior_q025"], r["prior_q975"], g3),
                    _interval_text(
                        r["posterior_median"], r["posterior_q025"], r["posterior_q975"], g3
                    ),
                ]
                for r in result.inputs
            ],
            ["input", "prior: median [95 %]", "posterior: median [95 %]"],
        ),
        "",
        "Cards (published per-card production GWP, kg CO2eq per accelerator; the "
        "posterior includes how estimates scatter around the model):",
        "",
        table(
            [
                [
                    c["hardware"],
                    c["basis"],
                    format_number(c["published"]),
                    _interval_text(
                        c["prior_median"], c["prior_low"], c["prior_high"], format_number
                    ),
                    _interval_text(
                        c["posterior_median"],
                        c["posterior_low"],
                        c["posterior_high"],
                        format_number,
                    ),
                ]
                for c in result.cards.cards
            ],
            ["card", "basis", "published", "prior: median [95 %]", "posterior: median [95 %]"],
        ),
    ]
    if result.skipped:
        lines += ["", f"{len(result.skipped)} rows not used (--format json lists why)"]
    if folder is not None:
        lines += [
            "",
            f"wrote {folder}/parameters.toml (use it with --parameters), "
            "calibration.csv, calibration_cards.csv, calibration.png",
        ]
    return "\n".join(lines)


def batch_json(portfolio, rows, header, source, digest, samples, seed):
    """The JSON of ``mlimpact estimate --batch`` or ``--codecarbon``: the file read
    (``source``, its SHA-256 ``digest``), ``samples`` and ``seed``, the models of
    ``portfolio`` (:class:`mlimpact.study.portfolio.Portfolio`), its ``rows``
    (:func:`mlimpact.study.portfolio.batch_rows`) keyed by ``header`` (the batch CSV's
    columns, :data:`mlimpact.study.portfolio.BATCH_HEADER`), the runs left out and the
    metered checks. Returns a JSON-ready dict."""
    return {
        "file": str(source),
        "sha256": digest,
        "samples": samples,
        "seed": seed,
        "power_model": portfolio.power,
        "location_model": portfolio.location,
        "rows": [dict(zip(header, row)) for row in rows],
        "excluded": [{"run": n, "reason": why} for n, why in portfolio.excluded],
        "metered": list(portfolio.checks),
    }


def batch_text(portfolio, rows, source, digest, samples, seed):
    """The text of ``mlimpact estimate --batch`` or ``--codecarbon``: the file read
    (``source``, its SHA-256 ``digest``), the runs, ``samples`` and ``seed``, the power and
    location models, a table of the ``rows`` (:func:`mlimpact.study.portfolio.batch_rows`) of
    ``portfolio``, the runs left out and the metered checks. Returns the text."""
    lines = [
        f"{source} (SHA-256 {digest[:16]}...): {len(portfolio.runs.model)} runs, "
        f"{samples:,} samples (seed {seed}); median [95 % interval]; the total's "
        "interval keeps shared inputs shared",
        f"power model: {POWER_MODEL_WORDS[portfolio.power]}; location: {portfolio.location}",
        "",
        table(
            [
                [
                    run,
                    f"{criterion} [{unit}]",
                    _interval_text(median, low, high, format_number),
                    format_number(measured) if measured != "" else "-",
                ]
                for run, criterion, unit, median, low, high, _, measured in rows
            ],
            ["run", "criterion", "estimate", "measured"],
        ),
    ]
    lines += [f"excluded: {name}: {why}" for name, why in portfolio.excluded]
    lines += [metered_text(check) for check in portfolio.checks]
    return "\n".join(lines)
