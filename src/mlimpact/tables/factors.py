"""Life-cycle factors of the MLCA model: production of graphics cards and servers.

Every constant here is restated from the study's tool MLCA [1]_, which takes them from Boavizta's
BoaviztAPI [2]_ and from Loubet et al. [3]_ (``docs/methodology.md``, sections "Card production" and
"Server production"). The factors are stored as one array ``PRODUCTION_FACTORS`` of shape ``(item,
criterion)`` so that kernels receive them as an argument: the Monte Carlo engine scales them by
sampled multiplicative errors without recompiling anything.

Criteria are ordered as :data:`mlimpact.quantities.IMPACT_CRITERIA`: climate change (GWP) [kg
CO2eq], abiotic depletion of elements (ADPe) [kg Sb eq], primary energy (PE) [MJ], water
consumption [L] (MLCA has no water: dies only, from fab data [6]_).

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
.. [6] J. Morrison, C. Na, J. Fernandez, T. Dettmers, E. Strubell, J. Dodge, "Holistically
   Evaluating the Environmental Impact of Creating Language Models", ICLR 2025, arXiv
   2503.05804, section 4.1.
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

#: Water a fab uses per cm2 of die [L/cm2]: 12.33 L/cm2, the estimate of TSMC's water per cm2
#: that Morrison et al. 2025 (section 4.1) apply to an H100's die area (100.4 L per H100) [6]_.
#: Like MLCA's die factors it is per cm2 of die, yield not counted apart; its error
#: (``production_water_error`` in ``data/parameters.toml``) spans TSMC's published figures.
FAB_WATER_L_PER_CM2 = 12.33

#: Production factors [criterion unit per item unit], shape (item, criterion) with criteria (GWP [kg
#: CO2eq], ADPe [kg Sb eq], PE [MJ], water [L]); values of MLCA [1]_ (``docs/methodology.md``,
#: sections 1 and 2). Water: dies only (CPU and GPU logic dies, :data:`FAB_WATER_L_PER_CM2`);
#: the water of memory dies, boards, power supplies and assembly has no source we could use: 0,
#: a gap stated in ``docs/methodology.md`` (the production water is a lower bound).
PRODUCTION_FACTORS = np.array(
    [
        # GWP        ADPe          PE     water
        [1.97, 5.80e-7, 26.5, FAB_WATER_L_PER_CM2],  # gpu_die, per cm2
        [26.970966, 0.0170687302, 156.0, 0.0],  # gpu_base, per card
        [2.20, 6.30e-5, 27.3, 0.0],  # gpu_memory_die, per cm2
        [5.22, 1.69e-3, 74.0, 0.0],  # gpu_memory_base, per card
        [1.97, 5.80e-7, 26.5, FAB_WATER_L_PER_CM2],  # cpu_die, per cm2
        [9.14, 2.04e-2, 156.0, 0.0],  # cpu_base, per CPU
        [2.20, 6.30e-5, 27.3, 0.0],  # ram_die, per cm2
        [5.22, 1.69e-3, 74.0, 0.0],  # ram_base, per module
        [2.20, 6.30e-5, 27.3, 0.0],  # ssd_die, per cm2
        [6.34, 5.63e-4, 76.9, 0.0],  # ssd_base, per SSD
        [24.3, 8.3e-3, 352.0, 0.0],  # psu_per_kg
        [66.1, 3.69e-3, 836.0, 0.0],  # motherboard
        [150.0, 2.02e-2, 2200.0, 0.0],  # rack_case
        [6.68, 1.41e-6, 68.6, 0.0],  # assembly
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
