"""Quantile functions of the common distributions, compiled, for whole columns of samples.

:mod:`mlimpact.uncertainty.distributions` defines every distribution with a numpy ``ppf`` (the
reference); this kernel evaluates the same formulas for the kinds that dominate a Monte Carlo run
(one column per run and per uncertain input), in parallel and without temporaries. Kinds without a
code here (PERT, beta, truncated normal, discrete, empirical) are evaluated by their numpy ``ppf``,
a whole group of columns at once (PERT and beta through scipy's ``betaincinv``: calling it from here
would need a ctypes pointer, and a kernel holding one cannot be cached on disk, so every process
paid about 3 s of compilation).

Each column is one loop of one kind, so that the simple kinds compile to branch-free,
vectorised loops. The inverse of the standard normal CDF is Wichura's algorithm AS 241 [1]_
(PPND16, relative error about 1e-16), compiled here because scipy's ``ndtri`` through ctypes
cost 28 ns a value, most of the time of a default run's quantile functions; tests hold it to
scipy's ``ndtri`` within 1e-14.

References
----------
.. [1] M. J. Wichura, "Algorithm AS 241: The Percentage Points of the Normal Distribution",
   Applied Statistics 37(3), 477-484, 1988, doi:10.2307/2347330.
"""

import numpy as np
from numba import prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit

#: Codes of the kinds evaluated here; params hold up to 4 numbers per column.
CONSTANT, UNIFORM, LOGUNIFORM, NORMAL, LOGNORMAL, TRIANGULAR = range(6)
#: Code of a column evaluated elsewhere.
NOT_HERE = -1
#: Numbers a column's parameters take (the most any kind here has, with room to spare).
N_PARAMS = 4

# Coefficients of AS 241 (Wichura 1988, PPND16), lowest degree first; the leading 1 of each
# denominator is written out. Central region |p - 0.5| <= 0.425:
_A = np.array(
    [
        3.3871328727963666080e0,
        1.3314166789178437745e2,
        1.9715909503065514427e3,
        1.3731693765509461125e4,
        4.5921953931549871457e4,
        6.7265770927008700853e4,
        3.3430575583588128105e4,
        2.5090809287301226727e3,
    ]
)
_B = np.array(
    [
        1.0,
        4.2313330701600911252e1,
        6.8718700749205790830e2,
        5.3941960214247511077e3,
        2.1213794301586595867e4,
        3.9307895800092710610e4,
        2.8729085735721942674e4,
        5.2264952788528545610e3,
    ]
)
# Tails, r = sqrt(-ln(min(p, 1 - p))) <= 5:
_C = np.array(
    [
        1.42343711074968357734e0,
        4.63033784615654529590e0,
        5.76949722146069140550e0,
        3.64784832476320460504e0,
        1.27045825245236838258e0,
        2.41780725177450611770e-1,
        2.27238449892691845833e-2,
        7.74545014278341407640e-4,
    ]
)
_D = np.array(
    [
        1.0,
        2.05319162663775882187e0,
        1.67638483018380384940e0,
        6.89767334985100004550e-1,
        1.48103976427480074590e-1,
        1.51986665636164571966e-2,
        5.47593808499534494600e-4,
        1.05075007164441684324e-9,
    ]
)
# Far tails, r > 5:
_E = np.array(
    [
        6.65790464350110377720e0,
        5.46378491116411436990e0,
        1.78482653991729133580e0,
        2.96560571828504891230e-1,
        2.65321895265761230930e-2,
        1.24266094738807843860e-3,
        2.71155556874348757815e-5,
        2.01033439929228813265e-7,
    ]
)
_F = np.array(
    [
        1.0,
        5.99832206555887937690e-1,
        1.36929880922735805310e-1,
        1.48753612908506148525e-2,
        7.86869131145613259100e-4,
        1.84631831751005468180e-5,
        1.42151175831644588870e-7,
        2.04426310338993978564e-15,
    ]
)


@njit(**JIT_OPTIONS)
def _polynomial(coefficients, x):
    """Horner's rule, coefficients lowest degree first."""
    result = coefficients[-1]
    for k in range(coefficients.shape[0] - 2, -1, -1):
        result = result * x + coefficients[k]
    return result


@njit(**JIT_OPTIONS)
def ndtri(p):
    """Inverse of the standard normal CDF at ``p`` in (0, 1) (AS 241)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * _polynomial(_A, r) / _polynomial(_B, r)
    r = np.sqrt(-np.log(p if q < 0.0 else 1.0 - p))
    if r <= 5.0:
        r -= 1.6
        x = _polynomial(_C, r) / _polynomial(_D, r)
    else:
        r -= 5.0
        x = _polynomial(_E, r) / _polynomial(_F, r)
    return -x if q < 0.0 else x


@njit(**JIT_OPTIONS)
def _clip(x, low, high):
    return min(max(x, low), high)


@njit(**JIT_OPTIONS)
def ppf_column(code, p, u, out):
    """``out[s] = ppf(u[s])`` for one column of the given code and parameters ``p``.

    constant: p0. uniform: p0 + (p1 - p0) u. loguniform: p0 exp(u (ln p1 - ln p0)).
    normal (p0 mean, p1 sd): p0 + p1 ndtri(u). lognormal (p0 median, p1 gsd):
    p0 exp(ln(p1) ndtri(u)). triangular (p0 low, p1 mode, p2 high): inverse of the piecewise
    quadratic CDF, both branches computed and one selected (branch-free). Results are clipped
    to the support, as the numpy ``ppf`` does.
    """
    n = u.shape[0]
    if code == CONSTANT:
        for s in range(n):
            out[s] = p[0]
    elif code == UNIFORM:
        width = p[1] - p[0]
        for s in range(n):
            out[s] = _clip(p[0] + width * u[s], p[0], p[1])
    elif code == LOGUNIFORM:
        span = np.log(p[1]) - np.log(p[0])
        for s in range(n):
            out[s] = _clip(p[0] * np.exp(u[s] * span), p[0], p[1])
    elif code == NORMAL:
        for s in range(n):
            out[s] = p[0] + p[1] * ndtri(u[s])
    elif code == LOGNORMAL:
        sigma = np.log(p[1])
        for s in range(n):
            out[s] = p[0] * np.exp(sigma * ndtri(u[s]))
    elif code == TRIANGULAR:
        low, mode, high = p[0], p[1], p[2]
        width = high - low
        at_mode = (mode - low) / width
        rising, falling = width * (mode - low), width * (high - mode)
        for s in range(n):
            x = u[s]
            below = min(low + np.sqrt(x * rising), mode)
            above = max(high - np.sqrt((1.0 - x) * falling), mode)
            out[s] = _clip(below if x < at_mode else above, low, high)
    else:
        for s in range(n):
            out[s] = np.nan


#: Samples per block of a column: the unit of work of :func:`ppf_columns`.
BLOCK = 2048


@njit(**PARALLEL_JIT_OPTIONS)
def ppf_columns(uniforms, codes, params, out):
    """``out[j, s] = ppf_j(uniforms[j, s])`` for every column whose code is not NOT_HERE.

    Made for (column, sample) C-ordered arrays, the transposes of column-major (sample,
    column) ones (so that one sample is laid out like many). The work is cut into blocks of
    :data:`BLOCK` samples of one column, ordered block by block across all columns, so that
    each thread gets its share of every kind (costs differ 10-fold between kinds). ``out``
    may be ``uniforms`` itself: each value is read before it is written.
    """
    n_columns, n = uniforms.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for t in prange(n_blocks * n_columns):
        j = t % n_columns
        if codes[j] != NOT_HERE:
            lo = (t // n_columns) * BLOCK
            hi = min(lo + BLOCK, n)
            ppf_column(codes[j], params[j], uniforms[j, lo:hi], out[j, lo:hi])


@njit(**PARALLEL_JIT_OPTIONS)
def discrete_columns(uniforms, columns, starts, cumulative, values, out):
    """``out[columns[k], s]`` = the discrete quantile of ``uniforms[columns[k], s]``: the value
    of the first cumulative probability >= u (a left binary search, as ``np.searchsorted`` of
    :meth:`mlimpact.uncertainty.distributions.Discrete.ppf`), the last value past the end.

    Column ``columns[k]``'s sorted values and cumulative probabilities are
    ``values[starts[k]:starts[k + 1]]`` and ``cumulative[starts[k]:starts[k + 1]]``; arrays
    are (column, sample) C-ordered as in :func:`ppf_columns`, and ``out`` may be
    ``uniforms``. The scenario columns of a run (its hardware variant, its location) are
    discrete: hundreds of columns, one Python call each through numpy before.
    """
    n = uniforms.shape[1]
    for k in prange(columns.shape[0]):
        j, lo0 = columns[k], starts[k]
        m = starts[k + 1] - lo0
        for s in range(n):
            u = uniforms[j, s]
            lo, hi = 0, m
            while lo < hi:
                mid = (lo + hi) >> 1
                if cumulative[lo0 + mid] < u:
                    lo = mid + 1
                else:
                    hi = mid
            out[j, s] = values[lo0 + min(lo, m - 1)]
