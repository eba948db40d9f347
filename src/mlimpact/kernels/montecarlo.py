"""The fused Monte Carlo kernel: sampled inputs -> impacts -> streaming reductions, in one pass.

For every sample of a chunk and every run, the kernel copies the run's row, applies the sampled
parameters (replace or scale a field), evaluates :func:`mlimpact.kernels.training.run_impacts`
with the sample's production factors, and folds the ten output quantities (energy; production,
use and total of GWP, ADPe, PE) into per-(run, quantity) accumulators:

- shifted sums ``sum(x - K)`` and ``sum((x - K)^2)`` with ``K`` the point estimate, for the mean
  and variance without cancellation (Chan, Golub, LeVeque, Am. Stat. 37(3), 1983), each kept
  as a compensated pair (TwoSum, Knuth; Ogita, Rump, Oishi, SIAM J. Sci. Comput. 26(6), 2005)
  so that the grouping of samples into chunks changes the sums by far less than 1e-12;
- minimum and maximum;
- a log-linear histogram for quantiles: :data:`OCTAVES` octaves around the point estimate, each
  cut into :data:`SUB_BINS` equal bins of the mantissa (the layout of HdrHistogram / DDSketch).
  A bin spans at most 1/SUB_BINS = 0.78 % of its lower edge, which bounds the relative error of
  every quantile read from it. Zeros, values below and above the range are counted apart.

Accumulators are sums and counts, so chunks (and Dask workers) merge by addition. The loop over
samples is tiled, and within a tile runs are processed in parallel: each thread owns the
accumulators of its runs, so there is no race and the order of additions for a run does not
depend on the number of threads.
"""

import numpy as np
from numba import njit, prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS
from mlimpact.kernels.training import N_OUT, run_impacts

#: Quantities accumulated per run: energy, production x3, use x3, total x3.
QUANTITIES = ("energy", "production_gwp", "production_adpe", "production_pe", "use_gwp",
              "use_adpe", "use_pe", "total_gwp", "total_adpe", "total_pe")
N_QUANTITIES = len(QUANTITIES)
SUB_BITS = 7
#: Histogram bins per octave (a factor 2): relative bin width at most 1 / SUB_BINS.
SUB_BINS = 1 << SUB_BITS
#: Octaves covered by the histogram, centred on the point estimate (2**24 ~ 1.7e7 either side).
OCTAVES = 48
N_BINS = OCTAVES * SUB_BINS
#: Indices of the tail counters.
ZEROS, UNDER, OVER = 0, 1, 2
_TILE = 256


@njit(**JIT_OPTIONS)
def exponent_field(x):
    """The biased binary exponent of a positive float64 (as an int64)."""
    buffer = np.empty(1, dtype=np.float64)
    buffer[0] = x
    return (buffer.view(np.int64)[0] >> 52) & 0x7FF


@njit(**PARALLEL_JIT_OPTIONS)
def sample_factors(factors, values, factor_column, out):
    """Per-sample production factors: ``out[s, item, c] = factors[item, c] * error[s]``."""
    for s in prange(values.shape[0]):
        for item in range(factors.shape[0]):
            for c in range(factors.shape[1]):
                column = factor_column[c, item]
                scale = values[s, column] if column >= 0 else 1.0
                out[s, item, c] = factors[item, c] * scale


@njit(**JIT_OPTIONS)
def two_sum_add(sums, compensation, index, x):
    """sums[index] += x, with the rounding error of the addition added to compensation."""
    s = sums[index]
    t = s + x
    b = t - s
    compensation[index] += (s - (t - b)) + (x - b)
    sums[index] = t


@njit(**PARALLEL_JIT_OPTIONS)
def fused_kernel(runs, factors_per_sample, values, apply_field, apply_mode, apply_column,
                 anchor, shift, hist, tails, sums, compensation, vmin, vmax, samples, keep):
    """Evaluate a chunk of samples over every run and fold the results into the accumulators.

    Parameters
    ----------
    runs : float64[run, field]
    factors_per_sample : float64[sample, item, 3]
    values : float64[sample, column]
        Sampled parameter values of the chunk.
    apply_field, apply_mode : int64[A]
    apply_column : int64[A, run]
    anchor : int64[run, quantity]
        Biased exponent of the histogram's centre octave.
    shift : float64[run, quantity]
        Shift K of the sums (the point estimate).
    hist : int64[run, quantity, N_BINS]; tails : int64[run, quantity, 3]
    sums, compensation : float64[run, quantity, 2]
        ``sum(x - K)`` and ``sum((x - K)^2)``, and the rounding errors of their additions.
    vmin, vmax : float64[run, quantity]
    samples : float64[sample, run, quantity]
        Receives every value when ``keep`` (else may be of size 0).
    """
    n_samples, n_runs = values.shape[0], runs.shape[0]
    n_fields, n_apply = runs.shape[1], apply_field.shape[0]
    half = OCTAVES // 2
    for tile_start in range(0, n_samples, _TILE):
        tile_stop = min(tile_start + _TILE, n_samples)
        for r in prange(n_runs):
            row = np.empty(n_fields)
            out = np.empty(N_OUT)
            q = np.empty(N_QUANTITIES)
            bits = np.empty(1, dtype=np.float64)
            as_int = bits.view(np.int64)
            for s in range(tile_start, tile_stop):
                for f in range(n_fields):
                    row[f] = runs[r, f]
                for a in range(n_apply):
                    column = apply_column[a, r]
                    if column >= 0:
                        if apply_mode[a] == 0:
                            row[apply_field[a]] = values[s, column]
                        else:
                            row[apply_field[a]] *= values[s, column]
                run_impacts(row, factors_per_sample[s], out)
                for k in range(N_OUT):
                    q[k] = out[k]
                for c in range(3):
                    q[7 + c] = out[1 + c] + out[4 + c]
                for k in range(N_QUANTITIES):
                    x = q[k]
                    if keep:
                        samples[s, r, k] = x
                    d = x - shift[r, k]
                    two_sum_add(sums[r, k], compensation[r, k], 0, d)
                    two_sum_add(sums[r, k], compensation[r, k], 1, d * d)
                    if x < vmin[r, k]:
                        vmin[r, k] = x
                    if x > vmax[r, k]:
                        vmax[r, k] = x
                    if x == 0.0:
                        tails[r, k, ZEROS] += 1
                        continue
                    if not (x > 0.0) or x == np.inf:
                        tails[r, k, UNDER if x < 0.0 else OVER] += 1
                        continue
                    bits[0] = x
                    word = as_int[0]
                    octave = ((word >> 52) & 0x7FF) - anchor[r, k] + half
                    if octave < 0:
                        tails[r, k, UNDER] += 1
                    elif octave >= OCTAVES:
                        tails[r, k, OVER] += 1
                    else:
                        hist[r, k, octave * SUB_BINS + ((word >> (52 - SUB_BITS)) & (SUB_BINS - 1))] += 1
