"""The keys of a user's run, one schema and one rule set for setup files, inventories and
codecarbon files: validated into a record that :func:`mlimpact.runs.notable.build_runs` reads.

:data:`_SCHEMA` gives every key of a setup file by section (``docs/setup.md``); an inventory row
takes the same keys as columns (:data:`ROW_KEYS`). :func:`run_record` turns validated keys into
a record: the accelerator (the table's row, the setup's values on top, or a new accelerator
described in full), the place (region, country, provider or organisation), the stated run fields
(known, not sampled), the point values that stay uncertain, the metered energy and its scope.
"""

import math
import sys
from dataclasses import replace
from pathlib import Path

from mlimpact.errors import MlimpactError
from mlimpact.quantities import IMPACT_CRITERIA, JSON_KEYS, LABELS, UNITS
from mlimpact.runs.table import PRODUCTION_MODELS, YIELD_MODELS
from mlimpact.tables import fab, grid
from mlimpact.tables.hardware import Hardware, die_ranges, hardware_table

#: Setup keys of the grid factors, one per impact criterion (``grid_gwp_kgco2eq_per_kwh``...:
#: the criterion's JSON key, per kWh) -> the criterion.
GRID_KEYS = {f"grid_{JSON_KEYS[c]}_per_kwh": c for c in IMPACT_CRITERIA}

# (kind, description) of every key. Kinds: positive > 0, count integer >= 1, count0 integer
# >= 0, fraction in (0, 1], fraction0 in [0, 1], nonnegative >= 0, ratio >= 1, text, flag, year.
_SCHEMA = {
    "run": {
        "hours": ("positive", "wall-clock training time [h]"),
        "nodes": ("count", "number of nodes"),
        "repetitions": ("count", "number of times the run was repeated"),
        "country": ("text", "ISO 3166 alpha-3 code of the grid"),
        "region": ("text", "grid region (US-VA, SE3, gcp:europe-west4...) or country code"),
        "provider": ("text", "compute provider (data/provider_sites.csv): its regions"),
        "organization": ("text", "organisation: its provider's regions (data/providers.csv)"),
        "year": ("year", "year of the grid intensity"),
        "energy_kwh": ("positive", "metered energy of the whole run [kWh]"),
        "energy_scope": (
            "choice:accelerators,node,facility",
            "what the meter counted (default node)",
        ),
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
        "pue": ("ratio", "PUE of the facility (evidence power model)"),
        "wue_l_per_kwh": ("nonnegative", "on-site WUE of the facility [L/kWh of IT energy]"),
        "host_usage": ("fraction0", "share of the node's rated host power drawn (evidence)"),
        "memory_density_gb_per_cm2": ("positive", "memory density [GB/cm2]"),
        "intensity_ratio": ("nonnegative", "multiplier on the use-phase grid factors"),
        **{
            key: ("nonnegative", f"grid {LABELS[c]} factor [{UNITS[c]}/kWh]")
            for key, c in GRID_KEYS.items()
        },
        "production_model": ("choice:mlca,act,mixture", "model of the card's production GWP"),
        "yield_model": ("choice:constant,poisson,murphy", "fab yield model (ACT)"),
        "fab_yield": ("fraction", "constant fab yield (ACT, yield_model = constant)"),
        "defect_density_per_cm2": ("positive", "defect density D0 [1/cm2] (ACT)"),
        "gpa_abatement_percent": ("percent95", "abatement of fab gases, 95-99 % (ACT)"),
        "fab_intensity_kgco2eq_per_kwh": ("nonnegative", "fab grid intensity (ACT)"),
    },
}
_TOP_LEVEL = {"name": ("text", "label of the run")}
_REQUIRED = {"run": ("hours",), "node": ("gpu", "gpus")}
#: Sections that later stages read (kept as given, validated by their own modules).
_PASS_THROUGH = ("uncertainty",)
#: Setup keys whose run-table field has another name (the rest keep theirs; include -> server).
_FIELDS_OF_KEY = {
    "include": ("server",),
    "pue": ("dynamic_ratio",),
    "wue_l_per_kwh": ("wue",),
    "gpu_process_node_nm": (),
    "gpu_memory_type": (),
    "memory_density_gb_per_cm2": ("memory_density",),
    **{key: (f"grid_{c}",) for key, c in GRID_KEYS.items()},
    "fab_yield": ("yield_constant",),
    "defect_density_per_cm2": (
        "defect_density_low",
        "defect_density_high",
        "defect_density_quantile",
    ),
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
    if isinstance(value, int) and abs(value) > 2**53:
        raise MlimpactError(
            f"{where} is too large (a whole number of {len(str(abs(value)))} digits)"
        )
    if not math.isfinite(value):
        raise MlimpactError(f"{where} must be finite (got {value!r})")
    if kind in ("count", "count0", "year"):
        if value != int(value):
            raise MlimpactError(f"{where} must be a whole number (got {value!r})")
        value = int(value)
        if value > 2**53:  # 1e308 is a whole float: as a count it overflowed the products
            raise MlimpactError(f"{where} is too large (got {value:.3g})")
        low = {"count": 1, "count0": 0, "year": 1990}[kind]
        if value < low or (kind == "year" and value > 2100):
            bound = f">= {low}" if kind != "year" else "between 1990 and 2100"
            raise MlimpactError(f"{where} must be {bound} (got {value})")
        return value
    value = float(value)
    bad = {
        # a subnormal number is zero to the model: products with it lose every digit
        "positive": (not value >= sys.float_info.min, "> 0 (at least 2.2e-308)"),
        "nonnegative": (value < 0, ">= 0"),
        "fraction": (not 0 < value <= 1, "in (0, 1]"),
        "fraction0": (not 0 <= value <= 1, "in [0, 1]"),
        "ratio": (value < 1, ">= 1"),
        "percent95": (not 95 <= value <= 99, "between 95 and 99"),
    }[kind]
    if bad[0]:
        raise MlimpactError(f"{where} must be {bad[1]} (got {value:g})")
    return value


def validated_keys(document, source):
    """``({(section, key): value}, name)`` of a setup document, every key checked."""
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
                raise MlimpactError(f"{source}: [{section}] {key} is required ({keys[key][1]})")
    name = (
        _check(f"{source}: name", "text", document["name"])
        if "name" in document
        else (Path(source).stem if source != "<setup>" else "run")
    )
    return values, name


#: Keys whose value is a run field's (stated: known, not sampled), by (section, key); the
#: field is the key itself unless :data:`_FIELDS_OF_KEY` says otherwise.
_STATED = (
    ("run", "repetitions"),
    ("node", "gpu_usage"),
    *(("server", key) for key in _SCHEMA["server"]),
    *(
        ("assumptions", key)
        for key in (
            "lifetime_years",
            "lifetime_usage",
            "dynamic_ratio",
            "memory_density_gb_per_cm2",
            "intensity_ratio",
            *GRID_KEYS,
            "wue_l_per_kwh",
            "host_usage",
            "fab_yield",
            "fab_intensity_kgco2eq_per_kwh",
        )
    ),
)
#: Setup keys an inventory row may give as columns of the same name (``docs/setup.md``):
#: every key of [node] and [assumptions] but the accelerator and its count (the inventory's
#: ``hardware`` and ``accelerators``), every key of [server] (``include`` as ``server_include``
#: would be ambiguous: it keeps its name), and [run] ``repetitions``.
ROW_KEYS = {
    key: (section, spec)
    for section in ("node", "server", "assumptions")
    for key, spec in _SCHEMA[section].items()
    if key not in ("gpu", "gpus")
}
ROW_KEYS["repetitions"] = ("run", _SCHEMA["run"]["repetitions"])


def check_value(where, key, text):
    """A row's cell for the setup key ``key`` (:data:`ROW_KEYS`), checked as the setup file
    checks it: ``(section, key)`` and its value."""
    section, (kind, _) = ROW_KEYS[key]
    value = text
    if kind == "flag":
        value = {"true": True, "false": False}.get(text.strip().lower(), text)
    elif not (kind == "text" or kind.startswith("choice:")):
        try:
            value = float(text)
            value = int(value) if value.is_integer() and kind in ("count", "count0") else value
        except ValueError:
            pass
    return (section, key), _check(where, kind, value)


def run_record(values, name, source, date=None):
    """The record of one run (the format :func:`mlimpact.runs.notable.build_runs` reads) from
    validated setup keys ``{(section, key): value}``: setup files, inventory rows and
    codecarbon rows all become runs here, by the same rules. ``date`` (a
    :class:`datetime.date`), for an inventory's row, is the run's date: its grid is of the
    year before. The record's ``grid_year`` is the year of its GWP intensity (None where it
    takes Boavizta's factor). Returns ``(record, provenance, hardware)``."""
    get = lambda section, key, default=None: values.get((section, key), default)  # noqa: E731
    provenance = {}
    hardware, label, custom = _resolve_gpu(source, get, provenance)
    year = get("run", "year") if date is None else date.year - 1
    record_year = year + 1 if year is not None else grid.intensity_span(grid.WORLD)[1] + 1
    stated, points, fixed = {}, {}, {}
    for section, key in _STATED:
        value = get(section, key)
        if value is not None:
            for field_name in _FIELDS_OF_KEY.get(key, (key,)):
                stated[field_name] = float(value)
    if get("server", "include") is not None:
        stated["server"] = 1.0 if get("server", "include") else 0.0
    if "grid_water" in stated:  # a stated grid water is the whole grid's, hydropower's included
        stated["hydro_share"] = 0.0
    if get("assumptions", "pue") is not None:
        points["dynamic_ratio"] = get("assumptions", "pue")
        fixed["facility_pue"] = get("assumptions", "pue")
    region, country = _resolve_place(source, get, provenance)
    grid_year = record_year - 1  # the year of the GWP intensity; None: Boavizta's factor
    if year is None and region and region == country and country in grid.electricity_factors():
        points["grid_gwp"] = grid.electricity_factors()[country].gwp
        grid_year = None
        provenance["grid"] = (
            f"Boavizta factor of {country} (MLCA's; give [run] year for that year's intensity)"
        )
    elif year is None and (region or country):
        provenance["grid"] = (
            f"intensity of {record_year - 1}, the latest year with data "
            "(give [run] year for another)"
        )
    elif year is not None:
        provenance["grid"] = f"intensity of {year} (the nearest year with data)"
    act = _resolve_production(source, get, custom or hardware, label, stated, provenance)
    quantity = get("run", "nodes", 1) * get("node", "gpus")
    record = {
        "model": name,
        "year": str(record_year),
        "publication_date": date.isoformat() if date else f"{record_year}-01-01",
        "country": country,
        "region": region,
        "provider": get("run", "provider", ""),
        "organization": get("run", "organization", ""),
        "domain": "",
        "domains": "",
        "hardware": label,
        "hardware_quantity": repr(float(quantity)),
        "training_time_hours": repr(float(get("run", "hours"))),
        "training_compute_flop": "",
        "mfu": "",
        "numerical_format": "",
        "confidence": "",
        "energy_kwh": repr(get("run", "energy_kwh")) if get("run", "energy_kwh") else "",
        "energy_scope": get("run", "energy_scope", "node"),
        "gpus_per_node": float(get("node", "gpus")),
        "custom_hardware": custom,
        "stated": stated,
        "points": points,
        "fixed": fixed,
        "act_fields": act,
        "given_keys": tuple(values),
        "grid_year": grid_year,
    }
    return record, provenance, hardware


def _resolve_place(source, get, provenance):
    """``(region, country)`` of a setup: its region (a grid key) or country code; both empty
    for a run located by its provider or organisation, or not at all (the world average)."""
    region, country = get("run", "region"), get("run", "country")
    grids = tuple(GRID_KEYS)
    if region is not None:
        key = region.upper() if len(region) == 3 else region
        if not grid.is_region(key):
            raise MlimpactError(
                f"{source}: [run] region: unknown region {region!r} "
                "(data/grid_regions.csv keys or ISO 3166 alpha-3)"
            )
        if country is not None and country.upper() != grid.region_country(key):
            raise MlimpactError(
                f"{source}: [run] country {country!r} is not the country of "
                f"region {region!r} ({grid.region_country(key)})"
            )
        return key, grid.region_country(key)
    if country is None:
        return "", ""
    country = country.upper()
    if grid.is_region(country):
        return country, country
    if all(get("assumptions", key) is not None for key in grids):
        provenance["grid"] = "setup"
        return "", country
    raise MlimpactError(
        f"{source}: [run] country: unknown code {country!r} (ISO 3166 alpha-3, e.g. USA, "
        f"FRA, CHN; any country of data/grid_intensity.csv, or give the {len(grids)} grid_* "
        "assumptions)"
    )


def _resolve_gpu(source, get, provenance):
    """``(hardware, label, custom)``: the accelerator's row of the hardware table (None if not
    in it), its name, and the row with the setup's values (a :class:`Hardware` for a label not
    in the table; None without overrides)."""
    label = get("node", "gpu")
    overrides = {
        "tdp_w": get("node", "gpu_tdp_w"),
        "memory_gb": get("node", "gpu_memory_gb"),
        "die_area_cm2": get("node", "gpu_die_area_cm2"),
        "process_node_nm": get("node", "gpu_process_node_nm"),
        "memory_type": get("node", "gpu_memory_type"),
    }
    given = {key: value for key, value in overrides.items() if value is not None}
    main = ("tdp_w", "memory_gb", "die_area_cm2")
    try:
        hardware = hardware_table().find(label, field=f"{source}: [node] gpu")
    except MlimpactError as error:
        if all(key in given for key in main):
            provenance.update({f"gpu_{key}": "setup" for key in main})
            return (
                None,
                label,
                Hardware(
                    name=label,
                    aliases=(),
                    manufacturer="",
                    type="",
                    segment="",
                    release_date="",
                    process_node_nm=given.get("process_node_nm", math.nan),
                    foundry="",
                    die_area_cm2=given["die_area_cm2"],
                    memory_gb=given["memory_gb"],
                    memory_type=given.get("memory_type", ""),
                    tdp_w=given["tdp_w"],
                    peak_flops={},
                    variants=(),
                    source="setup file",
                    notes="",
                ),
            )
        raise MlimpactError(
            f"{error}; or give gpu_tdp_w, gpu_memory_gb and gpu_die_area_cm2 "
            "to describe hardware not in the table"
        ) from None
    if hardware.variants:
        if given:
            raise MlimpactError(
                f"{source}: [node] gpu: {hardware.name!r} stands for "
                f"{', '.join(hardware.variants)}: name one of them to give "
                "its values"
            )
        provenance.update({f"gpu_{key}": "variants" for key in main})
        return hardware, hardware.name, None
    ranges = die_ranges()
    for key in main:
        if key in given:
            provenance[f"gpu_{key}"] = "setup"
        elif math.isfinite(getattr(hardware, key)):
            provenance[f"gpu_{key}"] = "table"
        elif key == "die_area_cm2" and hardware.name in ranges:
            provenance[f"gpu_{key}"] = "uncertain: range of data/die_areas.csv"
        else:
            raise MlimpactError(
                f"{source}: [node] gpu_{key} is required: the hardware table has no "
                f"{_SCHEMA['node']['gpu_' + key][1]} for {hardware.name!r}"
            )
    return hardware, hardware.name, (replace(hardware, **given) if given else None)


#: What ACT misses (words of the message of mlimpact.tables.fab.act_fields) -> the setup key
#: that supplies it.
_ACT_KEYS = (
    ("process node", "gpu_process_node_nm"),
    ("fab's grid", "fab_intensity_kgco2eq_per_kwh"),
    ("memory type", "gpu_memory_type"),
)


def _resolve_production(source, get, hardware, label, stated, provenance):
    """The production model's stated fields (into ``stated``) and ACT's fields of the
    accelerator when the setup's own fab intensity makes them (None otherwise: the dataset's
    rule takes the table's).

    With ``production_model`` unstated or ``mixture``, the point estimate uses MLCA and a
    Monte Carlo run samples the model; if ACT's inputs are missing for this accelerator, the
    model stays MLCA and ``provenance["production_model"]`` says why.
    """
    choice = get("assumptions", "production_model", "mixture")
    if get("assumptions", "yield_model") is not None:
        stated["yield_model"] = float(YIELD_MODELS.index(get("assumptions", "yield_model")))
    d0 = get("assumptions", "defect_density_per_cm2")
    if d0 is not None:
        stated.update(defect_density_low=d0, defect_density_high=d0, defect_density_quantile=0.5)
    abatement = get("assumptions", "gpa_abatement_percent")
    if abatement is not None:
        stated["gpa_abatement"] = (abatement - 95.0) / 4.0
    if choice in ("mlca", "act"):
        stated["production_model"] = float(PRODUCTION_MODELS.index(choice))
    if choice == "mlca":
        provenance["production_model"] = "MLCA (setup)"
        return None
    intensity = get("assumptions", "fab_intensity_kgco2eq_per_kwh")
    try:
        act = fab.act_fields(
            label,
            hardware.process_node_nm if hardware is not None else math.nan,
            hardware.foundry if hardware is not None else "",
            hardware.release_year if hardware is not None else None,
            hardware.memory_type if hardware is not None else "",
            hardware.memory_gb if hardware is not None else math.nan,
            intensity=intensity,
        )
    except MlimpactError as error:
        if choice == "act":
            hint = next((f"; give {key}" for words, key in _ACT_KEYS if words in str(error)), "")
            raise MlimpactError(
                f'{source}: [assumptions] production_model = "act": {error}{hint}'
            ) from None
        provenance["production_model"] = f"MLCA only ({error})"
        return None
    provenance["production_model"] = (
        "ACT (setup)"
        if choice == "act"
        else "MLCA for the point estimate; MLCA or ACT when sampled"
    )
    return act
