"""Where training runs ran: published sites, organisations' compute providers, providers' sites.

Three curated tables, every row with its source (``data/README.md``):

- ``data/locations.csv``: a model's published training site(s) as grid regions, with shares;
- ``data/providers.csv``: an organisation's compute provider over a period, and the
  provider's class (hyperscale, cloud, academic_hpc, unknown);
- ``data/provider_sites.csv``: a provider's data-centre regions over a period, with relative
  weights.

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

PROVIDER_CLASSES = ("hyperscale", "cloud", "academic_hpc", "unknown")


@dataclass(frozen=True)
class Provider:
    """An organisation's compute provider from ``first`` to ``last`` (years, inclusive)."""

    organization: str
    provider: str
    provider_class: str
    first: int
    last: int


def _positive(table, row, key):
    value = float(row[key])
    if not value > 0:
        raise MlimpactError(f"data/{table}: {key} must be > 0 ({row})")
    return value


def _region(table, key):
    if not key.strip():
        raise MlimpactError(f"data/{table}: a row has no region")
    return key


@cache
def published_locations():
    """Model name -> ((region, share), ...) of ``data/locations.csv``."""
    out = defaultdict(list)
    for row in packaged_csv("locations.csv"):
        out[row["model"]].append(
            (_region("locations.csv", row["region"]), _positive("locations.csv", row, "share"))
        )
    return {model: tuple(regions) for model, regions in out.items()}


@cache
def providers():
    """Organisation -> (:class:`Provider`, ...) of ``data/providers.csv``."""
    out = defaultdict(list)
    for row in packaged_csv("providers.csv"):
        if row["provider_class"] not in PROVIDER_CLASSES:
            raise MlimpactError(
                f"data/providers.csv: unknown provider class {row['provider_class']!r}"
            )
        first = int(row["from_year"])
        last = int(row["to_year"]) if row["to_year"] else first
        out[row["organization"]].append(
            Provider(row["organization"], row["provider"], row["provider_class"], first, last)
        )
    return dict(out)


@cache
def provider_sites():
    """Provider -> ((region, weight, first year, last year), ...) of
    ``data/provider_sites.csv``."""
    out = defaultdict(list)
    for row in packaged_csv("provider_sites.csv"):
        out[row["provider"]].append(
            (
                _region("provider_sites.csv", row["region"]),
                _positive("provider_sites.csv", row, "weight"),
                int(row["from_year"]),
                int(row["to_year"]),
            )
        )
    return dict(out)


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
