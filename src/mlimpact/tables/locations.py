"""Where training runs ran: published sites, organisations' compute providers, providers' sites.

Three curated tables, every row with its source (``data/README.md``):

- ``data/locations.csv``: a model's published training site(s) as grid regions, with shares;
- ``data/providers.csv``: an organisation's compute provider over a period, and the
  provider's class (hyperscale, cloud, academic_hpc, unknown);
- ``data/provider_sites.csv``: a provider's data-centre regions over a period, with relative
  weights.

Every row names the documents it was read in by keys of ``data/sources.csv`` (its
``source_key`` cell): :func:`location_keys`, :attr:`Provider.source_keys` and
:func:`site_keys` give them back, so that code can tell which documents placed a run.

Regions are keys of :mod:`mlimpact.tables.grid` (a country code, US-XX, CA-XX, CN-XX, a
Nordic bidding zone, gcp:<region>); the loaders check every number, and
``tests/test_locations.py`` that every region is a known grid (an unknown one also fails where
it is used, :func:`mlimpact.tables.grid.region_intensity`).
"""

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError
from mlimpact.tables.sources import row_keys

PROVIDER_CLASSES = ("hyperscale", "cloud", "academic_hpc", "unknown")


@dataclass(frozen=True)
class Provider:
    """An organisation's compute provider from ``first`` to ``last`` (years, inclusive);
    ``source_keys``: the keys of ``data/sources.csv`` of the documents the row was read in."""

    organization: str
    provider: str
    provider_class: str
    first: int
    last: int
    source_keys: tuple = ()


def _positive(table, row, key):
    value = float(row[key])
    if not value > 0:
        raise MlimpactError(f"data/{table}: {key} must be > 0 ({row})")
    return value


def _region(table, key):
    if not key.strip():
        raise MlimpactError(f"data/{table}: a row has no region")
    return key


def _keys(table, line, row):
    return row_keys(row, f"data/{table} line {line}")


def _unique(keys):
    return tuple(dict.fromkeys(keys))


@cache
def _location_rows():
    """Model name -> ((region, share, source keys), ...) of ``data/locations.csv``."""
    out = defaultdict(list)
    for line, row in enumerate(packaged_csv("locations.csv"), start=2):
        out[row["model"]].append(
            (
                _region("locations.csv", row["region"]),
                _positive("locations.csv", row, "share"),
                _keys("locations.csv", line, row),
            )
        )
    return {model: tuple(rows) for model, rows in out.items()}


@cache
def published_locations():
    """Model name -> ((region, share), ...) of ``data/locations.csv``."""
    return {
        model: tuple((region, share) for region, share, _ in rows)
        for model, rows in _location_rows().items()
    }


def location_keys(model):
    """The source keys of a model's published sites (``data/locations.csv``; empty if it has
    none), in table order."""
    return _unique(k for _, _, keys in _location_rows().get(model, ()) for k in keys)


@cache
def providers():
    """Organisation -> (:class:`Provider`, ...) of ``data/providers.csv``."""
    out = defaultdict(list)
    for line, row in enumerate(packaged_csv("providers.csv"), start=2):
        if row["provider_class"] not in PROVIDER_CLASSES:
            raise MlimpactError(
                f"data/providers.csv: unknown provider class {row['provider_class']!r}"
            )
        first = int(row["from_year"])
        last = int(row["to_year"]) if row["to_year"] else first
        out[row["organization"]].append(
            Provider(
                row["organization"],
                row["provider"],
                row["provider_class"],
                first,
                last,
                _keys("providers.csv", line, row),
            )
        )
    return dict(out)


@cache
def _site_rows():
    """Provider -> ((region, weight, first year, last year, source keys), ...)."""
    out = defaultdict(list)
    for line, row in enumerate(packaged_csv("provider_sites.csv"), start=2):
        out[row["provider"]].append(
            (
                _region("provider_sites.csv", row["region"]),
                _positive("provider_sites.csv", row, "weight"),
                int(row["from_year"]),
                int(row["to_year"]),
                _keys("provider_sites.csv", line, row),
            )
        )
    return {provider: tuple(rows) for provider, rows in out.items()}


@cache
def provider_sites():
    """Provider -> ((region, weight, first year, last year), ...) of
    ``data/provider_sites.csv``."""
    return {provider: tuple(row[:4] for row in rows) for provider, rows in _site_rows().items()}


def site_keys(provider, year):
    """The source keys of a provider's sites in ``year`` (the rows :func:`sites_of` reads;
    empty if none cover it), in table order."""
    return _unique(
        k
        for _, _, first, last, keys in _site_rows().get(provider, ())
        if first <= year <= last
        for k in keys
    )


def providers_of(organizations, year):
    """The providers of the first of ``organizations`` that has one in ``year``."""
    table = providers()
    for organization in organizations:
        found = [p for p in table.get(organization, ()) if p.first <= year <= p.last]
        if found:
            return found
    return []


def sites_of(provider, year):
    """((region, weight), ...) of a provider's sites in ``year``: empty if none cover it."""
    return tuple(
        (region, weight)
        for region, weight, first, last in provider_sites().get(provider, ())
        if first <= year <= last
    )


@cache
def published_providers():
    """Model name -> the providers named by its published sites (``data/locations.csv``)."""
    out = defaultdict(list)
    for row in packaged_csv("locations.csv"):
        out[row["model"]].append(row["provider"])
    return {model: tuple(names) for model, names in out.items()}


@cache
def _provider_classes():
    classes = defaultdict(set)
    for rows in providers().values():
        for p in rows:
            classes[p.provider].add(p.provider_class)
    return {name: c.pop() for name, c in classes.items() if len(c) == 1}


def class_of_provider(name):
    """The class of a provider named in ``data/providers.csv`` ("" if unknown there)."""
    return _provider_classes().get(name, "")
