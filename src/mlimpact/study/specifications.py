"""Claims that survive the analyst's choices: specification analysis.

A *specification* is one choice on each axis of the analysis (:data:`AXES`): which records
enter, the window, how the trend is fitted, the production model of the cards, where runs
trained, the energy model. The main job's claims are re-evaluated under a set of
specifications (by default the main run's own choices and every alternative on one axis at a
time; the full cross on request), and each claim gets a **robustness**: the share of the
specifications in which it holds with probability >= 0.95 (the specification curve of
Simonsohn, Simmons and Nelson, Nat. Hum. Behav. 4, 1208-1214, 2020, doi:10.1038/s41562-020-0912-z).
"""

import dataclasses
import itertools

from mlimpact.errors import MlimpactError

#: Axes of the analysis and their options; the first is the default.
AXES = {
    "imputation": ("all", "complete", "no-speculative"),
    "window": ("2013-2025", "2016-2025"),
    "fit": ("ols", "huber", "frontier"),
    "production_model": ("mixture", "mlca", "act"),
    "location": ("evidence", "organisation"),
    "power": ("evidence", "mlca"),
}
MODES = ("one-at-a-time", "cross")
#: A claim holds in a specification when its probability is at least this.
HOLDS = 0.95
#: Largest number of specifications a run evaluates (a cross is cut to its first ones).
MAX_SPECIFICATIONS = 64


def choices_of(options):
    """The choice on every axis of a run's options."""
    imputation = (
        "complete" if not options.impute else "no-speculative" if not options.speculative else "all"
    )
    production = {0: "mlca", 1: "act"}.get(options.uncertainty.get("production_model"), "mixture")
    return {
        "imputation": imputation,
        "window": f"{options.window[0]}-{options.window[1]}",
        "fit": options.fit,
        "production_model": production,
        "location": options.location,
        "power": options.power,
    }


def specification_set(base, axes=None, mode="one-at-a-time"):
    """The specifications to evaluate: ``base`` (a dict of choices) and, per ``mode``, every
    alternative of ``axes`` (axis -> options) one axis at a time, or their full cross."""
    axes = dict(AXES if axes is None else axes)
    if mode not in MODES:
        raise MlimpactError(f"specifications: mode must be one of {', '.join(MODES)}")
    for axis, options in axes.items():
        if axis not in AXES:
            raise MlimpactError(f"specifications: unknown axis {axis!r} (known: {', '.join(AXES)})")
        if axis == "window":
            for option in options:
                window_of(option)
        bad = [o for o in options if o not in AXES[axis] and axis != "window"]
        if bad or not options:
            raise MlimpactError(
                f"specifications: {axis} options must be among "
                f"{', '.join(AXES[axis])} (got {', '.join(map(str, bad))})"
            )
    if mode == "cross":
        names = list(axes)
        out = [
            dict(base, **dict(zip(names, combo)))
            for combo in itertools.product(*(axes[n] for n in names))
        ]
        out.sort(key=lambda spec: spec != base)
    else:
        out = [dict(base)]
        for axis, options in axes.items():
            out += [dict(base, **{axis: option}) for option in options if option != base[axis]]
    unique = []
    for spec in out:
        if spec not in unique:
            unique.append(spec)
    return unique[:MAX_SPECIFICATIONS]


def window_of(text):
    """(first, last) years of a window option such as ``"2016-2025"``."""
    years = text.split("-")
    if (
        len(years) != 2
        or not all(y.strip().isdigit() for y in years)
        or int(years[0]) > int(years[1])
    ):
        raise MlimpactError(
            f"specifications: a window is FIRST-LAST with FIRST <= LAST, "
            f"such as 2016-2025 (got {text!r})"
        )
    return int(years[0]), int(years[1])


def options_of(options, spec, samples):
    """The study options of a specification (baseline scenario, no Sobol', no validation)."""
    first, last = window_of(spec["window"])
    uncertainty = dict(options.uncertainty)
    uncertainty.pop("production_model", None)
    if spec["production_model"] != "mixture":
        uncertainty["production_model"] = {"mlca": 0, "act": 1}[spec["production_model"]]
    return dataclasses.replace(
        options,
        samples=samples,
        scenarios=("baseline",),
        sensitivity_samples=0,
        validate=False,
        specifications=False,
        window=(first, last),
        impute=spec["imputation"] != "complete",
        speculative=spec["imputation"] != "no-speculative",
        fit=spec["fit"],
        location=spec["location"],
        power=spec["power"],
        uncertainty=uncertainty,
    )


def label(spec, base):
    """A short name of a specification: what it changes from ``base``."""
    changed = [f"{axis}={spec[axis]}" for axis in AXES if spec[axis] != base[axis]]
    return "; ".join(changed) if changed else "main"


def claim_key(row):
    return row["claim"], row["criterion"], row["scenario"], row["quantity"]


def evaluate(options, run, specs=None, samples=256, progress=None):
    """Evaluate the claims under every specification.

    Parameters
    ----------
    options : StudyOptions
        The main run's options (its choices are the base specification).
    run : callable
        ``run(options)`` -> a StudyResult (:func:`mlimpact.study.claims.run_study`).
    specs : list of dict, optional
        Default: :func:`specification_set` of the base, one axis at a time.

    Returns
    -------
    list of dict
        One row per (claim, specification): the claim's key, ``specification``, the choice
        on every axis, ``estimate``, ``low``, ``high``, ``probability``.
    """
    base = choices_of(options)
    specs = specification_set(base) if specs is None else specs
    rows = []
    for k, spec in enumerate(specs):
        result = run(options_of(options, spec, samples))
        for claim in result.claims:
            rows.append(
                {
                    "claim": claim["claim"],
                    "criterion": claim["criterion"],
                    "scenario": claim["scenario"],
                    "quantity": claim["quantity"],
                    "specification": label(spec, base),
                    **spec,
                    "estimate": claim["estimate"],
                    "low": claim["low"],
                    "high": claim["high"],
                    "probability": claim["probability"],
                }
            )
        if progress is not None:
            progress(k + 1, len(specs))
    return rows


def robustness(rows):
    """Claim key -> the share of specifications in which the claim holds (P >= 0.95)."""
    by_claim = {}
    for row in rows:
        by_claim.setdefault(claim_key(row), []).append(row["probability"] >= HOLDS)
    return {key: sum(held) / len(held) for key, held in by_claim.items()}


def breakers(rows):
    """Claim key -> the specifications in which it does not hold."""
    out = {}
    for row in rows:
        if not row["probability"] >= HOLDS:
            out.setdefault(claim_key(row), []).append(row["specification"])
    return out
