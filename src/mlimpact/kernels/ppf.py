"""Quantile functions of the common distributions, compiled, for whole columns of samples.

:mod:`mlimpact.distributions` defines every distribution with a numpy ``ppf`` (the reference);
this kernel evaluates the same formulas for the kinds that dominate a Monte Carlo run (one
column per run and per uncertain input), in parallel and without temporaries. Kinds without a
code here (truncated normal, discrete, empirical) are evaluated by their numpy ``ppf``.

``ndtri`` (inverse of the standard normal CDF) and ``betaincinv`` (inverse regularised
incomplete beta function) are scipy's own Cephes/Boost implementations, called through
``scipy.special.cython_special``, so both paths use the same special functions. Kernels that call
them through ctypes cannot be cached on disk by numba; they compile once per process.
"""

import ctypes

import numpy as np
from numba import njit, prange
from numba.extending import get_cython_function_address

#: Codes of the kinds evaluated here; params hold up to 4 numbers per column.
CONSTANT, UNIFORM, LOGUNIFORM, NORMAL, LOGNORMAL, TRIANGULAR, SCALED_BETA = range(7)
#: Code of a column evaluated elsewhere.
NOT_HERE = -1



def _special(name, n_args):
    """A double-precision function of cython_special, whose C signature is
    ``double f(double, ..., int skip_dispatch)`` (checked in the capsule's name)."""
    from scipy.special import cython_special

    signature = str(cython_special.__pyx_capi__[name])
    expected = "double (" + ", ".join(["double"] * n_args) + ", int __pyx_skip_dispatch)"
    if expected not in signature:
        raise ImportError(f"scipy.special.cython_special.{name} has signature {signature}")
    return ctypes.CFUNCTYPE(ctypes.c_double, *[ctypes.c_double] * n_args, ctypes.c_int)(
        get_cython_function_address("scipy.special.cython_special", name))


_ndtri = _special("ndtri", 1)
# __pyx_fuse_0 is the double specialisation of the fused betaincinv (checked above).
_betaincinv = _special("__pyx_fuse_0betaincinv", 3)

_OPTIONS = {"cache": False, "fastmath": False, "nogil": True}


@njit(**_OPTIONS)
def ppf_one(code, p, u):
    """Quantile of one uniform ``u`` for a column of the given code and parameters ``p``.

    constant: p0. uniform: p0 + (p1 - p0) u. loguniform: p0 exp(u (ln p1 - ln p0)).
    normal (p0 mean, p1 sd): p0 + p1 ndtri(u). lognormal (p0 median, p1 gsd):
    p0 exp(ln(p1) ndtri(u)). triangular (p0 low, p1 mode, p2 high, p3 the CDF at the mode):
    inverse of the piecewise quadratic CDF. scaled beta (p0 a, p1 b, p2 low, p3 high): p2 + (p3 - p2) I^-1(a, b; u).
    Results are clipped to the support, as the numpy ``ppf`` does.
    """
    if code == CONSTANT:
        return p[0]
    if code == UNIFORM:
        return min(max(p[0] + (p[1] - p[0]) * u, p[0]), p[1])
    if code == LOGUNIFORM:
        x = p[0] * np.exp(u * (np.log(p[1]) - np.log(p[0])))
        return min(max(x, p[0]), p[1])
    if code == NORMAL:
        return p[0] + p[1] * _ndtri(u, 0)
    if code == LOGNORMAL:
        return p[0] * np.exp(np.log(p[1]) * _ndtri(u, 0))
    if code == TRIANGULAR:
        # p: low, mode, high, and the CDF at the mode (precomputed by ppf_columns)
        low, mode, high = p[0], p[1], p[2]
        width = high - low
        if u < p[3]:
            x = min(low + np.sqrt(u * width * (mode - low)), mode)
        else:
            x = max(high - np.sqrt((1.0 - u) * width * (high - mode)), mode)
        return min(max(x, low), high)
    if code == SCALED_BETA:
        x = p[2] + (p[3] - p[2]) * _betaincinv(p[0], p[1], u, 0)
        return min(max(x, p[2]), p[3])
    return np.nan


@njit(parallel=True, **_OPTIONS)
def ppf_columns(uniforms, codes, params, out):
    """``out[s, j] = ppf_j(uniforms[s, j])`` for every column whose code is not NOT_HERE.

    Column by column: made for column-major (Fortran-order) arrays.
    """
    for j in prange(uniforms.shape[1]):
        if codes[j] != NOT_HERE:
            code, p = codes[j], params[j].copy()
            if code == TRIANGULAR:
                p[3] = (p[1] - p[0]) / (p[2] - p[0])
            for s in range(uniforms.shape[0]):
                out[s, j] = ppf_one(code, p, uniforms[s, j])
