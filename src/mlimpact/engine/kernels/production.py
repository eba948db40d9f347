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
from mlimpact.quantities import N_CARD_PARTS, N_IMPACTS
from mlimpact.runs.table import (
    ACT,
    CONSTANT_YIELD,
    CPU_DIE_AREA_CM2,
    CPUS,
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
    PSUS,
    RAM_MODULE_GB,
    RAM_MODULES,
    SSD_GB,
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
#: Parts of a card, in output order, and their number.
DIE, MEMORY, OTHER = 0, 1, 2
N_PARTS = N_CARD_PARTS
#: The run fields that :func:`card_of_rows` reads (checked by tests/test_kernels.py): runs that
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
def server_of_rows(x, factors, out, count):
    """Production of the host server of each of the first ``count`` rows of the block ``x``
    (field, sample), per criterion, into ``out[criterion, i]`` [criterion unit]; ``factors[i]``
    are row i's production factors (item, criterion).

    Reads only the fields of :data:`mlimpact.engine.kernels.training.HOST_INPUTS` (tested), so
    that the Monte Carlo kernel evaluates it once per sample for all the runs that share them.
    The RAM's die area is ``n_ram C_module / rho_mem``, the SSD's ``C_ssd / rho_ssd``.
    """
    for i in range(count):
        inverse_density = 1.0 / x[MEMORY_DENSITY, i]
        ram_modules = x[RAM_MODULES, i]
        ram_area = ram_modules * x[RAM_MODULE_GB, i] * inverse_density
        ssd_area_cm2 = ssd_area(x[SSD_GB, i])
        ssd_units = 1.0 if x[SSD_GB, i] > 0.0 else 0.0
        cpus, cpu_die_area, psus = x[CPUS, i], x[CPU_DIE_AREA_CM2, i], x[PSUS, i]
        f = factors[i]
        for c in range(N_IMPACTS):
            out[c, i] = (
                cpus * (cpu_die_area * f[CPU_DIE, c] + f[CPU_BASE, c])
                + ram_area * f[RAM_DIE, c]
                + ram_modules * f[RAM_BASE, c]
                + ssd_area_cm2 * f[SSD_DIE, c]
                + ssd_units * f[SSD_BASE, c]
                + psus * PSU_MASS_KG * f[PSU_PER_KG, c]
                + f[MOTHERBOARD, c]
                + f[RACK_CASE, c]
                + f[ASSEMBLY, c]
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
def card_of_rows(x, factors, out, count):
    """Production of the card of each of the first ``count`` rows of the block ``x`` (field,
    sample), split into die, memory and other per criterion: ``out[N_CARD_PARTS * c + part, i]``
    [criterion unit]; ``factors[i]`` are row i's production factors (item, criterion).

    The row's production model decides the GWP of the die and the memory; ADPe and PE, and the
    card's other parts, are MLCA's.
    """
    for i in range(count):
        f = factors[i]
        die_area = x[GPU_DIE_AREA_CM2, i]
        memory_area = x[GPU_MEMORY_GB, i] / x[MEMORY_DENSITY, i]
        memory_units = 1.0 if x[GPU_MEMORY_GB, i] > 0.0 else 0.0
        for c in range(N_IMPACTS):
            out[N_PARTS * c + DIE, i] = die_area * f[GPU_DIE, c]
            out[N_PARTS * c + MEMORY, i] = (
                memory_area * f[GPU_MEMORY_DIE, c] + memory_units * f[GPU_MEMORY_BASE, c]
            )
            out[N_PARTS * c + OTHER, i] = f[GPU_BASE, c]
        if x[PRODUCTION_MODEL, i] >= 0.5 * ACT:
            low, high = x[DEFECT_DENSITY_LOW, i], x[DEFECT_DENSITY_HIGH, i]
            gpa = x[GPA_95, i] + x[GPA_ABATEMENT, i] * (x[GPA_99, i] - x[GPA_95, i])
            defect_density = low + x[DEFECT_DENSITY_QUANTILE, i] * (high - low)
            out[DIE, i] = act_die(
                die_area,
                x[FAB_INTENSITY, i],
                x[EPA, i],
                gpa,
                defect_density,
                x[YIELD_MODEL, i],
                x[YIELD_CONSTANT, i],
            )
            per_gb = 0.0
            memory_low = x[MEMORY_GWP_LOW, i]
            if memory_low > 0.0:
                per_gb = (
                    memory_low * (x[MEMORY_GWP_HIGH, i] / memory_low) ** x[MEMORY_GWP_QUANTILE, i]
                )
            out[MEMORY, i] = per_gb * x[GPU_MEMORY_GB, i] / MEMORY_YIELD
