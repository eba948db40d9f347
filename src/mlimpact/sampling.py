"""Sampling designs whose samples are addressed, not streamed.

Sample ``i`` gets the same uniforms whatever the chunking, the number of threads or the number of
Dask workers: its numbers depend only on ``(seed, i)``. Chunk size is then a performance knob.

- ``mc``: plain Monte Carlo. Samples are grouped in fixed blocks of :data:`BLOCK`; block ``k``
  draws from its own stream ``SeedSequence(seed, spawn_key=(0, k))`` (PCG64), so any range of
  samples can be generated without the ones before it.
- ``lhs``: Latin hypercube. Column ``j`` of sample ``i`` is ``(pi_j(i) + v_ij) / n`` with a
  pseudo-random permutation ``pi_j`` of ``0..n-1`` evaluated point-wise (a keyed Feistel network
  with cycle walking, so no permutation of size n is ever stored) and jitter ``v`` from the
  Monte Carlo stream of ``(seed, 1)``. Each column has exactly one sample in each of the n
  strata.
- ``sobol``: scrambled Sobol' points (``scipy.stats.qmc.Sobol``, LMS + digital shift, first point
  kept as recommended by Owen 2020), fast-forwarded to the chunk's first index; n must be a
  power of two.

Every design returns uniforms in the open interval (0, 1), so ``ppf`` never sees 0 or 1.

References
----------
.. [1] M. D. McKay, R. J. Beckman, W. J. Conover, Technometrics 21(2), 1979 (Latin hypercube).
.. [2] A. B. Owen, "On dropping the first Sobol' point", 2020, arXiv:2008.08051.
.. [3] M. Luby, C. Rackoff, SIAM J. Comput. 17(2), 1988 (Feistel permutations); J. Black,
   P. Rogaway, CT-RSA 2002 (cycle walking).
"""

import warnings

import numpy as np
from numba import njit, prange
from scipy.stats import qmc

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS
from mlimpact.errors import MlimpactError

METHODS = ("mc", "lhs", "sobol")
#: Samples per random block of the ``mc`` design (the unit of addressing; fixed forever, since
#: changing it changes every result for a given seed).
BLOCK = 1024
_TINY = 2.0 ** -54
_FEISTEL_ROUNDS = 6


def _check(method, n, seed):
    if method not in METHODS:
        raise MlimpactError(f"sampling method must be one of {', '.join(METHODS)} (got {method!r})")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise MlimpactError(f"number of samples must be a whole number >= 1 (got {n!r})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise MlimpactError(f"seed must be a whole number >= 0 (got {seed!r})")
    if method == "sobol" and n & (n - 1):
        raise MlimpactError(f"sobol sampling needs a power of two samples (got {n}; "
                            f"try {1 << int(n).bit_length()})")


def _blocks(seed, stream, start, stop, n_columns):
    """Uniforms in (0, 1) of samples start..stop-1 from the addressed blocks of ``stream``."""
    first, last = start // BLOCK, (stop - 1) // BLOCK
    parts = []
    for k in range(first, last + 1):
        generator = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(seed, spawn_key=(stream, k))))
        parts.append(generator.random((BLOCK, n_columns)))
    block = np.concatenate(parts) if len(parts) > 1 else parts[0]
    offset = start - first * BLOCK
    # random() gives multiples of 2**-53 in [0, 1): shifting by 2**-54 keeps them inside (0, 1).
    return block[offset:offset + stop - start] + _TINY


@njit(**JIT_OPTIONS)
def _mix(x):
    """SplitMix64 finaliser: a keyed, well-mixing round function on uint64."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


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
    """

    def __init__(self, method, n, n_columns, seed=0):
        _check(method, n, seed)
        self.method, self.n, self.n_columns, self.seed = method, int(n), int(n_columns), int(seed)
        if method == "lhs":
            bits = max(2, int(self.n - 1).bit_length())
            self._half_bits = (bits + 1) // 2
            self._keys = np.random.SeedSequence(self.seed, spawn_key=(2,)).generate_state(
                self.n_columns * _FEISTEL_ROUNDS, np.uint64).reshape(self.n_columns,
                                                                     _FEISTEL_ROUNDS)

    def uniforms(self, start, stop):
        """Uniforms in (0, 1) of samples ``start`` to ``stop - 1``, shape (stop-start, columns)."""
        if not 0 <= start < stop <= self.n:
            raise ValueError(f"sample range [{start}, {stop}) outside [0, {self.n})")
        if self.n_columns == 0:
            return np.empty((stop - start, 0))
        if self.method == "mc":
            return _blocks(self.seed, 0, start, stop, self.n_columns)
        if self.method == "lhs":
            strata = np.empty((stop - start, self.n_columns), dtype=np.uint64)
            _lhs_strata(start, stop, self.n, self._half_bits, self._keys, strata)
            jitter = _blocks(self.seed, 1, start, stop, self.n_columns)
            return (strata.astype(np.float64) + jitter) / self.n
        engine = qmc.Sobol(self.n_columns, scramble=True, rng=np.random.default_rng(self.seed))
        if start:
            engine.fast_forward(start)
        with warnings.catch_warnings():
            # A chunk need not be a power of two: the whole design of n points is.
            warnings.filterwarnings("ignore", "The balance properties", UserWarning)
            points = engine.random(stop - start)
        return np.clip(points, _TINY, 1.0 - 2.0 ** -53)


def chunks(n, chunk_size):
    """Ranges ``(start, stop)`` covering 0..n-1; chunk_size is rounded up to whole blocks."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise MlimpactError(f"chunk size must be a whole number >= 1 (got {chunk_size!r})")
    size = -(-int(chunk_size) // BLOCK) * BLOCK
    return [(start, min(start + size, n)) for start in range(0, n, size)]
