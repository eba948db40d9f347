"""Point values of the inputs a run does not state, and the one builder of default rows.

Inputs that are also uncertain (lifetime, share in use, dynamic ratio, memory density, GPU usage,
MFU, the production model and the positions of ACT's ranges and of hardware variants) take the
``point`` of their entry in ``data/parameters.toml``
(:func:`mlimpact.tables.catalogue.point_values`): one source for the point model and the Monte Carlo
catalogue. The others are MLCA's [1]_ defaults, each cited below. :func:`default_row` builds a
run-table row from them; setup files, the notable models and card runs all start from it.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] U. Gupta et al., "ACT", ISCA 2022, doi:10.1145/3470496.3527408.
"""

from mlimpact.runs.table import RUN_FIELDS, YIELD_MODELS
from mlimpact.tables.catalogue import point_values

#: Intensity ratio [-]: 1 means the grid factors apply as they are (no location shifting).
INTENSITY_RATIO = 1.0

#: Default host server of MLCA [1]_ (its reference case, docs/methodology.md "Server"): counts,
#: die area [cm2], TDP [W], RAM module size [GB], SSD size [GB]. MLCA's reference case counts
#: no CPU power (u_cpu = 0); the default CPU usage follows it and is shown in every report.
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
#: ACT's default constant fab yield [-] [2]_, used by yield_model constant.
FAB_YIELD = 0.875


def point(field, power_model="mlca"):
    """The catalogue's point value of a run field in a power model (KeyError if the
    catalogue gives none)."""
    return point_values(power_model)[field]


def default_row(host=True, power="mlca", **fields):
    """A run-table row (field -> value) with every input a run does not state at its point
    value in the power model ``power`` (``mlca`` or ``evidence``), and ``fields`` on top.

    Hardware, run size, grid and imputation fields are 0 unless given: the caller states them.
    With ``host`` False the host-server fields are 0 and the server is not counted.
    """
    row = dict.fromkeys(RUN_FIELDS, 0.0)
    row.update(point_values(power))
    row.update(
        repetitions=1.0,
        intensity_ratio=INTENSITY_RATIO,
        yield_model=float(YIELD_MODELS.index(YIELD_MODEL)),
        yield_constant=FAB_YIELD,
    )
    if host:
        row.update({key: float(value) for key, value in SERVER.items()}, server=1.0)
    row.update(fields)
    unknown = set(row) - set(RUN_FIELDS)
    if unknown:
        raise ValueError(f"unknown run fields {sorted(unknown)}")
    return row
