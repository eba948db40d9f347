"""The training-run kernel: energy and production/use impacts of one run, all criteria.

For a run (one row of a :class:`mlimpact.runs.table.RunTable`) it evaluates, after MLCA [1]_::

    E       = repetitions * nodes * P_node * hours * DR                          [kWh]
            (P_node: accelerators and host, :func:`mlimpact.engine.kernels.use.node_power_kw`; a
            metered run and the energy by scope:
            :func:`mlimpact.engine.kernels.use.energy_by_scope`)
    I_use   = E * F_elec * IR                                                    per criterion
    W_use   = E * (F_water + h * F_hydro) * IR + E_node * WUE                    water [L]
            (off site: the water of the grid's generation per kWh, hydropower's (share h)
            apart; on site: the facility's cooling water per kWh of IT energy, E_node =
            accelerators + host)
    I_prod  = repetitions * nodes * hours * (n_gpu M_gpu + M_server) / (L * 8760 * U)
    I_total = I_prod + I_use

A run is evaluated in three stages: its card
(:func:`mlimpact.engine.kernels.production.card_of_rows`), its host server
(:func:`mlimpact.engine.kernels.production.server_of_rows`) and the rest
(:func:`run_from_parts`); :func:`run_impacts` chains them for one run. Each stage evaluates a
block of rows (a row per column: :mod:`mlimpact.engine.kernels.prepare`). The point kernel
(:func:`training_kernel`) and the Monte Carlo kernel call the same stages, so every path computes
the same thing; the Monte Carlo kernel evaluates a card or a host once per sample for all the runs
that share it. The output of one run is the first :data:`mlimpact.quantities.N_KERNEL_OUT`
quantities of :data:`mlimpact.quantities.TRAINING_QUANTITIES`: energy, production (gwp, adpe, pe),
use (gwp, adpe, pe), energy of the accelerators, the host and the overhead.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
"""

import numpy as np
from numba import prange

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit
from mlimpact.engine.kernels import production, use
from mlimpact.engine.kernels.prepare import impute, select_variants
from mlimpact.quantities import (
    ENERGY,
    N_CARD_PARTS,
    N_IMPACTS,
    N_KERNEL_OUT,
    PRODUCTION,
    SCOPES,
    USE,
    WATER,
)
from mlimpact.runs.table import (
    CPU_DIE_AREA_CM2,
    CPU_TDP_W,
    CPU_USAGE,
    CPUS,
    DYNAMIC_RATIO,
    GPU_TDP_W,
    GPU_USAGE,
    GPUS,
    GRID,
    HOST_RATED_W_PER_GPU,
    HOST_USAGE,
    HOURS,
    HYDRO_SHARE,
    HYDRO_WATER,
    IMPUTATION,
    INTENSITY_RATIO,
    LIFETIME_USAGE,
    LIFETIME_YEARS,
    MEMORY_DENSITY,
    METERED_ENERGY_KWH,
    METERED_SCOPE,
    MFU,
    NODES,
    PEAK_FLOPS,
    PSUS,
    RAM_MODULE_GB,
    RAM_MODULES,
    REPETITIONS,
    SERVER,
    SSD_GB,
    TRAINING_COMPUTE,
    WUE,
)
from mlimpact.tables.factors import HOURS_PER_YEAR

#: Outputs of one run, and the offsets of its energy, production, use and energy-scope blocks
#: (:mod:`mlimpact.quantities`).
N_OUT = N_KERNEL_OUT
OUT_ENERGY, OUT_PRODUCTION, OUT_USE, OUT_SCOPES = ENERGY, PRODUCTION, USE, SCOPES
#: The run fields that :func:`mlimpact.engine.kernels.production.server_of_rows` reads, and those
#: that :func:`run_from_parts` and
#: :func:`mlimpact.engine.kernels.prepare.impute` read (checked by tests/test_kernels.py). The Monte
#: Carlo kernel evaluates a host once per sample for all the runs that share its inputs.
HOST_INPUTS = np.array(
    [CPUS, CPU_DIE_AREA_CM2, RAM_MODULES, RAM_MODULE_GB, SSD_GB, PSUS, MEMORY_DENSITY],
    dtype=np.int64,
)
RUN_INPUTS = np.array(
    [
        HOURS,
        NODES,
        REPETITIONS,
        GPUS,
        GPU_USAGE,
        GPU_TDP_W,
        CPUS,
        CPU_USAGE,
        CPU_TDP_W,
        RAM_MODULES,
        RAM_MODULE_GB,
        SERVER,
        *(GRID + c for c in range(N_IMPACTS)),  # the grid factor of every criterion
        INTENSITY_RATIO,
        LIFETIME_YEARS,
        LIFETIME_USAGE,
        DYNAMIC_RATIO,
        TRAINING_COMPUTE,
        PEAK_FLOPS,
        MFU,
        IMPUTATION,
        HOST_RATED_W_PER_GPU,
        HOST_USAGE,
        METERED_ENERGY_KWH,
        METERED_SCOPE,
        WUE,
        HYDRO_SHARE,
        HYDRO_WATER,
    ],
    dtype=np.int64,
)


@njit(**JIT_OPTIONS)
def run_from_parts(x, card, host, out, count):
    """Evaluate the first ``count`` rows of the block ``x`` given the production of their card
    and host per criterion.

    Every argument holds a row (a sample of a run) per column: the Monte Carlo kernel passes a
    block of samples of one run, whose fields are then contiguous over the samples, and writes
    the outputs where they are folded; a point kernel passes one column.

    Parameters
    ----------
    x : float64[N_RUN_FIELDS, sample]
        The runs' inputs (see :mod:`mlimpact.runs`); the fields of the card and the host are
        not read here.
    card, host : float64[N_IMPACTS, sample]
        Production of one card (:func:`mlimpact.engine.kernels.production.card_of_rows`, parts
        summed) and of one host server
        (:func:`mlimpact.engine.kernels.production.server_of_rows`) [criterion unit].
    out : float64[N_OUT or more, sample]
        Receives energy [kWh], production and use impacts (GWP [kg CO2eq], ADPe [kg Sb eq],
        PE [MJ], water [L]), and the energy of the accelerators, the host and the overhead [kWh],
        in its first N_OUT rows.
    count : int
        The columns evaluated.
    """
    for i in range(count):
        server_on = x[SERVER, i]
        gpus, gpu_usage, gpu_tdp_w = x[GPUS, i], x[GPU_USAGE, i], x[GPU_TDP_W, i]
        ram_gb = x[RAM_MODULES, i] * x[RAM_MODULE_GB, i] * server_on
        power = use.node_power_kw(
            gpus,
            gpu_usage,
            gpu_tdp_w,
            x[CPUS, i] * server_on,
            x[CPU_USAGE, i],
            x[CPU_TDP_W, i],
            ram_gb,
            x[HOST_RATED_W_PER_GPU, i] * server_on,
            x[HOST_USAGE, i],
        )
        repetitions, nodes, hours = x[REPETITIONS, i], x[NODES, i], x[HOURS, i]
        accelerators, node, energy = use.energy_by_scope(
            repetitions,
            nodes,
            hours,
            use.accelerators_power_kw(gpus, gpu_usage, gpu_tdp_w),
            power,
            x[DYNAMIC_RATIO, i],
            x[METERED_ENERGY_KWH, i],
            x[METERED_SCOPE, i],
        )
        out[OUT_ENERGY, i] = energy
        out[OUT_SCOPES, i] = accelerators
        out[OUT_SCOPES + 1, i] = node - accelerators
        out[OUT_SCOPES + 2, i] = energy - node
        lifetime_hours = x[LIFETIME_YEARS, i] * HOURS_PER_YEAR * x[LIFETIME_USAGE, i]
        allocation = repetitions * nodes * hours / lifetime_hours
        intensity_ratio = x[INTENSITY_RATIO, i]
        for c in range(N_IMPACTS):
            out[OUT_PRODUCTION + c, i] = allocation * (gpus * card[c, i] + server_on * host[c, i])
            out[OUT_USE + c, i] = energy * x[GRID + c, i] * intensity_ratio
        out[OUT_USE + WATER, i] += (
            energy * x[HYDRO_SHARE, i] * x[HYDRO_WATER, i] * intensity_ratio + node * x[WUE, i]
        )


@njit(**JIT_OPTIONS)
def run_impacts(x, factors, out):
    """Evaluate the run of the one-column block ``x`` (field, 1): its card, its host, then
    :func:`run_from_parts`.

    ``factors`` holds the production factors (1, item, N_IMPACTS)
    (:data:`mlimpact.tables.factors.PRODUCTION_FACTORS`), ``out`` (N_OUT) receives the results.
    The stages are called with the argument types the Monte Carlo kernel gives them (a count,
    not the literal 1; column views), so that numba compiles each stage once for both.
    """
    count = x.shape[1]
    parts = np.empty((N_IMPACTS * N_CARD_PARTS, 1))
    production.card_of_rows(x, factors, parts, count)
    card = np.empty((N_IMPACTS, 2))[:, :1]
    for c in range(N_IMPACTS):
        card[c, 0] = 0.0
        for part in range(N_CARD_PARTS):
            card[c, 0] += parts[N_CARD_PARTS * c + part, 0]
    host = np.empty((N_IMPACTS, 2))[:, :1]
    production.server_of_rows(x, factors, host, count)
    column = np.empty((N_OUT, 2))[:, :1]
    run_from_parts(x, card, host, column, count)
    for k in range(N_OUT):
        out[k] = column[k, 0]


@njit(**JIT_OPTIONS)
def _column(row):
    """``row`` as a one-column block (field, 1), a copy."""
    x = np.empty((row.shape[0], 1))
    for f in range(row.shape[0]):
        x[f, 0] = row[f]
    return x


@njit(**PARALLEL_JIT_OPTIONS)
def training_kernel(runs, variant_values, variant_cdf, factors, out):
    """Evaluate every run of ``runs`` (run, field) into ``out`` (run, N_OUT), at the point
    values: the variant at each run's ``variant`` position, imputed fields filled.
    ``factors``: the production factors (1, item, N_IMPACTS), writable (as the Monte Carlo
    kernel's)."""
    for r in prange(runs.shape[0]):
        x = _column(runs[r])
        chosen = np.empty(1, dtype=np.int64)
        select_variants(x, chosen, variant_values[r], variant_cdf[r], x.shape[1])
        impute(x, x.shape[1])
        run_impacts(x, factors, out[r])


def evaluate_runs(runs, factors):
    """Allocate the output and run :func:`training_kernel` on a RunTable (validated) and the
    production factors (item, N_IMPACTS)."""
    out = np.empty((len(runs), N_OUT), dtype=np.float64)
    per_sample = np.array(factors, dtype=np.float64)[np.newaxis]  # a writable copy
    training_kernel(runs.values, runs.variant_values, runs.variant_cdf, per_sample, out)
    return out


@njit(**JIT_OPTIONS)
def cards_kernel(runs, variant_values, variant_cdf, factors, out):
    """Per-card production parts of the card of every run (at its point variant): ``out``
    (run, criterion, part); ``factors`` (1, item, N_IMPACTS), writable."""
    chosen = np.empty(1, dtype=np.int64)
    parts = np.empty((N_IMPACTS * N_CARD_PARTS, 1))
    for r in range(runs.shape[0]):
        x = _column(runs[r])
        select_variants(x, chosen, variant_values[r], variant_cdf[r], x.shape[1])
        production.card_of_rows(x, factors, parts, x.shape[1])
        for c in range(N_IMPACTS):
            for part in range(N_CARD_PARTS):
                out[r, c, part] = parts[N_CARD_PARTS * c + part, 0]
