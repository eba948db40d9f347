"""Life-cycle factors of the MLCA model: production of graphics cards and servers.

Every constant here is restated from the study's tool MLCA [1]_, which takes them from Boavizta's
BoaviztAPI [2]_ and from Loubet et al. [3]_ (``docs/methodology.md``, sections "Card production" and
"Server production"). The factors are stored as one array ``PRODUCTION_FACTORS`` of shape ``(item,
criterion)`` so that kernels receive them as an argument: the Monte Carlo engine scales them by
sampled multiplicative errors without recompiling anything.

Criteria are ordered as :data:`mlimpact.quantities.IMPACT_CRITERIA`: climate change (GWP) [kg
CO2eq], abiotic depletion of elements (ADPe) [kg Sb eq], primary energy (PE) [MJ].

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, "MLCA: a tool for Machine Learning Life Cycle
   Assessment", ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] Boavizta, BoaviztAPI, https://github.com/Boavizta/boaviztapi (CPU, RAM, SSD, PSU,
   motherboard, rack case and assembly factors).
.. [3] P. Loubet et al., "Life cycle assessment of ICT equipment...", Int. J. Life Cycle Assess.,
   2023 (graphics-card base factor); Cu -> Sb conversion 0.02 after van Oers et al. 2020.
.. [4] S. Luccioni, S. Viguier, A.-L. Ligozat, "Estimating the carbon footprint of BLOOM",
   JMLR 24(253), 2023 (dynamic ratio 200/109, lifetime 6 years, share in use 0.85).
.. [5] L. Lannelongue, J. Grealey, M. Inouye, "Green Algorithms", Adv. Sci. 2021,
   doi:10.1002/advs.202100707
   (memory power 0.3725 W/GB).
"""

import numpy as np

# Row indices of PRODUCTION_FACTORS (the kernels index with these constants).
GPU_DIE = 0  #: per cm2 of GPU die (Boavizta CPU die factor, Groeger et al. 2021)
GPU_BASE = 1  #: per graphics card, everything but die and memory (Loubet et al. 2023)
GPU_MEMORY_DIE = 2  #: per cm2 of graphics-card memory die (Boavizta RAM die)
GPU_MEMORY_BASE = 3  #: per graphics-card memory unit (Boavizta RAM module)
CPU_DIE = 4  #: per cm2 of CPU die (Boavizta)
CPU_BASE = 5  #: per CPU (Boavizta)
RAM_DIE = 6  #: per cm2 of server RAM die (Boavizta)
RAM_BASE = 7  #: per RAM module (Boavizta)
SSD_DIE = 8  #: per cm2 of SSD die (Boavizta)
SSD_BASE = 9  #: per SSD (Boavizta)
PSU_PER_KG = 10  #: per kg of power supply (Boavizta)
MOTHERBOARD = 11  #: per server motherboard (Boavizta)
RACK_CASE = 12  #: per rack server case (Boavizta)
ASSEMBLY = 13  #: per server assembly (Boavizta)

FACTOR_NAMES = (
    "gpu_die",
    "gpu_base",
    "gpu_memory_die",
    "gpu_memory_base",
    "cpu_die",
    "cpu_base",
    "ram_die",
    "ram_base",
    "ssd_die",
    "ssd_base",
    "psu_per_kg",
    "motherboard",
    "rack_case",
    "assembly",
)

#: Production factors [criterion unit per item unit], shape (item, criterion) with criteria (GWP [kg
#: CO2eq], ADPe [kg Sb eq], PE [MJ]); values of MLCA [1]_ (``docs/methodology.md``, sections 1 and
#: 2).
PRODUCTION_FACTORS = np.array(
    [
        # GWP        ADPe          PE
        [1.97, 5.80e-7, 26.5],  # gpu_die, per cm2
        [26.970966, 0.0170687302, 156.0],  # gpu_base, per card
        [2.20, 6.30e-5, 27.3],  # gpu_memory_die, per cm2
        [5.22, 1.69e-3, 74.0],  # gpu_memory_base, per card
        [1.97, 5.80e-7, 26.5],  # cpu_die, per cm2
        [9.14, 2.04e-2, 156.0],  # cpu_base, per CPU
        [2.20, 6.30e-5, 27.3],  # ram_die, per cm2
        [5.22, 1.69e-3, 74.0],  # ram_base, per module
        [2.20, 6.30e-5, 27.3],  # ssd_die, per cm2
        [6.34, 5.63e-4, 76.9],  # ssd_base, per SSD
        [24.3, 8.3e-3, 352.0],  # psu_per_kg
        [66.1, 3.69e-3, 836.0],  # motherboard
        [150.0, 2.02e-2, 2200.0],  # rack_case
        [6.68, 1.41e-6, 68.6],  # assembly
    ],
    dtype=np.float64,
)
PRODUCTION_FACTORS.flags.writeable = False

#: Mass of one server power supply [kg] (Boavizta default, as used by MLCA [1]_).
PSU_MASS_KG = 2.99
#: Storage density of SSD dies [GB/cm2] (Boavizta default, as used by MLCA [1]_).
SSD_DENSITY_GB_PER_CM2 = 48.5
#: Power drawn by memory [W/GB] (Green Algorithms [5]_, used by MLCA).
RAM_POWER_W_PER_GB = 0.3725
#: Hours in a year [h/year].
HOURS_PER_YEAR = 8760.0
