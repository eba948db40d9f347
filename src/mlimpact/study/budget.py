"""Where the uncertainty of a claim comes from: a variance budget over the uncertain inputs,
the imputation, the dataset and the analyst's specification.

A claim's estimate ``Y`` (a growth rate: the slope of ln impact on publication date; or the
production share of the summed impacts) depends on four independent sources of
uncertainty:

- ``inputs``: the catalogue's uncertain inputs (power draw, PUE, grid and production factors...);
- ``imputation``: the catalogue's draws that stand for a record's missing facts
  (:data:`IMPUTATION`: the MFU that gives a missing training time or count, the accelerator
  of an unreported or generic name, the place of an unpublished site, the grid of an
  unknown country, the time between disagreeing sources);
- ``dataset``: which models are in the dataset (a bootstrap resample of the models, the
  weights of the fit);
- ``specification``: the analyst's choices (:mod:`mlimpact.study.specifications`: records,
  window, fit, production model, location and power models), drawn from the specification set
  with equal weights.

The budget is the nested decomposition of the law of total variance over the
specification ``S``::

    Var Y = Var_S E[Y | S] + E_S Var(Y | S)
    Var(Y | S) = V_inputs + V_imputation + V_dataset + V_interactions      (given S)

with ``V_g = Var E[Y | g, S]`` the first-order variance of source ``g`` within a
specification, estimated by the pick-freeze design of Saltelli et al. (2010, their
first-order estimator, table 2 (b)): per specification, ``n`` rows of inputs A and B
(independent), bootstrap resamples a and b, the evaluations

    Y = f(I_A, M_A, a)     C = f(I_B, M_B, b)
    C_inputs = f(I_A, M_B, b)   C_imputation = f(I_B, M_A, b)   C_dataset = f(I_B, M_B, a)

(``I`` the inputs' uniforms, ``M`` the imputation's; ``C_g`` is ``C`` with source ``g`` taken
from ``Y``'s row), and ``V_g = mean((Y - mean Y) (C_g - C))``, which is unbiased (up to the
O(1/n) of the centring) and exactly 0 for a source without effect, averaged with Jansen's
(1999) ``Var Y - mean((Y - C_g)^2) / 2``, precise for a dominant source, by the inverse of
their estimated sampling variances.
``Var(Y | S)`` is the sample variance of ``Y`` and ``C`` together. Between specifications,
``Var_S E[Y | S]`` is the variance of the specifications' means over the (equally weighted)
set, less the sampling noise of that variance,
``(1/K) sum_s c_ss - (1/K^2) sum_{s,t} c_st`` with ``c_st`` the covariance of the means of
specifications s and t (``c_ss = Var(Y | s) / m_s``, ``m_s`` evaluations of the mean).
Every specification draws the same numbers for the same input (common random numbers: a
column's uniforms are addressed by its parameter and member, :func:`parameter_ids`), so
that specifications differ by their choices and not by their draws; ``c_st`` is estimated
from the rows the two share (with independent draws it is 0 and the correction is
``(K - 1) / K^2 sum_s c_ss``). Specifications with the same runs and catalogue (those that
change the fit alone) then have the same evaluations, made once. The shares are each term
over ``Var Y``; the interactions are what the first-order terms leave (within
specifications), so the shares add up to 1.

The pooled ``Y`` of every specification is also the claim's distribution over
specifications: the total interval, whose verdict the claims table rests on.

References
----------
.. [1] I. M. Sobol', "Sensitivity estimates for nonlinear mathematical models", Math. Model.
   Comput. Exp. 1(4), 407-414, 1993.
.. [2] A. Saltelli, P. Annoni, I. Azzini, F. Campolongo, M. Ratto, S. Tarantola, "Variance based
   sensitivity analysis of model output. Design and estimator for the total sensitivity
   index", Comput. Phys. Commun. 181(2), 259-270, 2010, doi:10.1016/j.cpc.2009.09.018.
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from mlimpact.analysis import trends
from mlimpact.engine.propagate import evaluate_rows, stage_plan
from mlimpact.quantities import (
    CARD_QUANTITIES,
    IMPACT_CRITERIA,
    TRAINING_QUANTITIES,
    card_index,
    training_index,
)
from mlimpact.study.series import BUDGET_HEADER, SOURCES  # noqa: F401 (re-exported)
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.sampling import Design

#: Catalogue entries that stand for a record's missing facts: the imputation.
IMPUTATION = (
    "mfu",
    "hardware_variant",
    "location",
    "unknown_country_grid_error",
    "record_chip_hours",
)
#: Groups evaluated within a specification, and what each evaluation shares with ``Y``.
WITHIN = ("inputs", "imputation", "dataset")
#: Seed offset of the budget's design (apart from the main propagation's draws).
_BUDGET_STREAM = 0x6275


def within_variances(y, pairs):
    """``(mean, Var(Y), {group: V_group}, m)`` of one specification: ``y`` the evaluations
    ``Y``, ``pairs`` with the base ``C`` under ``"base"`` and each group's ``C_g``; over the
    rows where every evaluation is finite (``m`` values of ``Y`` and ``C`` together)."""
    groups = [g for g in pairs if g != "base"]
    stacked = np.vstack([y, pairs["base"], *(pairs[g] for g in groups)])
    finite = np.all(np.isfinite(stacked), axis=0)
    stacked = stacked[:, finite]
    n = stacked.shape[1]
    if n < 3:
        return np.nan, np.nan, dict.fromkeys(groups, np.nan), 0
    both = stacked[:2].ravel()
    mean, variance = float(both.mean()), float(np.var(both, ddof=1))
    first = {
        g: _first_order(stacked[0], stacked[1], stacked[k + 2], mean, variance, both)
        for k, g in enumerate(groups)
    }
    return mean, variance, first, both.size


def _first_order(y, base, shared, mean, variance, both):
    """``V_g`` from ``Y``, ``C`` and ``C_g``: Saltelli et al.'s form, centred,
    ``mean((Y - mean) (C_g - C))`` (exact 0 for a source without effect, noisy for a large
    one), and Jansen's, ``Var Y - mean((Y - C_g)^2) / 2`` (precise for a large effect, noisy
    for a small one), both unbiased, averaged with weights inverse to their estimated
    sampling variances (Saltelli et al. 2010, section 3; M. J. W. Jansen, Comput. Phys.
    Commun. 117, 35-43, 1999). A source without effect gets Saltelli's exact 0."""
    saltelli = (y - mean) * (shared - base)
    jansen = 0.5 * (y - shared) ** 2
    noise_saltelli = np.var(saltelli) / saltelli.size
    noise_jansen = np.var(jansen) / jansen.size + np.var((both - mean) ** 2) / both.size
    if not noise_saltelli + noise_jansen > 0:
        return float(saltelli.mean())
    weight = noise_jansen / (noise_saltelli + noise_jansen)
    return weight * float(saltelli.mean()) + (1 - weight) * (variance - float(jansen.mean()))


def combine(per_spec):
    """The budget of one claim from its specifications' evaluations.

    ``per_spec`` is a list (one item per specification, equally weighted) of ``(y, pairs)``
    (:func:`within_variances`; a group absent from ``pairs`` has no effect: share 0).
    Returns ``{"variance": Var Y, source: share...}`` over :data:`SOURCES`; NaN where the
    claim cannot be evaluated."""
    parts = [within_variances(y, pairs) for y, pairs in per_spec]
    kept = [i for i, p in enumerate(parts) if np.isfinite(p[1]) and p[3] >= 3]
    parts = [parts[i] for i in kept]
    if not parts:
        return {"variance": np.nan, **dict.fromkeys(SOURCES, np.nan)}
    k = len(parts)
    means = np.array([p[0] for p in parts])
    within = np.array([p[1] for p in parts])
    covariance = _covariance_of_means([per_spec[i] for i in kept])
    between = float(np.mean((means - means.mean()) ** 2))
    between -= float(np.trace(covariance)) / k - float(covariance.sum()) / k**2
    total = max(between, 0.0) + float(within.mean())
    if not total > 0:
        return {"variance": total, **dict.fromkeys(SOURCES, np.nan)}
    out = {"variance": total, "specification": max(between, 0.0) / total}
    for group in WITHIN:
        out[group] = float(np.mean([p[2].get(group, 0.0) for p in parts])) / total
    out["interactions"] = 1.0 - sum(out[s] for s in SOURCES if s != "interactions")
    return out


def _covariance_of_means(per_spec):
    """(spec, spec) covariances of the specifications' means of ``Y`` and ``C`` together
    (:func:`within_variances`' mean over its finite rows): between specifications s and t of
    the same rows (common draws, s = t included), ``m_st (cov(Y_s, Y_t) + cov(C_s, C_t)) /
    (4 m_s m_t)`` over the ``m_st`` rows finite in both (``Y`` and ``C`` are independent
    draws, so ``Y`` pairs with ``Y`` and ``C`` with ``C``; on the diagonal, ``(Var Y + Var
    C) / (4 m_s)``); 0 between specifications of different numbers of rows."""
    rows = []
    for y, pairs in per_spec:
        stacked = np.vstack([y, *pairs.values()])
        finite = np.all(np.isfinite(stacked), axis=0)
        rows.append((np.asarray(y, float), np.asarray(pairs["base"], float), finite))
    k = len(rows)
    out = np.zeros((k, k))
    for s in range(k):
        for t in range(s, k):
            (ys, cs, fs), (yt, ct, ft) = rows[s], rows[t]
            if ys.shape != yt.shape:
                continue
            both = fs & ft
            m_st = int(both.sum())
            if m_st < 2:
                continue
            paired = np.cov(ys[both], yt[both])[0, 1] + np.cov(cs[both], ct[both])[0, 1]
            out[s, t] = out[t, s] = m_st * paired / (4 * fs.sum() * ft.sum())
    return out


def parameter_ids(bound):
    """A stable address of each column of ``bound``: a 56-bit hash of its parameter's name and
    member, so that a design of one seed draws the same uniforms for the same input under
    any binding (common random numbers across specifications:
    :class:`mlimpact.uncertainty.sampling.Design`'s ``column_ids``)."""
    ids = [
        int.from_bytes(
            hashlib.blake2b(f"{name}\x00{member}".encode(), digest_size=7).digest(), "little"
        )
        for name, member in bound.columns
    ]
    return np.array(ids, dtype=np.int64)


@dataclass
class Evaluated:
    """The evaluations of one design (:func:`evaluate_design`): per-sample quantities (row,
    run, quantity) of A's rows (``a``), of B's (``b``), of A's inputs with B's imputation
    (``inputs``), of B's inputs with A's imputation (``imputation``; None without imputation
    columns), and the bootstrap counts of resamples a and b (row, run); ``storage``, the
    :class:`Blocks`' blocks that hold the evaluations, if they came from one."""

    a: np.ndarray
    b: np.ndarray
    inputs: np.ndarray
    imputation: np.ndarray
    boot_a: np.ndarray
    boot_b: np.ndarray
    storage: tuple = ()

    def pairs(self, statistic):
        """``(Y, {"base": C, group: C_group})`` of ``statistic(samples, bootstrap counts)`` ->
        (row,); without imputation columns, no ``imputation`` (it has no effect)."""
        y = statistic(self.a, self.boot_a)
        out = {
            "base": statistic(self.b, self.boot_b),
            "inputs": statistic(self.inputs, self.boot_b),
            "dataset": statistic(self.b, self.boot_a),
        }
        if self.imputation is not None:
            out["imputation"] = statistic(self.imputation, self.boot_b)
        return y, out


class Blocks:
    """Flat float64 blocks that held evaluations no longer read, for the next ones
    (:func:`evaluate_design`): the specifications evaluate 28 designs of 4 x 256 rows of up
    to 442 runs, 14 MB an evaluation, and each new array had the system map and clear its
    pages again (3.4 of 9 ms an evaluation)."""

    def __init__(self):
        self.free = []

    def take(self, size):
        """A block of at least ``size`` values: the smallest free one that holds them, else
        a new one."""
        fitting = [k for k, block in enumerate(self.free) if block.size >= size]
        if not fitting:
            return np.empty(size)
        return self.free.pop(min(fitting, key=lambda k: self.free[k].size))

    def give(self, blocks):
        """Blocks whose evaluations are no longer read (each once)."""
        known = {id(block) for block in self.free}
        self.free += [b for b in {id(b): b for b in blocks}.values() if id(b) not in known]


def evaluate_design(runs, bound, n, seed, kind="training", plan=None, blocks=None):
    """The four evaluations of the budget's design on ``runs`` (a RunTable) bound to
    ``bound`` (:class:`Evaluated`): rows A and B of one Monte Carlo design, the imputation's
    columns (:data:`IMPUTATION`) swapped between them. ``plan`` is
    :func:`mlimpact.engine.propagate.stage_plan` of the runs and ``bound`` (made here if not
    given); ``blocks``, a :class:`Blocks`, holds the evaluations if given (give them back
    once they are no longer read: :attr:`Evaluated.storage`)."""
    design = Design(
        "mc", 2 * n, bound.n_columns, seed + _BUDGET_STREAM, column_ids=parameter_ids(bound)
    )
    u_a, u_b = design.uniforms(0, n), design.uniforms(n, 2 * n)
    imputed = np.array([p in IMPUTATION for p, _ in bound.columns], dtype=bool)
    mixed_a, mixed_b = u_a.copy(), u_b.copy()  # C_inputs: I from A; C_imputation: M from A
    mixed_a[:, imputed], mixed_b[:, imputed] = u_b[:, imputed], u_a[:, imputed]

    plan = stage_plan(runs, bound) if plan is None else plan
    width = len(TRAINING_QUANTITIES if kind == "training" else CARD_QUANTITIES)
    storage = []

    def run(u):
        # (the column-major copy of u is the kernel's to overwrite: no block for the values)
        out = None if blocks is None else blocks.take(u.shape[0] * len(runs) * width)
        if out is not None:
            storage.append(out)
        values = np.asfortranarray(u)
        return evaluate_rows(runs, bound, values, kind=kind, plan=plan, overwrite=True, out=out)

    n_runs, a = len(runs), run(u_a)
    return Evaluated(
        a,
        run(u_b),
        run(mixed_a) if imputed.any() else a,
        run(mixed_b) if imputed.any() else None,
        trends.bootstrap_weights(n_runs, 0, n, seed + _BUDGET_STREAM),
        trends.bootstrap_weights(n_runs, n, 2 * n, seed + _BUDGET_STREAM),
        tuple(storage),
    )


def slope_statistic(dates, index, method="ols", keep=None):
    """A growth rate per sample: the slope of ln quantity ``index`` on ``dates``, weighted by
    the bootstrap counts; ``keep`` (run mask) restricts the fit (a frontier)."""

    def statistic(samples, weights):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.log(np.where(samples[..., index] > 0, samples[..., index], np.nan))
        if keep is not None:
            y = np.where(keep, y, np.nan)
        return trends.fit_slopes(dates, y, weights, method=method)[0]

    return statistic


def efficiency_statistic(dates, compute, method="ols", keep=None):
    """The growth rate of training FLOP per kWh per sample (NaN where the compute is
    unknown: no weight in the fit)."""
    log_compute = np.log(np.where(compute > 0, compute, np.nan))
    energy = training_index("energy")

    def statistic(samples, weights):
        with np.errstate(divide="ignore", invalid="ignore"):
            y = log_compute - np.log(samples[..., energy])
        if keep is not None:
            y = np.where(keep, y, np.nan)
        return trends.fit_slopes(dates, y, weights, method=method)[0]

    return statistic


def share_statistic(criterion):
    """The production share of the summed impacts per sample, the models weighted by the
    bootstrap counts."""
    production, total = training_index(criterion, "production"), training_index(criterion)

    def statistic(samples, weights):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (samples[..., production] * weights).sum(axis=1) / (
                samples[..., total] * weights
            ).sum(axis=1)

    return statistic


def card_statistics(dates):
    """The card claim's statistics: the growth rate of one card's production impacts per
    criterion against its release date."""
    return {c: slope_statistic(dates, card_index(c)) for c in IMPACT_CRITERIA}


def scenario_statistics(scenario, runs, fit):
    """Claim key (claim, criterion, scenario, quantity: as in the claims table) ->
    statistic, for one scenario's runs under a specification's ``fit``."""
    from mlimpact.study.scenarios import scenario_of
    from mlimpact.study.series import SHIFTING_ORDER, frontier, series_quantity

    dates = trends.decimal_years(runs.dates)
    compute = runs.runs.column("training_compute")
    method = "huber" if fit == "huber" else "ols"
    keep = frontier(dates, compute) if fit == "frontier" else None
    out = {}
    claim = "rebound" if scenario == "hardware_efficiency" else scenario_of(scenario).claim
    criteria = ("energy",) if scenario == "hardware_efficiency" else ("energy", *IMPACT_CRITERIA)
    for criterion in criteria if claim else ():
        key = (claim, criterion, scenario, series_quantity(criterion))
        out[key] = slope_statistic(dates, training_index(criterion), method, keep)
    if scenario == "baseline":
        key = ("rebound", "energy", scenario, series_quantity("efficiency"))
        out[key] = efficiency_statistic(dates, compute, method, keep)
        for criterion in SHIFTING_ORDER:
            key = ("impact_shifting", criterion, scenario, SHARE_QUANTITY)
            out[key] = share_statistic(criterion)
    return out


#: The quantity of the impact-shifting claims (as in the claims table).
SHARE_QUANTITY = "production share of the summed impacts"
#: The scenarios whose claims the budget follows.
CLAIM_SCENARIOS = ("baseline", "location_shifting", "hardware_efficiency")


def seed_of(options):
    """The seed of every specification's rows: the same for all (common random numbers: the
    specifications differ by their choices, not by their draws)."""
    return options.seed


def _values(key, y):
    """A claim's values and threshold from its statistic: a growth factor per year
    (``exp`` of a slope) against 1, or a production share against 0.5."""
    if key[0] == "impact_shifting":
        return y, 0.5
    return np.exp(y), 1.0


def _summary(key, y, energy=None):
    """A claim's estimate, interval and probability from its statistic's values ``y``; for
    the rebound's efficiency, the probability that it grows while ``energy``'s slope (same
    rows) grows too (:func:`mlimpact.study.series.rebound_probability`)."""
    from mlimpact.study.series import rebound_probability

    values, threshold = _values(key, y)
    out = trends.summarize(values, threshold=threshold)
    if energy is not None:
        out["probability"] = rebound_probability(y, energy)
    return out


def _energy_key(key):
    """The key of the baseline's energy growth, whose rows the rebound's efficiency shares
    (None for any other claim)."""
    if key[0] == "rebound" and key[2] == "baseline":
        return ("impacts_grow", "energy", "baseline", "energy per model")
    return None


def _pooled(per_spec, k=None):
    """A claim's ``Y`` and ``C`` values, of specification ``k`` or of all."""
    chosen = per_spec if k is None else [per_spec[k]]
    return np.concatenate([np.concatenate([y, p["base"]]) for y, p in chosen])


def specification_rows(evaluations, specs, base):
    """The rows of specifications.csv (:func:`mlimpact.study.specifications.evaluate`'s
    schema) from the budget's evaluations: per claim and specification, the claim's
    estimate, interval and probability over that specification's rows (``Y`` and ``C``)."""
    from mlimpact.study.specifications import label

    rows = []
    for k, spec in enumerate(specs):
        for key, per_spec in evaluations.items():
            energy = _energy_key(key)
            summary = _summary(
                key,
                _pooled(per_spec, k),
                None if energy not in evaluations else _pooled(evaluations[energy], k),
            )
            rows.append(
                {
                    "claim": key[0],
                    "criterion": key[1],
                    "scenario": key[2],
                    "quantity": key[3],
                    "specification": label(spec, base),
                    **spec,
                    **{s: summary[s] for s in ("estimate", "low", "high", "probability")},
                }
            )
    return rows


def total_summaries(evaluations):
    """Claim key -> its estimate, interval and probability over every specification (equal
    weights: each specification's ``Y`` and ``C`` pooled)."""
    out = {}
    for key, per_spec in evaluations.items():
        energy = _energy_key(key)
        out[key] = _summary(
            key,
            _pooled(per_spec),
            None if energy not in evaluations else _pooled(evaluations[energy]),
        )
    return out


def budget_rows(evaluations, n):
    """The rows of budget.csv: per claim, Var Y and the share of each source."""
    rows = []
    for key, per_spec in evaluations.items():
        shares = combine(per_spec)
        rows.append(
            {
                "claim": key[0],
                "criterion": key[1],
                "scenario": key[2],
                "quantity": key[3],
                **shares,
                "specifications": len(per_spec),
                "samples": n,
            }
        )
    return rows


@dataclass(frozen=True)
class CardDesign:
    """What the card claim's evaluations under one catalogue read (:func:`card_design`): the
    priced cards' run table, their release dates [decimal years], the catalogue bound to them
    and their stage plan; the same for every specification that shares the catalogue."""

    runs: object
    dates: np.ndarray
    bound: object
    plan: object


def card_design(catalogue):
    """The :class:`CardDesign` of the priced cards under ``catalogue``."""
    from mlimpact.runs.cards import card_runs, priced_gpus

    priced = priced_gpus("mixture")
    runs, known = card_runs(priced, "mixture")
    dates = trends.decimal_years(np.array([h.release_date for h in priced], dtype="datetime64[D]"))
    bound = bind(catalogue, runs, list(runs.names), [""] * len(runs), known)
    return CardDesign(runs, dates, bound, stage_plan(runs, bound))


def card_evaluations(design, fit, n, seed, collected, evaluated=None):
    """The card claim's evaluations under one specification (the :func:`card_design` of its
    catalogue, and its ``fit``), added to ``collected``; ``evaluated`` is the design's
    :func:`evaluate_design` of ``n`` rows and ``seed`` (made here if not given;
    specifications that differ by their fit alone share it). Returns the evaluations."""
    runs, dates = design.runs, design.dates
    if evaluated is None:
        evaluated = evaluate_design(runs, design.bound, n, seed, kind="card", plan=design.plan)
    method = "huber" if fit == "huber" else "ols"
    for criterion in IMPACT_CRITERIA:
        statistic = slope_statistic(dates, card_index(criterion), method)
        key = ("card_production_rises", criterion, "cards", "production of one card")
        collected.setdefault(key, []).append(evaluated.pairs(statistic))
    return evaluated


def dataset_key(dataset):
    """What a dataset's runs depend on besides its records (a
    :class:`mlimpact.runs.notable.DatasetOptions`)."""
    return dataset.window, dataset.impute, dataset.location, dataset.power, dataset.speculative
