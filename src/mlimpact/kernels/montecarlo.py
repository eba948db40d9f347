"""The fused Monte Carlo kernel: sampled inputs -> impacts -> streaming reductions, in one pass.

For every sample of a chunk and every run, the kernel copies the run's row, applies the sampled
parameters (replace or scale a field), evaluates :func:`mlimpact.kernels.training.run_impacts`
with the sample's production factors, and folds the ten output quantities (energy; production,
use and total of GWP, ADPe, PE) into per-(run, quantity) accumulators:

- shifted sums ``sum(x - K)`` and ``sum((x - K)^2)`` with ``K`` the point estimate, for the mean
  and variance without cancellation (Chan, Golub, LeVeque, Am. Stat. 37(3), 1983): summed
  plainly within a tile of :data:`TILE` samples, and tiles added to a compensated pair (TwoSum,
  Knuth; Ogita, Rump, Oishi, SIAM J. Sci. Comput. 26(6), 2005). Tiles are aligned on absolute
  sample indices, so the chunking changes the sums by far less than 1e-12;
- minimum and maximum;
- a log-linear histogram for quantiles: :data:`OCTAVES` octaves around the point estimate, each
  cut into :data:`SUB_BINS` equal bins of the mantissa (the layout of HdrHistogram / DDSketch).
  A bin spans at most 1/SUB_BINS = 0.78 % of its lower edge, which bounds the relative error of
  every quantile read from it. Zeros, values below and above the range are counted apart.

Accumulators are sums and counts, so chunks (and Dask workers) merge by addition. The loop over
samples is tiled: within a tile, runs are processed in parallel, each run's values of the tile
are first evaluated into a small buffer and then folded quantity by quantity, so that a
histogram's updates stay within one (run, quantity) row. Each thread owns the accumulators of
its runs, so there is no race, and the order of additions for a run does not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS
from mlimpact.kernels.prepare import impute, select_variant
from mlimpact.kernels.production import card_of_row
from mlimpact.kernels.training import N_OUT, run_impacts
from mlimpact.runs import VARIANT

#: Quantities accumulated per training run: energy, production x3, use x3, total x3.
QUANTITIES = ("energy", "production_gwp", "production_adpe", "production_pe", "use_gwp",
              "use_adpe", "use_pe", "total_gwp", "total_adpe", "total_pe")
N_QUANTITIES = len(QUANTITIES)
#: Quantities accumulated per card run: (die, memory, other, total) for GWP, ADPe, PE.
CARD_QUANTITIES = tuple(f"{criterion}_{part}" for criterion in ("gwp", "adpe", "pe")
                        for part in ("die", "memory", "other", "total"))
N_CARD_QUANTITIES = len(CARD_QUANTITIES)
#: What the fused kernel evaluates: a training run, or the card of a run.
TRAINING, CARD = 0, 1
SUB_BITS = 7
#: Histogram bins per octave (a factor 2): relative bin width at most 1 / SUB_BINS.
SUB_BINS = 1 << SUB_BITS
#: Octaves covered by the histogram, centred on the point estimate (2**24 ~ 1.7e7 either side).
OCTAVES = 48
N_BINS = OCTAVES * SUB_BINS
#: Indices of the tail counters.
ZEROS, UNDER, OVER = 0, 1, 2
#: Samples per tile.
TILE = 1024


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


@njit(**JIT_OPTIONS)
def fold(values, count, shift, anchor, hist, tails, sums, compensation, extremes, index):
    """Fold ``values[:count]`` (one tile) of one (run, quantity) into its accumulators.

    The tile's shifted sums are added plainly, then into the running totals with TwoSum;
    histogram bins are computed in a branch-free pass, then counted (two passes keep the
    increments free of mispredicted branches). ``index`` is int64 scratch of ``count``.
    """
    partial1, partial2 = 0.0, 0.0
    low, high = extremes[0], extremes[1]
    for i in range(count):
        x = values[i]
        d = x - shift
        partial1 += d
        partial2 += d * d
        low = min(low, x)
        high = max(high, x)
    two_sum_add(sums, compensation, 0, partial1)
    two_sum_add(sums, compensation, 1, partial2)
    extremes[0], extremes[1] = low, high
    words = values.view(np.int64)
    first = anchor - OCTAVES // 2
    for i in range(count):
        word = words[i]
        exponent = (word >> 52) & 0x7FF
        octave = exponent - first
        inside = (word > 0) & (exponent != 0x7FF) & (octave >= 0) & (octave < OCTAVES)
        index[i] = (octave * SUB_BINS + ((word >> (52 - SUB_BITS)) & (SUB_BINS - 1))
                    if inside else -1)
    for i in range(count):
        j = index[i]
        if j >= 0:
            hist[j] += 1
        else:
            x = values[i]
            if x == 0.0:
                tails[ZEROS] += 1
            elif x < 0.0 or (x < np.inf and ((words[i] >> 52) & 0x7FF) < first):
                tails[UNDER] += 1
            else:
                tails[OVER] += 1


@njit(**PARALLEL_JIT_OPTIONS)
def fused_kernel(kind, first_sample, runs, variant_values, variant_cdf, factors_per_sample, values,
                 apply_field, apply_mode, apply_column, anchor, shift, hist, tails, sums,
                 compensation, extremes, samples, keep):
    """Evaluate a chunk of samples over every run and fold the results into the accumulators.

    Parameters
    ----------
    kind : int
        TRAINING (the ten quantities of :data:`QUANTITIES`) or CARD (the twelve of
        :data:`CARD_QUANTITIES`); accumulators have that many quantities.
    first_sample : int
        Index of the chunk's first sample in the whole design: tiles start at multiples of
        :data:`TILE`, so the grouping of the sums does not depend on the chunking.
    runs : float64[run, field]
    variant_values : float64[run, variant, VARIANT_FIELDS]; variant_cdf : float64[run, variant]
        Hardware variants of each run (:class:`mlimpact.runs.RunTable`). The parameters that
        set the ``variant`` field are applied first, the variant's values copied into the row,
        then the other parameters, then the imputation.
    factors_per_sample : float64[sample, item, 3]
    values : float64[sample, column]
        Sampled parameter values of the chunk (column-major is fastest).
    apply_field, apply_mode : int64[A]
    apply_column : int64[A, run]
    anchor : int64[run, quantity]
        Biased exponent of the histogram's centre octave.
    shift : float64[run, quantity]
        Shift K of the sums (the point estimate).
    hist : int64[run, quantity, N_BINS]; tails : int64[run, quantity, 3]
    sums, compensation : float64[run, quantity, 2]
        ``sum(x - K)`` and ``sum((x - K)^2)``, and the rounding errors of their additions.
    extremes : float64[run, quantity, 2]
        Minimum and maximum.
    samples : float64[sample, run, quantity]
        Receives every value when ``keep`` (else may be of size 0).
    """
    n_samples, n_runs = values.shape[0], runs.shape[0]
    n_fields, n_apply = runs.shape[1], apply_field.shape[0]
    n_quantities = shift.shape[1]
    has_variants = variant_cdf.shape[1] > 1
    tile_start = 0
    while tile_start < n_samples:
        absolute = first_sample + tile_start
        count = min((absolute // TILE + 1) * TILE - absolute, n_samples - tile_start)
        for r in prange(n_runs):
            row = np.empty(n_fields)
            out = np.empty(N_OUT)
            parts = np.empty((3, 3))
            buffer = np.empty((n_quantities, count))
            index = np.empty(count, dtype=np.int64)
            for i in range(count):
                s = tile_start + i
                for f in range(n_fields):
                    row[f] = runs[r, f]
                for a in range(n_apply):
                    if apply_field[a] == VARIANT and apply_column[a, r] >= 0:
                        row[VARIANT] = values[s, apply_column[a, r]]
                if has_variants:
                    select_variant(row, variant_values[r], variant_cdf[r], row[VARIANT])
                for a in range(n_apply):
                    column = apply_column[a, r]
                    if column >= 0 and apply_field[a] != VARIANT:
                        if apply_mode[a] == 0:
                            row[apply_field[a]] = values[s, column]
                        else:
                            row[apply_field[a]] *= values[s, column]
                impute(row)
                if kind == TRAINING:
                    run_impacts(row, factors_per_sample[s], parts, out)
                    for k in range(N_OUT):
                        buffer[k, i] = out[k]
                    for c in range(3):
                        buffer[7 + c, i] = out[1 + c] + out[4 + c]
                else:
                    card_of_row(row, factors_per_sample[s], parts)
                    for c in range(3):
                        for p in range(3):
                            buffer[4 * c + p, i] = parts[c, p]
                        buffer[4 * c + 3, i] = parts[c, 0] + parts[c, 1] + parts[c, 2]
                if keep:
                    for k in range(n_quantities):
                        samples[s, r, k] = buffer[k, i]
            for k in range(n_quantities):
                fold(buffer[k], count, shift[r, k], anchor[r, k], hist[r, k], tails[r, k],
                     sums[r, k], compensation[r, k], extremes[r, k], index)
        tile_start += count


@njit(**PARALLEL_JIT_OPTIONS)
def histogram_quantiles(hist, tails, anchor, extremes, count, levels, out):
    """Quantiles of every (run, quantity) from its histogram, into ``out[level, run, quantity]``.

    The value at level p is interpolated linearly inside the bin that holds rank p * count and
    clipped to the observed minimum and maximum. Ranks that fall in the zero count give 0;
    ranks below or above the histogram's range give NaN (never a silent clamp).
    """
    n_runs, n_quantities = hist.shape[0], hist.shape[1]
    for r in prange(n_runs):
        for k in range(n_quantities):
            h = hist[r, k]
            for li in range(levels.shape[0]):
                target = levels[li] * count
                cumulative = tails[r, k, ZEROS]
                if target <= cumulative and cumulative > 0:
                    out[li, r, k] = 0.0
                    continue
                cumulative += tails[r, k, UNDER]
                if target <= cumulative and tails[r, k, UNDER] > 0:
                    out[li, r, k] = np.nan
                    continue
                value = np.nan
                for j in range(N_BINS):
                    inside = h[j]
                    if inside > 0 and target <= cumulative + inside:
                        octave = j // SUB_BINS
                        sub = j - octave * SUB_BINS
                        scale = 2.0 ** (anchor[r, k] + octave - OCTAVES // 2 - 1023)
                        fraction = min(max((target - cumulative) / inside, 0.0), 1.0)
                        value = scale * (1.0 + (sub + fraction) / SUB_BINS)
                        value = min(max(value, extremes[r, k, 0]), extremes[r, k, 1])
                        break
                    cumulative += inside
                out[li, r, k] = value
