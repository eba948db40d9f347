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
grid_adpe [kg Sb eq/kWh]; grid_pe [MJ/kWh]; grid_water [L/kWh] the water consumed off site
by the grid's generation other than hydropower, per kWh; intensity_ratio [-]; lifetime_years
[year];
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

Imputation and hardware variants (``docs/dataset.md``): training_compute [FLOP]; peak_flops
[FLOP/s] of one chip at the run's precision; mfu [-] model FLOP utilisation; imputation
[0 none, 1 hours from compute, 2 chip count from compute]; variant [0-1] the position in the
cumulative weights of the run's hardware variants (the point estimate uses 0.5).

Host power (evidence power model, ``docs/methodology.md``, section "Host power"):
host_rated_w_per_gpu [W] the rated power of the accelerator's node less its accelerators' TDPs,
per accelerator (the manufacturer's rating of the node, ``data/node_configurations.csv``; 0
where no rating is known, and always in MLCA's model: the host then draws MLCA's CPU and RAM
terms); host_usage [-] the share of it drawn during training. A node of ``gpus`` accelerators
has a rated host of ``gpus x host_rated_w_per_gpu``.

Metered energy (``docs/methodology.md``, section "Metered energy"): metered_energy_kwh [kWh]
the energy measured for the whole run, 0 where none is; metered_scope [0 none, 1 accelerators,
2 node, 3 facility] what the meter counted (:data:`METERED_SCOPES`). A metered run's energy is
the measurement completed to the facility with the model's own ratios (the host's share, the
facility's overhead); its production is estimated as for any run.

On-site water (``docs/methodology.md``, section "Water"): wue [L/kWh] the facility's water
usage effectiveness, litres of water its cooling consumes per kWh of IT energy (the node's
energy: accelerators and host). Off-site water of hydropower: hydro_share [-] its share of the
grid's generation and hydro_water [L/kWh] the water charged to a kWh of it (reservoir
evaporation), so that a kWh of the grid consumes ``grid_water + hydro_share x hydro_water``.

A run may stand for one of several accelerators (a generic name such as "NVIDIA A100", a list
of chips, or imputed hardware): :class:`RunTable` then carries, per run, the values of the
:data:`VARIANT_FIELDS` for each variant and their cumulative weights.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from mlimpact.quantities import GRID_FACTOR_MAX, IMPACT_CRITERIA

RUN_FIELDS = (
    "hours",
    "nodes",
    "repetitions",
    "gpus",
    "gpu_usage",
    "gpu_tdp_w",
    "gpu_memory_gb",
    "gpu_die_area_cm2",
    "cpus",
    "cpu_usage",
    "cpu_tdp_w",
    "cpu_die_area_cm2",
    "ram_modules",
    "ram_module_gb",
    "ssd_gb",
    "psus",
    "server",
    *(f"grid_{c}" for c in IMPACT_CRITERIA),
    "intensity_ratio",
    "lifetime_years",
    "lifetime_usage",
    "dynamic_ratio",
    "memory_density",
    "production_model",
    "fab_intensity",
    "epa",
    "gpa_95",
    "gpa_99",
    "gpa_abatement",
    "yield_model",
    "yield_constant",
    "defect_density_low",
    "defect_density_high",
    "defect_density_quantile",
    "memory_gwp_low",
    "memory_gwp_high",
    "memory_gwp_quantile",
    "training_compute",
    "peak_flops",
    "mfu",
    "imputation",
    "variant",
    "host_rated_w_per_gpu",
    "host_usage",
    "metered_energy_kwh",
    "metered_scope",
    "wue",
    "hydro_share",
    "hydro_water",
)
(
    HOURS,
    NODES,
    REPETITIONS,
    GPUS,
    GPU_USAGE,
    GPU_TDP_W,
    GPU_MEMORY_GB,
    GPU_DIE_AREA_CM2,
    CPUS,
    CPU_USAGE,
    CPU_TDP_W,
    CPU_DIE_AREA_CM2,
    RAM_MODULES,
    RAM_MODULE_GB,
    SSD_GB,
    PSUS,
    SERVER,
    *GRIDS,
    INTENSITY_RATIO,
    LIFETIME_YEARS,
    LIFETIME_USAGE,
    DYNAMIC_RATIO,
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
    TRAINING_COMPUTE,
    PEAK_FLOPS,
    MFU,
    IMPUTATION,
    VARIANT,
    HOST_RATED_W_PER_GPU,
    HOST_USAGE,
    METERED_ENERGY_KWH,
    METERED_SCOPE,
    WUE,
    HYDRO_SHARE,
    HYDRO_WATER,
) = range(len(RUN_FIELDS))
#: Imputation codes: nothing, training time from compute, chip count from compute.
NO_IMPUTATION, IMPUTE_HOURS, IMPUTE_CHIPS = 0, 1, 2
#: Fields of ACT's production model that an accelerator sets (its fab and memory).
ACT_FIELDS = (
    "epa",
    "gpa_95",
    "gpa_99",
    "defect_density_low",
    "defect_density_high",
    "fab_intensity",
    "memory_gwp_low",
    "memory_gwp_high",
)
#: Fields that a hardware variant sets.
VARIANT_FIELDS = (
    "gpu_tdp_w",
    "gpu_memory_gb",
    "gpu_die_area_cm2",
    "peak_flops",
    *ACT_FIELDS,
    "host_rated_w_per_gpu",
)
VARIANT_INDEX = np.array([RUN_FIELDS.index(f) for f in VARIANT_FIELDS], dtype=np.int64)
#: Scopes of a metered energy, coded 1, 2, 3 in ``metered_scope`` (0: no metered energy):
#: the accelerators alone, the node (accelerators and host), the facility (the node's energy
#: with the facility's overhead: what the run's share of the building's meter would show).
METERED_SCOPES = ("accelerators", "node", "facility")
#: Codes of the production models and yield models.
MLCA, ACT = 0, 1
PRODUCTION_MODELS = ("mlca", "act")
CONSTANT_YIELD, POISSON_YIELD, MURPHY_YIELD = 0, 1, 2
YIELD_MODELS = ("constant", "poisson", "murphy")
N_RUN_FIELDS = len(RUN_FIELDS)
#: First column of the grid factors, one per impact criterion in their order (:data:`GRIDS`).
GRID = GRIDS[0]

#: Valid values of each field: ``(lowest, whether lowest itself is valid, highest)``. Used to
#: validate run tables, setup files and the distributions sampled into them. The upper (and
#: the positive lower) limits are far outside any real training run and keep every result
#: finite in float64; docs/setup.md lists them with their reasons:
#: run size (hours 1e6 = 114 years; 1e7 nodes; 1e6 repetitions and accelerators per node);
#: hardware (TDP 1e5 W, above a whole wafer-scale system's 23 kW, and so a host's rated power
#: per accelerator; die area 1e4 cm2, above a 300 mm wafer's 707 cm2; memory 1e6 GB); grids
#: (:data:`mlimpact.quantities.GRID_FACTOR_MAX`); allocation (lifetime 0.01-100 years, share
#: in use >= 0.001, memory density >= 0.001 GB/cm2, dynamic ratio <= 100); imputation (compute
#: 1e32 FLOP, peak rate 1e20 FLOP/s, MFU >= 1e-4); WUE 100 L/kWh, forty times the 2.3 L/kWh of
#: early-2000s facilities; hydropower's water 1000 L/kWh, four times the largest published
#: gross evaporation (245 L/kWh, Mekonnen and Hoekstra 2012).
_UNBOUNDED = (0.0, True, 1e12)
FIELD_BOUNDS = {field: _UNBOUNDED for field in RUN_FIELDS} | {
    "hours": (0.0, False, 1e6),
    "nodes": (0.0, False, 1e7),
    "repetitions": (0.0, False, 1e6),
    "gpus": (0.0, True, 1e6),
    "gpu_usage": (0.0, False, 1.0),
    "gpu_tdp_w": (0.0, True, 1e5),
    "gpu_memory_gb": (0.0, True, 1e6),
    "gpu_die_area_cm2": (0.0, True, 1e4),
    "cpus": (0.0, True, 1e4),
    "cpu_usage": (0.0, True, 1.0),
    "cpu_tdp_w": (0.0, True, 1e5),
    "cpu_die_area_cm2": (0.0, True, 1e4),
    "ram_modules": (0.0, True, 1e5),
    "ram_module_gb": (0.0, True, 1e5),
    "ssd_gb": (0.0, True, 1e9),
    "psus": (0.0, True, 1e4),
    "server": (0.0, True, 1.0),
    **{f"grid_{c}": (0.0, True, GRID_FACTOR_MAX[c]) for c in IMPACT_CRITERIA},
    "intensity_ratio": (0.0, True, 100.0),
    "lifetime_years": (0.01, True, 100.0),
    "lifetime_usage": (0.001, True, 1.0),
    "dynamic_ratio": (1.0, True, 100.0),
    "memory_density": (0.001, True, 1e4),
    "production_model": (0.0, True, 1.0),
    "fab_intensity": (0.0, True, 10.0),
    "epa": (0.0, True, 1e3),
    "gpa_95": (0.0, True, 1e3),
    "gpa_99": (0.0, True, 1e3),
    "gpa_abatement": (0.0, True, 1.0),
    "yield_model": (0.0, True, 2.0),
    "yield_constant": (0.0, False, 1.0),
    "defect_density_low": (0.0, True, 100.0),
    "defect_density_high": (0.0, True, 100.0),
    "defect_density_quantile": (0.0, True, 1.0),
    "memory_gwp_low": (0.0, True, 1e3),
    "memory_gwp_high": (0.0, True, 1e3),
    "memory_gwp_quantile": (0.0, True, 1.0),
    "training_compute": (0.0, True, 1e32),
    "peak_flops": (0.0, True, 1e20),
    "mfu": (1e-4, True, 1.0),
    "imputation": (0.0, True, 2.0),
    "variant": (0.0, True, 1.0),
    "host_rated_w_per_gpu": (0.0, True, 1e5),
    "host_usage": (0.0, True, 1.0),
    "metered_energy_kwh": (0.0, True, 1e12),
    "metered_scope": (0.0, True, 3.0),
    "wue": (0.0, True, 100.0),
    "hydro_share": (0.0, True, 1.0),
    "hydro_water": (0.0, True, 1000.0),
}
#: Fields whose values are codes: only these values are valid.
CATEGORIES = {
    "production_model": (0.0, 1.0),
    "yield_model": (0.0, 1.0, 2.0),
    "imputation": (0.0, 1.0, 2.0),
    "server": (0.0, 1.0),
    "metered_scope": (0.0, 1.0, 2.0, 3.0),
}


def out_of_bounds(field, values):
    """Boolean mask of the values that are not valid for ``field`` (NaN and inf included)."""
    low, low_ok, high = FIELD_BOUNDS[field]
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | (values > high)
    bad |= (values < low) if low_ok else (values <= low)
    if field in CATEGORIES:
        bad |= ~np.isin(values, CATEGORIES[field])
    return bad


def bounds_text(field):
    """The valid range of a field in words, for messages."""
    if field in CATEGORIES:
        return "one of " + ", ".join(f"{v:g}" for v in CATEGORIES[field])
    low, low_ok, high = FIELD_BOUNDS[field]
    return f"{'[' if low_ok else '('}{low:g}, {high:g}]"


@dataclass(frozen=True)
class RunTable:
    """Runs as rows of a C-contiguous float64 matrix ``values`` (run, field), with names.

    Parameters
    ----------
    names : tuple of str
        One label per run (the ``model`` coordinate of results).
    values : numpy.ndarray
        Shape ``(len(names), len(RUN_FIELDS))``, columns as in :data:`RUN_FIELDS`.
    variant_values, variant_cdf : numpy.ndarray, optional
        Per run, the values of :data:`VARIANT_FIELDS` of each hardware variant (run, variant,
        field) and their cumulative weights (run, variant); by default each run is its own
        single variant.
    variant_labels : tuple, optional
        Per run, the hardware name of each of its variants (a tuple, empty for a run of one
        variant): parameters of hardware scope act on a run's variants by these names.
    """

    names: tuple
    values: np.ndarray
    variant_values: np.ndarray = None
    variant_cdf: np.ndarray = None
    variant_labels: tuple = None

    def __post_init__(self):
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (len(self.names), N_RUN_FIELDS):
            raise ValueError(
                f"run table values must have shape ({len(self.names)}, {N_RUN_FIELDS}), "
                f"got {values.shape}"
            )
        object.__setattr__(self, "values", values)
        if self.variant_values is None:
            # One variant per run: the run's own values.
            object.__setattr__(self, "variant_values", values[:, VARIANT_INDEX][:, None, :].copy())
            object.__setattr__(self, "variant_cdf", np.ones((len(self.names), 1)))
        variant_values = np.ascontiguousarray(self.variant_values, dtype=np.float64)
        variant_cdf = np.ascontiguousarray(self.variant_cdf, dtype=np.float64)
        n_variants = variant_cdf.shape[1] if variant_cdf.ndim == 2 else 0
        if variant_values.shape != (
            len(self.names),
            n_variants,
            len(VARIANT_FIELDS),
        ) or variant_cdf.shape != (len(self.names), n_variants):
            raise ValueError(
                "variant tables must have shapes (run, variant, field) and (run, variant)"
            )
        object.__setattr__(self, "variant_values", variant_values)
        object.__setattr__(self, "variant_cdf", variant_cdf)
        labels = (
            tuple(tuple(v) for v in self.variant_labels)
            if self.variant_labels
            else ((),) * len(self.names)
        )
        if len(labels) != len(self.names) or any(len(v) > n_variants for v in labels):
            raise ValueError("variant labels: one tuple per run, at most one label per variant")
        object.__setattr__(self, "variant_labels", labels)

    def __len__(self):
        return len(self.names)

    def subset(self, indices):
        """The runs at positions ``indices``, with their variants."""
        indices = np.asarray(indices, dtype=np.int64)
        return RunTable(
            tuple(self.names[i] for i in indices),
            self.values[indices],
            self.variant_values[indices],
            self.variant_cdf[indices],
            tuple(self.variant_labels[i] for i in indices),
        )

    def column(self, field):
        """One column by name, as a read-only view."""
        return self.values[:, RUN_FIELDS.index(field)]

    @property
    def n_variants(self):
        """Number of variants of each run (those with a weight), shape (run,)."""
        return (
            np.diff(np.concatenate([np.zeros((len(self), 1)), self.variant_cdf], axis=1), axis=1)
            > 0
        ).sum(axis=1)

    @classmethod
    def from_records(cls, records, variants=None, variant_labels=None):
        """Build from a sequence of ``(name, {field: value})``; every field is required.

        ``variants``, if given, maps a run's name to a list of ``(weight, {field: value})``
        over :data:`VARIANT_FIELDS`; other runs have their own values as single variant.
        ``variant_labels`` maps a run's name to the hardware names of its variants.
        """
        names, rows = [], []
        for name, fields in records:
            missing = [f for f in RUN_FIELDS if f not in fields]
            extra = [f for f in fields if f not in RUN_FIELDS]
            if missing or extra:
                raise ValueError(f"run {name!r}: missing fields {missing}, unknown fields {extra}")
            names.append(name)
            rows.append([float(fields[f]) for f in RUN_FIELDS])
        values = np.array(rows, dtype=np.float64).reshape(len(names), N_RUN_FIELDS)
        if not variants:
            return cls(tuple(names), values)
        width = max(len(v) for v in variants.values())
        table = np.repeat(values[:, VARIANT_INDEX][:, None, :], width, axis=1)
        cdf = np.ones((len(names), width))
        for r, name in enumerate(names):
            if name in variants:
                weights = np.array([w for w, _ in variants[name]], dtype=np.float64)
                if np.any(weights < 0) or weights.sum() <= 0:
                    raise ValueError(f"run {name!r}: variant weights must be >= 0, sum > 0")
                cdf[r, : len(weights)] = np.cumsum(weights) / weights.sum()
                cdf[r, len(weights) :] = 1.0
                for k, (_, fields) in enumerate(variants[name]):
                    table[r, k] = [float(fields[f]) for f in VARIANT_FIELDS]
        labels = tuple(tuple((variant_labels or {}).get(name, ())) for name in names)
        return cls(tuple(names), values, table, cdf, labels)


def accelerators_only(table, names):
    """A copy of ``table`` in which the runs named in ``names`` count their accelerators alone:
    their host server is off (``server`` 0: neither its power nor its production), so that their
    energy compares with a published value that counts only the accelerators' power."""
    chosen = np.isin(np.asarray(table.names, dtype=object), list(names))
    values = table.values.copy()
    values[chosen, SERVER] = 0.0
    return dataclasses.replace(table, values=values)
