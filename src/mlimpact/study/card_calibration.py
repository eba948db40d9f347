"""Calibration of the cards' production models against published per-card estimates.

The catalogue's ``production_model`` chooses, per sample, MLCA's model or ACT's for every card;
the memory inputs (``memory_gwp_quantile``, shared by every card of a sample, and the global
``memory_density``) are drawn from the catalogue. The card rows of ``data/validation.csv``
(published production GWP per accelerator) weigh the two models and the memory inputs by
Bayes' rule: a row's published value has a lognormal discrepancy of scale ``sigma_card``
(log-uniform on :data:`SIGMA_PRIOR`) and the measurement error :data:`MEASUREMENT_ERROR`.

The discrepancy model and the weighted quantiles are shared with the power model's calibration
(:mod:`mlimpact.study.discrepancy`).
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from mlimpact.analysis.scores import ALPHA
from mlimpact.engine.propagate import evaluate_rows
from mlimpact.errors import MlimpactError
from mlimpact.study.discrepancy import (
    MEASUREMENT_ERROR,
    PROPOSAL_STREAM,
    column_values,
    log_normal_density,
    quantile_row,
    sigma_of,
    weighted_quantiles,
)
from mlimpact.tables.validation import published_footprints
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue
from mlimpact.uncertainty.sampling import Design

#: Samples of a card calibration (by default as many as a round of the power calibration).
SAMPLES = 4096
#: The statistics of a card's interval, low to high.
STATISTICS = ("q025", "median", "q975")


# --- Cards: the production model's weights and the memory factors ---------------------------


@dataclass
class CardCalibration:
    """The card rows and the log-likelihood of each sample under each production model.

    The catalogue's ``production_model`` is one choice per sample (every card of a sample is
    made by MLCA's model or by ACT's), with equal prior weights: its posterior is
    ``P(MLCA) = a / (a + b)``, ``a`` and ``b`` the sums over samples of the likelihood of every
    card row under each model. ``log_mlca``, ``log_act`` (sample,) are those log-likelihoods;
    ``inputs`` the memory quantile (shared by every card), the memory density (global) and the
    discrepancy scale per sample;
    ``cards`` one dict per published card: our prior and posterior median and 95 % interval."""

    rows: list
    inputs: dict
    log_mlca: np.ndarray
    log_act: np.ndarray
    cards: list
    skipped: list
    #: Per row, the log-likelihood of each sample under each model (sample, row): the sums
    #: over rows are ``log_mlca`` and ``log_act``.
    row_logs: dict = None
    hardware: list = None

    def without(self, k):
        """The calibration on every row but row ``k`` (no new evaluation: the likelihood of
        the other rows)."""
        keep = [j for j in range(len(self.rows)) if j != k]
        logs = {m: v[:, keep] for m, v in self.row_logs.items()}
        return dataclasses.replace(
            self,
            rows=[self.rows[j] for j in keep],
            hardware=[self.hardware[j] for j in keep],
            log_mlca=logs["mlca"].sum(axis=1),
            log_act=logs["act"].sum(axis=1),
            row_logs=logs,
            cards=[],
        )

    @property
    def mlca_weight(self):
        """Posterior probability that the cards are made as MLCA's model makes them."""
        top = max(self.log_mlca.max(), self.log_act.max())
        a, b = np.exp(self.log_mlca - top).sum(), np.exp(self.log_act - top).sum()
        return float(a / (a + b))

    def model_weights(self, model):
        """Normalised weights of the samples given that their cards are made by ``model``
        (mlca or act)."""
        log = self.log_mlca if model == "mlca" else self.log_act
        w = np.exp(log - log.max())
        return w / w.sum()

    def weights(self):
        """Posterior weights of the samples, the two models mixed by their probabilities."""
        p = self.mlca_weight
        return p * self.model_weights("mlca") + (1 - p) * self.model_weights("act")


def _card_rows():
    """The card rows of ``data/validation.csv`` that can be compared: (rows, (id, reason) of
    the others, the hardware entry of each row)."""
    from mlimpact.runs.cards import why_not_priced
    from mlimpact.tables.hardware import hardware_table

    table = hardware_table()
    rows, skipped, hardware = [], [], []
    for row in published_footprints():
        if row.quantity != "card_gwp" or row.not_scored or not row.value > 0:
            continue
        found = table.find(row.hardware)
        if found.variants:
            skipped.append((row.id, f"{row.hardware!r} names several cards"))
        elif why_not_priced(found, "mixture") is not None:
            skipped.append((row.id, why_not_priced(found, "mixture")))
        else:
            rows.append(row)
            hardware.append(found)
    if not rows:
        raise MlimpactError("calibration: no card row can be compared")
    return rows, skipped, hardware


def equal_weights(catalogue):
    """``catalogue`` with the two production models at equal weights: the prior of the card
    calibration, whose draws (0.25 for MLCA's, 0.75 for ACT's) pick each model whatever the
    catalogue's own weights."""
    from mlimpact.uncertainty.distributions import Discrete

    entry = dataclasses.replace(catalogue["production_model"], distribution=Discrete([0, 1]))
    return {**catalogue, "production_model": entry}


def calibrate_cards(samples=SAMPLES, seed=0):
    """Calibrate the card production inputs against the card rows of ``data/validation.csv``.

    Each sample draws the card inputs from the catalogue, the memory quantile shared by every
    card, and is evaluated with MLCA's model and with ACT's. A row's published value (per
    accelerator) has a lognormal discrepancy of scale ``sigma_card`` (log-uniform on
    :data:`SIGMA_PRIOR`) and the measurement error. Returns the :class:`CardCalibration`
    (see it for the posterior of the model choice).
    """
    from mlimpact.quantities import card_index
    from mlimpact.runs.cards import card_runs

    rows, skipped, hardware = _card_rows()
    unique = list({h.name: h for h in hardware}.values())
    runs, known = card_runs(unique, "mixture")
    catalogue = equal_weights(default_catalogue())
    bound = bind(catalogue, runs, list(runs.names), [""] * len(runs), known)
    production = [j for j, (p, _) in enumerate(bound.columns) if p == "production_model"]
    memory = [j for j, (p, _) in enumerate(bound.columns) if p == "memory_gwp_quantile"]
    density = [j for j, (p, _) in enumerate(bound.columns) if p == "memory_density"]
    u = Design("mc", samples, bound.n_columns, seed).uniforms(0, samples)
    if memory:
        u[:, memory] = u[:, memory[:1]]
    sigma = sigma_of(Design("mc", samples, 1, seed + PROPOSAL_STREAM).uniforms(0, samples)[:, 0])
    inputs = {
        "memory_gwp_quantile": (
            column_values(bound, u, memory[0]) if memory else np.zeros(samples)
        ),
        "sigma_card": sigma,
    }
    if density:  # a global input: one column, the same for every card of a sample
        inputs["memory_density"] = column_values(bound, u, density[0])
    published = np.array([r.value / r.chips if r.chips > 1 else r.value for r in rows])
    positions = [list(runs.names).index(h.name) for h in hardware]
    gwp = card_index("gwp")
    log_values = {}
    for name, position in (("mlca", 0.25), ("act", 0.75)):  # Discrete [0, 1], equal weights
        forced = u.copy(order="F")
        forced[:, production] = position
        out = evaluate_rows(runs, bound, forced, kind="card")
        log_values[name] = np.log(out[:, positions, gwp])
    tau = np.sqrt(sigma**2 + MEASUREMENT_ERROR**2)[:, None]

    row_logs = {
        name: log_normal_density(np.log(published)[None, :], log_values[name], tau)
        for name in ("mlca", "act")
    }
    calibrated = CardCalibration(
        rows,
        inputs,
        row_logs["mlca"].sum(axis=1),
        row_logs["act"].sum(axis=1),
        [],
        skipped,
        row_logs,
        hardware,
    )
    for k, (row, card) in enumerate(zip(rows, hardware)):
        prior, posterior = _card_intervals(calibrated, log_values, tau[:, 0], k, seed)
        calibrated.cards.append(
            {
                "id": row.id,
                "hardware": card.name,
                "basis": row.basis,
                "published": float(published[k]),
                "prior_low": prior[0],
                "prior_median": prior[1],
                "prior_high": prior[2],
                "posterior_low": posterior[0],
                "posterior_median": posterior[1],
                "posterior_high": posterior[2],
            }
        )
    return calibrated


def _card_intervals(calibrated, log_values, tau, k, seed):
    """(prior, posterior) of card row ``k``: each the (2.5 %, 50 %, 97.5 %) quantiles, the
    prior of the model's value (MLCA's and ACT's samples equally weighted), the posterior of a
    published estimate (posterior predictive: each sample's card by MLCA or ACT with their
    posterior probabilities, its scatter ``tau`` and measurement error)."""
    p = calibrated.mlca_weight
    samples = tau.size
    levels = np.array([ALPHA / 2, 0.5, 1 - ALPHA / 2])
    mixed = np.concatenate(
        [p * calibrated.model_weights("mlca"), (1 - p) * calibrated.model_weights("act")]
    )
    both = np.concatenate([log_values["mlca"][:, k], log_values["act"][:, k]])
    prior = np.exp(weighted_quantiles(both, np.full(2 * samples, 0.5 / samples), levels))
    z = np.random.default_rng([seed, k]).standard_normal(2 * samples)
    scale = np.concatenate([tau, tau])
    posterior = np.exp(weighted_quantiles(both + scale * z, mixed, levels))
    return prior, posterior


def card_summary(calibrated):
    """Prior and posterior of the card inputs, one calibration.csv row each (see
    :func:`quantile_row`): the probability of MLCA's model (one number, in every column), and
    the quantiles of the memory quantile, the density and the scatter."""
    p = calibrated.mlca_weight
    out = [
        {
            "input": "P(MLCA production model)",
            "prior_q025": 0.5,
            "prior_median": 0.5,
            "prior_q975": 0.5,
            "posterior_q025": p,
            "posterior_median": p,
            "posterior_q975": p,
        }
    ]
    weights = calibrated.weights()
    uniform = np.full(weights.size, 1.0 / weights.size)
    return out + [
        quantile_row(label, calibrated.inputs[label], uniform, weights)
        for label in ("memory_gwp_quantile", "memory_density", "sigma_card")
        if label in calibrated.inputs
    ]


def card_entries(cards, prior, levels):
    """The entries of the calibrated catalogue that ``cards`` (:class:`CardCalibration`)
    informs, by name: ``production_model`` (its posterior weights) and, where the card inputs
    hold it, ``memory_density`` (its posterior at the probability ``levels``); ``prior`` is
    the catalogue's document (:func:`mlimpact.tables.catalogue.catalogue_document`)."""
    document = {}
    entry = dict(prior["production_model"])
    p = round(cards.mlca_weight, 4)
    entry["distribution"] = {
        "type": "discrete",
        "values": [0, 1],
        "weights": [p, round(1 - p, 4)],
    }
    entry["source"] = (
        "mlimpact calibrate: posterior probability of MLCA's model against "
        f"ACT's (equal prior weights), from {len(cards.rows)} published "
        "per-card estimates (data/validation.csv)"
    )
    document["production_model"] = entry
    if "memory_density" in cards.inputs:
        entry = {k: v for k, v in prior["memory_density"].items() if k != "point"}
        values = weighted_quantiles(cards.inputs["memory_density"], cards.weights(), levels)
        entry["distribution"] = {
            "type": "discrete",
            "values": [float(f"{v:.6g}") for v in values],
        }
        entry["source"] = (
            "mlimpact calibrate: posterior, from the published per-card "
            "estimates, of " + prior["memory_density"].get("source", "")
        )
        document["memory_density"] = entry
    return document


def card_leave_one_out(samples=SAMPLES, seed=0, points=32, inputs=("production_model",)):
    """Whether the card inputs calibrated on the published cards beat equal weights of the
    two production models out of sample: for each published card, the card inputs calibrated
    on the *other* cards (:meth:`CardCalibration.without`, the entries named in ``inputs``
    written as the calibrated catalogue writes them: :func:`card_entries` with ``points``
    levels; by default the production model's weights alone, which keep the point values of
    the model) give our 95 % interval of that card as ``validate`` makes it
    (:func:`mlimpact.study.cards.card_estimate`, the mixture), and so does the catalogue
    with equal weights (the prior of the calibration).

    Returns ``(rows, summary)``: per card its id, published value and both intervals
    (``equal``, ``calibrated``) with their interval scores
    (:func:`mlimpact.analysis.scores.interval_score`); the summary's coverage and mean score
    of each, and ``calibrated_better``.
    """
    from mlimpact.analysis.scores import interval_score
    from mlimpact.study.cards import card_estimate
    from mlimpact.tables.catalogue import catalogue_document
    from mlimpact.uncertainty.catalogue import parse_parameters

    calibrated = calibrate_cards(samples=samples, seed=seed)
    levels = (np.arange(points) + 0.5) / points
    base = default_catalogue()
    equal = equal_weights(base)
    out = []

    def intervals(cards, catalogue):
        result = card_estimate(cards, "mixture", samples=samples, seed=seed, catalogue=catalogue)
        data = result.gwp.sel(component="total")
        return {
            card.name: [float(data.sel(hardware=card.name, statistic=s)) for s in STATISTICS]
            for card in cards
        }

    # one card at a time, as validate prices it (a card's draws depend on the cards priced
    # with it)
    at_equal = {card.name: intervals([card], equal)[card.name] for card in calibrated.hardware}
    for k, (row, card) in enumerate(zip(calibrated.rows, calibrated.hardware)):
        document = card_entries(calibrated.without(k), catalogue_document(), levels)
        chosen = {name: document[name] for name in inputs if name in document}
        held_out = {**base, **parse_parameters(chosen, "leave-one-out")}
        published = row.value / row.chips if row.chips > 1 else row.value
        entry = {"id": row.id, "hardware": card.name, "published": published}
        for name, (low, median, high) in (
            ("equal", at_equal[card.name]),
            ("calibrated", intervals([card], held_out)[card.name]),
        ):
            entry[name] = {
                "low": low,
                "median": median,
                "high": high,
                "inside": bool(low <= published <= high),
                "score": float(interval_score(low, high, published)),
            }
        out.append(entry)
    summary = {
        name: {
            "coverage": float(np.mean([r[name]["inside"] for r in out])),
            "interval_score": float(np.mean([r[name]["score"] for r in out])),
        }
        for name in ("equal", "calibrated")
    }
    summary["calibrated_better"] = (
        summary["calibrated"]["interval_score"] < summary["equal"]["interval_score"]
    )
    return out, summary
