"""Preparing a run's row before the impact model: its hardware variant and imputed fields.

A run may stand for one of several accelerators (:class:`mlimpact.runs.table.RunTable` carries
their values and cumulative weights); :func:`select_variants` copies the chosen one into the
row. A run whose training time or chip count is unknown gets it from the training compute
(:func:`impute`). Both are shared by the point kernels and the Monte Carlo kernel.

Like every stage of the model (:mod:`mlimpact.engine.kernels.training`), they work on a block of
rows: ``x`` (field, sample) holds a row per column, and the first ``count`` columns are
evaluated. The Monte Carlo kernel prepares a block of samples of one run at once (each field is
then contiguous over the samples, and a call costs once per block, not once per sample); a point
kernel passes a block of one column.
"""

from mlimpact._config import JIT_OPTIONS, njit
from mlimpact.runs.table import (
    GPUS,
    HOURS,
    IMPUTATION,
    IMPUTE_CHIPS,
    IMPUTE_HOURS,
    MFU,
    NODES,
    PEAK_FLOPS,
    TRAINING_COMPUTE,
    VARIANT,
    VARIANT_INDEX,
)


@njit(**JIT_OPTIONS)
def select_variants(x, chosen, variant_values, variant_cdf, count):
    """Set the hardware fields of the first ``count`` rows of the block ``x`` (field, sample) to
    those of the variant at the row's ``variant`` position in [0, 1] of the cumulative weights
    ``variant_cdf`` (one run's tables), and the variant's index into ``chosen[i]``."""
    last = variant_cdf.shape[0] - 1
    for i in range(count):
        position = x[VARIANT, i]
        k = 0
        while k < last and position > variant_cdf[k]:
            k += 1
        for j in range(VARIANT_INDEX.shape[0]):
            x[VARIANT_INDEX[j], i] = variant_values[k, j]
        chosen[i] = k


@njit(**JIT_OPTIONS)
def impute(x, count):
    """Fill the training time or the chip count of the first ``count`` rows of the block ``x``
    (field, sample) from the training compute [FLOP]:
    ``hours = C / (chips * peak * MFU * 3600)``, ``chips = C / (hours * peak * MFU * 3600)``,
    with chips = nodes * gpus (Epoch AI's relation between compute, hardware and time)."""
    for i in range(count):
        code = x[IMPUTATION, i]
        if code == IMPUTE_HOURS:
            rate = x[NODES, i] * x[GPUS, i] * x[PEAK_FLOPS, i] * x[MFU, i] * 3600.0
            x[HOURS, i] = x[TRAINING_COMPUTE, i] / rate
        elif code == IMPUTE_CHIPS:
            chips = x[TRAINING_COMPUTE, i] / (x[HOURS, i] * x[PEAK_FLOPS, i] * x[MFU, i] * 3600.0)
            x[NODES, i] = chips / x[GPUS, i]
