"""Production (embodied) impacts of one graphics card and of one server, per criterion.

Two models of the card's GWP: MLCA's per-area and per-memory factors [1]_, and the ACT family
[2]_ (die carbon from the fab's energy, gases and materials per good die area, with a yield
model; memory carbon per GB). ADPe and PE always use MLCA's factors: no published ACT-like
factors exist for them (``docs/methodology.md``).

Equations of MLCA [1]_ (``docs/methodology.md``, sections "Graphics card" and "Server")::

    M_gpu    = A_die * f_die + f_base + M_mem
    M_mem    = (C_mem / rho_mem) * f_mem_die + f_mem_base       (0 when C_mem = 0)
    M_server = n_cpu (A_cpu f_cpu_die + f_cpu_base) + n_ram (C_ram / rho_mem f_ram_die + f_ram_base)
               + (C_ssd / rho_ssd f_ssd_die + f_ssd_base) + n_psu m_psu f_psu
               + f_motherboard + f_case + f_assembly

``factors`` is :data:`mlimpact.tables.factors.PRODUCTION_FACTORS` (or a scaled copy), indexed
``factors[item, criterion]``.

ACT::

    CPA     = (CI_fab * EPA(node) + GPA(node) + MPA) / Y          [kg CO2eq per cm2 of good die]
    die     = A_die * CPA + packaging (0.150 kg CO2eq per IC)
    memory  = CPS(memory type) * C_mem / Y_mem                     (Y_mem = 0.875, ACT's default)
    Y       = constant | exp(-D0 A) (Poisson) | ((1 - exp(-D0 A)) / (D0 A))^2 (Murphy)

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] U. Gupta et al., "ACT: Designing Sustainable Computer Systems with an Architectural
   Carbon Modeling Tool", ISCA 2022, doi:10.1145/3470496.3527408.
.. [3] B. T. Murphy, "Cost-size optima of monolithic integrated circuits", Proc. IEEE 52(12),
   1964 (Murphy yield); C. H. Stapper, IBM J. Res. Dev. 1983 (Poisson yield).
"""

import numpy as np

from mlimpact._config import JIT_OPTIONS, njit
from mlimpact.quantities import N_IMPACTS
from mlimpact.runs.table import (
    ACT,
    CONSTANT_YIELD,
    DEFECT_DENSITY_HIGH,
    DEFECT_DENSITY_LOW,
    DEFECT_DENSITY_QUANTILE,
    EPA,
    FAB_INTENSITY,
    GPA_95,
    GPA_99,
    GPA_ABATEMENT,
    GPU_DIE_AREA_CM2,
    GPU_MEMORY_GB,
    MEMORY_DENSITY,
    MEMORY_GWP_HIGH,
    MEMORY_GWP_LOW,
    MEMORY_GWP_QUANTILE,
    POISSON_YIELD,
    PRODUCTION_MODEL,
    YIELD_CONSTANT,
    YIELD_MODEL,
)
from mlimpact.tables.factors import (
    ASSEMBLY,
    CPU_BASE,
    CPU_DIE,
    GPU_BASE,
    GPU_DIE,
    GPU_MEMORY_BASE,
    GPU_MEMORY_DIE,
    MOTHERBOARD,
    PSU_MASS_KG,
    PSU_PER_KG,
    RACK_CASE,
    RAM_BASE,
    RAM_DIE,
    SSD_BASE,
    SSD_DENSITY_GB_PER_CM2,
    SSD_DIE,
)

#: ACT's materials footprint per cm2 of wafer, the same at every node [kg CO2eq/cm2] (MPA,
#: 500 g/cm2; Gupta et al. 2022, ``logic/materials.json`` of ACT).
MATERIALS_PER_CM2 = 0.5
#: ACT's packaging footprint per integrated circuit [kg CO2eq] (Gupta et al. 2022).
PACKAGING_PER_IC = 0.150
#: ACT's default fab yield, applied to memory [-] (Gupta et al. 2022).
MEMORY_YIELD = 0.875
#: Parts of a card, in output order.
DIE, MEMORY, OTHER = 0, 1, 2
#: The run fields that :func:`card_of_row` reads (checked by tests/test_kernels.py): runs that
#: share them share their card, which the Monte Carlo kernel then evaluates once per sample.
CARD_INPUTS = np.array(
    [
        GPU_DIE_AREA_CM2,
        GPU_MEMORY_GB,
        MEMORY_DENSITY,
        PRODUCTION_MODEL,
        FAB_INTENSITY,
        EPA,
        GPA_95,
        GPA_99,
        GPA_ABATEMENT,
        YIELD_MODEL,
        YIELD_CONSTANT,
        DEFECT_DENSITY_LOW,
        DEFECT_DENSITY_HIGH,
        DEFECT_DENSITY_QUANTILE,
        MEMORY_GWP_LOW,
        MEMORY_GWP_HIGH,
        MEMORY_GWP_QUANTILE,
    ],
    dtype=np.int64,
)


@njit(**JIT_OPTIONS)
def server(
    criterion,
    cpus,
    cpu_die_area_cm2,
    ram_modules,
    ram_area_cm2,
    ssd_area_cm2,
    ssd_units,
    psus,
    factors,
):
    """Production impact of one server (host of the cards) [criterion unit].

    ``ram_area_cm2`` is the die area of all modules, ``n_ram C_module / rho_mem``;
    ``ssd_area_cm2`` is ``C_ssd / rho_ssd`` and ``ssd_units`` 1 with an SSD, 0 without.
    """
    return (
        cpus * (cpu_die_area_cm2 * factors[CPU_DIE, criterion] + factors[CPU_BASE, criterion])
        + ram_area_cm2 * factors[RAM_DIE, criterion]
        + ram_modules * factors[RAM_BASE, criterion]
        + ssd_area_cm2 * factors[SSD_DIE, criterion]
        + ssd_units * factors[SSD_BASE, criterion]
        + psus * PSU_MASS_KG * factors[PSU_PER_KG, criterion]
        + factors[MOTHERBOARD, criterion]
        + factors[RACK_CASE, criterion]
        + factors[ASSEMBLY, criterion]
    )


@njit(**JIT_OPTIONS)
def ssd_area(ssd_gb):
    """Die area of an SSD [cm2] at Boavizta's density."""
    return ssd_gb / SSD_DENSITY_GB_PER_CM2


@njit(**JIT_OPTIONS)
def die_yield(model, die_area_cm2, defect_density, constant):
    """Fraction of good dies [-]: constant, Poisson ``exp(-D0 A)`` or Murphy
    ``((1 - exp(-D0 A)) / (D0 A))^2``; both fall with the die area."""
    if model == CONSTANT_YIELD:
        return constant
    x = defect_density * die_area_cm2
    if model == POISSON_YIELD:
        return np.exp(-x)
    if x < 1e-8:
        return 1.0 - x  # Murphy's limit for tiny D0 A, avoiding 0/0
    return ((1.0 - np.exp(-x)) / x) ** 2


@njit(**JIT_OPTIONS)
def act_die(die_area_cm2, fab_intensity, epa, gpa, defect_density, yield_model, constant):
    """ACT's GWP of one die [kg CO2eq], packaging included."""
    good = die_yield(yield_model, die_area_cm2, defect_density, constant)
    per_area = (fab_intensity * epa + gpa + MATERIALS_PER_CM2) / good
    return die_area_cm2 * per_area + PACKAGING_PER_IC


@njit(**JIT_OPTIONS)
def card_parts(row, memory_area_cm2, memory_units, factors, out):
    """Production of one card split into die, memory and other, per criterion.

    ``out`` has shape (N_IMPACTS criteria, N_CARD_PARTS parts). The run's production model decides
    the GWP of the die and the memory; ADPe and PE, and the card's other parts, are MLCA's.
    """
    die_area = row[GPU_DIE_AREA_CM2]
    for c in range(N_IMPACTS):
        out[c, DIE] = die_area * factors[GPU_DIE, c]
        out[c, MEMORY] = (
            memory_area_cm2 * factors[GPU_MEMORY_DIE, c]
            + memory_units * factors[GPU_MEMORY_BASE, c]
        )
        out[c, OTHER] = factors[GPU_BASE, c]
    if row[PRODUCTION_MODEL] >= 0.5 * ACT:
        gpa = row[GPA_95] + row[GPA_ABATEMENT] * (row[GPA_99] - row[GPA_95])
        defect_density = row[DEFECT_DENSITY_LOW] + row[DEFECT_DENSITY_QUANTILE] * (
            row[DEFECT_DENSITY_HIGH] - row[DEFECT_DENSITY_LOW]
        )
        out[0, DIE] = act_die(
            die_area,
            row[FAB_INTENSITY],
            row[EPA],
            gpa,
            defect_density,
            row[YIELD_MODEL],
            row[YIELD_CONSTANT],
        )
        per_gb = 0.0
        if row[MEMORY_GWP_LOW] > 0.0:
            per_gb = (
                row[MEMORY_GWP_LOW]
                * (row[MEMORY_GWP_HIGH] / row[MEMORY_GWP_LOW]) ** row[MEMORY_GWP_QUANTILE]
            )
        out[0, MEMORY] = per_gb * row[GPU_MEMORY_GB] / MEMORY_YIELD


@njit(**JIT_OPTIONS)
def card_of_row(row, factors, out):
    """:func:`card_parts` of a run's card, computing its memory area from the row."""
    memory_area = row[GPU_MEMORY_GB] / row[MEMORY_DENSITY]
    memory_units = 1.0 if row[GPU_MEMORY_GB] > 0.0 else 0.0
    card_parts(row, memory_area, memory_units, factors, out)
