"""The source documents of the curated tables: ``data/sources.csv``, one row per document.

Every row of a curated table (``data/accelerator_power.csv``, ``facility_pue.csv``,
``locations.csv``, ``providers.csv``, ``provider_sites.csv``, ``record_fixes.csv``,
``node_configurations.csv``, ``facility_wue.csv``, ``water_generation.csv``) names the documents it
was read in by their keys (its ``source_key`` column, ``;``-separated), and every entry of
``data/parameters.toml`` by its ``sources`` list, so that code can tell which documents fed a run.
The key rule is in ``data/README.md`` (``sources.csv``): the first author's surname, or the
publishing organisation, then the year of publication, e.g. ``patterson2021``,
``meta-llama3-card2024``.
"""

import re
from functools import cache
from types import MappingProxyType

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError

#: Name of the table in messages.
SOURCE = "data/sources.csv"
#: A key: lowercase words joined by hyphens, then a year and an optional letter.
KEY_PATTERN = re.compile(r"[a-z][a-z0-9-]*[0-9]{4}[a-z]?")


def split_keys(text):
    """The keys of a ``source_key`` cell (``;``-separated; spaces and empty items ignored),
    as a tuple in the cell's order."""
    return tuple(key.strip() for key in (text or "").split(";") if key.strip())


def check_key(key, where=SOURCE):
    """``key`` if it has the form of a source key; :class:`MlimpactError` otherwise."""
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise MlimpactError(
            f"{where}: {key!r} is not a source key (lowercase name, year, optional letter: "
            "patterson2021, touvron2023b)"
        )
    return key


@cache
def source_table():
    """Key -> ``(citation, url)`` of ``data/sources.csv`` (read-only), checked: every key
    has the key form and appears once, every row has a citation."""
    out = {}
    for line, row in enumerate(packaged_csv("sources.csv"), start=2):
        where = f"{SOURCE} line {line}"
        key = check_key(row["key"], where)
        if key in out:
            raise MlimpactError(f"{where}: key {key!r} appears twice")
        if not row["citation"].strip():
            raise MlimpactError(f"{where}: {key!r} has no citation")
        out[key] = (row["citation"], row["url"])
    return MappingProxyType(out)


def known_keys(keys, where):
    """``keys`` (an iterable of keys) as a tuple, each checked to be a key of
    ``data/sources.csv``."""
    table = source_table()
    keys = tuple(keys)
    for key in keys:
        if check_key(key, where) not in table:
            raise MlimpactError(f"{where}: source key {key!r} is not in {SOURCE}")
    return keys


def row_keys(row, where):
    """The source keys of a row of a curated table (its ``source_key`` cell), at least one,
    each a key of ``data/sources.csv``."""
    keys = split_keys(row.get("source_key", ""))
    if not keys:
        raise MlimpactError(f"{where}: no source_key")
    return known_keys(keys, where)
