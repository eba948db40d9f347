"""Setup files: one training run described in TOML, validated into a one-row run table.

A setup file has the sections ``[run]``, ``[node]``, optional ``[server]`` and optional
``[assumptions]`` (see ``docs/setup.md`` and ``examples/bert_base.toml``). Every key is checked:
an unknown key, a wrong type or a value out of range raises :class:`MlimpactError` with a
one-line message naming the file, section and key.

Hardware values come from the hardware table unless the setup overrides them; a value the table
does not have (a TPU die area, say) must be given, never guessed. Grid factors come from the
Boavizta electricity table by country, the GWP factor from the country's year-specific intensity
(OWID / Ember) when ``year`` is given, and any ``grid_*`` assumption overrides both.
"""

import math
from dataclasses import dataclass, field
from pathlib import Path

from mlimpact._io import load_toml
from mlimpact.errors import MlimpactError
from mlimpact.runs import defaults
from mlimpact.runs.table import (
    PRODUCTION_MODELS, YIELD_MODELS, RunTable, bounds_text, out_of_bounds,
)
from mlimpact.tables import fab, grid
from mlimpact.tables.hardware import hardware_table

# (kind, description) of every key. Kinds: positive > 0, count integer >= 1, count0 integer
# >= 0, fraction in (0, 1], fraction0 in [0, 1], nonnegative >= 0, ratio >= 1, text, flag, year.
_SCHEMA = {
    "run": {
        "hours": ("positive", "wall-clock training time [h]"),
        "nodes": ("count", "number of nodes"),
        "repetitions": ("count", "number of times the run was repeated"),
        "country": ("text", "ISO 3166 alpha-3 code of the grid"),
        "year": ("year", "year of the grid intensity"),
    },
    "node": {
        "gpu": ("text", "accelerator name or alias"),
        "gpus": ("count", "accelerators per node"),
        "gpu_usage": ("fraction", "mean fraction of TDP drawn"),
        "gpu_tdp_w": ("positive", "accelerator TDP [W]"),
        "gpu_memory_gb": ("nonnegative", "accelerator memory [GB]"),
        "gpu_die_area_cm2": ("positive", "accelerator die area [cm2]"),
        "gpu_process_node_nm": ("positive", "accelerator process node [nm] (ACT)"),
        "gpu_memory_type": ("text", "accelerator memory type, e.g. HBM3 (ACT)"),
    },
    "server": {
        "include": ("flag", "whether the host server is counted"),
        "cpus": ("count0", "CPUs per node"),
        "cpu_die_area_cm2": ("positive", "CPU die area [cm2]"),
        "cpu_tdp_w": ("nonnegative", "CPU TDP [W]"),
        "cpu_usage": ("fraction0", "mean fraction of CPU TDP drawn"),
        "ram_modules": ("count0", "RAM modules per node"),
        "ram_module_gb": ("positive", "size of one RAM module [GB]"),
        "ssd_gb": ("nonnegative", "SSD capacity [GB]"),
        "psus": ("count0", "power supplies per node"),
    },
    "assumptions": {
        "lifetime_years": ("positive", "hardware lifetime [year]"),
        "lifetime_usage": ("fraction", "share of the lifetime in use"),
        "dynamic_ratio": ("ratio", "total / dynamic energy (PUE-like)"),
        "memory_density_gb_per_cm2": ("positive", "memory density [GB/cm2]"),
        "intensity_ratio": ("nonnegative", "multiplier on the use-phase grid factors"),
        "grid_gwp_kgco2eq_per_kwh": ("nonnegative", "grid GWP factor [kg CO2eq/kWh]"),
        "grid_adpe_kgsbeq_per_kwh": ("nonnegative", "grid ADPe factor [kg Sb eq/kWh]"),
        "grid_pe_mj_per_kwh": ("nonnegative", "grid PE factor [MJ/kWh]"),
        "production_model": ("choice:mlca,act,mixture", "model of the card's production GWP"),
        "yield_model": ("choice:constant,poisson,murphy", "fab yield model (ACT)"),
        "fab_yield": ("fraction", "constant fab yield (ACT, yield_model = constant)"),
        "defect_density_per_cm2": ("positive", "defect density D0 [1/cm2] (ACT)"),
        "gpa_abatement_percent": ("percent95", "abatement of fab gases, 95-99 % (ACT)"),
        "fab_intensity_kgco2eq_per_kwh": ("nonnegative", "fab grid intensity (ACT)"),
    },
}
_TOP_LEVEL = {"name": ("text", "label of the run")}
_REQUIRED = {"run": ("hours", "country"), "node": ("gpu", "gpus", "gpu_usage")}
#: Sections that later stages read (kept as given, validated by their own modules).
_PASS_THROUGH = ("uncertainty",)
#: Setup keys whose run-table field has another name (the rest keep theirs; include -> server).
_FIELDS_OF_KEY = {
    "include": ("server",),
    "memory_density_gb_per_cm2": ("memory_density",),
    "grid_gwp_kgco2eq_per_kwh": ("grid_gwp",),
    "grid_adpe_kgsbeq_per_kwh": ("grid_adpe",),
    "grid_pe_mj_per_kwh": ("grid_pe",),
    "fab_yield": ("yield_constant",),
    "defect_density_per_cm2": ("defect_density_low", "defect_density_high",
                               "defect_density_quantile"),
    "gpa_abatement_percent": ("gpa_abatement",),
    "fab_intensity_kgco2eq_per_kwh": ("fab_intensity",),
}


def schema():
    """Section -> {key: (kind, description)} of the setup file (read-only copy)."""
    return {section: dict(keys) for section, keys in _SCHEMA.items()}


def _check(where, kind, value):
    """Validate one value of the given kind; return it as float/int/str/bool."""
    if kind == "text":
        if not isinstance(value, str) or not value.strip():
            raise MlimpactError(f"{where} must be a non-empty string (got {value!r})")
        return value.strip()
    if kind.startswith("choice:"):
        options = kind.split(":", 1)[1].split(",")
        if value not in options:
            raise MlimpactError(f"{where} must be one of {', '.join(options)} (got {value!r})")
        return value
    if kind == "flag":
        if not isinstance(value, bool):
            raise MlimpactError(f"{where} must be true or false (got {value!r})")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MlimpactError(f"{where} must be a number (got {value!r})")
    if isinstance(value, int) and abs(value) > 2 ** 53:
        raise MlimpactError(f"{where} is too large (a whole number of {len(str(abs(value)))} "
                            "digits)")
    if not math.isfinite(value):
        raise MlimpactError(f"{where} must be finite (got {value!r})")
    if kind in ("count", "count0", "year"):
        if value != int(value):
            raise MlimpactError(f"{where} must be a whole number (got {value!r})")
        value = int(value)
        low = {"count": 1, "count0": 0, "year": 1990}[kind]
        if value < low or (kind == "year" and value > 2100):
            bound = f">= {low}" if kind != "year" else "between 1990 and 2100"
            raise MlimpactError(f"{where} must be {bound} (got {value})")
        return value
    value = float(value)
    bad = {
        "positive": (value <= 0, "> 0"),
        "nonnegative": (value < 0, ">= 0"),
        "fraction": (not 0 < value <= 1, "in (0, 1]"),
        "fraction0": (not 0 <= value <= 1, "in [0, 1]"),
        "ratio": (value < 1, ">= 1"),
        "percent95": (not 95 <= value <= 99, "between 95 and 99"),
    }[kind]
    if bad[0]:
        raise MlimpactError(f"{where} must be {bad[1]} (got {value:g})")
    return value


@dataclass(frozen=True)
class Setup:
    """A validated setup: the one-row run table and where each input came from.

    Attributes
    ----------
    runs : RunTable
        One row (see :mod:`mlimpact.runs`) with every input at its point value.
    hardware : mlimpact.tables.hardware.Hardware or None
        The table row of the accelerator, or None for a label with all values given.
    gpu_label : str
        The accelerator name as resolved (table name) or as given.
    country, year : str, int or None
        The grid location and year.
    provenance : dict
        For hardware and grid inputs, ``"table"``, ``"setup"`` or a source description.
    given_fields : frozenset of str
        Run-table fields the setup states explicitly: known, so not sampled unless the
        ``[uncertainty]`` section gives them a distribution.
    uncertainty : dict
        The raw ``[uncertainty]`` section, validated by :mod:`mlimpact.uncertainty.catalogue`.
    """

    runs: RunTable
    hardware: object
    gpu_label: str
    country: str
    year: object
    provenance: dict = field(default_factory=dict)
    given_fields: frozenset = frozenset()
    uncertainty: dict = field(default_factory=dict)
    source: str = "<setup>"


def parse_setup(document, source="<setup>"):
    """Validate a setup given as a dict (the parsed TOML) and build its run table."""
    if not isinstance(document, dict):
        raise MlimpactError(f"{source}: a setup must be a TOML table")
    for key, value in document.items():
        if key in _SCHEMA or key in _PASS_THROUGH:
            if not isinstance(value, dict):
                raise MlimpactError(f"{source}: [{key}] must be a section (a TOML table)")
        elif key not in _TOP_LEVEL:
            known = ", ".join([*(f"[{s}]" for s in (*_SCHEMA, *_PASS_THROUGH)), *_TOP_LEVEL])
            raise MlimpactError(f"{source}: unknown section or key {key!r} (expected {known})")
    values = {}
    for section, keys in _SCHEMA.items():
        given = document.get(section, {})
        for key, value in given.items():
            if key not in keys:
                close = ", ".join(sorted(keys))
                raise MlimpactError(f"{source}: [{section}] unknown key {key!r} (known: {close})")
            values[section, key] = _check(f"{source}: [{section}] {key}", keys[key][0], value)
        for key in _REQUIRED.get(section, ()):
            if (section, key) not in values:
                raise MlimpactError(
                    f"{source}: [{section}] {key} is required ({keys[key][1]})")
    name = _check(f"{source}: name", "text", document["name"]) if "name" in document else (
        Path(source).stem if source != "<setup>" else "run")
    get = lambda section, key, default=None: values.get((section, key), default)  # noqa: E731
    provenance = {}

    hardware, gpu_label, gpu = _resolve_gpu(source, get, provenance)
    server = {key: get("server", key, default) for key, default in defaults.SERVER.items()}
    include_server = get("server", "include", True)
    country, year, grid_factors = _resolve_grid(source, get, provenance)

    assumptions = {field: get("assumptions", key) for key, field in (
        ("intensity_ratio", "intensity_ratio"), ("lifetime_years", "lifetime_years"),
        ("lifetime_usage", "lifetime_usage"), ("dynamic_ratio", "dynamic_ratio"),
        ("memory_density_gb_per_cm2", "memory_density"))}
    row = defaults.default_row(
        hours=get("run", "hours"), nodes=get("run", "nodes", 1),
        repetitions=get("run", "repetitions", 1), gpus=get("node", "gpus"),
        gpu_usage=get("node", "gpu_usage"), **gpu, **server,
        server=1.0 if include_server else 0.0,
        grid_gwp=grid_factors[0], grid_adpe=grid_factors[1], grid_pe=grid_factors[2],
        **{field: value for field, value in assumptions.items() if value is not None})
    production, production_given = _resolve_production(source, get, hardware, gpu_label,
                                                       row["gpu_memory_gb"], provenance)
    row.update(production)
    # A setup states its hours and chips: nothing to impute, one hardware variant.
    production_given = production_given | {"training_compute", "peak_flops", "mfu",
                                           "imputation", "variant"}
    _check_bounds(source, row, values)
    return Setup(
        runs=RunTable.from_records([(name, row)]), hardware=hardware, gpu_label=gpu_label,
        country=country, year=year, provenance=provenance,
        given_fields=frozenset(field for (_, key) in values
                               for field in _FIELDS_OF_KEY.get(key, (key,)) if field in row)
        | production_given,
        uncertainty=dict(document.get("uncertainty", {})), source=source)


def _check_bounds(source, row, values):
    """Every field of the row within :data:`mlimpact.runs.table.FIELD_BOUNDS` (physical
    limits, docs/setup.md), the message naming the setup key that set it."""
    keys = {}
    for section, key in values:
        for field in _FIELDS_OF_KEY.get(key, (key,)):
            keys[field] = f"[{section}] {key}"
    for field, value in row.items():
        if out_of_bounds(field, value):
            where = keys.get(field, f"{field} (from the hardware or grid tables)")
            raise MlimpactError(f"{source}: {where} = {value:g} is outside the accepted range "
                                f"{bounds_text(field)} (docs/setup.md)")


def _resolve_gpu(source, get, provenance):
    """Accelerator values from the table, overridden by the setup; never guessed."""
    label = get("node", "gpu")
    overrides = {"gpu_tdp_w": get("node", "gpu_tdp_w"),
                 "gpu_memory_gb": get("node", "gpu_memory_gb"),
                 "gpu_die_area_cm2": get("node", "gpu_die_area_cm2")}
    try:
        hardware = hardware_table().find(label, field=f"{source}: [node] gpu")
    except MlimpactError as error:
        if all(v is not None for v in overrides.values()):
            provenance.update({key: "setup" for key in overrides})
            return None, label, overrides
        raise MlimpactError(f"{error}; or give gpu_tdp_w, gpu_memory_gb and gpu_die_area_cm2 "
                            "to describe hardware not in the table") from None
    table = {"gpu_tdp_w": hardware.tdp_w, "gpu_memory_gb": hardware.memory_gb,
             "gpu_die_area_cm2": hardware.die_area_cm2}
    values = {}
    for key, given in overrides.items():
        if given is not None:
            values[key], provenance[key] = given, "setup"
        elif math.isnan(table[key]):
            variants = (f" (it stands for {', '.join(hardware.variants)}: name one of them)"
                        if hardware.variants else "")
            raise MlimpactError(
                f"{source}: [node] {key} is required: the hardware table has no "
                f"{_SCHEMA['node'][key][1]} for {hardware.name!r}{variants}")
        else:
            values[key], provenance[key] = table[key], "table"
    return hardware, hardware.name, values


#: What ACT misses (words of the message of mlimpact.tables.fab.act_fields) -> the setup key
#: that supplies it.
_ACT_KEYS = (("process node", "gpu_process_node_nm"),
             ("fab's grid", "fab_intensity_kgco2eq_per_kwh"),
             ("memory type", "gpu_memory_type"))


def _resolve_production(source, get, hardware, label, memory_gb, provenance):
    """Fields of the production model (MLCA, ACT or both uncertain) and which are stated.

    With ``production_model`` unstated or ``mixture``, the point estimate uses MLCA and a
    Monte Carlo run samples the model; if ACT's inputs are missing for this accelerator, the
    model stays MLCA and ``provenance["production_model"]`` says why.
    """
    choice = get("assumptions", "production_model", "mixture")
    yield_model = get("assumptions", "yield_model", defaults.YIELD_MODEL)
    d0 = get("assumptions", "defect_density_per_cm2")
    abatement = get("assumptions", "gpa_abatement_percent")
    fields = {
        "production_model": float(PRODUCTION_MODELS.index("act" if choice == "act" else "mlca")),
        "yield_model": float(YIELD_MODELS.index(yield_model)),
        "yield_constant": get("assumptions", "fab_yield", defaults.FAB_YIELD),
        "fab_intensity": 0.0, "epa": 0.0, "gpa_95": 0.0, "gpa_99": 0.0,
        "defect_density_low": 0.0, "defect_density_high": 0.0,
        "memory_gwp_low": 0.0, "memory_gwp_high": 0.0,
    }
    if abatement is not None:
        fields["gpa_abatement"] = (abatement - 95.0) / 4.0
    given = {"production_model"} if choice in ("mlca", "act") else set()
    if choice == "mlca":
        provenance["production_model"] = "MLCA (setup)"
        return fields, given
    try:
        fields.update(fab.act_fields(
            label,
            get("node", "gpu_process_node_nm",
                hardware.process_node_nm if hardware is not None else math.nan),
            hardware.foundry if hardware is not None else "",
            hardware.release_year if hardware is not None else None,
            get("node", "gpu_memory_type", hardware.memory_type if hardware is not None else ""),
            memory_gb, intensity=get("assumptions", "fab_intensity_kgco2eq_per_kwh")))
    except MlimpactError as error:
        if choice == "act":
            hint = next((f"; give {key}" for words, key in _ACT_KEYS if words in str(error)), "")
            raise MlimpactError(f"{source}: [assumptions] production_model = \"act\": "
                                f"{error}{hint}") from None
        provenance["production_model"] = f"MLCA only ({error})"
        return fields, {"production_model"}
    if d0 is not None:
        fields["defect_density_low"] = fields["defect_density_high"] = d0
    provenance["production_model"] = ("ACT (setup)" if choice == "act" else
                                       "MLCA for the point estimate; MLCA or ACT when sampled")
    return fields, given


def _resolve_grid(source, get, provenance):
    """Grid factors (GWP, ADPe, PE per kWh) of the run's country and year."""
    country = get("run", "country").upper()
    year = get("run", "year")
    keys = ("grid_gwp_kgco2eq_per_kwh", "grid_adpe_kgsbeq_per_kwh", "grid_pe_mj_per_kwh")
    given = [get("assumptions", key) for key in keys]
    factors = grid.electricity_factors().get(country)
    known = grid.country_names()
    if country not in known and not all(v is not None for v in given):
        raise MlimpactError(
            f"{source}: [run] country: unknown code {country!r} (ISO 3166 alpha-3, e.g. USA, "
            f"FRA, CHN; electricity factors exist for {', '.join(sorted(grid.electricity_factors()))})")
    values = [math.nan] * 3
    if factors is not None:
        values = [factors.gwp, factors.adpe, factors.pe]
        provenance.update({key: f"Boavizta factor of {country}" for key in keys})
    if year is not None:
        if not grid.has_intensity(country):
            raise MlimpactError(f"{source}: [run] year: no grid intensity for {country} in any "
                                "year (leave year out to use its Boavizta factor)")
        values[0], used = grid.intensity(country, year)
        provenance[keys[0]] = (f"OWID/Ember intensity of {country} in {used}"
                               + ("" if used == year else f" (nearest year with data to {year})"))
    for i, (key, value) in enumerate(zip(keys, given)):
        if value is not None:
            values[i], provenance[key] = value, "setup"
        elif math.isnan(values[i]):
            raise MlimpactError(
                f"{source}: [assumptions] {key} is required: no electricity factor table "
                f"entry for {country} (tables cover {', '.join(sorted(grid.electricity_factors()))})")
    return country, year, values


def load_setup(path):
    """Read and validate a setup file; errors name the file and the field."""
    return parse_setup(load_toml(path, "setup file"), source=str(Path(path)))
