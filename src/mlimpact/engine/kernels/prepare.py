"""Preparing a run's row before the impact model: its hardware variant and imputed fields.

A run may stand for one of several accelerators (:class:`mlimpact.runs.table.RunTable` carries
their values and cumulative weights); :func:`select_variant` copies the chosen one into the
row. A run whose training time or chip count is unknown gets it from the training compute
(:func:`impute`). Both are shared by the point kernels and the Monte Carlo kernel.
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
    VARIANT_INDEX,
)


@njit(**JIT_OPTIONS)
def select_variant(row, variant_values, variant_cdf, position):
    """Set the hardware fields of ``row`` to those of the variant at ``position`` in [0, 1] of
    the cumulative weights ``variant_cdf`` (one run's tables); return the variant's index."""
    k = 0
    last = variant_cdf.shape[0] - 1
    while k < last and position > variant_cdf[k]:
        k += 1
    for j in range(VARIANT_INDEX.shape[0]):
        row[VARIANT_INDEX[j]] = variant_values[k, j]
    return k


@njit(**JIT_OPTIONS)
def impute(row):
    """Fill the training time or the chip count from the training compute [FLOP]:
    ``hours = C / (chips * peak * MFU * 3600)``, ``chips = C / (hours * peak * MFU * 3600)``,
    with chips = nodes * gpus (Epoch AI's relation between compute, hardware and time)."""
    code = row[IMPUTATION]
    if code == IMPUTE_HOURS:
        rate = row[NODES] * row[GPUS] * row[PEAK_FLOPS] * row[MFU] * 3600.0
        row[HOURS] = row[TRAINING_COMPUTE] / rate
    elif code == IMPUTE_CHIPS:
        chips = row[TRAINING_COMPUTE] / (row[HOURS] * row[PEAK_FLOPS] * row[MFU] * 3600.0)
        row[NODES] = chips / row[GPUS]
