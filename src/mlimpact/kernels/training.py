"""The training-run kernel: energy and production/use impacts of one run, all criteria.

For a run (one row of a :class:`mlimpact.runs.RunTable`) it evaluates, after MLCA [1]_::

    E       = repetitions * nodes * P_node * hours * DR                          [kWh]
    I_use   = E * F_elec * IR                                                    per criterion
    I_prod  = repetitions * nodes * hours * (n_gpu M_gpu + M_server) / (L * 8760 * U)
    I_total = I_prod + I_use

:func:`run_impacts` is the scalar building block that both :func:`training_kernel` (one
evaluation per run) and the Monte Carlo kernels call, so every path computes the same thing.
The output layout of one run is ``OUT_FIELDS``: energy, production (gwp, adpe, pe), use
(gwp, adpe, pe).

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
"""

import numpy as np
from numba import njit, prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS
from mlimpact.factors import HOURS_PER_YEAR
from mlimpact.kernels import production, use
from mlimpact.kernels.prepare import impute, select_variant
from mlimpact.runs import VARIANT
from mlimpact.runs import (
    CPU_DIE_AREA_CM2, CPU_TDP_W, CPU_USAGE, CPUS, DYNAMIC_RATIO, GPU_MEMORY_GB,
    GPU_TDP_W, GPU_USAGE, GPUS, GRID, HOURS, INTENSITY_RATIO, LIFETIME_USAGE, LIFETIME_YEARS,
    MEMORY_DENSITY, NODES, PSUS, RAM_MODULE_GB, RAM_MODULES, REPETITIONS, SERVER, SSD_GB,
)

OUT_FIELDS = ("energy", "production_gwp", "production_adpe", "production_pe",
              "use_gwp", "use_adpe", "use_pe")
N_OUT = len(OUT_FIELDS)
#: Offsets of the production and use blocks in an output row.
OUT_ENERGY, OUT_PRODUCTION, OUT_USE = 0, 1, 4


@njit(**JIT_OPTIONS)
def run_impacts(row, factors, parts, out):
    """Evaluate one run.

    Parameters
    ----------
    row : float64[N_RUN_FIELDS]
        The run's inputs (see :mod:`mlimpact.runs`).
    factors : float64[item, 3]
        Production factors (:data:`mlimpact.factors.PRODUCTION_FACTORS`).
    parts : float64[3, 3]
        Scratch space: the card's parts (criterion, die/memory/other).
    out : float64[N_OUT]
        Receives energy [kWh], production and use impacts (GWP [kg CO2eq], ADPe [kg Sb eq],
        PE [MJ]).
    """
    server_on = row[SERVER]
    ram_gb = row[RAM_MODULES] * row[RAM_MODULE_GB] * server_on
    power = use.node_power_kw(row[GPUS], row[GPU_USAGE], row[GPU_TDP_W],
                              row[CPUS] * server_on, row[CPU_USAGE], row[CPU_TDP_W], ram_gb)
    energy = use.energy_kwh(row[REPETITIONS], row[NODES], power, row[HOURS], row[DYNAMIC_RATIO])
    out[OUT_ENERGY] = energy
    allocation = (row[REPETITIONS] * row[NODES] * row[HOURS]
                  / (row[LIFETIME_YEARS] * HOURS_PER_YEAR * row[LIFETIME_USAGE]))
    # Amounts that do not depend on the criterion, computed once.
    inverse_density = 1.0 / row[MEMORY_DENSITY]
    memory_area = row[GPU_MEMORY_GB] * inverse_density
    memory_units = 1.0 if row[GPU_MEMORY_GB] > 0.0 else 0.0
    ram_area = row[RAM_MODULES] * row[RAM_MODULE_GB] * inverse_density
    ssd_area = production.ssd_area(row[SSD_GB])
    ssd_units = 1.0 if row[SSD_GB] > 0.0 else 0.0
    intensity_ratio = row[INTENSITY_RATIO]
    production.card_parts(row, memory_area, memory_units, factors, parts)
    for c in range(3):
        card = parts[c, 0] + parts[c, 1] + parts[c, 2]
        host = production.server(c, row[CPUS], row[CPU_DIE_AREA_CM2], row[RAM_MODULES], ram_area,
                                 ssd_area, ssd_units, row[PSUS], factors)
        out[OUT_PRODUCTION + c] = allocation * (row[GPUS] * card + server_on * host)
        out[OUT_USE + c] = energy * row[GRID + c] * intensity_ratio


@njit(**PARALLEL_JIT_OPTIONS)
def training_kernel(runs, variant_values, variant_cdf, factors, out):
    """Evaluate every run of ``runs`` (run, field) into ``out`` (run, N_OUT), at the point
    values: the variant at each run's ``variant`` position, imputed fields filled."""
    for r in prange(runs.shape[0]):
        row = runs[r].copy()
        select_variant(row, variant_values[r], variant_cdf[r], row[VARIANT])
        impute(row)
        run_impacts(row, factors, np.empty((3, 3)), out[r])


def evaluate_runs(runs, factors):
    """Allocate the output and run :func:`training_kernel` on a RunTable (validated)."""
    out = np.empty((len(runs), N_OUT), dtype=np.float64)
    training_kernel(runs.values, runs.variant_values, runs.variant_cdf, factors, out)
    return out
