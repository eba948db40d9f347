"""Inputs of the ACT production model for an accelerator: node, fab grid, yield, memory.

ACT [1]_ prices a die by its fab's energy (EPA), gas (GPA) and materials (MPA) per cm2 of
wafer at its process node, divided by the yield; memory by a carbon-per-GB factor. This module
reads the project's tables and turns an accelerator of the hardware table into the run-table
fields of :mod:`mlimpact.runs`:

- ``data/act_nodes.csv``: EPA, GPA at 95 % and 99 % abatement, MPA per node (ACT [1]_) and the
  defect-density range per node (PCAM [2]_). A node between two tabulated nodes is
  **interpolated linearly in node size**; a node outside the table takes the nearest end
  (28 nm for older, 3 nm for newer). A defect-density range is taken from the **nearest node
  with PCAM data** (5, 7, 10, 16 nm).
- the fab's grid: the foundry's country (:data:`FOUNDRY_COUNTRIES`) and the carbon intensity of
  its electricity in the accelerator's release year (OWID / Ember, ``data/grid_intensity.csv``;
  the nearest year with data when the release year has none).
- ``data/memory_factors.csv``: a carbon-per-GB range per memory type (ACT's SK hynix figures;
  the HBM and GDDR rows are our documented assumptions).

References
----------
.. [1] U. Gupta et al., ISCA 2022, doi:10.1145/3470496.3527408; github.com/facebookresearch/ACT.
.. [2] PCAM, NeurIPS 2025 (defect densities per node, as tabulated in ``docs/methodology.md``,
   section 1b).
"""

import math
from functools import cache
from types import MappingProxyType

import numpy as np

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError
from mlimpact.tables import grid

#: Country of the fabs of each foundry named in the hardware table. TSMC, Samsung and SMIC make
#: their leading-edge logic in Taiwan, South Korea and China; Intel's data-centre GPUs are
#: taken as made in the USA (Intel also runs fabs in Ireland and Israel: an approximation).
FOUNDRY_COUNTRIES = {"TSMC": "TWN", "Samsung": "KOR", "SMIC": "CHN", "Intel": "USA"}


@cache
def node_table():
    """Columns of ``data/act_nodes.csv`` as float arrays sorted by node (NaN where empty)."""
    rows = sorted(packaged_csv("act_nodes.csv"), key=lambda row: float(row["node_nm"]))
    return {
        key: np.array([float(row[key]) if row[key] else math.nan for row in rows])
        for key in rows[0]
    }


def _interpolate(node_nm, column):
    table = node_table()
    known = ~np.isnan(table[column])
    nodes, values = table["node_nm"][known], table[column][known]
    return float(np.interp(node_nm, nodes, values))  # ends: nearest value (np.interp clamps)


def node_parameters(node_nm):
    """EPA [kWh/cm2], GPA at 95 % and 99 % abatement [kg CO2eq/cm2] and the defect-density
    range [1/cm2] of a process node [nm]."""
    if not (isinstance(node_nm, (int, float)) and math.isfinite(node_nm) and node_nm > 0):
        raise MlimpactError(f"process node must be a positive number of nm (got {node_nm!r})")
    return dict(_node_parameters(float(node_nm)))  # a copy: callers may amend their dict


@cache
def _node_parameters(node_nm):
    """:func:`node_parameters` of a checked node [nm], read-only: computed once per node (every
    accelerator of every run asks for its node's)."""
    table = node_table()
    with_d0 = ~np.isnan(table["d0_low_per_cm2"])
    nearest = int(np.argmin(np.abs(table["node_nm"][with_d0] - node_nm)))
    return MappingProxyType(
        {
            "epa": _interpolate(node_nm, "epa_kwh_per_cm2"),
            "gpa_95": _interpolate(node_nm, "gpa95_kgco2eq_per_cm2"),
            "gpa_99": _interpolate(node_nm, "gpa99_kgco2eq_per_cm2"),
            "defect_density_low": float(table["d0_low_per_cm2"][with_d0][nearest]),
            "defect_density_high": float(table["d0_high_per_cm2"][with_d0][nearest]),
        }
    )


@cache
def memory_factors():
    """Memory type -> (low, high) carbon per GB [kg CO2eq/GB]."""
    return {
        row["memory_type"]: (
            float(row["gwp_low_kgco2eq_per_gb"]),
            float(row["gwp_high_kgco2eq_per_gb"]),
        )
        for row in packaged_csv("memory_factors.csv")
    }


def fab_intensity(foundry, year):
    """Carbon intensity of the fab's grid [kg CO2eq/kWh]: the foundry's country in ``year``,
    or the nearest year with data."""
    country = FOUNDRY_COUNTRIES.get(foundry)
    if country is None:
        raise MlimpactError(
            f"no fab country for foundry {foundry or 'unknown'!r} (known: "
            f"{', '.join(FOUNDRY_COUNTRIES)})"
        )
    return grid.intensity(country, year)[0]


def act_fields(name, node_nm, foundry, release_year, memory_type, memory_gb, intensity=None):
    """ACT's run-table fields for an accelerator.

    Parameters
    ----------
    name : str
        For messages.
    node_nm : float
        Process node [nm] (NaN if unknown).
    foundry : str
        Foundry name as in the hardware table ("" if unknown).
    release_year : int or None
        Year whose fab-grid intensity applies.
    memory_type : str
        Memory type ("" if unknown); memory_gb [GB] the card's memory.
    intensity : float, optional
        Fab-grid intensity [kg CO2eq/kWh], replacing the foundry/year lookup.

    Raises :class:`MlimpactError` naming what is missing and the setup key that supplies it.
    """
    if not math.isfinite(node_nm):
        raise MlimpactError(f"ACT needs the process node of {name!r} (not in the hardware table)")
    fields = node_parameters(node_nm)
    if intensity is None:
        if foundry not in FOUNDRY_COUNTRIES or release_year is None:
            raise MlimpactError(
                f"ACT needs the fab's grid of {name!r} (foundry "
                f"{foundry or 'unknown'!r}, release year "
                f"{release_year or 'unknown'})"
            )
        intensity = fab_intensity(foundry, release_year)
    if memory_type in memory_factors():
        low, high = memory_factors()[memory_type]
    elif not memory_type and memory_gb == 0:
        low = high = 0.0
    else:
        raise MlimpactError(
            f"ACT needs the memory type of {name!r} (got "
            f"{memory_type or 'none'!r}; known: "
            f"{', '.join(memory_factors())})"
        )
    return {**fields, "fab_intensity": intensity, "memory_gwp_low": low, "memory_gwp_high": high}


def hardware_act_fields(hardware):
    """ACT's fields of an accelerator of the hardware table
    (:class:`mlimpact.tables.hardware.Hardware`); MlimpactError if the table lacks one."""
    return act_fields(
        hardware.name,
        hardware.process_node_nm,
        hardware.foundry,
        hardware.release_year,
        hardware.memory_type,
        hardware.memory_gb,
    )
