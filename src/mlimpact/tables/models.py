"""The notable AI models of Epoch AI, as ``data/models.csv`` holds them (built by
``scripts/build_models.py`` from Epoch AI's "Notable AI Models", CC BY 4.0; columns in
``data/README.md``)."""

import math
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError
from mlimpact.tables.sources import row_keys


@cache
def _models():
    return tuple(packaged_csv("models.csv"))


def load_models():
    """Rows of ``data/models.csv`` as dicts of strings (empty cells: unknown)."""
    return [dict(row) for row in _models()]


#: Record fields a fix may act on, and what it may do (``data/record_fixes.csv``).
FIX_FIELDS = {
    "hardware": ("replace",),
    "hardware_quantity": ("replace",),
    "training_time_hours": ("replace",),
    "training_compute_flop": ("replace", "withdraw"),
    "chip_hours": ("disagree",),
}


@cache
def record_fixes():
    """Model name -> {field: (action, value, source)} of ``data/record_fixes.csv``.

    ``replace``: the primary source's value replaces the record's; ``withdraw``: the record's
    value is inconsistent with the primary source and is not used (empty); ``disagree``: the
    primary source's chip-hours differ from the record's by more than 10 %, and the run carries
    the difference as uncertainty (:mod:`mlimpact.runs.notable`). Values are checked here:
    numbers > 0 where a number is expected, no field fixed twice, source keys of
    ``data/sources.csv`` (:func:`record_fix_keys`).
    """
    return {
        model: {field: fix[:3] for field, fix in fixes.items()}
        for model, fixes in _record_fixes().items()
    }


@cache
def record_fix_keys():
    """Model name -> {field: (source key, ...)} of ``data/record_fixes.csv``: the documents
    each fix was read in (keys of ``data/sources.csv``)."""
    return {
        model: {field: fix[3] for field, fix in fixes.items()}
        for model, fixes in _record_fixes().items()
    }


def fix_keys(model):
    """The source keys of every fix of one model's record (empty if none), in table order."""
    keys = (k for ks in record_fix_keys().get(model, {}).values() for k in ks)
    return tuple(dict.fromkeys(keys))


@cache
def _record_fixes():
    """Model name -> {field: (action, value, source, source keys)}, checked."""
    out = {}
    for line, row in enumerate(packaged_csv("record_fixes.csv"), start=2):
        where = f"data/record_fixes.csv line {line}"
        field, action, value = row["field"], row["action"], row["value"].strip()
        if action not in FIX_FIELDS.get(field, ()):
            raise MlimpactError(f"{where}: {action!r} is not a fix of {field!r}")
        if action == "withdraw" and value:
            raise MlimpactError(f"{where}: a withdrawn value is empty")
        if field != "hardware" and action != "withdraw":
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not (math.isfinite(number) and number > 0):
                raise MlimpactError(f"{where}: value must be a number > 0 (got {value!r})")
        if not row["source"].strip():
            raise MlimpactError(f"{where}: no source")
        keys = row_keys(row, where)
        fixes = out.setdefault(row["model"], {})
        if field in fixes:
            raise MlimpactError(f"{where}: {field} of {row['model']!r} is fixed twice")
        fixes[field] = (action, value, row["source"], keys)
    return out
