"""Run tables: every training run as one row of a float64 matrix.

A training run is a row, whether it comes from a user's setup file (one row) or from the dataset
of notable models (hundreds of rows). Kernels read the columns by the index constants below, so
``estimate``, the Monte Carlo engine and the sensitivity analysis share one code path. Global
assumptions (lifetime, share in use, dynamic ratio, memory density) are columns too: a point
evaluation reads them from the row, and the Monte Carlo engine overwrites them per sample.

Columns and units
-----------------
hours [h] wall-clock training time; nodes [-]; repetitions [-]; gpus [-] cards per node;
gpu_usage [-] mean fraction of TDP drawn; gpu_tdp_w [W]; gpu_memory_gb [GB];
gpu_die_area_cm2 [cm2]; cpus [-] per node; cpu_usage [-]; cpu_tdp_w [W];
cpu_die_area_cm2 [cm2]; ram_modules [-] per node; ram_module_gb [GB]; ssd_gb [GB] (one SSD);
psus [-]; server [0 or 1] whether the host server is counted; grid_gwp [kg CO2eq/kWh];
grid_adpe [kg Sb eq/kWh]; grid_pe [MJ/kWh]; intensity_ratio [-]; lifetime_years [year];
lifetime_usage [-] share of the lifetime in use; dynamic_ratio [-]; memory_density
[GB/cm2].

Production model of the card's GWP (``docs/methodology.md``, section "ACT"):
production_model [0 MLCA, 1 ACT]; fab_intensity [kg CO2eq/kWh] of the fab's grid; epa
[kWh/cm2]; gpa_95, gpa_99 [kg CO2eq/cm2] gas emissions at 95 % and 99 % abatement;
gpa_abatement [0-1] position between them (0.5: their mean); yield_model [0 constant,
1 Poisson, 2 Murphy]; yield_constant [-]; defect_density_low, defect_density_high [1/cm2] the
node's range and defect_density_quantile [0-1] the position in it; memory_gwp_low,
memory_gwp_high [kg CO2eq/GB] the memory type's range and memory_gwp_quantile [0-1] the
position in it (log scale).
"""

import math
from dataclasses import dataclass

import numpy as np

RUN_FIELDS = (
    "hours", "nodes", "repetitions", "gpus", "gpu_usage", "gpu_tdp_w", "gpu_memory_gb",
    "gpu_die_area_cm2", "cpus", "cpu_usage", "cpu_tdp_w", "cpu_die_area_cm2", "ram_modules",
    "ram_module_gb", "ssd_gb", "psus", "server", "grid_gwp", "grid_adpe", "grid_pe",
    "intensity_ratio", "lifetime_years", "lifetime_usage", "dynamic_ratio", "memory_density",
    "production_model", "fab_intensity", "epa", "gpa_95", "gpa_99", "gpa_abatement",
    "yield_model", "yield_constant", "defect_density_low", "defect_density_high",
    "defect_density_quantile", "memory_gwp_low", "memory_gwp_high", "memory_gwp_quantile",
)
(HOURS, NODES, REPETITIONS, GPUS, GPU_USAGE, GPU_TDP_W, GPU_MEMORY_GB, GPU_DIE_AREA_CM2, CPUS,
 CPU_USAGE, CPU_TDP_W, CPU_DIE_AREA_CM2, RAM_MODULES, RAM_MODULE_GB, SSD_GB, PSUS, SERVER,
 GRID_GWP, GRID_ADPE, GRID_PE, INTENSITY_RATIO, LIFETIME_YEARS, LIFETIME_USAGE, DYNAMIC_RATIO,
 MEMORY_DENSITY, PRODUCTION_MODEL, FAB_INTENSITY, EPA, GPA_95, GPA_99, GPA_ABATEMENT,
 YIELD_MODEL, YIELD_CONSTANT, DEFECT_DENSITY_LOW, DEFECT_DENSITY_HIGH, DEFECT_DENSITY_QUANTILE,
 MEMORY_GWP_LOW, MEMORY_GWP_HIGH, MEMORY_GWP_QUANTILE) = range(len(RUN_FIELDS))
#: Codes of the production models and yield models.
MLCA, ACT = 0, 1
PRODUCTION_MODELS = ("mlca", "act")
CONSTANT_YIELD, POISSON_YIELD, MURPHY_YIELD = 0, 1, 2
YIELD_MODELS = ("constant", "poisson", "murphy")
N_RUN_FIELDS = len(RUN_FIELDS)
#: First column of the three grid factors, in criterion order (gwp, adpe, pe).
GRID = GRID_GWP

#: Valid values of each field: ``(lowest, whether lowest itself is valid, highest)``. Fields not
#: listed are non-negative. Used to validate run tables and the distributions sampled into them.
FIELD_BOUNDS = {field: (0.0, True, math.inf) for field in RUN_FIELDS} | {
    "hours": (0.0, False, math.inf),
    "nodes": (0.0, False, math.inf),
    "repetitions": (0.0, False, math.inf),
    "gpu_usage": (0.0, True, 1.0),
    "cpu_usage": (0.0, True, 1.0),
    "server": (0.0, True, 1.0),
    "lifetime_years": (0.0, False, math.inf),
    "lifetime_usage": (0.0, False, 1.0),
    "dynamic_ratio": (1.0, True, math.inf),
    "memory_density": (0.0, False, math.inf),
    "production_model": (0.0, True, 1.0),
    "gpa_abatement": (0.0, True, 1.0),
    "yield_model": (0.0, True, 2.0),
    "yield_constant": (0.0, False, 1.0),
    "defect_density_quantile": (0.0, True, 1.0),
    "memory_gwp_quantile": (0.0, True, 1.0),
}


def out_of_bounds(field, values):
    """Boolean mask of the values that are not valid for ``field`` (NaN and inf included)."""
    low, low_ok, high = FIELD_BOUNDS[field]
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | (values > high)
    return bad | ((values < low) if low_ok else (values <= low))


@dataclass(frozen=True)
class RunTable:
    """Runs as rows of a C-contiguous float64 matrix ``values`` (run, field), with names.

    Parameters
    ----------
    names : tuple of str
        One label per run (the ``model`` coordinate of results).
    values : numpy.ndarray
        Shape ``(len(names), len(RUN_FIELDS))``, columns as in :data:`RUN_FIELDS`.
    """

    names: tuple
    values: np.ndarray

    def __post_init__(self):
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (len(self.names), N_RUN_FIELDS):
            raise ValueError(
                f"run table values must have shape ({len(self.names)}, {N_RUN_FIELDS}), "
                f"got {values.shape}")
        object.__setattr__(self, "values", values)

    def __len__(self):
        return len(self.names)

    def column(self, field):
        """One column by name, as a read-only view."""
        return self.values[:, RUN_FIELDS.index(field)]

    @classmethod
    def from_records(cls, records):
        """Build from a sequence of ``(name, {field: value})``; every field is required."""
        names, rows = [], []
        for name, fields in records:
            missing = [f for f in RUN_FIELDS if f not in fields]
            extra = [f for f in fields if f not in RUN_FIELDS]
            if missing or extra:
                raise ValueError(f"run {name!r}: missing fields {missing}, unknown fields {extra}")
            names.append(name)
            rows.append([float(fields[f]) for f in RUN_FIELDS])
        return cls(tuple(names), np.array(rows, dtype=np.float64).reshape(len(names), N_RUN_FIELDS))
