"""Production (embodied) impacts of one graphics card and of one server, per criterion.

Equations of MLCA [1]_ (``docs/methodology.md``, sections "Graphics card" and "Server")::

    M_gpu    = A_die * f_die + f_base + M_mem
    M_mem    = (C_mem / rho_mem) * f_mem_die + f_mem_base       (0 when C_mem = 0)
    M_server = n_cpu (A_cpu f_cpu_die + f_cpu_base) + n_ram (C_ram / rho_mem f_ram_die + f_ram_base)
               + (C_ssd / rho_ssd f_ssd_die + f_ssd_base) + n_psu m_psu f_psu
               + f_motherboard + f_case + f_assembly

``factors`` is :data:`mlimpact.factors.PRODUCTION_FACTORS` (or a scaled copy), indexed
``factors[item, criterion]``.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
"""

from numba import njit

from mlimpact._config import JIT_OPTIONS
from mlimpact.factors import (
    ASSEMBLY, CPU_BASE, CPU_DIE, GPU_BASE, GPU_DIE, GPU_MEMORY_BASE, GPU_MEMORY_DIE, MOTHERBOARD,
    PSU_MASS_KG, PSU_PER_KG, RACK_CASE, RAM_BASE, RAM_DIE, SSD_BASE, SSD_DENSITY_GB_PER_CM2,
    SSD_DIE,
)


@njit(**JIT_OPTIONS)
def gpu_card(criterion, die_area_cm2, memory_area_cm2, memory_units, factors):
    """Production impact of one graphics card [criterion unit]: die + base + memory.

    ``memory_area_cm2`` is ``C_mem / rho_mem`` and ``memory_units`` 1 for a card with memory,
    0 without; callers compute them once for the three criteria.
    """
    return (die_area_cm2 * factors[GPU_DIE, criterion] + factors[GPU_BASE, criterion]
            + memory_area_cm2 * factors[GPU_MEMORY_DIE, criterion]
            + memory_units * factors[GPU_MEMORY_BASE, criterion])


@njit(**JIT_OPTIONS)
def server(criterion, cpus, cpu_die_area_cm2, ram_modules, ram_area_cm2, ssd_area_cm2,
           ssd_units, psus, factors):
    """Production impact of one server (host of the cards) [criterion unit].

    ``ram_area_cm2`` is the die area of all modules, ``n_ram C_module / rho_mem``;
    ``ssd_area_cm2`` is ``C_ssd / rho_ssd`` and ``ssd_units`` 1 with an SSD, 0 without.
    """
    return (cpus * (cpu_die_area_cm2 * factors[CPU_DIE, criterion] + factors[CPU_BASE, criterion])
            + ram_area_cm2 * factors[RAM_DIE, criterion]
            + ram_modules * factors[RAM_BASE, criterion]
            + ssd_area_cm2 * factors[SSD_DIE, criterion] + ssd_units * factors[SSD_BASE, criterion]
            + psus * PSU_MASS_KG * factors[PSU_PER_KG, criterion]
            + factors[MOTHERBOARD, criterion] + factors[RACK_CASE, criterion]
            + factors[ASSEMBLY, criterion])


@njit(**JIT_OPTIONS)
def ssd_area(ssd_gb):
    """Die area of an SSD [cm2] at Boavizta's density."""
    return ssd_gb / SSD_DENSITY_GB_PER_CM2


@njit(**JIT_OPTIONS)
def cards_kernel(die_area_cm2, memory_gb, memory_density_gb_per_cm2, factors, out):
    """Per-card production split into die, memory and the rest (base), for every criterion.

    ``out`` has shape (card, criterion, 3): parts in the order die, memory, other.
    """
    for i in range(die_area_cm2.shape[0]):
        memory_area = memory_gb[i] / memory_density_gb_per_cm2[i]
        memory_units = 1.0 if memory_gb[i] > 0.0 else 0.0
        for c in range(3):
            out[i, c, 0] = die_area_cm2[i] * factors[GPU_DIE, c]
            out[i, c, 1] = (memory_area * factors[GPU_MEMORY_DIE, c]
                            + memory_units * factors[GPU_MEMORY_BASE, c])
            out[i, c, 2] = factors[GPU_BASE, c]
