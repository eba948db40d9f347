"""Calibration: the power model's class-level inputs updated by measured training footprints.

The evidence power model (``docs/methodology.md``, 3b) draws, for every run, the accelerators' mean
power as a share of TDP from its accelerator class (``gpu_usage``: GPU, TPU, other), the facility
PUE from its provider class (``facility_pue``: hyperscale, cloud, academic HPC, unknown) and a
cluster overhead (``non_training_overhead``, global). Published measured footprints
(``data/validation.csv``, basis ``measured``) are evidence about them. This module updates them by
Bayes' rule with importance weights (Smith and Gelfand 1992 [1]_), the proposal adapted over a few
rounds (population Monte Carlo, Cappé et al. 2004 [4]_; a prior proposal alone collapses to a
handful of effective samples with 21 rows), in the runs built from what each source publishes (the
``setup`` way of :mod:`mlimpact.study.validation`: accelerator, count and hours as published, the
power, PUE and grid ours to estimate).

Model (a hierarchical model reduced to what a few dozen rows can inform):

- **shared class values**: within one sample, every run of a class draws the same value of a
  calibrated input (the runs' uniforms of that input and class are tied); the prior of the
  class value is the catalogue's distribution for that class;
- **between-run scatter**: a run's published value differs from the model's by a lognormal
  discrepancy (Kennedy and O'Hagan 2001 [2]_) of scale ``sigma_energy`` for energy, and
  ``sigma_energy`` and ``sigma_grid`` together for operational GWP, each log-uniform on
  :data:`SIGMA_PRIOR` (a vague prior, stated as ours), plus the measurement error of a
  metered or measured-power value, :data:`MEASUREMENT_ERROR`;
- **likelihood** of sample s: ``prod_i phi((ln y_i - ln f_i(s)) / tau_i(s)) / tau_i(s)``,
  ``tau_i^2 = sigma_energy^2 [+ sigma_grid^2] + e^2``; the other uncertain inputs (grid errors,
  lifetime...) stay drawn from their priors within each sample.

Weights are ``w_s`` proportional to the likelihood (computed in logarithms, normalised by their
largest value); their effective sample size ``1 / sum(w_s^2)`` (weights summing to 1) is reported
and a warning raised below :data:`MIN_ESS`. Rows of basis ``derived`` (chip-hours x an assumed
power) carry no information on the power draw, and in this way of building runs their chip-hours are
already the published ones: they are listed as not informative and left out.

The calibrated catalogue replaces each calibrated class distribution by the posterior of its
class value (a discrete distribution on :data:`POSTERIOR_POINTS` weighted quantiles) and adds
the between-run scatter as two run-scope lognormal factors (on the facility overhead, i.e. the
energy, and on the grid intensity) with the posterior median scales, so that a new run's
interval carries both what is known of its class and how runs scatter around it.

The cards' production models are calibrated by :mod:`mlimpact.study.card_calibration` (which
also defines the discrepancy model and the weighted quantiles both share);
:func:`run_calibration` runs both calibrations and builds what ``mlimpact calibrate`` prints
and writes.

References
----------
.. [1] A. F. M. Smith, A. E. Gelfand, "Bayesian statistics without tears: a sampling-resampling
   perspective", The American Statistician 46(2), 84-88, 1992, doi:10.2307/2684170.
.. [2] M. C. Kennedy, A. O'Hagan, "Bayesian calibration of computer models", J. R. Stat. Soc. B
   63(3), 425-464, 2001, doi:10.1111/1467-9868.00294.
.. [3] T. Hesterberg, "Weighted average importance sampling and defensive mixture
   distributions", Technometrics 37(2), 185-194, 1995, doi:10.1080/00401706.1995.10484303.
.. [4] O. Cappé, A. Guillin, J.-M. Marin, C. P. Robert, "Population Monte Carlo", J. Comput.
   Graph. Stat. 13(4), 907-929, 2004, doi:10.1198/106186004X12803.
.. [5] C. Andrieu, G. O. Roberts, "The pseudo-marginal approach for efficient Monte Carlo
   computations", Ann. Statist. 37(2), 697-725, 2009, doi:10.1214/07-AOS574.
"""

import dataclasses
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from mlimpact.analysis.scores import ALPHA, interval_score
from mlimpact.engine.propagate import evaluate_rows, stage_plan
from mlimpact.errors import MlimpactError
from mlimpact.quantities import training_index
from mlimpact.runs import notable
from mlimpact.runs.records import published_record
from mlimpact.runs.table import accelerators_only
from mlimpact.study.card_calibration import (
    CardCalibration,
    calibrate_cards,
    card_entries,
    card_summary,
)
from mlimpact.study.discrepancy import (
    MEASUREMENT_ERROR,
    PROPOSAL_STREAM,
    column_values,
    log_normal_density,
    quantile_row,
    sigma_of,
    weighted_quantiles,
)
from mlimpact.study.validation import validate
from mlimpact.tables.catalogue import catalogue_document
from mlimpact.tables.models import load_models
from mlimpact.tables.validation import published_footprints
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters
from mlimpact.uncertainty.sampling import Design

#: The calibrated inputs of the evidence power model, and the class kind each depends on
#: (None: one global value).
CALIBRATED = {
    "gpu_usage": "accelerator",
    "facility_pue": "provider",
    "non_training_overhead": None,
    "host_usage": None,
}
#: Quantities used, as (criterion, phase) of our results.
QUANTITIES = {"energy": ("energy", "use"), "operational_gwp": ("gwp", "use")}
#: Below this effective sample size the weights have collapsed: a warning says so.
MIN_ESS = 100
#: Points of the discrete posterior distributions written into the calibrated catalogue.
POSTERIOR_POINTS = 32
#: Samples per round of adaptive importance sampling, rounds, and draws of the other inputs
#: per sample.
SAMPLES, ROUNDS, DRAWS = 4096, 4, 16
#: Share of the prior in each later round's proposal (a defensive mixture keeps the weights
#: bounded where the fitted normal is too narrow), and the inflation of the fitted spread.
DEFENSIVE, INFLATION = 0.1, 1.5


@dataclass
class Prepared:
    """Samples of the calibrated inputs, the model's values and the densities that weight them.

    ``inputs`` maps each calibrated input label (``gpu_usage[TPU]``, ``sigma_energy``...) to its
    values per sample; ``log_f`` (sample, draw, row) are the logarithms of the model's values for
    the used ``rows``, :data:`DRAWS` draws of the other inputs per sample; ``tau`` (sample, row) the
    discrepancy-plus-measurement scales; ``log_prior`` and ``log_proposal`` the log-densities of
    each sample's normal scores under the prior and under the proposal it was drawn from;
    ``skipped`` lists (row id, reason); ``history`` the
    effective sample size of each adaptation round."""

    rows: list
    inputs: dict
    log_f: np.ndarray
    tau: np.ndarray
    log_prior: np.ndarray
    log_proposal: np.ndarray
    skipped: list
    samples: int
    seed: int
    history: list
    #: For an operational-GWP row whose run's energy is also published, the index of that
    #: energy row (else -1), and the logarithm of the run's grid intensity (GWP / energy of
    #: the same run) per sample and draw: such a row is compared as GWP / energy, so that the
    #: run's energy is not counted twice.
    paired: np.ndarray = None
    log_grid: np.ndarray = None
    _log_likelihood: np.ndarray = None

    @property
    def log_likelihood(self):
        """(sample, row) log-density of each published value given the sample's calibrated
        inputs, the other inputs averaged over the sample's draws (pseudo-marginal)."""
        if self._log_likelihood is None:
            log_y = np.log([r.value for r in self.rows])
            log_f, tau = self.log_f, self.tau
            if self.paired is not None and (self.paired >= 0).any():
                pair = np.flatnonzero(self.paired >= 0)
                log_y = log_y.copy()
                log_y[pair] -= log_y[self.paired[pair]]
                log_f = log_f.copy()
                log_f[:, :, pair] = self.log_grid[:, :, pair]
                tau = tau.copy()
                tau[:, pair] = np.sqrt(
                    self.inputs["sigma_grid"][:, None] ** 2 + 2 * MEASUREMENT_ERROR**2
                )
            density = log_normal_density(log_y[None, None, :], log_f, tau[:, None, :])
            top = density.max(axis=1)
            self._log_likelihood = top + np.log(np.mean(np.exp(density - top[:, None, :]), axis=1))
        return self._log_likelihood

    def weights(self, leave_out=(), prior=False):
        """Normalised importance weights of the posterior, the rows of the models in
        ``leave_out`` left out (``prior``: of the prior itself)."""
        keep = np.array([r.model not in leave_out and not prior for r in self.rows], dtype=bool)
        total = self.log_prior - self.log_proposal + self.log_likelihood[:, keep].sum(axis=1)
        w = np.exp(total - total.max())
        return w / w.sum()


def effective_sample_size(weights):
    """Kish's effective sample size of normalised weights."""
    return float(1.0 / np.sum(np.square(weights)))


def informative_rows(basis="measured"):
    """The rows of ``data/validation.csv`` a calibration reads, and (id, reason) of the others."""
    if basis not in ("measured", "all"):
        raise MlimpactError(f"calibration basis must be measured or all (got {basis!r})")
    used, skipped = [], []
    for row in published_footprints():
        if row.quantity not in QUANTITIES or row.not_scored or not row.value > 0:
            continue
        if row.basis != "measured":
            if basis == "all":
                skipped.append(
                    (
                        row.id,
                        "derived: its power is assumed, so it says nothing of "
                        "the power draw, and its chip-hours are already used",
                    )
                )
            continue
        used.append(row)
    return used, skipped


class _Problem:
    """The runs of the rows, bound to the evidence catalogue, evaluated for given normal
    scores of the calibrated inputs (the other inputs drawn from the catalogue by a Monte
    Carlo design)."""

    def __init__(self, rows, seed, chunk_size):
        epoch = {m["model"]: m for m in load_models()}
        records, self.skipped = {}, []
        for row in rows:
            record = published_record(row, epoch.get(row.epoch_model, {}))
            if record is None:
                self.skipped.append((row.id, "accelerator, count or hours not published"))
            else:
                records[row.id] = record
        self.rows = [row for row in rows if row.id in records]
        self.labels = []
        if not self.rows:
            return
        years = [int(r["year"]) for r in records.values()]
        runs = notable.build_runs(
            (min(years), max(years)),
            records=list(records.values()),
            location="evidence",
            power="evidence",
        )
        excluded = {r.name: r.reason for r in runs.records if r.status == "excluded"}
        self.skipped += list(excluded.items())
        self.rows = [row for row in self.rows if row.id not in excluded]
        catalogue = {**default_catalogue("evidence"), **run_parameters(runs)}
        # a published power of the accelerators alone is compared with them alone
        self.runs = accelerators_only(
            runs.runs, {row.id for row in self.rows if row.power_scope == "accelerators"}
        )
        self.bound = bind(
            catalogue, self.runs, runs.hardware, runs.countries, runs.known, runs.classes
        )
        names = list(runs.runs.names)
        self.ties = _tied_columns(self.bound, runs, names)
        self.labels = list(self.ties)
        self.plan = stage_plan(self.runs, self.bound)
        self.positions = [names.index(row.id) for row in self.rows]
        self.quantity = [training_index(*QUANTITIES[row.quantity]) for row in self.rows]
        energy_of = {row.model: i for i, row in enumerate(self.rows) if row.quantity == "energy"}
        self.paired = np.array(
            [
                energy_of.get(row.model, -1) if row.quantity == "operational_gwp" else -1
                for row in self.rows
            ],
            dtype=np.int64,
        )
        self.seed, self.chunk_size = seed, chunk_size

    def evaluate(self, scores, offset, draws):
        """(inputs, log_f) for normal scores (sample, calibrated input) of the tied inputs;
        each sample is evaluated ``draws`` times, the other inputs taking rows ``offset...`` of
        the Monte Carlo design (``log_f``: sample, draw, row)."""
        n = scores.shape[0]
        total = n * draws
        design = Design("mc", offset + total, self.bound.n_columns, self.seed)
        uniforms = np.repeat(special.ndtr(scores).clip(1e-12, 1 - 1e-12), draws, axis=0)
        inputs = {label: np.empty(total) for label in self.labels}
        log_f = np.empty((total, len(self.rows)))
        log_energy = np.empty((total, len(self.rows)))
        energy = training_index("energy")
        for start in range(0, total, self.chunk_size):
            stop = min(start + self.chunk_size, total)
            u = design.uniforms(offset + start, offset + stop)
            for k, columns in enumerate(self.ties.values()):
                u[:, columns] = uniforms[start:stop, k, None]
            for label, columns in self.ties.items():
                inputs[label][start:stop] = column_values(self.bound, u, columns[0])
            out = evaluate_rows(self.runs, self.bound, u, plan=self.plan)
            with np.errstate(divide="ignore"):
                log_f[start:stop] = np.log(out[:, self.positions, self.quantity])
                log_energy[start:stop] = np.log(out[:, self.positions, energy])
        if not (np.isfinite(log_f).all() and np.isfinite(log_energy).all()):
            raise MlimpactError("calibration: a run's estimate is not finite and positive")
        shape = (n, draws, len(self.rows))
        return (
            {label: v[::draws] for label, v in inputs.items()},
            log_f.reshape(shape),
            (log_f - log_energy).reshape(shape),
        )


#: Memory a calibration may hold for its samples [bytes]: importance sampling weighs every
#: sample of a round against all the others, so a round's samples are kept.
CALIBRATION_BYTES = 2**30


def _check_memory(samples, dims, draws, rows):
    """Refuse a number of samples whose arrays would pass :data:`CALIBRATION_BYTES`: per sample,
    its scores and inputs (``dims`` each, a few copies), and ``draws`` evaluations of every
    row (the likelihood, the grid's and the energy's logarithms and the inputs drawn)."""
    per_sample = 8 * (6 * dims + draws * (3 * rows + dims))
    largest = CALIBRATION_BYTES // per_sample
    if samples > largest:
        raise MlimpactError(
            f"calibration keeps each round's samples in memory: at most {largest:,} samples "
            f"with {rows} rows and {draws} draws each (1 GiB; got {samples:,})"
        )


def prepare(
    rows=None,
    samples=SAMPLES,
    seed=0,
    basis="measured",
    chunk_size=4096,
    rounds=ROUNDS,
    draws=DRAWS,
):
    """Samples of the posterior of the calibrated inputs by adaptive importance sampling.

    Round 0 draws from the prior; each later round draws from a defensive mixture (Hesterberg 1995
    [3]_): :data:`DEFENSIVE` of the prior and the rest a normal fitted to the previous round's
    weighted normal scores (covariance inflated by :data:`INFLATION`). Each round's samples are
    weighted by prior x likelihood / proposal, so the weights stay exact whatever the proposal; the
    round with the largest effective sample size is kept. Each sample of the calibrated inputs is
    evaluated with ``draws`` draws of the other inputs (per-run grid errors, locations, hardware
    variants), over which each row's likelihood is averaged (a pseudo-marginal estimate, Andrieu and
    Roberts 2009 [5]_): a product over rows of single draws would collapse the weights. Rows default
    to :func:`informative_rows`; runs are built as the ``setup`` way of
    :mod:`mlimpact.study.validation` builds them. The result does not depend on ``chunk_size``.
    """
    skipped = []
    if rows is None:
        rows, skipped = informative_rows(basis)
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 16:
        raise MlimpactError(f"calibration needs at least 16 samples (got {samples!r})")
    problem = _Problem(list(rows), seed, chunk_size)
    skipped += problem.skipped
    labels = [*problem.labels, "sigma_energy", "sigma_grid"]
    dims = len(labels)
    _check_memory(samples, dims, draws, len(problem.rows))
    rng = np.random.default_rng([seed, PROPOSAL_STREAM])
    mean, covariance = np.zeros(dims), np.eye(dims)
    history, best = [], None
    for round_ in range(rounds if problem.rows else 1):
        scores = rng.standard_normal((samples, dims))
        if round_:
            fitted = rng.random(samples) >= DEFENSIVE
            factor = np.linalg.cholesky(covariance * INFLATION**2)
            scores[fitted] = mean + scores[fitted] @ factor.T
        log_prior = _log_normal(scores, np.zeros(dims), np.eye(dims))
        log_proposal = (
            log_prior
            if not round_
            else np.logaddexp(
                math.log(DEFENSIVE) + log_prior,
                math.log(1 - DEFENSIVE) + _log_normal(scores, mean, covariance * INFLATION**2),
            )
        )
        if problem.rows:
            inputs, log_f, log_grid = problem.evaluate(
                scores[:, :-2], round_ * samples * draws, draws
            )
        else:
            inputs, log_f, log_grid = {}, np.zeros((samples, draws, 0)), None
        sigma = sigma_of(special.ndtr(scores[:, -2:]))
        inputs.update(sigma_energy=sigma[:, 0], sigma_grid=sigma[:, 1])
        gwp = np.array([row.quantity == "operational_gwp" for row in problem.rows])
        tau = np.sqrt(sigma[:, :1] ** 2 + gwp[None, :] * sigma[:, 1:] ** 2 + MEASUREMENT_ERROR**2)
        prepared = Prepared(
            problem.rows,
            inputs,
            log_f,
            tau,
            log_prior,
            log_proposal,
            skipped,
            samples,
            seed,
            history,
            problem.paired if problem.rows else None,
            log_grid,
        )
        weights = prepared.weights()
        history.append(effective_sample_size(weights))
        if best is None or history[-1] > effective_sample_size(best.weights()):
            best = prepared
        mean = weights @ scores
        centred = scores - mean
        covariance = (centred * weights[:, None]).T @ centred + 1e-9 * np.eye(dims)
    return best


def _log_normal(x, mean, covariance):
    """Log-density of a multivariate normal at the rows of ``x``."""
    factor = np.linalg.cholesky(covariance)
    solved = np.linalg.solve(factor, (x - mean).T)
    return (
        -0.5 * np.sum(solved**2, axis=0)
        - np.log(np.diag(factor)).sum()
        - 0.5 * x.shape[1] * math.log(2 * math.pi)
    )


def _tied_columns(bound, runs, names):
    """Calibrated input label -> the columns whose uniforms are tied (one class value)."""
    ties = {}
    for j, (parameter, member) in enumerate(bound.columns):
        if parameter not in CALIBRATED:
            continue
        kind = CALIBRATED[parameter]
        if kind is None:
            label = parameter
        else:
            label = f"{parameter}[{runs.classes[kind][names.index(member)]}]"
        ties.setdefault(label, []).append(j)
    return ties


def summary(prepared, weights=None):
    """Per calibrated input: prior and posterior 2.5 %, 50 % and 97.5 % quantiles (the prior's
    from the same samples, weighted by prior / proposal)."""
    weights = prepared.weights() if weights is None else weights
    prior = prepared.weights(prior=True)
    return [
        quantile_row(label, values, prior, weights) for label, values in prepared.inputs.items()
    ]


def calibrate(samples=SAMPLES, seed=0, basis="measured", chunk_size=4096):
    """Prepared samples, their weights and the effective sample size (a warning when it is
    below :data:`MIN_ESS`)."""
    prepared = prepare(samples=samples, seed=seed, basis=basis, chunk_size=chunk_size)
    weights = prepared.weights()
    ess = effective_sample_size(weights)
    if ess < MIN_ESS:
        warnings.warn(
            f"calibration: the effective sample size is {ess:.0f} of {samples} "
            "samples; the posterior rests on few samples (use more)",
            stacklevel=2,
        )
    return prepared, weights, ess


def predictive_interval(prepared, weights, row, alpha=ALPHA, seed=0):
    """(low, median, high) of the posterior predictive of one used row's published value: the
    model's value of each sample times its discrepancy and measurement error, the samples
    weighted."""
    i = prepared.rows.index(row)
    log_f = prepared.log_f[:, :, i]
    z = np.random.default_rng([seed, i]).standard_normal(log_f.shape)
    # a published value: the model's, its scatter and its measurement error
    values = (log_f + prepared.tau[:, i, None] * z).ravel()
    per = log_f.shape[1]
    levels = np.array([alpha / 2, 0.5, 1 - alpha / 2])
    return np.exp(weighted_quantiles(values, np.repeat(weights, per) / per, levels))


def leave_one_out(prepared, alpha=ALPHA):
    """For each model in turn, the weights without its rows and the posterior predictive
    interval of each of its rows; also the prior's interval (the model's values alone, the
    samples weighted back to the prior: the interval ``validate`` reports, which has no
    discrepancy term) for the same row. One dict per row; a warning when a fold's effective
    sample size is below :data:`MIN_ESS`."""
    prior = prepared.weights(prior=True)
    per = prepared.log_f.shape[1]
    levels = np.array([alpha / 2, 0.5, 1 - alpha / 2])
    out = []
    for model in dict.fromkeys(r.model for r in prepared.rows):
        weights = prepared.weights(leave_out={model})
        ess = effective_sample_size(weights)
        if ess < MIN_ESS:
            warnings.warn(
                f"calibration: without {model!r} the effective sample size is "
                f"{ess:.0f}; its leave-one-out interval rests on few samples",
                stacklevel=2,
            )
        for row in (r for r in prepared.rows if r.model == model):
            low, median, high = predictive_interval(prepared, weights, row, alpha=alpha)
            i = prepared.rows.index(row)
            prior_interval = np.exp(
                weighted_quantiles(
                    prepared.log_f[:, :, i].ravel(), np.repeat(prior, per) / per, levels
                )
            )
            out.append(
                {
                    "id": row.id,
                    "model": row.model,
                    "quantity": row.quantity,
                    "basis": row.basis,
                    "published": row.value,
                    "median": median,
                    "low": low,
                    "high": high,
                    "inside": bool(low <= row.value <= high),
                    "ratio": median / row.value,
                    "ess": ess,
                    "score": float(interval_score(low, high, row.value, alpha)),
                    "prior_low": prior_interval[0],
                    "prior_median": prior_interval[1],
                    "prior_high": prior_interval[2],
                    "prior_score": float(
                        interval_score(prior_interval[0], prior_interval[2], row.value, alpha)
                    ),
                }
            )
    return out


def validate_out_of_sample(seed=0, **options):
    """:func:`mlimpact.study.validation.validate` (``seed`` and its ``options``) with the
    leave-one-out check of the calibration added (:func:`with_leave_one_out`)."""
    return with_leave_one_out(validate(seed=seed, **options), seed=seed)


def with_leave_one_out(result, seed=0):
    """A :class:`mlimpact.study.validation.ValidationResult` with the leave-one-out rows (way
    ``leave-one-out``; ``point`` is the prior's median) and summary rows (which also give the
    prior's coverage and interval score on the same rows) added."""
    prepared = prepare(seed=seed)
    held_out = leave_one_out(prepared)
    rows = [
        {
            "id": r["id"],
            "model": r["model"],
            "quantity": r["quantity"],
            "basis": r["basis"],
            "way": "leave-one-out",
            "published": r["published"],
            "point": r["prior_median"],
            "median": r["median"],
            "low": r["low"],
            "high": r["high"],
            "inside": r["inside"],
            "ratio": r["ratio"],
            "scored": True,
            "convention": "",
            "in_sample": False,  # calibrated without the model
            "note": f"point: the prior's median; effective sample size {r['ess']:.0f}",
        }
        for r in held_out
    ]
    return dataclasses.replace(
        result,
        rows=result.rows + rows,
        summary=result.summary + loo_summary(held_out),
        skipped=result.skipped + [(i, "leave-one-out", why) for i, why in prepared.skipped],
    )


def loo_summary(rows):
    """Per quantity (and all): coverage, geometric-mean ratio, median width and interval score
    of the leave-one-out intervals, with the prior's interval score and coverage."""
    out = []
    for quantity in (*QUANTITIES, "all"):
        group = [r for r in rows if quantity in ("all", r["quantity"])]
        if not group:
            continue
        out.append(
            {
                "quantity": quantity,
                "way": "leave-one-out",
                "rows": "measured",
                "sample": "all",
                "n": len(group),
                "coverage": float(np.mean([r["inside"] for r in group])),
                "geometric_mean_ratio": float(np.exp(np.mean(np.log([r["ratio"] for r in group])))),
                "median_width": float(np.median([r["high"] / r["low"] for r in group])),
                "interval_score": float(np.mean([r["score"] for r in group])),
                "prior_coverage": float(
                    np.mean([r["prior_low"] <= r["published"] <= r["prior_high"] for r in group])
                ),
                "prior_interval_score": float(np.mean([r["prior_score"] for r in group])),
                "reference_band": None,
                "reference_interval_score": None,
                "skill": None,
            }
        )
    return out


def calibrated_document(prepared, weights, points=POSTERIOR_POINTS, cards=None):
    """The calibrated catalogue as a TOML-ready document (``--parameters`` format), returned
    as a dict of entries: every calibrated entry of ``data/parameters.toml`` with the posterior
    of each class that the rows inform, and the two between-run scatter factors; with ``cards``
    (:class:`CardCalibration`), the production model's posterior weights.

    Each input is written as its own marginal: the catalogue cannot hold the posterior's
    correlations (the share of TDP, the PUE and the overhead are negatively correlated, only
    their product being pinned down), so sampling the marginals independently widens that
    product (docs/calibration.md)."""
    prior = catalogue_document()
    levels = (np.arange(points) + 0.5) / points
    document = {
        parameter: _posterior_entry(prior[parameter], parameter, kind, prepared, weights, levels)
        for parameter, kind in CALIBRATED.items()
    }
    sigma_energy = float(weighted_quantiles(prepared.inputs["sigma_energy"], weights, [0.5])[0])
    sigma_grid = float(weighted_quantiles(prepared.inputs["sigma_grid"], weights, [0.5])[0])
    document["energy_scatter"] = {
        "label": "energy scatter between runs",
        "power_model": "evidence",
        "description": "how a run's energy scatters around its class's (calibrated)",
        **_scatter_entry(sigma_energy, "dynamic_ratio", "sigma_energy"),
    }
    if cards is not None:
        document.update(card_entries(cards, prior, levels))
    document["grid_scatter"] = {
        "label": "grid scatter between runs",
        "description": "how a run's grid intensity scatters around its estimate (calibrated)",
        **_scatter_entry(sigma_grid, "grid_gwp", "sigma_grid"),
    }
    return document


def _posterior_entry(prior, parameter, kind, prepared, weights, levels):
    """The calibrated catalogue's entry of ``parameter`` (``kind``: its class kind, or None),
    its ``prior`` entry with the posterior of each class the rows inform (a discrete
    distribution on the weighted quantiles at ``levels``)."""
    entry = {k: v for k, v in prior.items() if k not in ("class_points", "point")}
    labels = [label for label in prepared.inputs if label.split("[")[0] == parameter]
    posteriors = {}
    for label in labels:
        values = weighted_quantiles(prepared.inputs[label], weights, levels)
        posteriors[label] = {"type": "discrete", "values": [float(f"{v:.6g}") for v in values]}
    if kind is None:
        if parameter in posteriors:
            entry["distribution"] = posteriors[parameter]
    else:
        by_class = dict(entry.get("by_class", {}))
        for label, spec in posteriors.items():
            name = label[len(parameter) + 1 : -1]
            if name in by_class:
                by_class[name] = spec
            else:  # the class without its own distribution takes the default one
                entry["distribution"] = spec
        entry["by_class"] = by_class
    entry["source"] = (
        f"mlimpact calibrate: posterior of {entry.get('source', '')}"
        if posteriors
        else entry.get("source", "")
    )
    return entry


def _scatter_entry(sigma, target, name):
    """The keys after the label and description of a between-run scatter entry: a lognormal
    factor of median 1 and log-scale ``sigma`` on the run field ``target``, its source the
    posterior median of ``name``."""
    return {
        "distribution": {
            "type": "lognormal",
            "median": 1.0,
            "gsd": float(f"{math.exp(sigma):.6g}"),
        },
        "unit": "1",
        "scope": "run",
        "target": target,
        "mode": "scale",
        "source": f"mlimpact calibrate: posterior median of {name}",
    }


@dataclass
class CalibrationResult:
    """Everything ``mlimpact calibrate`` prints and writes.

    ``prepared``, ``weights`` and ``ess``: the power model's calibration (:func:`calibrate`);
    ``cards``: the cards' (:class:`CardCalibration`); ``inputs``: one calibration.csv row per
    calibrated input, the power model's then the cards' (:func:`summary`,
    :func:`card_summary`); ``document``: the calibrated catalogue
    (:func:`calibrated_document`); ``prior_weights``: the prior's weights of the power model's
    samples; ``samples``, ``seed`` and ``basis`` as asked."""

    prepared: Prepared
    weights: np.ndarray
    ess: float
    cards: CardCalibration
    inputs: list
    document: dict
    prior_weights: np.ndarray
    samples: int
    seed: int
    basis: str

    @property
    def skipped(self):
        """(row id, reason) of every row that neither calibration uses."""
        return self.prepared.skipped + self.cards.skipped


def run_calibration(samples=SAMPLES, seed=0, basis="measured"):
    """Both calibrations of ``mlimpact calibrate``: the power model's class inputs on the rows
    of ``basis`` and the cards' production models, ``samples`` per round, from ``seed``.
    Returns a :class:`CalibrationResult` (a warning when the power model's effective sample
    size is below :data:`MIN_ESS`)."""
    prepared, weights, ess = calibrate(samples=samples, seed=seed, basis=basis)
    cards = calibrate_cards(samples=samples, seed=seed)
    return CalibrationResult(
        prepared,
        weights,
        ess,
        cards,
        summary(prepared, weights) + card_summary(cards),
        calibrated_document(prepared, weights, cards=cards),
        prepared.weights(prior=True),
        samples,
        seed,
        basis,
    )
