"""Propagation: run tables and uncertain parameters -> per-run distributions of every impact.

:func:`propagate` draws ``n`` samples of the bound parameters with a sampling design
(:mod:`mlimpact.uncertainty.sampling`), evaluates them chunk by chunk through the fused kernel
(:mod:`mlimpact.engine.kernels.montecarlo`) and folds every chunk into one mergeable
:class:`Accumulator`. Memory is bounded by the chunk size and the number of runs, not by ``n``: full
sample arrays are kept only on request and when small enough. Results are an :class:`xarray.Dataset`
with dims ``model``, ``phase`` and ``statistic`` and ``units`` on every variable.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import xarray as xr

from mlimpact import quantities as q
from mlimpact.engine import DEFAULT_CHUNK_SIZE  # noqa: F401 (re-exported)
from mlimpact.engine.kernels import montecarlo as mc
from mlimpact.engine.kernels import ppf
from mlimpact.engine.kernels.training import evaluate_runs
from mlimpact.engine.model import (
    CRITERION_COORDS,
    card_dataset,
    card_parts,
    checked_factors,
    criterion_variables,
    validate_runs,
    with_totals,
)
from mlimpact.errors import MlimpactError
from mlimpact.runs.table import (
    DYNAMIC_RATIO,
    METERED_ENERGY_KWH,
    METERED_SCOPE,
    METERED_SCOPES,
    RUN_FIELDS,
    SERVER,
)
from mlimpact.tables.factors import PRODUCTION_FACTORS
from mlimpact.uncertainty import binding
from mlimpact.uncertainty import catalogue as catalogue_module
from mlimpact.uncertainty.distributions import Discrete
from mlimpact.uncertainty.sampling import Design, chunks

#: Quantile levels of every summary, with their names in the ``statistic`` coordinate.
QUANTILES = {"q025": 0.025, "q05": 0.05, "median": 0.5, "q95": 0.95, "q975": 0.975}
STATISTICS = ("mean", "std", *QUANTILES, "point")
#: Largest number of values (samples x runs x quantities) kept in memory on request.
MAX_KEPT_VALUES = 100_000_000


#: What propagate evaluates: training runs or the card of each run.
KINDS = {"training": mc.TRAINING, "card": mc.CARD}


def point_quantities(runs, production_factors, kind="training"):
    """The accumulated quantities at the point values of the runs, shape (run, quantity):
    :data:`mlimpact.quantities.TRAINING_QUANTITIES` for training runs,
    :data:`mlimpact.quantities.CARD_QUANTITIES` for cards."""
    if kind == "card":
        return card_parts(runs, production_factors).reshape(len(runs), q.N_CARD_QUANTITIES)
    return with_totals(evaluate_runs(runs, production_factors))


#: Parameters of each distribution kind that the compiled quantile functions take, in order.
_PPF_KINDS = {
    "constant": (ppf.CONSTANT, ("value",)),
    "uniform": (ppf.UNIFORM, ("low", "high")),
    "loguniform": (ppf.LOGUNIFORM, ("low", "high")),
    "normal": (ppf.NORMAL, ("mean", "sd")),
    "lognormal": (ppf.LOGNORMAL, ("median", "gsd")),
    "triangular": (ppf.TRIANGULAR, ("low", "mode", "high")),
}


def ppf_spec(distribution):
    """``(code, params[N_PARAMS])`` of a distribution for the compiled quantile functions
    (:mod:`mlimpact.engine.kernels.ppf`), from its public spec; code ``NOT_HERE`` for the kinds
    evaluated by their numpy ``ppf``."""
    spec = distribution.to_spec()
    params = np.zeros(ppf.N_PARAMS)
    if spec["type"] not in _PPF_KINDS:
        return ppf.NOT_HERE, params
    code, names = _PPF_KINDS[spec["type"]]
    params[: len(names)] = [float(spec[name]) for name in names]
    return code, params


class PpfSpecs(NamedTuple):
    """How :func:`parameter_values` evaluates each column of a bound catalogue: ``codes`` and
    ``params`` (column, N_PARAMS) of :func:`ppf_spec` for the compiled common kinds; the
    discrete columns' quantile tables for :func:`mlimpact.engine.kernels.ppf.discrete_columns`
    (``discrete`` column indices, ``starts`` offsets of each column's entries in
    ``cumulative`` and ``values``); and ``elsewhere``, the other columns grouped by
    distribution, for their numpy ``ppf``."""

    codes: np.ndarray
    params: np.ndarray
    discrete: np.ndarray
    starts: np.ndarray
    cumulative: np.ndarray
    values: np.ndarray
    elsewhere: tuple


def ppf_specs(bound):
    """The :class:`PpfSpecs` of every column of ``bound``."""
    # a distribution object often serves many columns (one per run of a class: the main
    # job's 2,627 columns hold 374): its spec is made once
    distinct = {id(d): d for d in bound.distributions}
    spec_of = {key: ppf_spec(d) for key, d in distinct.items()}
    specs = [spec_of[id(d)] for d in bound.distributions]
    codes = np.array([code for code, _ in specs], dtype=np.int64)
    params = np.array([p for _, p in specs], dtype=np.float64).reshape(len(specs), ppf.N_PARAMS)
    discrete, tables, by_distribution = [], [], {}
    for j in np.flatnonzero(codes == ppf.NOT_HERE):
        distribution = bound.distributions[j]
        if isinstance(distribution, Discrete):
            discrete.append(j)
            tables.append(distribution.quantile_table)
        else:
            by_distribution.setdefault(id(distribution), []).append(int(j))
    sizes = [len(cumulative) for cumulative, _ in tables]
    return PpfSpecs(
        codes,
        params,
        np.array(discrete, dtype=np.int64),
        np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64),
        np.concatenate([c for c, _ in tables]) if tables else np.zeros(0),
        np.concatenate([v for _, v in tables]) if tables else np.zeros(0),
        tuple(by_distribution.values()),
    )


def parameter_values(bound, uniforms, out=None, specs=None):
    """Turn uniforms of shape (sample, column) into the bound parameters' values (same shape,
    column-major).

    Common kinds and discrete ones go through the compiled
    :func:`mlimpact.engine.kernels.ppf.ppf_columns` and
    :func:`~mlimpact.engine.kernels.ppf.discrete_columns`; the others through their numpy
    ``ppf``. ``out`` (column-major float64, that shape) receives the values; it may be
    ``uniforms`` itself, which is then overwritten. ``specs`` is :func:`ppf_specs` of
    ``bound`` (computed if not given).
    """
    uniforms = np.asfortranarray(uniforms, dtype=np.float64)
    if uniforms.ndim != 2 or uniforms.shape[1] != bound.n_columns:
        raise ValueError(f"expected uniforms of shape (n, {bound.n_columns}), got {uniforms.shape}")
    if out is None:
        out = np.empty_like(uniforms, order="F")
    elif out.shape != uniforms.shape or not out.flags.f_contiguous:
        raise ValueError(f"out must be a column-major array of shape {uniforms.shape}")
    specs = ppf_specs(bound) if specs is None else specs
    # (column, sample), C-ordered; each kernel leaves the other columns alone, so their
    # uniforms are intact even in place
    ppf.ppf_columns(uniforms.T, specs.codes, specs.params, out.T)
    if len(specs.discrete):
        ppf.discrete_columns(
            uniforms.T, specs.discrete, specs.starts, specs.cumulative, specs.values, out.T
        )
    for columns in specs.elsewhere:  # the columns of one distribution together
        out[:, columns] = bound.distributions[columns[0]].ppf(uniforms[:, columns])
    return out


#: Most samples an int32 histogram count holds.
COUNT32 = 2**31 - 1


@dataclass
class Accumulator:
    """Mergeable streaming statistics of every (run, quantity).

    Attributes
    ----------
    count : int
        Samples folded in.
    anchor : int64[run, quantity]
        Biased binary exponent at the centre of each histogram (fixed by the point estimate, so
        that accumulators of different chunks and workers line up).
    shift : float64[run, quantity]
        K of the shifted sums.
    hist, tails, sums, compensation, extremes
        See :func:`mlimpact.engine.kernels.montecarlo.fused_kernel`.
    """

    count: int
    anchor: np.ndarray
    shift: np.ndarray
    hist: np.ndarray
    tails: np.ndarray
    sums: np.ndarray
    compensation: np.ndarray
    extremes: np.ndarray

    @classmethod
    def empty(cls, point, samples=None):
        """Accumulators centred on the point estimate ``point`` (run, quantity), for at most
        ``samples`` samples: histogram counts are int32 when that is below 2**31 (the main
        job's baseline histograms take 174 MB instead of 348 MB, all resident under
        transparent huge pages), int64 otherwise or when ``samples`` is not given."""
        point = np.asarray(point, dtype=np.float64)
        positive = np.where(point > 0, point, 1.0)
        anchor = (np.frexp(positive)[1] - 1 + 1023).astype(np.int64)
        shape = point.shape
        return cls(
            0,
            anchor,
            np.nan_to_num(point),
            np.zeros(
                (*shape, mc.N_BINS),
                np.int32 if samples is not None and samples <= COUNT32 else np.int64,
            ),
            np.zeros((*shape, mc.N_TAILS), np.int64),
            np.zeros((*shape, 2)),
            np.zeros((*shape, 2)),
            np.stack([np.full(shape, np.inf), np.full(shape, -np.inf)], axis=-1),
        )

    def absorb(self, compacted):
        """Merge a compacted accumulator of other samples into this one, in place: counts
        and extremes exactly, the sums with TwoSum so that the merge is as exact as the
        kernel's own additions."""
        other = compacted.fields
        if not (
            np.array_equal(self.anchor, other["anchor"])
            and np.array_equal(self.shift, other["shift"])
        ):
            raise ValueError("accumulators of different runs or centres cannot be merged")
        self.hist.reshape(-1)[compacted.index] += compacted.counts
        self.tails += other["tails"]
        total = self.sums + other["sums"]
        b = total - self.sums
        self.compensation += other["compensation"] + (self.sums - (total - b)) + (other["sums"] - b)
        self.sums = total
        self.extremes[..., 0] = np.minimum(self.extremes[..., 0], other["extremes"][..., 0])
        self.extremes[..., 1] = np.maximum(self.extremes[..., 1], other["extremes"][..., 1])
        self.count += other["count"]

    def compacted(self):
        """A copy whose histograms are stored sparsely (for transfer between processes)."""
        flat = self.hist.reshape(-1)
        nonzero = np.flatnonzero(flat)
        return _Compacted(self, nonzero, flat[nonzero])

    def _sum(self, k):
        return self.sums[..., k] + self.compensation[..., k]

    def mean(self):
        return self.shift + self._sum(0) / self.count

    def std(self):
        """Sample standard deviation (n - 1 in the denominator)."""
        if self.count < 2:
            return np.full(self.shift.shape, np.nan)
        variance = (self._sum(1) - self._sum(0) ** 2 / self.count) / (self.count - 1)
        return np.sqrt(np.maximum(variance, 0.0))

    def quantiles(self, levels):
        """Quantiles read from the histograms, shape (level, run, quantity).

        Relative error at most one bin width, 1 / SUB_BINS (0.78 %); NaN where a quantile
        falls outside the histogram's range (see
        :func:`mlimpact.engine.kernels.montecarlo.histogram_quantiles`).
        """
        levels = np.asarray(levels, dtype=np.float64)
        out = np.empty((levels.shape[0], *self.shift.shape))
        mc.histogram_quantiles(
            self.hist, self.tails, self.anchor, self.extremes, float(self.count), levels, out
        )
        return out


class _Compacted:
    """An accumulator with its histogram as (flat index, count) pairs, for transfer; merged
    back by :meth:`Accumulator.absorb`."""

    def __init__(self, accumulator, index, counts):
        self.fields = {k: v for k, v in vars(accumulator).items() if k != "hist"}
        self.index, self.counts = index, counts


@dataclass(frozen=True)
class Plan:
    """What every chunk of a propagation reuses: the fused kernel's stage plan (which runs
    share a card or a host) and the compiled quantile functions of the parameters' columns."""

    stages: mc.StagePlan
    ppf_specs: tuple


def stage_plan(runs, bound):
    """The :class:`Plan` of runs and their bound parameters."""
    return Plan(
        mc.stage_plan(
            runs, bound.apply_field, bound.apply_mode, bound.apply_column, bound.variant_column
        ),
        ppf_specs(bound),
    )


def _chunk_samples(point, n, out=None):
    """An array for ``n`` samples of every run and quantity, shaped (sample, run, quantity)
    and stored run by run, quantity by quantity (the kernel's layout: written in place); in
    the first values of ``out`` (a flat float64 array) if given."""
    shape = (*point.shape, n)
    block = np.empty(shape) if out is None else out[: math.prod(shape)].reshape(shape)
    return block.transpose(2, 0, 1)


def run_chunk(
    runs,
    production_factors,
    bound,
    design,
    start,
    stop,
    accumulator,
    samples=None,
    kind="training",
    plan=None,
    scratch=None,
    fold=True,
    given_values=False,
    quantities=None,
):
    """Evaluate samples ``start..stop-1`` and fold them into ``accumulator`` (in place).

    This is the unit of work, locally or on a Dask worker. ``samples``, if given, has shape
    (stop - start, run, quantity) and receives every value (of the ``quantities``, indices
    in that order, if given: the others are not written); with ``fold`` False the
    accumulator is left as it is (the values are only kept). ``plan`` is
    :func:`stage_plan` of the runs and parameters (made here if not given). ``scratch``, a
    float64 array of at least (stop - start) x columns values, holds the chunk's uniforms
    and then their parameter values (so that chunks reuse one block of memory). With
    ``given_values``, the design's rows are already parameter values (no quantile functions).
    """
    plan = stage_plan(runs, bound) if plan is None else plan
    shape = (stop - start, bound.n_columns)
    if scratch is None:
        scratch = np.empty(shape[0] * shape[1])
    block = scratch[: shape[0] * shape[1]].reshape(shape, order="F")
    block = design.uniforms(start, stop, out=block)
    values = (
        block if given_values else parameter_values(bound, block, out=block, specs=plan.ppf_specs)
    )
    factors = np.empty((stop - start, *production_factors.shape))
    mc.sample_factors(production_factors, values.T, bound.factor_column, factors)
    keep = (mc.KEEP if samples is not None else 0) | (mc.FOLD if fold else 0)
    # the kernel writes (run, quantity, sample) in C order: a view of that layout is written
    # in place, another array through a buffer
    store = samples.transpose(1, 2, 0) if samples is not None else np.empty((0, 0, 0))
    kept = np.arange(accumulator.shift.shape[1]) if quantities is None else quantities
    direct = store.flags.c_contiguous
    buffer = store if direct else np.empty(store.shape)
    acc = accumulator
    mc.fused_kernel(
        KINDS[kind],
        start,
        runs.values,
        runs.variant_values,
        runs.variant_cdf,
        factors,
        values.T,  # (column, sample), C-ordered
        *plan.stages.arrays(),
        acc.anchor,
        acc.shift,
        acc.hist,
        acc.tails,
        acc.sums,
        acc.compensation,
        acc.extremes,
        buffer,
        np.asarray(kept, dtype=np.int64),
        keep,
    )
    if not direct:
        store[...] = buffer
    if fold:
        acc.count += stop - start
    return acc


class _GivenRows:
    """Given rows of uniforms as a design (a module-level class: a class made inside a call
    and closing over the rows is a reference cycle, which kept every chunk's rows alive until
    the cyclic garbage collector ran, so Sobol' analyses grew with N)."""

    def __init__(self, rows, in_place=False):
        self.rows, self.in_place = rows, in_place

    def uniforms(self, start, stop, out):
        if not self.in_place:
            out[...] = self.rows[start:stop]
        return out


def evaluate_rows(
    runs,
    bound,
    uniforms,
    production_factors=PRODUCTION_FACTORS,
    kind="training",
    plan=None,
    overwrite=False,
    given_values=False,
    quantities=None,
    out=None,
):
    """Every quantity of every run for the given rows of uniforms (a design's rows, e.g.
    Saltelli's), shape (row, run, quantity); with ``quantities`` (indices), only those, in
    that order (the others are not stored). ``plan``: :func:`stage_plan` of the runs and
    parameters, to reuse over chunks. With ``overwrite``, a column-major float64
    ``uniforms`` receives the parameter values in place (no copy of the design). With
    ``given_values``, the rows are the parameters' values already (:func:`parameter_values`
    of uniforms). ``out``, a flat float64 array of at least rows x runs x quantities values,
    receives the result (a view of it is returned: chunk after chunk in one block of
    memory, not a new one each, whose pages the system would map and clear again)."""
    production_factors = checked_factors(production_factors)
    in_place = (
        overwrite
        and uniforms.dtype == np.float64
        and uniforms.flags.f_contiguous
        and uniforms.ndim == 2
        and uniforms.shape[1] == bound.n_columns
    )
    scratch = uniforms.reshape(-1, order="F") if in_place else None
    point = point_quantities(runs, production_factors, kind)
    kept = point if quantities is None else point[:, list(quantities)]
    samples = _chunk_samples(kept, uniforms.shape[0], out)
    run_chunk(
        runs,
        production_factors,
        bound,
        _GivenRows(uniforms, in_place),
        0,
        uniforms.shape[0],
        Accumulator.empty(point, uniforms.shape[0]),
        samples,
        kind,
        plan=plan,
        scratch=scratch,
        fold=False,
        given_values=given_values,
        quantities=quantities,
    )
    return samples


def _check_kept_size(n, runs, point):
    """Check that every sample of every run fits in :data:`MAX_KEPT_VALUES` values."""
    if n * point.size > MAX_KEPT_VALUES:
        raise MlimpactError(
            f"keeping {n} samples of {len(runs)} runs needs "
            f"{n * point.size:,} values (limit {MAX_KEPT_VALUES:,}); use "
            "fewer samples or the summaries"
        )


def _chunks_on_cluster(client, ranges, progress, n, total, chunk):
    """The chunks' per-sample statistics, computed as tasks on a Dask cluster (their
    accumulators absorbed into ``total``); ``chunk``: the keywords of :func:`_chunk_task`."""
    from mlimpact.engine import distributed

    chunk_results = []
    for accumulator, chunk_result in distributed.map_chunks(
        client, _chunk_task, ranges, progress, n, **chunk
    ):
        total.absorb(accumulator)
        chunk_results.append(chunk_result)
    return chunk_results


def _chunks_locally(
    ranges,
    progress,
    n,
    total,
    kept,
    *,
    runs,
    production_factors,
    bound,
    design,
    point,
    kind,
    on_chunk,
    plan,
):
    """The chunks' per-sample statistics, computed here into ``total`` (and ``kept``, the
    array of every sample, if not None); the keywords are those of :func:`_chunk_task`."""
    chunk_results = []
    scratch = np.empty(ranges.largest * bound.n_columns)
    for start, stop in ranges:
        target = (
            kept[start:stop]
            if kept is not None
            else (_chunk_samples(point, stop - start) if on_chunk is not None else None)
        )
        run_chunk(
            runs,
            production_factors,
            bound,
            design,
            start,
            stop,
            total,
            target,
            kind,
            plan,
            scratch,
        )
        if on_chunk is not None:
            chunk_results.append(on_chunk(start, stop, target))
        if progress is not None:
            progress(stop, n)
    return chunk_results


def _card_result(total, point, runs, attrs, kept):
    """The card Dataset of a propagation, with every sample if ``kept`` is not None."""
    stats = _statistics(total, point)  # (statistic, run, quantity)
    values = np.transpose(
        stats.reshape(len(STATISTICS), len(runs), len(q.IMPACT_CRITERIA), len(q.COMPONENTS)),
        (1, 2, 3, 0),
    )
    result = card_dataset(
        values, runs.names, ("statistic",), {"statistic": list(STATISTICS)}, attrs
    )
    if kept is not None:
        parts = np.moveaxis(
            kept.reshape(len(kept), len(runs), len(q.IMPACT_CRITERIA), len(q.COMPONENTS)), 0, -1
        )  # run, crit, comp, s
        samples = card_dataset(parts, runs.names, ("sample",))
        result = result.merge(samples.rename({c: f"{c}_samples" for c in q.IMPACT_CRITERIA}))
    return result


def _training_result(total, point, runs, attrs, kept):
    """The training Dataset of a propagation, with every sample if ``kept`` is not None."""
    result = summary_dataset(total, point, runs.names, attrs)
    if kept is not None:
        result = result.merge(samples_dataset(kept, runs.names))
    return result


def propagate(
    runs,
    bound,
    n,
    seed=0,
    method="mc",
    chunk_size=DEFAULT_CHUNK_SIZE,
    keep_samples=False,
    production_factors=PRODUCTION_FACTORS,
    progress=None,
    kind="training",
    on_chunk=None,
    client=None,
):
    """Monte Carlo propagation of the bound parameters through the impact model.

    Parameters
    ----------
    runs : RunTable
        Point values of every run (validated).
    bound : mlimpact.uncertainty.binding.BoundParameters
        Parameters bound to ``runs`` (:func:`mlimpact.uncertainty.binding.bind`).
    n : int
        Number of samples.
    seed : int
        Seed of the design: the same seed gives the same results whatever ``chunk_size``.
    method : {"mc", "lhs", "sobol"}
    chunk_size : int
        Samples per chunk: memory against overhead, never the results.
    keep_samples : bool
        Also return every sample (``*_samples`` variables), if at most
        :data:`MAX_KEPT_VALUES` values.
    progress : callable, optional
        Called as ``progress(samples_done, n)`` after each chunk.
    kind : {"training", "card"}
        Evaluate the training runs, or only the card of each run.
    on_chunk : callable, optional
        Called as ``on_chunk(start, stop, samples)`` with the chunk's values of shape
        (stop - start, run, quantity), for per-sample statistics (trends) that need every run
        of a sample; memory stays bounded by the chunk. With it, propagate returns
        ``(dataset, [its return values in chunk order])``; it must be a pure function of its
        arguments, since with a Dask client it runs on the workers.
    client : dask.distributed.Client, optional
        Run the chunks as tasks on a Dask cluster (:mod:`mlimpact.engine.distributed`); the results
        equal the local ones to rounding (tested at 1e-12).

    Returns
    -------
    xarray.Dataset
        For training runs: ``energy`` (model, statistic) [kWh], ``gwp``, ``adpe``, ``pe``
        (model, phase, statistic). For cards: ``gwp``, ``adpe``, ``pe`` (hardware, component,
        statistic). Statistics: mean, std, q025, q05, median, q95, q975 and the point estimate.
    """
    validate_runs(runs)
    production_factors = checked_factors(production_factors)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    design = Design(method, n, bound.n_columns, seed, column_ids=bound.column_ids)
    point = point_quantities(runs, production_factors, kind)
    if keep_samples:
        _check_kept_size(n, runs, point)
    total = Accumulator.empty(point, n)
    plan = stage_plan(runs, bound)
    ranges = chunks(n, chunk_size)
    kept = np.empty((n, *point.shape)) if keep_samples else None
    chunk = dict(runs=runs, production_factors=production_factors, bound=bound, design=design)
    chunk.update(point=point, kind=kind, on_chunk=on_chunk, plan=plan)  # _chunk_task's keywords
    if client is not None:
        if keep_samples:
            raise MlimpactError("keep_samples is not available on a Dask cluster")
        chunk_results = _chunks_on_cluster(client, ranges, progress, n, total, chunk)
    else:
        chunk_results = _chunks_locally(ranges, progress, n, total, kept, **chunk)
    _check_finite(total, runs.names, kind)
    attrs = {"samples": n, "seed": seed, "method": method, "parameters": "; ".join(bound.groups)}
    result = (_card_result if kind == "card" else _training_result)(total, point, runs, attrs, kept)
    if on_chunk is not None:
        return result, chunk_results
    return result


def _check_finite(accumulator, names, kind):
    """Raise MlimpactError naming the first run and quantity with a non-finite sample."""
    bad = ~(
        np.isfinite(accumulator.sums).all(axis=-1) & np.isfinite(accumulator.extremes).all(axis=-1)
    )
    if bad.any():
        r, k = np.argwhere(bad)[0]
        quantities = q.CARD_QUANTITIES if kind == "card" else q.TRAINING_QUANTITIES
        raise MlimpactError(
            f"run {names[r]!r}: {' '.join(quantities[k])} is not a finite number in some "
            "samples: an uncertain input reaches an extreme value (check the distributions "
            "of [uncertainty] and of the parameters file)"
        )


def _chunk_task(start, stop, runs, production_factors, bound, design, point, kind, on_chunk, plan):
    """One chunk as a task: a fresh accumulator (compacted for transfer) and the chunk's
    per-sample statistics."""
    accumulator = Accumulator.empty(point, stop - start)
    samples = _chunk_samples(point, stop - start) if on_chunk is not None else None
    run_chunk(
        runs, production_factors, bound, design, start, stop, accumulator, samples, kind, plan
    )
    return accumulator.compacted(), (on_chunk(start, stop, samples) if on_chunk else None)


def _statistics(acc, point):
    """Every statistic of :data:`STATISTICS`, shape (statistic, run, quantity)."""
    return np.stack([acc.mean(), acc.std(), *acc.quantiles(list(QUANTILES.values())), point])


def summary_dataset(acc, point, names, attrs):
    """The statistics of an accumulator as a Dataset: energy (model, statistic) and each
    impact criterion (model, phase, statistic)."""
    stats = np.moveaxis(_statistics(acc, point), 0, -1)  # run, quantity, statistic
    variables = criterion_variables(np.moveaxis(stats, 1, -1))  # quantity last
    data = {
        name: (("model", "statistic", *dims), values, attrs_)
        for name, (dims, values, attrs_) in variables.items()
    }
    return xr.Dataset(
        data,
        coords={"model": list(names), **CRITERION_COORDS, "statistic": list(STATISTICS)},
        attrs=attrs,
    ).transpose("model", "phase", "scope", "statistic")


def samples_dataset(samples, names):
    """Every sample as ``*_samples`` variables (sample, model[, phase])."""
    data = {
        f"{name}_samples": (("sample", "model", *dims), values, attrs_)
        for name, (dims, values, attrs_) in criterion_variables(samples).items()
    }
    return xr.Dataset(data, coords={"model": list(names), **CRITERION_COORDS})


def propagate_runs(
    runs,
    n,
    catalogue=None,
    uncertainty=None,
    source="[uncertainty]",
    run_keys=None,
    table=None,
    **options,
):
    """Monte Carlo estimate of runs built by the dataset's rules
    (:class:`mlimpact.runs.notable.NotableRuns`: the notable models, a setup file's run, an
    inventory's, a codecarbon file's): the one path of ``run``, ``estimate`` and ``validate``.

    Parameters
    ----------
    runs : NotableRuns
    n : int
        Samples.
    catalogue : dict, optional
        Uncertain inputs (default ``data/parameters.toml`` of the runs' power model); the
        runs' own parameters are added (:func:`mlimpact.uncertainty.catalogue.with_runs`).
    uncertainty : dict, optional
        A setup's ``[uncertainty]`` section: its entries amend the catalogue, and the fields
        they act on are sampled even where the run states them.
    run_keys : sequence, optional
        Runs with the same key share their run-scope draws
        (:func:`mlimpact.uncertainty.binding.bind`).
    table : RunTable, optional
        The run table to evaluate instead of ``runs.runs`` (same runs, other values: a host
        turned off, say).
    **options
        Passed to :func:`propagate` (seed, method, chunk_size, keep_samples, progress,
        on_chunk, client).
    """
    table, bound = bind_runs(runs, catalogue, uncertainty, source, run_keys, table)
    return propagate(table, bound, n, **options)


def bind_runs(
    runs, catalogue=None, uncertainty=None, source="[uncertainty]", run_keys=None, table=None
):
    """``(table, bound)``: the run table of ``runs`` (or ``table``) and the catalogue bound to
    it, as :func:`propagate_runs` binds them (its arguments, same meaning)."""
    if not all(hasattr(runs, a) for a in ("runs", "known", "hardware", "countries")):
        raise TypeError(
            f"propagate_runs needs runs of mlimpact.runs.notable.build_runs, got "
            f"{type(runs).__name__}"
        )
    catalogue = catalogue_module.default_catalogue(runs.power) if catalogue is None else catalogue
    catalogue = catalogue_module.with_runs(catalogue, runs)
    known = runs.known
    if uncertainty:
        catalogue = catalogue_module.apply_uncertainty(catalogue, uncertainty, source=source)
        known = known.copy()
        for name in uncertainty:
            target = catalogue[name].target
            if target in RUN_FIELDS:
                known[:, RUN_FIELDS.index(target)] = False
    table = runs.runs if table is None else table
    bound = binding.bind(
        catalogue, table, runs.hardware, runs.countries, known, runs.classes, run_keys=run_keys
    )
    return table, bound


def metered_checks(runs, n, catalogue=None, uncertainty=None, **options):
    """For every metered run of ``runs``, what the power model alone gives at the scope of its
    meter, and whether the measurement falls inside its 95 % interval.

    The runs are propagated without their measurement, at the meter's scope (the accelerators:
    host off and no facility overhead; the node: no facility overhead), with the same design.

    Returns
    -------
    list of dict
        ``run``, ``metered`` [kWh], ``scope``, ``median``, ``q025``, ``q975`` [kWh] and
        ``inside``.
    """
    metered = np.flatnonzero(runs.runs.values[:, METERED_SCOPE] > 0)
    if metered.size == 0:
        return []
    chosen = runs.subset(metered)
    values = chosen.runs.values.copy()
    known = chosen.known.copy()
    scopes = values[:, METERED_SCOPE].astype(int)
    values[:, [METERED_ENERGY_KWH, METERED_SCOPE]] = 0.0
    known[:, [METERED_ENERGY_KWH, METERED_SCOPE]] = True
    inside_facility = scopes < len(METERED_SCOPES)
    values[inside_facility, DYNAMIC_RATIO] = 1.0
    known[inside_facility, DYNAMIC_RATIO] = True
    values[scopes == 1, SERVER] = 0.0
    model_only = dataclasses.replace(
        chosen, runs=dataclasses.replace(chosen.runs, values=values), known=known
    )
    summary = propagate_runs(model_only, n, catalogue=catalogue, uncertainty=uncertainty, **options)
    names = ("median", "q025", "q975")
    table = summary.energy.sel(statistic=list(names)).transpose("model", "statistic").values
    out = []
    for k, r in enumerate(metered):  # the values read once: a selection per run took seconds
        stats = dict(zip(names, map(float, table[k])))
        measured = float(runs.runs.values[r, METERED_ENERGY_KWH])
        out.append(
            {
                "run": runs.runs.names[r],
                "metered": measured,
                "scope": METERED_SCOPES[scopes[k] - 1],
                **stats,
                "inside": stats["q025"] <= measured <= stats["q975"],
            }
        )
    return out


def check_statistics(result, source):
    """Refuse, naming it, a statistic that is not a finite number (before anything is written):
    a quantile of samples more than a factor 1.7e7 from the point estimate, beyond the
    histogram it is read from (an ``[uncertainty]`` value far from the point model's, say),
    which a table would show as "-" without a word."""
    for name, array in result.data_vars.items():
        bad = ~np.isfinite(array.values)
        if bad.any():
            where = dict(zip(array.dims, np.unravel_index(int(np.argmax(bad)), bad.shape)))
            labels = [str(array[dim].values[i]) for dim, i in where.items() if dim != "model"]
            raise MlimpactError(
                f"{source}: {name} ({', '.join(labels)}) is not a finite number: its samples lie "
                "more than a factor 1.7e7 from the point estimate, beyond the range quantiles "
                "are read in (an [uncertainty] value far from the point model's? state it in "
                "the setup instead)"
            )


def propagate_setup(
    setup,
    n,
    seed=0,
    method="mc",
    catalogue=None,
    chunk_size=DEFAULT_CHUNK_SIZE,
    keep_samples=False,
    progress=None,
    client=None,
):
    """Monte Carlo estimate of the run of a setup file (:func:`propagate_runs` of its run).

    The catalogue (default ``data/parameters.toml`` of the setup's power model) is amended by
    the setup's ``[uncertainty]`` section; inputs that the setup states are known and not
    sampled. A statistic that is not a finite number is refused (:func:`check_statistics`).
    """
    if getattr(setup, "notable", None) is None:
        raise TypeError(
            f"propagate_setup needs a Setup (mlimpact.runs.setupfile.parse_setup "
            f"or load_setup), got {type(setup).__name__}"
        )
    result = propagate_runs(
        setup.notable,
        n,
        catalogue=catalogue,
        uncertainty=setup.uncertainty,
        source=f"{setup.source}: [uncertainty]",
        seed=seed,
        method=method,
        chunk_size=chunk_size,
        keep_samples=keep_samples,
        progress=progress,
        client=client,
    )
    check_statistics(result, setup.source)
    return result
