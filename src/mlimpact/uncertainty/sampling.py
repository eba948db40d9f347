"""Sampling designs whose samples are addressed, not streamed.

Sample ``i`` gets the same uniforms whatever the chunking, the number of threads or the number of
Dask workers: its numbers depend only on ``(seed, i)``. Chunk size is then a performance knob.

- ``mc``: plain Monte Carlo from a counter-based generator: the uniform of (sample i, column j)
  is a hash of (key, i, j), two rounds of the SplitMix64 finaliser [4]_ keyed by 128 bits that
  ``SeedSequence(seed)`` derives from the seed. Any range of samples is generated directly, in
  parallel, and a column keeps its numbers when other columns are added.
- ``lhs``: Latin hypercube. Column ``j`` of sample ``i`` is ``(pi_j(i) + v_ij) / n`` with a
  pseudo-random permutation ``pi_j`` of ``0..n-1`` evaluated point-wise (a keyed Feistel network
  with cycle walking, so no permutation of size n is ever stored) and jitter ``v`` from the
  Monte Carlo stream of ``(seed, 1)``. Each column has exactly one sample in each of the n
  strata.
- ``sobol``: scrambled Sobol' points (``scipy.stats.qmc.Sobol``, LMS + digital shift, first point
  kept as recommended by Owen 2020), generated from the chunk's first index by the Gray-code
  recurrence over scipy's scrambled direction numbers, which the package's cache folder keeps
  (:func:`sobol_points`); n must be a power of two.

Every design returns uniforms in the open interval (0, 1), so ``ppf`` never sees 0 or 1.

References
----------
.. [1] M. D. McKay, R. J. Beckman, W. J. Conover, Technometrics 21(2), 1979 (Latin hypercube).
.. [2] A. B. Owen, "On dropping the first Sobol' point", 2020, arXiv:2008.08051.
.. [3] M. Luby, C. Rackoff, SIAM J. Comput. 17(2), 1988 (Feistel permutations); J. Black,
   P. Rogaway, CT-RSA 2002 (cycle walking).
.. [4] G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number generators",
   OOPSLA 2014, doi:10.1145/2660193.2660195 (SplitMix64); J. K. Salmon et al., "Parallel random
   numbers: as easy as 1, 2, 3", SC 2011 (counter-based generators).
"""

import copy
import os
import tempfile
import warnings
from functools import lru_cache

import numpy as np
from numba import prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit
from mlimpact.errors import MlimpactError
from mlimpact.uncertainty import METHODS  # noqa: F401 (re-exported)

#: Largest number of samples of a design (1e12: a week of the fused kernel at its speed on
#: this project's 2-core reference machine for one run; docs/uncertainty.md).
MAX_SAMPLES = 10**12
_TINY = 2.0**-54
_FEISTEL_ROUNDS = 6
#: Streams of one seed: Monte Carlo uniforms, Latin-hypercube jitter, permutation keys.
_MC_STREAM, _JITTER_STREAM, _PERMUTATION_STREAM = 0, 1, 2


def _check(method, n, seed):
    if method not in METHODS:
        raise MlimpactError(f"sampling method must be one of {', '.join(METHODS)} (got {method!r})")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise MlimpactError(f"number of samples must be a whole number >= 1 (got {n!r})")
    if n > MAX_SAMPLES:
        raise MlimpactError(f"number of samples must be at most {MAX_SAMPLES:.0e} (got {n:.3g})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MlimpactError(f"seed must be a whole number >= 0 (got {seed!r})")
    if method == "sobol" and n & (n - 1):
        raise MlimpactError(
            f"sobol sampling needs a power of two samples (got {n}; try {1 << int(n).bit_length()})"
        )


def _stream_key(seed, stream):
    return np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(2, np.uint64)


@njit(**JIT_OPTIONS)
def _mix(x):
    """SplitMix64 finaliser: a keyed, well-mixing round function on uint64."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(**PARALLEL_JIT_OPTIONS)
def _counter_uniforms(key, start, out, ids):
    """out[j, i] = uniform in (0, 1) of sample start + i, column ``ids[j]``, from a keyed hash.

    ``out`` is (column, sample), C-ordered (the transpose of a column-major (sample, column)
    array, typed alike for any shape: a one-column array compiled a second version): each
    column is filled contiguously by one thread.
    """
    golden = np.uint64(0x9E3779B97F4A7C15)
    odd = np.uint64(0xD1B54A32D192ED03)
    scale = 2.0**-53
    for j in prange(out.shape[0]):
        column_key = np.uint64(ids[j] + 1) * odd + key[1]
        for i in range(out.shape[1]):
            z = _mix(_mix(np.uint64(start + i) * golden + key[0]) ^ column_key)
            out[j, i] = (np.float64(z >> np.uint64(11)) + 0.5) * scale


@njit(**JIT_OPTIONS)
def _permute(i, n, half_bits, keys):
    """Image of i under a keyed pseudo-random permutation of 0..n-1 (Feistel + cycle walking)."""
    mask = (np.uint64(1) << np.uint64(half_bits)) - np.uint64(1)
    x = np.uint64(i)
    while True:
        left = x >> np.uint64(half_bits)
        right = x & mask
        for k in range(keys.shape[0]):
            left, right = right, left ^ (_mix(right ^ keys[k]) & mask)
        x = (left << np.uint64(half_bits)) | right
        if x < np.uint64(n):
            return x


@njit(**PARALLEL_JIT_OPTIONS)
def _lhs_strata(start, stop, n, half_bits, keys, out):
    """out[i - start, j] = pi_j(i) for every sample of the chunk and every column."""
    for j in prange(keys.shape[0]):
        for i in range(start, stop):
            out[i - start, j] = _permute(i, n, half_bits, keys[j])


class Design:
    """A sampling design of ``n`` samples over ``n_columns`` uniform columns.

    Parameters
    ----------
    method : {"mc", "lhs", "sobol"}
    n : int
        Number of samples (a power of two for ``sobol``).
    n_columns : int
        Number of independent uniform columns (parameters times members of their scope).
    seed : int
        Non-negative seed; the same seed gives the same numbers.
    column_ids : int array of length ``n_columns``, optional
        The address of each column in a larger design (``mc`` and ``lhs``): column ``j`` draws
        the numbers of column ``column_ids[j]`` of the design of the same seed, so that a part
        of the runs can be evaluated with only the columns they read
        (:func:`mlimpact.uncertainty.binding.bound_runs`). By default column ``j`` is ``j``.
    """

    def __init__(self, method, n, n_columns, seed=0, column_ids=None):
        _check(method, n, seed)
        if (
            isinstance(n_columns, bool)
            or not isinstance(n_columns, (int, np.integer))
            or n_columns < 0
        ):
            raise MlimpactError(
                f"number of columns must be a whole number >= 0 (got {n_columns!r})"
            )
        self.method, self.n, self.n_columns, self.seed = method, int(n), int(n_columns), int(seed)
        if column_ids is None:
            self._ids = np.arange(self.n_columns, dtype=np.int64)
        else:
            self._ids = np.asarray(column_ids, dtype=np.int64)
            if self._ids.shape != (self.n_columns,) or (self._ids < 0).any():
                raise ValueError("column_ids needs one address >= 0 per column")
            if method == "sobol" and not np.array_equal(self._ids, np.arange(self.n_columns)):
                raise MlimpactError("a Sobol' design cannot draw a part of its columns")
        if method == "lhs":
            bits = max(2, int(self.n - 1).bit_length())
            self._half_bits = (bits + 1) // 2
            width = int(self._ids.max(initial=-1)) + 1  # generate_state's words are prefix-stable
            self._keys = np.ascontiguousarray(
                np.random.SeedSequence(self.seed, spawn_key=(_PERMUTATION_STREAM,))
                .generate_state(width * _FEISTEL_ROUNDS, np.uint64)
                .reshape(width, _FEISTEL_ROUNDS)[self._ids]
            )

    def uniforms(self, start, stop, out=None):
        """Uniforms in (0, 1) of samples ``start`` to ``stop - 1``, shape (stop-start, columns).

        The array is column-major (Fortran order): kernels read one column at a time. ``out``,
        a column-major float64 array of that shape, receives them instead of a new array
        (reusing memory saves the page faults of a fresh one at every chunk).
        """
        if not 0 <= start < stop <= self.n:
            raise ValueError(f"sample range [{start}, {stop}) outside [0, {self.n})")
        shape = (stop - start, self.n_columns)
        if out is None:
            out = np.empty(shape, order="F")
        elif out.shape != shape or out.dtype != np.float64 or not out.flags.f_contiguous:
            raise ValueError(f"out must be a column-major float64 array of shape {shape}")
        if self.n_columns == 0:
            return out
        if self.method in ("mc", "lhs"):
            stream = _MC_STREAM if self.method == "mc" else _JITTER_STREAM
            _counter_uniforms(_stream_key(self.seed, stream), start, out.T, self._ids)
            if self.method == "mc":
                return out
            strata = np.empty(shape, dtype=np.uint64, order="F")
            _lhs_strata(start, stop, self.n, self._half_bits, self._keys, strata)
            out += strata
            out /= self.n
            return out
        out[...] = sobol_points(self.n_columns, self.seed, start, stop)
        return out


@lru_cache(maxsize=8)
def _scrambled_sobol(dimension, seed):
    # Scrambling draws dimension x 30 x 30 bits: 0.1 s for 2,800 dimensions, against 3 ms to
    # copy the scrambled engine and generate a chunk; chunks copy this engine (or the kept
    # position of their sequence: sobol_points).
    # scipy.stats is imported here, not with the module: it takes 0.9 s, which every command
    # paid at start-up (``mlimpact estimate --help`` included) for the Sobol' designs alone.
    from scipy.stats import qmc

    return qmc.Sobol(dimension, scramble=True, rng=np.random.default_rng(seed))


#: (dimension, seed) -> (index, engine): a copy of the engine where the last chunk of that
#: sequence stopped (chunks are mostly taken in order: the next one starts there).
_SOBOL_POSITIONS = {}
#: Sequences whose position is kept (about 1.3 MB each at 5,000 dimensions).
_SOBOL_KEPT = 8


def sobol_points(dimension, seed, start, stop):
    """Points ``start`` to ``stop - 1`` of the scrambled Sobol' sequence of ``dimension`` (LMS +
    digital shift seeded by ``seed``, first point kept), clipped into the open interval (0, 1),
    column-major. Any range is generated directly, so designs are addressable by chunks.

    scipy's engine (``qmc.Sobol``) scrambles the sequence. Its scrambled direction numbers
    and shift are kept on disk (:func:`_sobol_table`), and the points are generated from them
    here (:func:`_sobol_rows`): scipy's own points, to the bit, checked when the table is made,
    without importing scipy.stats (0.33 s) and scrambling again (0.13 s at the main job's
    5,254 dimensions) in every run. Where no table can be had, scipy's engine generates the
    points; a chunk that starts where the last one of its sequence stopped goes on from there
    (its fast-forward took 6 ms a chunk at 5,254 dimensions)."""
    key = (int(dimension), int(seed))
    table = _sobol_table(*key)
    if table is not None:
        out = np.empty((stop - start, key[0]), order="F")
        _sobol_rows(*table, np.int64(start), out)
        return np.clip(out, _TINY, 1.0 - 2.0**-53, out=out)
    index, engine = _SOBOL_POSITIONS.get(key, (0, None))
    if engine is None or index != start:
        index, engine = 0, _scrambled_sobol(*key)
    engine = copy.deepcopy(engine)
    if start > index:
        engine.fast_forward(start - index)
    with warnings.catch_warnings():
        # A chunk need not be a power of two: the whole design is.
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        points = engine.random(stop - start)
    _SOBOL_POSITIONS.pop(key, None)  # a fresh copy, that no other chunk holds; the newest last
    _SOBOL_POSITIONS[key] = (stop, engine)
    while len(_SOBOL_POSITIONS) > _SOBOL_KEPT:
        del _SOBOL_POSITIONS[next(iter(_SOBOL_POSITIONS))]
    return np.clip(points, _TINY, 1.0 - 2.0**-53)


@njit(**PARALLEL_JIT_OPTIONS)
def _sobol_rows(directions, shift, scale, start, out):
    """``out[r, j]``: column j of point ``start + r`` of a scrambled Sobol' sequence, from its
    scrambled direction numbers ``directions`` (column, bit) and digital ``shift`` (column)
    (uint64): point i is the shift XOR the direction numbers of the bits set in i's Gray code
    ``i ^ (i >> 1)``, and point i + 1 is point i XOR the direction number of the lowest zero
    bit of i (Antonov and Saleev 1979; Bratley and Fox, ACM TOMS 14(1), 1988), times
    ``scale`` (2^-bits). In parallel over columns, each written contiguously (``out``
    column-major)."""
    n, d = out.shape
    for j in prange(d):
        q = shift[j]
        gray = start ^ (start >> 1)
        k = 0
        while gray:
            if gray & 1:
                q ^= directions[j, k]
            gray >>= 1
            k += 1
        out[0, j] = q * scale
        i = start
        for r in range(1, n):
            c, m = 0, i
            while m & 1:
                m >>= 1
                c += 1
            q ^= directions[j, c]
            i += 1
            out[r, j] = q * scale


@lru_cache(maxsize=8)
def _sobol_table(dimension, seed):
    """``(directions, shift, scale)`` of the scrambled Sobol' sequence of ``dimension`` and
    ``seed`` (:func:`_sobol_rows`' arguments), read from the package's cache folder
    (:func:`mlimpact._config.cache_dir`, a file per dimension, seed and scipy and numpy
    versions); else taken from scipy's scrambled engine and written there, if the points
    made from it are the engine's own, to the bit, at two places of the sequence. None where
    the engine does not hold them as expected (its private attributes: another scipy)."""
    import scipy

    from mlimpact._config import cache_dir

    folder = cache_dir()
    name = f"sobol-{dimension}-{seed}-scipy{scipy.__version__}-numpy{np.__version__}.npz"
    path = None if folder is None else os.path.join(folder, name)
    if path is not None and os.path.exists(path):
        try:
            with np.load(path) as stored:
                return stored["directions"], stored["shift"], float(stored["scale"])
        except (OSError, ValueError, KeyError):  # (a damaged file: made again below)
            pass
    table = _checked_table(_scrambled_sobol(dimension, seed))
    if table is not None and path is not None:
        directions, shift, scale = table
        temporary = None
        try:  # written whole or not at all (another process may read it)
            handle, temporary = tempfile.mkstemp(dir=folder, suffix=".npz.part")
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, directions=directions, shift=shift, scale=scale)
            os.replace(temporary, path)
        except OSError:  # (a full disk: the next run makes it again)
            if temporary is not None and os.path.exists(temporary):
                os.unlink(temporary)
    return table


def _checked_table(engine):
    """The table of :func:`_sobol_table` from a fresh scrambled scipy engine, or None if it
    does not give the engine's points."""
    try:
        directions = np.ascontiguousarray(engine._sv, dtype=np.uint64)
        shift = np.ascontiguousarray(engine._quasi, dtype=np.uint64)
        scale = 2.0 ** -int(engine.bits)
    except (AttributeError, TypeError, ValueError):
        return None
    if directions.ndim != 2 or directions.shape[0] != engine.d or shift.shape != (engine.d,):
        return None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        for start, count in ((0, 5), (1021, 6)):
            reference = copy.deepcopy(engine)
            if start:
                reference.fast_forward(start)
            out = np.empty((count, engine.d), order="F")
            _sobol_rows(directions, shift, scale, np.int64(start), out)
            if not np.array_equal(out, reference.random(count)):
                return None
    return directions, shift, scale


class Chunks:
    """Ranges ``(start, stop)`` of at most ``size`` samples covering 0..n-1, made as they are
    taken (a run of 1e12 samples does not build millions of ranges first)."""

    def __init__(self, n, size):
        self.n, self.size = int(n), int(size)

    def __len__(self):
        return -(-self.n // self.size)

    def __iter__(self):
        for start in range(0, self.n, self.size):
            yield start, min(start + self.size, self.n)

    def __getitem__(self, i):
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("chunk index out of range")
        start = i * self.size
        return start, min(start + self.size, self.n)

    @property
    def largest(self):
        """Samples of the largest chunk."""
        return min(self.size, self.n)


def chunks(n, chunk_size):
    """The :class:`Chunks` of ``n`` samples, at most ``chunk_size`` each."""
    if (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, (int, np.integer))
        or chunk_size < 1
    ):
        raise MlimpactError(f"chunk size must be a whole number >= 1 (got {chunk_size!r})")
    return Chunks(n, chunk_size)


class SaltelliDesign:
    """The Saltelli design of ``n`` base points over ``n_columns`` uniform columns in groups.

    Saltelli et al. 2010 (doi:10.1016/j.cpc.2009.09.018): two N x D matrices A and B from a
    scrambled Sobol' sequence of dimension 2D (A its first D columns, B its last D), N a power
    of two, the first point kept (Owen 2020). For each group g of inputs, AB_g is A with the
    columns of g taken from B (and, with second order, BA_g is B with the columns of g from A).
    The rows of one base point follow SALib's layout: A, AB_1..AB_G, [BA_1..BA_G,] B. Base
    points are generated by chunks (:func:`sobol_points`).

    Parameters
    ----------
    n_columns : int
    groups : list of lists of int
        Column indices of each group (every column in exactly one group).
    n : int
        Base points, a power of two.
    seed : int
    second_order : bool
    """

    def __init__(self, n_columns, groups, n, seed=0, second_order=False):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or n & (n - 1):
            raise MlimpactError(f"Sobol' analysis needs a power of two base points >= 2 (got {n})")
        columns = sorted(c for g in groups for c in g)
        if columns != list(range(n_columns)):
            raise MlimpactError("every input column must be in exactly one group")
        self.n_columns, self.groups, self.n, self.seed = n_columns, groups, int(n), int(seed)
        self.second_order = second_order
        self.step = 2 * len(groups) + 2 if second_order else len(groups) + 2
        self._group_of = np.empty(n_columns, dtype=np.int64)  # the group of each column
        for g, group in enumerate(groups):
            self._group_of[list(group)] = g

    @property
    def rows(self):
        return self.n * self.step

    def base(self, start, stop):
        """A and B of base points start..stop-1, each (stop - start, n_columns)."""
        points = sobol_points(2 * self.n_columns, self.seed, start, stop)
        return points[:, : self.n_columns], points[:, self.n_columns :]

    def _transformed_base(self, start, stop, transform):
        """A and B of base points start..stop-1, through ``transform`` if given."""
        a, b = self.base(start, stop)
        return (a, b) if transform is None else (transform(a), transform(b))

    def group_rows(self, start, stop, group, transform=None):
        """The rows AB_g of group index ``group`` of base points start..stop-1, (point,
        column) column-major (``transform`` as in :meth:`uniforms`): the rows a design that
        differs from another by that group alone evaluates anew."""
        a, b = self._transformed_base(start, stop, transform)
        columns = self.groups[group]
        out = np.array(a, order="F")
        out[:, columns] = b[:, columns]
        return out

    def uniforms(self, start, stop, transform=None, out=None):
        """Rows start..stop-1 of the design (whole base points: multiples of ``step``),
        column-major.

        ``transform``, a function of one (point, column) array that works column by column
        (the quantile functions: :func:`mlimpact.engine.propagate.parameter_values`), is
        applied to A and B before the rows are assembled: the rows of the transformed design,
        for 2 of every ``step`` rows' work. ``out``, a flat float64 array of at least (stop -
        start) x columns values, holds the rows (chunk after chunk in one block of memory)."""
        if start % self.step or stop % self.step:
            raise ValueError("design rows must be taken by whole base points")
        a, b = self._transformed_base(start // self.step, stop // self.step, transform)
        n_base = a.shape[0]
        # built column by column (column, base point, row of the point): the transpose of a
        # column-major (row, column) array, which the engine reads fastest; written once, in
        # parallel over columns (about 64 MB a chunk of the main job's design)
        shape = (self.n_columns, n_base * self.step)
        out = np.empty(shape) if out is None else out[: shape[0] * shape[1]].reshape(shape)
        _saltelli_rows(
            np.ascontiguousarray(a.T),
            np.ascontiguousarray(b.T),
            self._group_of,
            len(self.groups),
            self.second_order,
            out,
        )
        return out.T


@njit(**PARALLEL_JIT_OPTIONS)
def _saltelli_rows(a, b, group_of, n_groups, second_order, out):
    """``out[j, p * step + s]``: column j of row s of base point p of a Saltelli design of
    ``n_groups`` groups, from A and B as (column, point) arrays: row 0 is A, the last B; row
    1 + g is A with group g's columns from B; with ``second_order`` (step 2G + 2, else
    G + 2), row 1 + G + g is B with group g's columns from A."""
    step = 2 * n_groups + 2 if second_order else n_groups + 2
    for j in prange(a.shape[0]):
        g = group_of[j]
        for p in range(a.shape[1]):
            x, y = a[j, p], b[j, p]
            row = p * step
            for s in range(n_groups + 1):
                out[j, row + s] = x
            out[j, row + 1 + g] = y
            if second_order:
                for s in range(n_groups + 1, step):
                    out[j, row + s] = y
                out[j, row + 1 + n_groups + g] = x
            out[j, row + step - 1] = y
