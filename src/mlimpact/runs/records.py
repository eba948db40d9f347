"""Records of training runs from a user's file: an Epoch AI export, or a lab's inventory.

Both become records with the columns of ``data/models.csv`` (strings; empty means unknown),
which :func:`mlimpact.runs.notable.build_runs` turns into runs with the same mapping,
imputation and validation rules as the embedded snapshot.

- **Epoch AI export** ("Notable AI Models" or "Large-Scale AI Models" CSV, any column order,
  extra columns ignored): the same conversion as ``scripts/build_models.py`` (which uses these
  functions): columns renamed, the organisation's country mapped to ISO 3166 alpha-3
  (``data/countries.csv``), numbers kept with their digits.
- **Inventory** (``docs/user-guide.md``, "Your own runs"): one row per training run with the
  columns of :data:`INVENTORY_COLUMNS`.

A bad row is an error naming the file, line and column; no row is dropped silently.
"""

import math
import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from mlimpact._io import packaged_csv, read_user_csv
from mlimpact.errors import MlimpactError
from mlimpact.runs.table import FIELD_BOUNDS, METERED_SCOPES, bounds_text, out_of_bounds
from mlimpact.tables import grid
from mlimpact.tables.hardware import hardware_table
from mlimpact.tables.models import record_fixes

#: Columns of data/models.csv, in order.
MODEL_COLUMNS = (
    "model",
    "organization",
    "publication_date",
    "year",
    "country",
    "country_flag",
    "domain",
    "domains",
    "parameters",
    "training_compute_flop",
    "hardware",
    "hardware_quantity",
    "training_time_hours",
    "mfu",
    "numerical_format",
    "training_power_draw_w",
    "confidence",
    "hardware_status",
    "quantity_status",
    "time_status",
    "compute_status",
)
#: Epoch text columns: ours <- Epoch's (stripped, newlines collapsed).
EPOCH_TEXT = {
    "model": "Model",
    "organization": "Organization",
    "domains": "Domain",
    "hardware": "Training hardware",
    "numerical_format": "Numerical format",
    "confidence": "Confidence",
}
#: Epoch numeric columns: ours <- Epoch's (units unchanged).
EPOCH_NUMBERS = {
    "parameters": "Parameters",
    "training_compute_flop": "Training compute (FLOP)",
    "hardware_quantity": "Hardware quantity",
    "training_time_hours": "Training time (hours)",
    "mfu": "Hardware utilization (MFU)",
    "training_power_draw_w": "Training power draw (W)",
}
#: Columns an Epoch export must have (the others are optional: empty when absent).
EPOCH_REQUIRED = (
    "Model",
    "Publication date",
    "Organization",
    "Country (of organization)",
    "Training hardware",
    "Training compute (FLOP)",
)
STATUS = {
    "hardware_status": "hardware",
    "quantity_status": "hardware_quantity",
    "time_status": "training_time_hours",
    "compute_status": "training_compute_flop",
}
#: Columns of an inventory: (required, meaning).
INVENTORY_COLUMNS = {
    "name": (True, "label of the run, unique in the file"),
    "date": (True, "end of training or publication, YYYY-MM-DD (the grid is of the year before)"),
    "hardware": (True, "accelerator: a name or alias of the hardware table"),
    "accelerators": (False, "number of accelerators"),
    "hours": (False, "wall-clock training time [h]"),
    "accelerator_hours": (False, "accelerator-hours [h], instead of accelerators and hours"),
    "location": (
        False,
        "grid region (US-VA, SE3, gcp:europe-west4...) or ISO 3166 alpha-3 country",
    ),
    "provider": (False, "compute provider (a provider of data/provider_sites.csv)"),
    "organization": (False, "organisation (its provider's sites if no location is given)"),
    "energy_kwh": (False, "metered energy of the run [kWh]: replaces the power model's"),
    "energy_scope": (False, "what the meter counted: accelerators, node (default) or facility"),
    "training_compute_flop": (False, "training compute [FLOP]"),
}
#: Accelerator-hours of an inventory row without a time: a nominal time [h] (the impacts
#: depend on accelerators x hours alone).
NOMINAL_HOURS = 1000.0
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NEWLINES = re.compile(r"\s*[\r\n]+\s*")


def text(value):
    """Strip, and collapse embedded newlines (with surrounding blanks) to one space."""
    return _NEWLINES.sub(" ", (value or "").strip())


def parse_date(value):
    """A ``date`` from YYYY-MM-DD, else None."""
    value = (value or "").strip()
    if not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def format_number(value):
    """A decimal number with exactly its significant digits: plain for 1e-4 <= |x| < 1e6,
    else the shortest scientific form (the convention of data/README.md)."""
    if value == 0:
        return "0"
    value = value.normalize()
    if Decimal("1e-4") <= abs(value) < Decimal("1e6"):
        return format(value, "f")
    digits = value.as_tuple().digits
    mantissa = "".join(map(str, digits))
    mantissa = mantissa[0] + ("." + mantissa[1:] if len(mantissa) > 1 else "")
    exponent = value.adjusted()
    return (
        f"{'-' if value < 0 else ''}{mantissa}e{'+' if exponent >= 0 else '-'}{abs(exponent):02d}"
    )


def number(value):
    """A source number with its own digits; empty, unparsable or not > 0 -> ""."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        parsed = Decimal(value)
    except InvalidOperation:
        return ""
    if not parsed.is_finite() or parsed <= 0:
        return ""
    return format_number(parsed)


@cache
def country_codes():
    """Epoch's country names -> ISO 3166 alpha-3 ("" for names without one, e.g.
    Multinational), from ``data/countries.csv``."""
    return {row["epoch_name"]: row["country"] for row in packaged_csv("countries.csv")}


def country_of(raw, codes=None, where=""):
    """``(country, country_flag)`` of Epoch's ``Country (of organization)``: the first of its
    comma-separated names that has a code, and how it was chosen."""
    codes = country_codes() if codes is None else codes
    raw = text(raw)
    names = [p.strip() for p in raw.split(",") if p.strip()]
    unknown = [n for n in names if n not in codes]
    if unknown:
        raise MlimpactError(
            f"{where}country names not in data/countries.csv: {', '.join(map(repr, unknown))}"
        )
    mapped = list(dict.fromkeys(codes[n] for n in names if codes[n]))
    if not mapped:
        return "", f"none: {raw or 'missing'}"
    if len(mapped) == 1:
        return mapped[0], "single"
    return mapped[0], f"first of several ({';'.join(mapped)})"


def epoch_record(row, codes=None, where="", fixes=True):
    """A record (``data/models.csv`` columns) from a row of an Epoch export, or None if it
    has no valid publication date; with ``fixes``, ``data/record_fixes.csv`` applied."""
    day = parse_date(row.get("Publication date"))
    if day is None:
        return None
    record = {column: text(row.get(source)) for column, source in EPOCH_TEXT.items()}
    record["publication_date"] = day.isoformat()
    record["year"] = str(day.year)
    record["country"], record["country_flag"] = country_of(
        row.get("Country (of organization)", ""), codes, where
    )
    record["domain"] = record["domains"].split(",")[0].strip()
    for column, source in EPOCH_NUMBERS.items():
        record[column] = number(row.get(source))
        raw = (row.get(source) or "").strip()
        if raw and not (record[column] and math.isfinite(float(record[column]))):
            raise MlimpactError(
                f"{where}column {source}: must be a finite number > 0 or empty (got {raw[:40]!r})"
            )
    for column, field in STATUS.items():
        record[column] = "reported" if record[field] else "missing"
    if fixes:
        _fix(record)
    return {column: record[column] for column in MODEL_COLUMNS}


def _fix(record):
    """Apply ``data/record_fixes.csv`` to a record: a primary source's value replaces the
    record's (status ``corrected``), or an inconsistent value is withdrawn (``withdrawn``).
    Disagreements of chip-hours are carried by the run (:mod:`mlimpact.runs.notable`)."""
    status_of = {field: column for column, field in STATUS.items()}
    for field, (action, value, _) in record_fixes().get(record["model"], {}).items():
        if action == "disagree":
            continue
        if field == "hardware":
            value = hardware_table().find(value, field="data/record_fixes.csv hardware").name
        record[field] = value if action == "replace" else ""
        record[status_of[field]] = "corrected" if action == "replace" else "withdrawn"


def epoch_records(rows, codes=None, source="<export>", fixes=True):
    """Records of the rows of an Epoch export with a valid date, sorted by (date, model);
    duplicate model names are an error. ``fixes``: apply ``data/record_fixes.csv``. The rows
    without a valid publication date are left out with one warning that counts them and names
    their first lines."""
    out, undated = [], []
    for line, row in enumerate(rows, start=2):
        record = epoch_record(row, codes, where=f"{source} line {line}: ", fixes=fixes)
        if record is not None:
            out.append(record)
        else:
            undated.append(line)
    if undated:
        import warnings

        lines = ", ".join(map(str, undated[:5])) + (" ..." if len(undated) > 5 else "")
        warnings.warn(
            f"{source}: {len(undated)} rows without a valid publication date (YYYY-MM-DD) "
            f"left out (lines {lines})",
            stacklevel=2,
        )
    names = [r["model"] for r in out]
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise MlimpactError(f"{source}: duplicate model names {duplicated[:5]}")
    return sorted(out, key=lambda r: (r["publication_date"], r["model"]))


#: The run field of an inventory's numeric column, whose upper limit it takes
#: (:data:`mlimpact.runs.table.FIELD_BOUNDS`, docs/setup.md).
_LIMITED_COLUMNS = {
    "hours": "hours",
    "energy_kwh": "metered_energy_kwh",
    "training_compute_flop": "training_compute",
}


def _inventory_number(source, line, column, value, whole=False):
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    # a subnormal number is zero to the model, as in a setup file: products lose every digit
    if not (math.isfinite(parsed) and parsed >= sys.float_info.min) or (
        whole and parsed != int(parsed)
    ):
        kind = "a whole number >= 1" if whole else "a number > 0 (at least 2.2e-308)"
        raise MlimpactError(
            f"{source} line {line}, column {column}: must be {kind} (got {value!r:.40})"
        )
    limit = FIELD_BOUNDS[_LIMITED_COLUMNS[column]][2] if column in _LIMITED_COLUMNS else math.inf
    if parsed > limit:
        raise MlimpactError(
            f"{source} line {line}, column {column}: {parsed:g} is above the accepted "
            f"{limit:g} (docs/setup.md)"
        )
    return parsed


def _check_inventory_columns(source, columns, row_keys):
    """Check that an inventory has the required columns and no unknown one."""
    unknown = [c for c in columns if c not in INVENTORY_COLUMNS and c not in row_keys]
    missing = [c for c, (required, _) in INVENTORY_COLUMNS.items() if required and c not in columns]
    if unknown or missing:
        raise MlimpactError(
            f"{source}: columns {', '.join(missing)} are required"
            if missing
            else f"{source}: unknown columns {', '.join(unknown)} "
            f"(known: {', '.join(INVENTORY_COLUMNS)} and the setup keys "
            f"{', '.join(row_keys)})"
        )


def _cell(row, column):
    """The stripped text of a row's cell (empty if absent)."""
    return (row.get(column) or "").strip()


def _inventory_numbers(source, line, row):
    """The numeric cells an inventory row gives, checked (> 0; accelerators a whole number)."""
    return {
        c: _inventory_number(source, line, c, _cell(row, c), whole=c == "accelerators")
        for c in (
            "accelerators",
            "hours",
            "accelerator_hours",
            "energy_kwh",
            "training_compute_flop",
        )
        if _cell(row, c)
    }


def _chips_and_hours(source, line, numbers):
    """The accelerators and hours of an inventory row, from accelerators and hours or from
    accelerator_hours (with :data:`NOMINAL_HOURS` if neither of the others is given)."""
    if "accelerator_hours" in numbers:
        if "hours" in numbers and "accelerators" in numbers:
            raise MlimpactError(
                f"{source} line {line}: give accelerator_hours or "
                "accelerators and hours, not all three"
            )
        chips = numbers.get("accelerators")
        hours = numbers.get("hours")
        if chips is None and hours is None:
            hours = NOMINAL_HOURS
        chips = chips if chips is not None else numbers["accelerator_hours"] / hours
        hours = hours if hours is not None else numbers["accelerator_hours"] / chips
    elif "accelerators" in numbers and "hours" in numbers:
        chips, hours = numbers["accelerators"], numbers["hours"]
    else:
        raise MlimpactError(
            f"{source} line {line}, column hours: give accelerators and hours, or accelerator_hours"
        )
    return chips, hours


def _check_derived(source, line, numbers, nodes, hours):
    """Check the nodes and hours an inventory row's numbers give (hours from
    accelerator_hours, nodes from accelerators or accelerator_hours over the accelerators per
    node) against the run fields' range, as the numbers themselves are: 1e7
    accelerator-hours on one accelerator are 1e7 hours, beyond the accepted 1e6."""
    for field, value in (("hours", hours), ("nodes", nodes)):
        if out_of_bounds(field, value):
            column = "accelerator_hours" if "accelerator_hours" in numbers else "accelerators"
            if field == "hours" and "hours" in numbers:
                column = "hours"
            raise MlimpactError(
                f"{source} line {line}, column {column}: gives {field} = {value:g}, outside "
                f"the accepted range {bounds_text(field)} (docs/setup.md)"
            )


def _check_location_and_scope(source, line, location, scope, numbers):
    """Check an inventory row's location (a known region) and energy_scope (a metered scope,
    given with energy_kwh)."""
    if location and not grid.is_region(location.upper() if len(location) == 3 else location):
        raise MlimpactError(
            f"{source} line {line}, column location: unknown region "
            f"{location!r} (data/grid_regions.csv keys or ISO 3166 alpha-3)"
        )
    if scope and scope not in METERED_SCOPES:
        raise MlimpactError(
            f"{source} line {line}, column energy_scope: must be one of "
            f"{', '.join(METERED_SCOPES)} (got {scope!r})"
        )
    if scope and "energy_kwh" not in numbers:
        raise MlimpactError(f"{source} line {line}, column energy_scope: given without energy_kwh")


def _setup_values(source, line, row, columns, hardware, chips, hours, numbers):
    """The setup-file values ((section, key) -> value) of an inventory row."""
    from mlimpact.runs.notable import accelerators_per_node
    from mlimpact.runs.runspec import ROW_KEYS, check_value

    per_node = float(accelerators_per_node(hardware))
    _check_derived(source, line, numbers, chips / per_node, hours)
    values = {
        ("run", "hours"): hours,
        ("run", "nodes"): chips / per_node,
        ("node", "gpu"): hardware.name,
        ("node", "gpus"): per_node,
    }
    for column, where in (
        ("location", "region"),
        ("provider", "provider"),
        ("organization", "organization"),
        ("energy_scope", "energy_scope"),
    ):
        if _cell(row, column):
            values["run", where] = _cell(row, column)
    if "energy_kwh" in numbers:
        values["run", "energy_kwh"] = numbers["energy_kwh"]
    for column in columns:
        if column in ROW_KEYS and _cell(row, column):
            where = f"{source} line {line}, column {column}"
            key, value = check_value(where, column, _cell(row, column))
            _check_stated_bounds(where, column, value)
            values[key] = value
    return values


def _check_stated_bounds(where, key, value):
    """A setup key's number within the range of the run fields it sets
    (:data:`mlimpact.runs.table.FIELD_BOUNDS`), as a setup file's are: a date typed in the
    cpus column (20240215 CPUs) reached the model, whose error named no file."""
    from mlimpact.runs.runspec import _FIELDS_OF_KEY

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    for field in _FIELDS_OF_KEY.get(key, (key,)):
        if field in FIELD_BOUNDS and out_of_bounds(field, value):
            raise MlimpactError(
                f"{where}: {value:g} is outside the accepted range {bounds_text(field)} "
                "(docs/setup.md)"
            )


#: The earliest year of a run's date in an inventory: the first notable models of Epoch AI's
#: data (1950); a later date than next year is a typo, not a run.
FIRST_DATE_YEAR = 1950


def inventory_records(rows, columns, source="<inventory>"):
    """Records of the rows of an inventory (:data:`INVENTORY_COLUMNS`, and any key of a setup
    file's [node], [server] and [assumptions] as a column of its name:
    :data:`mlimpact.runs.setupfile.ROW_KEYS`), by the rules of a setup file
    (:func:`mlimpact.runs.setupfile.run_record`)."""
    from mlimpact.runs.runspec import ROW_KEYS, run_record

    _check_inventory_columns(source, columns, ROW_KEYS)
    out, names = [], set()
    for line, row in enumerate(rows, start=2):
        name = _cell(row, "name")
        if not name or name in names:
            raise MlimpactError(
                f"{source} line {line}, column name: "
                + ("empty" if not name else f"{name!r} appears twice")
            )
        names.add(name)
        day = parse_date(_cell(row, "date"))
        if day is None:
            raise MlimpactError(
                f"{source} line {line}, column date: must be YYYY-MM-DD "
                f"(got {_cell(row, 'date')!r})"
            )
        latest = date.today().year + 1
        if not FIRST_DATE_YEAR <= day.year <= latest:
            raise MlimpactError(
                f"{source} line {line}, column date: {day.isoformat()} is not a date of a "
                f"training run (years {FIRST_DATE_YEAR}-{latest})"
            )
        hardware = hardware_table().find(
            _cell(row, "hardware"), field=f"{source} line {line}, column hardware"
        )
        numbers = _inventory_numbers(source, line, row)
        chips, hours = _chips_and_hours(source, line, numbers)
        location, scope = _cell(row, "location"), _cell(row, "energy_scope")
        _check_location_and_scope(source, line, location, scope, numbers)
        values = _setup_values(source, line, row, columns, hardware, chips, hours, numbers)
        record, _, _ = run_record(values, name, f"{source} line {line}", date=day)
        record["training_compute_flop"] = _cell(row, "training_compute_flop")
        out.append(record)
    if not out:
        raise MlimpactError(f"{source}: no run")
    return out


def read_models_file(path):
    """Records of an Epoch export or of an inventory (told apart by their columns), and the
    file's SHA-256."""
    path = Path(path)
    columns, rows, digest = read_user_csv(path, "models file")
    if "Model" in columns and "Publication date" in columns:
        absent = [c for c in EPOCH_REQUIRED if c not in columns]
        if absent:
            raise MlimpactError(f"{path}: an Epoch export needs the columns {', '.join(absent)}")
        records = epoch_records(rows, source=str(path))
    elif "name" in columns:
        records = inventory_records(rows, columns, source=str(path))
    else:
        raise MlimpactError(
            f"{path}: neither an Epoch AI export (columns Model, Publication "
            "date...) nor an inventory (columns name, date, hardware...)"
        )
    return records, digest


def published_record(row, epoch):
    """A record with the columns of ``data/models.csv`` from what a published footprint
    (:class:`mlimpact.tables.validation.Published`) states: its accelerator, count and hours
    or accelerator-hours, its site; ``epoch`` is the model's Epoch record (organisation,
    country, domain), empty if none. A row that gives the facility's energy its figure rests
    on (``energy_kwh``, water rows) is a run metered at that energy, at the facility's scope;
    its count and hours, if unpublished, are nominal (one accelerator for
    :data:`NOMINAL_HOURS`: the use phase depends on the energy alone). None if the
    accelerator, count or hours are missing."""
    chips, hours, chip_hours = row.chips, row.hours, row.chip_hours
    metered = math.isfinite(row.energy_kwh)
    if metered and not (math.isfinite(chip_hours) or math.isfinite(chips * hours)):
        chips, hours = 1.0, NOMINAL_HOURS
    if math.isfinite(chip_hours) and math.isfinite(chips) and chips > 0:
        hours = chip_hours / chips  # the accelerator-hours are the count that is published
    elif math.isfinite(chip_hours):
        # the impacts depend on accelerator-hours only: a nominal time, and the count that
        # gives the published accelerator-hours
        hours = NOMINAL_HOURS
        chips = chip_hours / hours
    if not (math.isfinite(chips) and math.isfinite(hours) and row.hardware and row.year):
        return None
    return {
        "model": row.id,
        "year": str(row.year),
        "publication_date": f"{row.year}-07-01",
        "country": row.country or epoch.get("country", ""),
        "organization": epoch.get("organization", ""),
        "region": row.region,
        "provider": row.provider,
        "domain": epoch.get("domain", ""),
        "hardware": row.hardware,
        "hardware_quantity": repr(chips),
        "training_time_hours": repr(hours),
        "training_compute_flop": "",
        "mfu": "",
        "numerical_format": "",
        "confidence": "",
        "energy_kwh": repr(row.energy_kwh) if metered else "",
        "energy_scope": "facility" if metered else "",
    }
