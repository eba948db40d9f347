"""Sobol' sensitivity indices of many outputs at once, streamed chunk by chunk.

Design (Saltelli et al. 2010 [1]_): two N x D matrices A and B from a scrambled Sobol' sequence
of dimension 2D (A its first D columns, B its last D), N a power of two, the first point kept
(Owen 2020). For each group g of inputs, AB_g is A with the columns of g taken from B (and,
with second order, BA_g is B with the columns of g from A). The rows of one base point follow
SALib's layout: A, AB_1..AB_G, [BA_1..BA_G,] B.

Estimators, for every output at once:

- first order (Saltelli 2010): ``S_g = mean(f(B) (f(AB_g) - f(A))) / V``;
- total order (Jansen 1999): ``ST_g = mean((f(A) - f(AB_g))^2) / (2 V)``;
- second order (Saltelli 2002): ``S_gh = mean(f(BA_g) f(AB_h) - f(A) f(B)) / V - S_g - S_h``;

with ``V`` the variance of the 2N values f(A), f(B), and outputs centred on the mean of all
evaluations, as SALib does (so that the indices equal SALib's on the same samples). Only sums
over base points are kept (of f(A), f(B), their squares, and per group of the products above),
so memory does not grow with N.

Confidence intervals: a Poisson bootstrap over base points (each point's weight in each
resample is Poisson(1), addressed by the seed and the point's index, so it does not depend on
the chunking), all resamples computed together by one matrix product per block of terms; the
interval half-width is ``z * std`` of the resampled indices, as SALib reports it.

References
----------
.. [1] A. Saltelli et al., "Variance based sensitivity analysis of model output", Comput. Phys.
   Commun. 181, 259-270, 2010, doi:10.1016/j.cpc.2009.09.018.
.. [2] M. J. W. Jansen, Comput. Phys. Commun. 117, 35-43, 1999.
.. [3] A. Saltelli, Comput. Phys. Commun. 145, 280-297, 2002.
.. [4] A. B. Owen, "On dropping the first Sobol' point", 2020.
.. [5] J. Hanley, B. MacGibbon, "Creating non-parametric bootstrap samples using Poisson
   frequencies", Comput. Methods Programs Biomed. 83, 2006.
.. [6] J. Herman, W. Usher, "SALib", J. Open Source Softw. 2(9), 2017.
"""

import itertools
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike
from scipy import special

from mlimpact._threads import one_blas_thread
from mlimpact.errors import MlimpactError, check_flag, check_number, check_whole
from mlimpact.uncertainty import distributions
from mlimpact.uncertainty.sampling import Design, SaltelliDesign

_POISSON_CDF = np.cumsum(np.exp(-1.0) / special.factorial(np.arange(24)))


def _check_bootstrap(resamples, confidence):
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 2:
        raise MlimpactError(f"sobol: resamples must be a whole number >= 2 (got {resamples!r})")
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, (int, float))
        or not 0 < confidence < 1
    ):
        raise MlimpactError(f"sobol: confidence must be in (0, 1) (got {confidence!r})")


def poisson_weights(n_resamples: int, start: int, stop: int, seed: int) -> np.ndarray:
    """Poisson(1) bootstrap weights of base points start..stop-1, (resample, point)."""
    u = Design("mc", stop, n_resamples, seed + 7_919).uniforms(start, stop)
    return np.searchsorted(_POISSON_CDF, u).T.astype(np.float64)


#: Values of the terms folded by one matrix product (:meth:`SobolAccumulator.add`): 16 MB.
_BLOCK = 2**21


class SobolAccumulator:
    """Streaming sums of the Sobol' estimators for many outputs, with bootstrap resamples.

    Feed it the outputs of whole base points with :meth:`add`; read the indices with
    :meth:`indices`. Outputs are shifted by the first chunk's mean before summing, which
    changes no index and keeps the sums well conditioned.
    """

    def __init__(
        self,
        n_groups: int,
        n_outputs: int,
        resamples: int = 100,
        seed: int = 0,
        second_order: bool = False,
    ) -> None:
        _check_bootstrap(resamples, 0.95)
        self.g, self.k, self.resamples, self.seed = n_groups, n_outputs, resamples, seed
        self.second_order = second_order
        self.shift: np.ndarray | None = None
        self.count = 0
        n_terms = 4 + 3 * n_groups + (n_groups * n_groups + n_groups + 1 if second_order else 0)
        self.sums = np.zeros((n_terms, n_outputs))
        self.boot = np.zeros((resamples, n_terms, n_outputs))
        self.boot_count = np.zeros(resamples)
        self.total, self.total_rows = np.zeros(n_outputs), 0

    def add(self, start: int, outputs: ArrayLike) -> None:
        """Outputs of base points start.. as (points * step, outputs), in design row order."""
        step = self.g + 2 if not self.second_order else 2 * self.g + 2
        y = np.asarray(outputs, dtype=np.float64).reshape(-1, step, self.k)
        if self.shift is None:
            self.shift = y[:, 0].mean(axis=0)
        y = y - self.shift
        weights = poisson_weights(self.resamples, start, start + y.shape[0], self.seed)
        self.boot_count += weights.sum(axis=1)
        # the terms in blocks of about _BLOCK values, made as they are folded: each block's
        # plain sums, and all resamples of it in one matrix product (a product per term cost
        # more than the products themselves)
        per_block = max(1, _BLOCK // max(y.shape[0] * self.k, 1))
        n_terms = self.sums.shape[0]
        if per_block >= n_terms and not self.second_order:  # (point, term, output) at once
            blocks = iter([self._first_order_terms(y)])
        else:
            terms = self._terms(y)
            blocks = (
                np.stack(b, axis=1)
                for b in iter(lambda: list(itertools.islice(terms, per_block)), [])
            )
        row = 0
        for stacked in blocks:
            rows = slice(row, row + stacked.shape[1])
            self.sums[rows] += stacked.sum(axis=0)
            flat = stacked.reshape(stacked.shape[0], -1)
            product = weights @ flat
            self.boot[:, rows] += product.reshape(self.resamples, stacked.shape[1], -1)
            row += stacked.shape[1]
        self.count += y.shape[0]
        self.total += y.sum(axis=(0, 1))
        self.total_rows += y.shape[0] * step

    def _first_order_terms(self, y):
        """Every term of :meth:`_terms` (without second order) at once, (point, term,
        output): written in place, each group's difference from A made once for its three
        terms (the same operations, so the same bits as the terms one at a time, without
        an array per term and their stacking)."""
        g = self.g
        a, b = y[:, 0], y[:, -1]
        out = np.empty((y.shape[0], 4 + 3 * g, self.k))
        out[:, 0], out[:, 1] = a, b
        np.multiply(a, a, out=out[:, 2])
        np.multiply(b, b, out=out[:, 3])
        difference = out[:, 4 + g : 4 + 2 * g]
        np.subtract(y[:, 1 : 1 + g], a[:, None], out=difference)
        np.multiply(b[:, None], difference, out=out[:, 4 : 4 + g])
        np.multiply(difference, difference, out=out[:, 4 + 2 * g :])
        return out

    def _terms(self, y):
        """The terms whose sums the estimators read, in the order of ``sums``' rows, one
        (point, output) array at a time."""
        a, b = y[:, 0], y[:, -1]
        yield from (a, b, a * a, b * b)
        for g in range(self.g):
            yield b * (y[:, 1 + g] - a)
        for g in range(self.g):
            yield y[:, 1 + g] - a
        for g in range(self.g):
            difference = y[:, 1 + g] - a
            yield difference * difference
        if self.second_order:
            for g in range(self.g):
                for h in range(self.g):
                    yield y[:, 1 + self.g + g] * y[:, 1 + h]
            for g in range(self.g):
                yield y[:, 1 + self.g + g]
            yield a * b

    def _estimates(self, sums, n, mean_all):
        g = self.g
        sa, sb, saa, sbb = sums[0], sums[1], sums[2], sums[3]
        cross = sums[4 : 4 + g]
        diff = sums[4 + g : 4 + 2 * g]
        squared = sums[4 + 2 * g : 4 + 3 * g]
        mean_ab = (sa + sb) / (2 * n)
        variance = (saa + sbb) / (2 * n) - mean_ab**2
        with np.errstate(invalid="ignore", divide="ignore"):
            first = (cross - mean_all * diff) / n / variance
            total = 0.5 * squared / n / variance
            second = None
            if self.second_order:
                products = sums[4 + 3 * g : 4 + 3 * g + g * g].reshape(g, g, -1)
                sum_ba = sums[4 + 3 * g + g * g : 4 + 4 * g + g * g]
                sum_ab = diff + sa  # sums of AB_g
                sum_a_b = sums[4 + 4 * g + g * g]
                # sum of (BA_g - m)(AB_h - m) - (A - m)(B - m), m the mean of all outputs
                centred = (
                    products
                    - mean_all * (sum_ba[:, None] + sum_ab[None, :])
                    - sum_a_b
                    + mean_all * (sa + sb)
                )
                second = centred / n / variance - first[:, None] - first[None, :]
        flat = variance <= np.finfo(float).eps
        first = np.where(flat, 0.0, first)
        total = np.where(flat, 0.0, total)
        return first, total, second

    def indices(
        self, confidence: float = 0.95
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """S1, ST (group, output), their interval half-widths, and S2 (group, group, output)."""
        _check_bootstrap(self.resamples, confidence)
        if self.count < 2:
            raise MlimpactError("Sobol' indices need at least two base points")
        mean_all = self.total / self.total_rows
        first, total, second = self._estimates(self.sums, self.count, mean_all)
        z = special.ndtri(0.5 + confidence / 2)
        boot_first, boot_total = [], []
        for r in range(self.resamples):
            f, t, _ = self._estimates(self.boot[r], self.boot_count[r], mean_all)
            boot_first.append(f)
            boot_total.append(t)
        first_conf = z * np.nanstd(np.array(boot_first), axis=0, ddof=1)
        total_conf = z * np.nanstd(np.array(boot_total), axis=0, ddof=1)
        return first, total, first_conf, total_conf, second


def _groups_of(
    names: list[str], groups: Mapping[str, Sequence[str]] | None
) -> Mapping[str, Sequence[str]]:
    """The groups of inputs (default: one per input), checked to name known inputs only."""
    if groups is None:
        groups = {name: [name] for name in names}
    unknown = {m for members in groups.values() for m in members} - set(names)
    if unknown:
        raise MlimpactError(f"sobol: groups name unknown parameters {sorted(unknown)}")
    return groups


#: Most base points N: the 30 bits of SciPy's scrambled Sobol' sequence give 2^30 points.
MAX_BASE_POINTS = 2**30
#: Most evaluations of ``func`` (N (G + 2), N (2G + 2) with second order): about three hours
#: at a million evaluations per second, the speed of a fast vectorised model on 2 cores.
MAX_EVALUATIONS = 10**10
#: Most uniforms one chunk holds (chunk_size x evaluations per point x inputs): 1 GiB.
MAX_CHUNK_VALUES = 2**27


def _power_of_two(name, value):
    n = check_whole("sobol", name, value, 2, MAX_BASE_POINTS)
    if n & (n - 1):
        raise MlimpactError(
            f"sobol: {name} must be a power of two (got {n}; try {1 << (n.bit_length() - 1)} "
            f"or {1 << n.bit_length()})"
        )
    return n


def _largest_n(n, target_width, max_n, step, n_inputs, chunk_size):
    """The largest N the design may reach: ``n``, or ``max_n`` (a power of two >= ``n``) when
    it extends to a target; refused beyond :data:`MAX_EVALUATIONS` evaluations of ``func``,
    and a chunk beyond :data:`MAX_CHUNK_VALUES` uniforms."""
    limit = n if target_width is None or max_n is None else _power_of_two("max_n", max_n)
    if limit < n:
        raise MlimpactError(f"sobol: max_n must be >= n (got max_n={limit}, n={n})")
    if limit * step > MAX_EVALUATIONS:
        raise MlimpactError(
            f"sobol: N = {limit:,} base points need {limit * step:.3g} evaluations of func "
            f"({step} per point); at most {MAX_EVALUATIONS:.0e} are taken "
            f"(N <= {MAX_EVALUATIONS // step:,} here)"
        )
    if min(chunk_size, limit) * step * n_inputs > MAX_CHUNK_VALUES:
        raise MlimpactError(
            f"sobol: a chunk of {chunk_size:,} base points holds "
            f"{chunk_size * step * n_inputs:.3g} uniforms; at most {MAX_CHUNK_VALUES:,} (1 GiB) "
            "are taken: lower chunk_size"
        )
    return limit


def _check_arguments(func, parameters, seed, groups, second_order, target_width, output_names):
    """Check the arguments of :func:`sobol` that the design does not check."""
    if not callable(func):
        raise MlimpactError(f"sobol: func must be callable (got {func!r:.60})")
    if not isinstance(parameters, Mapping):
        raise MlimpactError(
            f"sobol: parameters must map names to distributions (got {parameters!r:.60})"
        )
    check_whole("sobol", "seed", seed, 0, 2**63 - 1)
    check_flag("sobol", "second_order", second_order)
    if target_width is not None:
        check_number("sobol", "target_width", target_width, low=0, low_inclusive=False)
    if groups is not None and (
        not isinstance(groups, Mapping)
        or not all(
            isinstance(m, (list, tuple)) and m and all(isinstance(x, str) for x in m)
            for m in groups.values()
        )
    ):
        raise MlimpactError(
            f"sobol: groups must map group names to non-empty lists of parameter names "
            f"(got {groups!r:.60})"
        )
    if output_names is not None and (
        isinstance(output_names, (str, bytes)) or not isinstance(output_names, Iterable)
    ):
        raise MlimpactError(f"sobol: output_names must be a list (got {output_names!r:.60})")


def _evaluate(
    func: Callable[[dict[str, np.ndarray]], ArrayLike],
    names: list[str],
    dists: list[distributions.Distribution],
    u: np.ndarray,
) -> np.ndarray:
    """The outputs of ``func`` at the inputs of uniforms ``u``, checked to be one finite row
    (or vector of outputs) per row of ``u``."""
    values = {name: dist.ppf(u[:, j]) for j, (name, dist) in enumerate(zip(names, dists))}
    out = np.asarray(func(values), dtype=np.float64)  # type: ignore[arg-type]  # 1-D arrays
    if out.ndim not in (1, 2) or out.shape[0] != u.shape[0]:
        raise MlimpactError(
            f"sobol: func must return shape ({u.shape[0]},) or ({u.shape[0]}, k), got {out.shape}"
        )
    if not np.isfinite(out).all():
        bad = ~np.isfinite(out).all(axis=-1) if out.ndim == 2 else ~np.isfinite(out)
        raise MlimpactError(
            "sobol: func returned values that are not finite numbers "
            f"(first at row {int(np.argmax(bad))} of the design)"
        )
    return out


def _widest_interval(accumulator: SobolAccumulator, confidence: float) -> float:
    """The full width of the widest S1 or ST interval of the accumulator."""
    _, _, first_conf, total_conf, _ = accumulator.indices(confidence)
    return 2 * float(np.nanmax(np.maximum(first_conf, total_conf)))


@one_blas_thread
def sobol(
    func: Callable[[dict[str, np.ndarray]], ArrayLike],
    parameters: Mapping[str, distributions.Distribution | Mapping[str, Any] | float],
    n: int,
    seed: int = 0,
    groups: Mapping[str, Sequence[str]] | None = None,
    second_order: bool = False,
    resamples: int = 100,
    confidence: float = 0.95,
    chunk_size: int = 4096,
    output_names: Iterable[Hashable] | None = None,
    target_width: float | None = None,
    max_n: int | None = None,
) -> xr.Dataset:
    """Sobol' indices of any model with independent uncertain inputs.

    Parameters
    ----------
    func : callable
        ``func({name: 1-D array})`` returning an array of shape (m,) or (m, k).
    parameters : dict
        Input name -> :class:`mlimpact.uncertainty.distributions.Distribution` (or a spec dict).
    n : int
        Base points (a power of two, at most :data:`MAX_BASE_POINTS`); ``n * (G + 2)``
        evaluations (``n * (2G + 2)`` with second order), G the number of groups, at most
        :data:`MAX_EVALUATIONS` in all (the message names the largest N allowed).
    groups : dict, optional
        Group name -> list of input names; default: one group per input.
    chunk_size : int
        Base points evaluated at a time (memory: a chunk's uniforms at most
        :data:`MAX_CHUNK_VALUES`, 1 GiB).
    target_width, max_n : float, int, optional
        Convergence check: after ``n`` base points, keep doubling (the Sobol' sequence extends)
        until every S1 and ST interval is narrower than ``target_width`` (full width), or
        ``max_n`` base points. The widths reached at each N are in ``attrs["convergence"]``.

    Returns
    -------
    xarray.Dataset
        ``S1``, ``ST`` and the bounds of their bootstrap intervals ``S1_low``, ``S1_high``,
        ``ST_low``, ``ST_high`` (clipped to [0, 1], where the indices live; the names of
        ``sensitivity.csv``), and ``S1_halfwidth``, ``ST_halfwidth``, the intervals'
        half-widths before clipping (what ``target_width`` bounds), over
        (parameter[, output]) (``parameter`` holds group names when groups are given), and
        ``S2`` (parameter, parameter2[, output]) with second order.
    """
    _check_arguments(func, parameters, seed, groups, second_order, target_width, output_names)
    names = list(parameters)
    if not names:
        raise MlimpactError("sobol: no parameters")
    _check_bootstrap(resamples, confidence)
    n = _power_of_two("n", n)
    chunk_size = check_whole("sobol", "chunk_size", chunk_size, 1)
    dists = [distributions.from_spec(parameters[name], name=name) for name in names]
    groups = _groups_of(names, groups)
    step = (2 if second_order else 1) * len(groups) + 2
    limit = _largest_n(n, target_width, max_n, step, len(names), chunk_size)
    columns = [[names.index(m) for m in members] for members in groups.values()]
    design = SaltelliDesign(len(names), columns, limit, seed, second_order)
    accumulator, single, history = None, False, []
    checkpoint, base_start = n, 0
    while base_start < limit:
        base_stop = min(base_start + chunk_size, checkpoint)
        u = design.uniforms(base_start * design.step, base_stop * design.step)
        out = _evaluate(func, names, dists, u)
        single = out.ndim == 1
        out = out.reshape(out.shape[0], -1)
        if accumulator is None:
            accumulator = SobolAccumulator(len(groups), out.shape[1], resamples, seed, second_order)
        accumulator.add(base_start, out)
        base_start = base_stop
        if base_start == checkpoint:
            if target_width is None:
                break
            width = _widest_interval(accumulator, confidence)
            history.append((checkpoint, width))
            if width <= target_width or checkpoint >= limit:
                break
            checkpoint *= 2
    # the design has n >= 2 base points, so the loop ran and made the accumulator
    result = indices_dataset(accumulator, list(groups), confidence, single, output_names)  # type: ignore[arg-type]
    if history:
        result.attrs["convergence"] = "; ".join(
            f"N={m}: widest interval {w:.4g}" for m, w in history
        )
        result.attrs["converged"] = int(history[-1][1] <= target_width)  # type: ignore[operator]
    return result


def indices_dataset(
    accumulator: SobolAccumulator,
    group_names: Sequence[Hashable],
    confidence: float = 0.95,
    single: bool = False,
    output_names: Iterable[Hashable] | None = None,
) -> xr.Dataset:
    """The indices of an accumulator as a labelled Dataset."""
    first, total, first_conf, total_conf, second = accumulator.indices(confidence)
    dims = ("parameter",) if single else ("parameter", "output")
    pick = (lambda x: x[..., 0]) if single else (lambda x: x)
    coords = {"parameter": group_names}
    if not single:
        coords["output"] = (
            list(output_names) if output_names is not None else list(range(first.shape[-1]))
        )
    data = {
        "S1": (dims, pick(first), {"long_name": "first-order Sobol' index", "units": "1"}),
        "ST": (dims, pick(total), {"long_name": "total-order Sobol' index", "units": "1"}),
    }
    for index, value, half in (("S1", first, first_conf), ("ST", total, total_conf)):
        # an index lies in [0, 1]: the interval is shown clipped to it (an estimate itself may
        # stray outside by sampling error, and is left as it is)
        for bound, edge in (("low", value - half), ("high", value + half)):
            data[f"{index}_{bound}"] = (
                dims,
                pick(np.clip(edge, 0.0, 1.0)),
                {
                    "long_name": f"{bound} bound of the {confidence:.0%} bootstrap interval "
                    f"of {index}, clipped to [0, 1]",
                    "units": "1",
                },
            )
        data[f"{index}_halfwidth"] = (
            dims,
            pick(half),
            {
                "long_name": f"half-width of the {confidence:.0%} bootstrap interval of "
                f"{index}, before clipping",
                "units": "1",
            },
        )
    if second is not None:
        data["S2"] = (
            ("parameter", "parameter2", *dims[1:]),
            pick(second),
            {"long_name": "second-order Sobol' index", "units": "1"},
        )
        coords["parameter2"] = group_names
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "base_points": accumulator.count,
            "resamples": accumulator.resamples,
            "estimators": "first order Saltelli 2010, total order Jansen 1999, second order "
            "Saltelli 2002; Poisson bootstrap",
        },
    )
