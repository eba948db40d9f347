"""Point values used when a setup file leaves an input out, each with its source.

These are the defaults of the study's tool MLCA [1]_ (``MODEL.md`` sections 4-6). The Monte
Carlo catalogue (``data/parameters.toml``) centres its distributions on the same values.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] S. Luccioni, S. Viguier, A.-L. Ligozat, JMLR 24(253), 2023 (BLOOM footprint).
"""

#: Hardware lifetime [year]: 6, from the BLOOM footprint study [2]_, as in MLCA.
LIFETIME_YEARS = 6.0
#: Share of the lifetime in use [-]: 0.85, from the BLOOM footprint study [2]_, as in MLCA.
LIFETIME_USAGE = 0.85
#: Dynamic ratio [-]: total / dynamic energy of BLOOM's training, 200/109 = 1.835 [2]_.
DYNAMIC_RATIO = 200.0 / 109.0
#: Memory density [GB/cm2]: the lowest density of Boavizta's list (0.625-2.375), as in MLCA.
MEMORY_DENSITY_GB_PER_CM2 = 0.625
#: Intensity ratio [-]: 1 means the grid factors apply as they are (no location shifting).
INTENSITY_RATIO = 1.0

#: Default host server of MLCA (``MODEL.md`` section 4): counts, die area [cm2], TDP [W],
#: RAM module size [GB], SSD size [GB]. MLCA's reference case counts no CPU power
#: (u_cpu = 0); the default CPU usage follows it and is shown in every report.
SERVER = {
    "cpus": 2,
    "cpu_die_area_cm2": 2.10,
    "cpu_tdp_w": 65.0,
    "cpu_usage": 0.0,
    "ram_modules": 24,
    "ram_module_gb": 32.0,
    "ssd_gb": 1000.0,
    "psus": 2,
}

#: Yield model of ACT's die term: Poisson, exp(-D0 A), so that yield falls with die area
#: (Stapper 1983; defect densities per node from PCAM, NeurIPS 2025).
YIELD_MODEL = "poisson"
#: ACT's default constant fab yield [-] (Gupta et al., ISCA 2022), used by yield_model constant.
FAB_YIELD = 0.875

#: Default grid for an unknown location: the world average of the electricity-factor table.
WORLD = "WOR"
