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
(:func:`mlimpact.engine.kernels.production.card_of_row`), its host server (:func:`host_of_row`) and
the rest (:func:`run_from_parts`); :func:`run_impacts` chains them for one run. The point kernel
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
from mlimpact.engine.kernels.prepare import impute, select_variant
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
    VARIANT,
    WUE,
)
from mlimpact.tables.factors import HOURS_PER_YEAR

#: Outputs of one run, and the offsets of its energy, production, use and energy-scope blocks
#: (:mod:`mlimpact.quantities`).
N_OUT = N_KERNEL_OUT
OUT_ENERGY, OUT_PRODUCTION, OUT_USE, OUT_SCOPES = ENERGY, PRODUCTION, USE, SCOPES
#: The run fields that :func:`host_of_row` reads, and those that :func:`run_from_parts` and
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
def host_of_row(row, factors, out):
    """Production of the run's host server, per criterion, into ``out`` (N_IMPACTS)
    [criterion unit].

    Reads only the fields of :data:`HOST_INPUTS` of ``row`` (tested), so that the Monte Carlo
    kernel evaluates it once per sample for all the runs that share those inputs.
    """
    inverse_density = 1.0 / row[MEMORY_DENSITY]
    ram_area = row[RAM_MODULES] * row[RAM_MODULE_GB] * inverse_density
    ssd_area = production.ssd_area(row[SSD_GB])
    ssd_units = 1.0 if row[SSD_GB] > 0.0 else 0.0
    for c in range(N_IMPACTS):
        out[c] = production.server(
            c,
            row[CPUS],
            row[CPU_DIE_AREA_CM2],
            row[RAM_MODULES],
            ram_area,
            ssd_area,
            ssd_units,
            row[PSUS],
            factors,
        )


@njit(**JIT_OPTIONS)
def run_from_parts(row, card, host, out):
    """Evaluate one run given the production of its card and host per criterion.

    Parameters
    ----------
    row : float64[N_RUN_FIELDS]
        The run's inputs (see :mod:`mlimpact.runs`); the fields of the card and the host are
        not read here.
    card, host : float64[N_IMPACTS]
        Production of one card (:func:`mlimpact.engine.kernels.production.card_of_row`, parts
        summed) and of one host server (:func:`host_of_row`) [criterion unit].
    out : float64[N_OUT]
        Receives energy [kWh], production and use impacts (GWP [kg CO2eq], ADPe [kg Sb eq],
        PE [MJ], water [L]), and the energy of the accelerators, the host and the overhead [kWh].
    """
    server_on = row[SERVER]
    ram_gb = row[RAM_MODULES] * row[RAM_MODULE_GB] * server_on
    power = use.node_power_kw(
        row[GPUS],
        row[GPU_USAGE],
        row[GPU_TDP_W],
        row[CPUS] * server_on,
        row[CPU_USAGE],
        row[CPU_TDP_W],
        ram_gb,
        row[HOST_RATED_W_PER_GPU] * server_on,
        row[HOST_USAGE],
    )
    accelerators, node, energy = use.energy_by_scope(
        row[REPETITIONS],
        row[NODES],
        row[HOURS],
        use.accelerators_power_kw(row[GPUS], row[GPU_USAGE], row[GPU_TDP_W]),
        power,
        row[DYNAMIC_RATIO],
        row[METERED_ENERGY_KWH],
        row[METERED_SCOPE],
    )
    out[OUT_ENERGY] = energy
    out[OUT_SCOPES] = accelerators
    out[OUT_SCOPES + 1] = node - accelerators
    out[OUT_SCOPES + 2] = energy - node
    allocation = (
        row[REPETITIONS]
        * row[NODES]
        * row[HOURS]
        / (row[LIFETIME_YEARS] * HOURS_PER_YEAR * row[LIFETIME_USAGE])
    )
    intensity_ratio = row[INTENSITY_RATIO]
    for c in range(N_IMPACTS):
        out[OUT_PRODUCTION + c] = allocation * (row[GPUS] * card[c] + server_on * host[c])
        out[OUT_USE + c] = energy * row[GRID + c] * intensity_ratio
    out[OUT_USE + WATER] += (
        energy * row[HYDRO_SHARE] * row[HYDRO_WATER] * intensity_ratio + node * row[WUE]
    )


@njit(**JIT_OPTIONS)
def run_impacts(row, factors, out):
    """Evaluate one run: its card, its host, then :func:`run_from_parts`.

    ``row`` holds the run's inputs, ``factors`` the production factors (item, N_IMPACTS)
    (:data:`mlimpact.tables.factors.PRODUCTION_FACTORS`), ``out`` (N_OUT) receives the results.
    """
    parts = np.empty((N_IMPACTS, N_CARD_PARTS))
    production.card_of_row(row, factors, parts)
    card = np.empty(N_IMPACTS)
    for c in range(N_IMPACTS):
        card[c] = 0.0
        for part in range(N_CARD_PARTS):
            card[c] += parts[c, part]
    host = np.empty(N_IMPACTS)
    host_of_row(row, factors, host)
    run_from_parts(row, card, host, out)


@njit(**PARALLEL_JIT_OPTIONS)
def training_kernel(runs, variant_values, variant_cdf, factors, out):
    """Evaluate every run of ``runs`` (run, field) into ``out`` (run, N_OUT), at the point
    values: the variant at each run's ``variant`` position, imputed fields filled."""
    for r in prange(runs.shape[0]):
        row = runs[r].copy()
        select_variant(row, variant_values[r], variant_cdf[r], row[VARIANT])
        impute(row)
        run_impacts(row, factors, out[r])


def evaluate_runs(runs, factors):
    """Allocate the output and run :func:`training_kernel` on a RunTable (validated)."""
    out = np.empty((len(runs), N_OUT), dtype=np.float64)
    training_kernel(runs.values, runs.variant_values, runs.variant_cdf, factors, out)
    return out


@njit(**JIT_OPTIONS)
def cards_kernel(runs, variant_values, variant_cdf, factors, out):
    """Per-card production parts of the card of every run (at its point variant): ``out``
    (run, criterion, part)."""
    for r in range(runs.shape[0]):
        row = runs[r].copy()
        select_variant(row, variant_values[r], variant_cdf[r], row[VARIANT])
        production.card_of_row(row, factors, out[r])
