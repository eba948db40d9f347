"""The fused Monte Carlo kernel: sampled inputs -> impacts -> streaming reductions, in one pass.

For every sample of a chunk and every run, the kernel evaluates the model of
:mod:`mlimpact.engine.kernels.training` in its three stages, each on the units that have distinct
inputs (:class:`StagePlan`): the card of every group of runs that share a card, the host
server of every group that share one, then every run from its card and host (copying the run's
row, applying the sampled parameters, selecting the hardware variant, imputing). It folds the
ten output quantities (energy; production, use and total of GWP, ADPe, PE) into per-(run,
quantity) accumulators:

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
samples goes by spans of a few tiles: the span's cards and hosts first (in parallel over
groups), then the runs in parallel, each evaluating a tile of its values into a small buffer
and folding it quantity by quantity, tile after tile, so that a run's histograms stay in cache.
Each thread owns the accumulators of its runs, so there is no race, and the order of additions
for a run does not depend on the number of threads.

A unit or run is evaluated by blocks of :data:`ROWS` samples: its row is copied into the columns of
a block (field, sample), the sampled parameters applied field by field, and each stage of the
model called once for the block. Each field is then contiguous over the samples, and no call is
made per sample: a call passes every array with its reference count taken and given back, and
calling the stages per sample, on rows (sample, field), made the kernel half as fast as a kernel
written by hand for one accelerator (``benchmarks/kernel.py --roofline``).
"""

from dataclasses import dataclass

import numpy as np
from numba import prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit
from mlimpact.engine.kernels.prepare import impute, select_variants
from mlimpact.engine.kernels.production import CARD_INPUTS, card_of_rows, server_of_rows
from mlimpact.engine.kernels.training import (
    HOST_INPUTS,
    RUN_INPUTS,
    run_from_parts,
)
from mlimpact.quantities import COMPONENTS, N_CARD_PARTS, N_IMPACTS, PRODUCTION, TOTAL, USE
from mlimpact.runs.table import HOURS, NODES, VARIANT, VARIANT_INDEX

#: A card's parts (die, memory, other) per criterion.
N_PARTS = N_CARD_PARTS
#: Values a card or host unit holds per sample: one per criterion for training runs (the
#: card's parts summed), the parts of each criterion for cards.
TRAINING_UNIT_WIDTH, CARD_UNIT_WIDTH = N_IMPACTS, N_IMPACTS * N_PARTS
#: Position of a card's criterion c, component p in CARD_QUANTITIES: c * CARD_STRIDE + p.
CARD_STRIDE = len(COMPONENTS)
#: What the fused kernel evaluates: a training run, or the card of a run.
TRAINING, CARD = 0, 1
#: Flags of the fused kernel's ``keep``: write every value into ``samples``, fold the values
#: into the accumulators (histograms, sums, extremes).
KEEP, FOLD = 1, 2
#: Stages of the units evaluated before the runs: a card, a host server.
CARD_STAGE, HOST_STAGE = 0, 1
#: Added to the mode of an application whose column depends on the chosen variant.
BY_VARIANT = 2
SUB_BITS = 7
#: Histogram bins per octave (a factor 2): relative bin width at most 1 / SUB_BINS.
SUB_BINS = 1 << SUB_BITS
#: Octaves covered by the histogram, centred on the point estimate (2**24 ~ 1.7e7 either side).
OCTAVES = 48
N_BINS = OCTAVES * SUB_BINS
#: Indices of the tail counters.
ZEROS, UNDER, OVER = 0, 1, 2
N_TAILS = 3
#: Samples per tile.
TILE = 1024
#: Samples prepared at once by a unit or run of the fused kernel (a block (field, sample) that
#: stays in the L1 cache).
ROWS = 64
#: Samples of a span, in tiles: the cards and hosts of a span are evaluated first, then each
#: run folds all the span's tiles in a row, so that its histograms stay in cache. At most
#: SPAN_BYTES of card and host results are held (fewer tiles with many distinct units).
SPAN_TILES = 8
SPAN_BYTES = 16 * 2**20
#: Padding of the rows of the kernel's buffers [values]: rows a power of two apart in memory
#: fall in the same L1 cache sets, and ten of them written in turn evicted each other.
PAD = 8


@njit(**JIT_OPTIONS)
def sample_factors(factors, values, factor_column, out):
    """Per-sample production factors: ``out[s, item, c] = factors[item, c] * error[s]``;
    ``values`` (column, sample) as :func:`fused_kernel` takes them. Serial: a few products
    per sample (under a millisecond for a chunk of 3,000 samples), where a parallel loop's
    compile cost a cold run about half a second."""
    for s in range(values.shape[1]):
        for item in range(factors.shape[0]):
            for c in range(factors.shape[1]):
                column = factor_column[c, item]
                scale = values[column, s] if column >= 0 else 1.0
                out[s, item, c] = factors[item, c] * scale


@njit(**JIT_OPTIONS)
def two_sum_add(sums, compensation, index, x):
    """sums[index] += x, with the rounding error of the addition added to compensation."""
    s = sums[index]
    t = s + x
    b = t - s
    compensation[index] += (s - (t - b)) + (x - b)
    sums[index] = t


@njit(**{**JIT_OPTIONS, "fastmath": {"reassoc"}})
def tile_sums(values, count, shift):
    """``sum(x - K)`` and ``sum((x - K)^2)`` of one tile, plainly. Reassociation is allowed
    here alone, so that the compiler vectorises the two additions (the tile is then added
    with TwoSum): the order of the additions is fixed for a given machine and tile, and
    the results on another CPU may differ in the last bits."""
    s1 = 0.0
    s2 = 0.0
    for i in range(count):
        d = values[i] - shift
        s1 += d
        s2 += d * d
    return s1, s2


@njit(**JIT_OPTIONS)
def fold(values, count, shift, anchor, hist, tails, sums, compensation, extremes, index):
    """Fold ``values[:count]`` (one tile) of one (run, quantity) into its accumulators.

    The tile's shifted sums (:func:`tile_sums`) are added to the running totals with TwoSum;
    its minimum and maximum are taken in four interleaved lanes; histogram bins are
    computed in a branch-free pass, then counted (two passes keep the increments free of
    mispredicted branches). ``index`` is int64 scratch of ``count``.
    """
    s1, s2 = tile_sums(values, count, shift)
    two_sum_add(sums, compensation, 0, s1)
    two_sum_add(sums, compensation, 1, s2)
    low0 = low1 = low2 = low3 = extremes[0]
    high0 = high1 = high2 = high3 = extremes[1]
    main = count - count % 4
    for i in range(0, main, 4):
        x0, x1, x2, x3 = values[i], values[i + 1], values[i + 2], values[i + 3]
        low0, low1, low2, low3 = min(low0, x0), min(low1, x1), min(low2, x2), min(low3, x3)
        high0, high1 = max(high0, x0), max(high1, x1)
        high2, high3 = max(high2, x2), max(high3, x3)
    for i in range(main, count):
        low0 = min(low0, values[i])
        high0 = max(high0, values[i])
    extremes[0] = min(min(low0, low1), min(low2, low3))
    extremes[1] = max(max(high0, high1), max(high2, high3))
    words = values.view(np.int64)
    first = anchor - OCTAVES // 2
    for i in range(count):
        word = words[i]
        exponent = (word >> 52) & 0x7FF
        octave = exponent - first
        inside = (word > 0) & (exponent != 0x7FF) & (octave >= 0) & (octave < OCTAVES)
        index[i] = (
            octave * SUB_BINS + ((word >> (52 - SUB_BITS)) & (SUB_BINS - 1)) if inside else -1
        )
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


@njit(**JIT_OPTIONS)
def prepare_rows(
    x,
    chosen,
    runs,
    r,
    values,
    first,
    count,
    apply,
    lo,
    hi,
    variant_columns,
    variant_values,
    variant_cdf,
    select,
    full,
):
    """Fill the first ``count`` columns of the block ``x`` (field, sample) with run ``r``'s row
    for samples ``first..first+count-1`` of ``values``: the applications ``apply[lo:hi]`` (rows
    of field, mode, column) that set the variant first, then the variant (if ``select``; its
    index into ``chosen``), then the others (mode 0 replaces the field, 1 scales it; plus
    :data:`BY_VARIANT`, the column is that of the chosen variant in ``variant_columns``, none if
    -1). Field by field, so that reads and writes are contiguous.

    With ``full`` every field of every column is copied from the run's row; without, ``x``
    must hold rows prepared by such calls for the same unit, and only the fields that a
    scaling or the imputation changed (hours, nodes) are restored before the applications:
    the others are the run's values or are overwritten.
    """
    n_fields = x.shape[0]
    if full:  # every column, also those beyond count that later calls will use
        for f in range(n_fields):
            value = runs[r, f]
            for i in range(x.shape[1]):
                x[f, i] = value
    else:
        for f in (HOURS, NODES):
            value = runs[r, f]
            for i in range(count):
                x[f, i] = value
        for k in range(lo, hi):
            if apply[k, 1] % BY_VARIANT != 0:
                field = apply[k, 0]
                value = runs[r, field]
                for i in range(count):
                    x[field, i] = value
    for k in range(lo, hi):
        if apply[k, 0] == VARIANT:
            column = apply[k, 2]
            for i in range(count):
                x[VARIANT, i] = values[column, first + i]
    if select:
        select_variants(x, chosen, variant_values[r], variant_cdf[r], count)
    for k in range(lo, hi):
        field, mode, column = apply[k, 0], apply[k, 1], apply[k, 2]
        if field == VARIANT:
            continue
        if mode >= BY_VARIANT:
            for i in range(count):
                by_variant = variant_columns[column, chosen[i]]
                if by_variant >= 0:
                    value = values[by_variant, first + i]
                    x[field, i] = value if mode == BY_VARIANT else x[field, i] * value
        elif mode == 0:
            for i in range(count):
                x[field, i] = values[column, first + i]
        else:
            for i in range(count):
                x[field, i] *= values[column, first + i]


@njit(**JIT_OPTIONS)
def unit_span(
    kind,
    u,
    span_start,
    span,
    runs,
    variant_values,
    variant_cdf,
    factors_per_sample,
    values,
    apply,
    variant_columns,
    unit_run,
    unit_stage,
    unit_ptr,
    unit_values,
):
    """Evaluate unit ``u`` of the stage plan (a card, or a host server for training runs) for
    the ``span`` samples from ``span_start``, block by block, into ``unit_values[u]``
    (value, sample of the span): per criterion, the card's parts summed (TRAINING) or apart
    (CARD), or the server's production. Arguments as :func:`fused_kernel` takes them. Called
    once per unit and span, so that the compiled loop of the parallel region stays small."""
    stage = unit_stage[u]
    if stage == HOST_STAGE and kind != TRAINING:
        return
    x = np.empty((runs.shape[1], ROWS))
    chosen = np.zeros(ROWS, dtype=np.int64)
    parts = np.empty((CARD_UNIT_WIDTH, ROWS))
    r = unit_run[u]
    select = variant_cdf.shape[1] > 1 and stage == CARD_STAGE
    for block in range(0, span, ROWS):
        size = min(ROWS, span - block)
        first = span_start + block
        prepare_rows(
            x,
            chosen,
            runs,
            r,
            values,
            first,
            size,
            apply,
            unit_ptr[u],
            unit_ptr[u + 1],
            variant_columns,
            variant_values,
            variant_cdf,
            select,
            block == 0,
        )
        factors = factors_per_sample[first : first + size]
        if stage == HOST_STAGE:
            server_of_rows(x, factors, unit_values[u, :, block : block + size], size)
            continue
        card_of_rows(x, factors, parts, size)
        # the criteria's bound known only at run time (see run_span)
        n_criteria = parts.shape[0] // N_PARTS
        if kind == TRAINING:
            for i in range(size):
                for c in range(n_criteria):
                    total = 0.0
                    for p in range(N_PARTS):
                        total += parts[N_PARTS * c + p, i]
                    unit_values[u, c, block + i] = total
        else:
            for k in range(parts.shape[0]):
                for i in range(size):
                    unit_values[u, k, block + i] = parts[k, i]


@njit(**JIT_OPTIONS)
def card_quantities(parts, at, buffer, block, size):
    """The card quantities (:data:`mlimpact.quantities.CARD_QUANTITIES`) of ``size`` samples
    from ``at`` of a card unit's ``parts`` (criterion x part, sample) into ``buffer[:, block:]``:
    each criterion's parts, then their total. Sample by sample, the criteria's bound known only
    at run time: with the constant, the compiler unrolled sixteen vectorised copy loops, which
    cost seconds of every cold start."""
    n_criteria = parts.shape[0] // N_PARTS
    for j in range(size):
        for c in range(n_criteria):
            total = 0.0
            for p in range(N_PARTS):
                value = parts[N_PARTS * c + p, at + j]
                buffer[CARD_STRIDE * c + p, block + j] = value
                total += value
            buffer[CARD_STRIDE * c + N_PARTS, block + j] = total


@njit(**JIT_OPTIONS)
def run_span(
    kind,
    r,
    span_start,
    span,
    absolute,
    runs,
    variant_values,
    variant_cdf,
    values,
    apply,
    variant_columns,
    card_of_run,
    host_of_run,
    run_ptr,
    unit_values,
    anchor,
    shift,
    hist,
    tails,
    sums,
    compensation,
    extremes,
    samples,
    kept,
    keep,
):
    """Evaluate run ``r`` for the ``span`` samples from ``span_start`` (``absolute`` in the
    whole design) from its card and host in ``unit_values``, tile by tile, and keep or fold the
    tile's values. Arguments as :func:`fused_kernel` takes them. Called once per run and span,
    so that the compiled loop of the parallel region stays small."""
    n_quantities = shift.shape[1]
    x = np.empty((runs.shape[1], ROWS))
    chosen = np.zeros(ROWS, dtype=np.int64)
    buffer = np.empty((n_quantities, TILE + PAD))
    index = np.empty(TILE, dtype=np.int64)
    g, h = card_of_run[r], host_of_run[r]
    has_variants = variant_cdf.shape[1] > 1
    tile_start = 0  # within the span
    while tile_start < span:
        tile_absolute = absolute + tile_start
        count = min((tile_absolute // TILE + 1) * TILE - tile_absolute, span - tile_start)
        for block in range(0, count, ROWS):
            size = min(ROWS, count - block)
            at = tile_start + block  # the block's first sample in the span
            if kind == TRAINING:
                prepare_rows(
                    x,
                    chosen,
                    runs,
                    r,
                    values,
                    span_start + at,
                    size,
                    apply,
                    run_ptr[r],
                    run_ptr[r + 1],
                    variant_columns,
                    variant_values,
                    variant_cdf,
                    has_variants,
                    at == 0,
                )
                card = unit_values[g, :, at : at + size]
                host = unit_values[h, :, at : at + size]
                out = buffer[:, block : block + size]
                impute(x, size)
                run_from_parts(x, card, host, out, size)
                for c in range(N_IMPACTS):
                    for j in range(size):
                        out[TOTAL + c, j] = out[PRODUCTION + c, j] + out[USE + c, j]
            else:
                card_quantities(unit_values[g], at, buffer, block, size)
            if keep & KEEP:
                for k in range(kept.size):
                    for j in range(size):
                        samples[r, k, span_start + at + j] = buffer[kept[k], block + j]
        if keep & FOLD:
            for k in range(n_quantities):
                fold(
                    buffer[k],
                    count,
                    shift[r, k],
                    anchor[r, k],
                    hist[r, k],
                    tails[r, k],
                    sums[r, k],
                    compensation[r, k],
                    extremes[r, k],
                    index,
                )
        tile_start += count


@njit(**PARALLEL_JIT_OPTIONS)
def fused_kernel(
    kind,
    first_sample,
    runs,
    variant_values,
    variant_cdf,
    factors_per_sample,
    values,
    apply,
    variant_columns,
    unit_run,
    unit_stage,
    unit_ptr,
    card_of_run,
    host_of_run,
    run_ptr,
    anchor,
    shift,
    hist,
    tails,
    sums,
    compensation,
    extremes,
    samples,
    kept,
    keep,
):
    """Evaluate a chunk of samples over every run and fold the results into the accumulators.

    The model is evaluated in the three stages of :mod:`mlimpact.engine.kernels.training`
    (:class:`StagePlan`): per span of samples, every card and host unit (shared by the runs that
    have the same inputs, :func:`unit_span`), then every run from its card and host
    (:func:`run_span`). A unit or run fills a block (field, sample) of :data:`ROWS` samples with
    its row and sampled parameters (``apply``), selects the variant, and (runs only) imputes.
    The quantities of a run are then kept or folded into its accumulators, tile by tile.

    Parameters
    ----------
    kind : int
        TRAINING (:data:`mlimpact.quantities.TRAINING_QUANTITIES`) or CARD
        (:data:`mlimpact.quantities.CARD_QUANTITIES`, from the card units alone);
        accumulators have that many quantities.
    first_sample : int
        Index of the chunk's first sample in the whole design: tiles start at multiples of
        :data:`TILE`, so the grouping of the sums does not depend on the chunking.
    runs : float64[run, field]
    variant_values : float64[run, variant, VARIANT_FIELDS]; variant_cdf : float64[run, variant]
        Hardware variants of each run (:class:`mlimpact.runs.table.RunTable`).
    factors_per_sample : float64[sample, item, N_IMPACTS]
    values : float64[column, sample], C-contiguous
        Sampled parameter values of the chunk: the transpose of the column-major (sample,
        column) array of :func:`mlimpact.engine.propagate.parameter_values`. A chunk of one
        sample is then laid out, and typed by numba, like any other (a one-row column-major
        array counts as C-ordered: it compiled a second kernel).
    apply, variant_columns, unit_run, unit_stage, unit_ptr, card_of_run, host_of_run, run_ptr
        The stage plan (:class:`StagePlan`), int64 arrays.
    anchor : int64[run, quantity]
        Biased exponent of the histogram's centre octave.
    shift : float64[run, quantity]
        Shift K of the sums (the point estimate).
    hist : int64[run, quantity, N_BINS]; tails : int64[run, quantity, 3]
    sums, compensation : float64[run, quantity, 2]
        ``sum(x - K)`` and ``sum((x - K)^2)``, and the rounding errors of their additions.
    extremes : float64[run, quantity, 2]
        Minimum and maximum.
    samples : float64[run, kept quantity, sample], C-contiguous
        Receives the values of the quantities ``kept`` when ``keep`` has :data:`KEEP` (else
        may be of size 0). One layout for every caller, so that numba compiles the kernel
        once: each run writes its values of a quantity contiguously.
    kept : int64[kept quantity]
        The quantities ``samples`` receives, in its order (a Sobol' design's outputs read
        only some: the others are not written).
    keep : int
        :data:`KEEP` (write every value into ``samples``) and/or :data:`FOLD` (fold them into
        the accumulators); a Sobol' design keeps its values and needs no histograms.
    """
    n_samples, n_runs = values.shape[1], runs.shape[0]
    n_units = unit_run.shape[0]
    width = TRAINING_UNIT_WIDTH if kind == TRAINING else CARD_UNIT_WIDTH
    span_tiles = max(1, min(SPAN_TILES, SPAN_BYTES // max(8 * n_units * width * TILE, 1)))
    unit_values = np.empty((n_units, width, span_tiles * TILE + PAD))
    span_start = 0
    while span_start < n_samples:
        absolute = first_sample + span_start
        span = min((absolute // TILE + span_tiles) * TILE - absolute, n_samples - span_start)
        # (np.int64: a literal, such as the first span's start, or a uint64 index compiled
        # the helpers once more each)
        for u in prange(n_units):
            unit_span(
                np.int64(kind),
                np.int64(u),
                np.int64(span_start),
                span,
                runs,
                variant_values,
                variant_cdf,
                factors_per_sample,
                values,
                apply,
                variant_columns,
                unit_run,
                unit_stage,
                unit_ptr,
                unit_values,
            )
        for r in prange(n_runs):
            run_span(
                np.int64(kind),
                np.int64(r),
                np.int64(span_start),
                span,
                absolute,
                runs,
                variant_values,
                variant_cdf,
                values,
                apply,
                variant_columns,
                card_of_run,
                host_of_run,
                run_ptr,
                unit_values,
                anchor,
                shift,
                hist,
                tails,
                sums,
                compensation,
                extremes,
                samples,
                kept,
                keep,
            )
        span_start += span


@dataclass(frozen=True)
class StagePlan:
    """The units that the fused kernel evaluates before the runs, and everyone's applications.

    Runs whose card inputs (:data:`mlimpact.engine.kernels.production.CARD_INPUTS`, with the variant
    if the run has several), and the sampled columns acting on them, are all equal share one card
    unit; likewise for the host server (:data:`mlimpact.engine.kernels.training.HOST_INPUTS`). A
    unit is evaluated from its first run's row; ``unit_stage`` says which of :data:`CARD_STAGE` and
    :data:`HOST_STAGE` it is, ``card_of_run`` and ``host_of_run`` which units a run takes. ``apply``
    holds (field, mode, column) rows: ``apply[unit_ptr[u]:unit_ptr[u + 1]]`` are those of unit u (on
    the fields it reads only), ``apply[run_ptr[r]:run_ptr[r + 1]]`` those of run r
    (:data:`RUN_INPUTS` and the variant). An application whose column depends on the variant chosen
    (a parameter of hardware scope on a field that variants set, for a run of several variants) has
    its mode plus :data:`BY_VARIANT`, and as column a row of ``variant_columns`` (a column per
    variant).
    """

    apply: np.ndarray
    variant_columns: np.ndarray
    unit_run: np.ndarray
    unit_stage: np.ndarray
    unit_ptr: np.ndarray
    card_of_run: np.ndarray
    host_of_run: np.ndarray
    run_ptr: np.ndarray

    def arrays(self):
        """The plan's arrays in the order :func:`fused_kernel` takes them."""
        return (
            self.apply,
            self.variant_columns,
            self.unit_run,
            self.unit_stage,
            self.unit_ptr,
            self.card_of_run,
            self.host_of_run,
            self.run_ptr,
        )


def stage_plan(runs, apply_field, apply_mode, apply_column, variant_column):
    """The :class:`StagePlan` of a run table (:class:`mlimpact.runs.table.RunTable`) and of its
    bound applications (field, mode, column per run, and per variant of a run; column -1
    where none acts: :class:`mlimpact.uncertainty.binding.BoundParameters`)."""
    # whether application a acts on run r (on its row or on one of its variants), (a, r)
    acting = (apply_column >= 0) | (variant_column.max(axis=2, initial=-1) >= 0)
    blocks, variant_blocks, n_variant_rows = [], [], 0

    def applications_of(members, fields):
        """The (field, mode, column) rows of each run of ``members`` in turn, on ``fields``:
        for each, the variant's application first, then the others in their order; a column
        that depends on the variant is a new row of variant_columns. Returns the number of
        rows of each run."""
        nonlocal n_variant_rows
        on = np.flatnonzero(np.isin(apply_field, list(fields)))
        on = np.concatenate([on[apply_field[on] == VARIANT], on[apply_field[on] != VARIANT]])
        members = np.asarray(members, dtype=np.int64)
        chosen = acting[on][:, members].T  # (member, application), in each run's order
        which, position = np.nonzero(chosen)
        a, r = on[position], members[which]
        column = apply_column[a, r]
        per_variant = column < 0
        mode = apply_mode[a] + np.where(per_variant, BY_VARIANT, 0)
        column = np.where(per_variant, n_variant_rows + np.cumsum(per_variant) - 1, column)
        blocks.append(np.stack([apply_field[a], mode, column], axis=1).astype(np.int64))
        variant_blocks.append(variant_column[a[per_variant], r[per_variant]])
        n_variant_rows += int(per_variant.sum())
        return chosen.sum(axis=1)

    def fields_of(inputs):
        fields = set(int(f) for f in inputs)
        uses_variant = bool(fields & set(int(f) for f in VARIANT_INDEX))
        return fields | ({VARIANT} if uses_variant else set()), uses_variant

    unit_run, unit_stage, unit_counts = [], [], []

    def group(stage, inputs):
        fields, uses_variant = fields_of(inputs)
        columns = sorted(fields)
        relevant = [a for a in range(len(apply_field)) if apply_field[a] in fields]
        n = len(runs)
        parts = [
            runs.values[:, columns],
            apply_column[relevant].T,
            variant_column[relevant].transpose(1, 0, 2).reshape(n, -1),
        ]
        if uses_variant:
            parts += [runs.variant_values.reshape(n, -1), runs.variant_cdf]
        # each run's key: the bytes of its inputs and of the columns acting on them (runs
        # whose keys are equal bit for bit share a unit, numbered by their first run)
        raw = np.concatenate(
            [np.ascontiguousarray(part).view(np.uint8).reshape(n, -1) for part in parts], axis=1
        )
        keys = np.ascontiguousarray(raw).view(np.dtype((np.void, raw.shape[1]))).ravel()
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        unit_of_run = (len(unit_run) + rank[inverse.ravel()]).astype(np.int64)
        unit_run.extend(first[order].tolist())
        unit_stage.extend([stage] * order.size)
        unit_counts.extend(applications_of(first[order], fields))
        return unit_of_run

    card_of_run = group(CARD_STAGE, CARD_INPUTS)
    host_of_run = group(HOST_STAGE, HOST_INPUTS)
    run_fields, _ = fields_of(RUN_INPUTS)
    run_counts = applications_of(range(len(runs)), run_fields)
    unit_ptr = np.concatenate([[0], np.cumsum(unit_counts, dtype=np.int64)])
    as_array = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    width = runs.variant_cdf.shape[1]
    return StagePlan(
        np.concatenate(blocks).reshape(-1, 3),
        np.concatenate(variant_blocks).astype(np.int64).reshape(n_variant_rows, width),
        as_array(unit_run),
        as_array(unit_stage),
        unit_ptr.astype(np.int64),
        card_of_run,
        host_of_run,
        (unit_ptr[-1] + np.concatenate([[0], np.cumsum(run_counts, dtype=np.int64)])).astype(
            np.int64
        ),
    )


@njit(**JIT_OPTIONS)
def _ascending(levels):
    """Indices that sort the few ``levels`` (an insertion sort: numba's argsort compiled its
    quicksort for about a second of every cold start, for five numbers)."""
    order = np.arange(levels.size)
    for i in range(1, levels.size):
        j = i
        while j > 0 and levels[order[j - 1]] > levels[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1
    return order


@njit(**PARALLEL_JIT_OPTIONS)
def histogram_quantiles(hist, tails, anchor, extremes, count, levels, out):
    """Quantiles of every (run, quantity) from its histogram, into ``out[level, run, quantity]``.

    The value at level p is interpolated linearly inside the bin that holds rank p * count and
    clipped to the observed minimum and maximum. Ranks that fall in the zero count give 0;
    ranks below or above the histogram's range give NaN (never a silent clamp). The levels are
    visited in ascending order, so one pass over the bins serves them all.
    """
    n_runs, n_quantities = hist.shape[0], hist.shape[1]
    order = _ascending(levels)
    for r in prange(n_runs):
        for k in range(n_quantities):
            h = hist[r, k]
            zeros, under = tails[r, k, ZEROS], tails[r, k, UNDER]
            j = 0
            cumulative = zeros + under  # ranks before bin j
            for li in order:
                target = levels[li] * count
                if target <= zeros and zeros > 0:
                    out[li, r, k] = 0.0
                    continue
                if target <= zeros + under and under > 0:
                    out[li, r, k] = np.nan
                    continue
                while j < N_BINS and not (h[j] > 0 and target <= cumulative + h[j]):
                    cumulative += h[j]
                    j += 1
                if j == N_BINS:
                    out[li, r, k] = np.nan
                    continue
                octave = j // SUB_BINS
                sub = j - octave * SUB_BINS
                scale = 2.0 ** (anchor[r, k] + octave - OCTAVES // 2 - 1023)
                fraction = min(max((target - cumulative) / h[j], 0.0), 1.0)
                value = scale * (1.0 + (sub + fraction) / SUB_BINS)
                out[li, r, k] = min(max(value, extremes[r, k, 0]), extremes[r, k, 1])
