"""Where a training run took its electricity: a distribution over grid regions, from evidence.

For each run, the best evidence available, in this order (``docs/dataset.md``, "Location"):

1. ``published``: the model's published training site(s) (``data/locations.csv``);
2. ``provider``: the organisation's compute provider in the year of publication and that
   provider's data-centre regions of the period (``data/providers.csv``,
   ``data/provider_sites.csv``); several providers share the run equally, a provider's sites by
   their weights;
3. ``country``: the organisation's country, spread over its regions (US states, Canadian and
   Chinese provinces, Nordic bidding zones) with equal weights where the tables have them,
   else the country's average;
4. ``unknown``: the world average (with its own wide error, ``data/parameters.toml``).

The run's grid GWP intensity is then an uncertain choice among the candidates (a discrete
multiplicative factor on the point value, which is their weighted mean intensity), so that
intervals carry where the run may have been.
"""

from functools import lru_cache

from mlimpact.tables import grid
from mlimpact.tables.locations import (
    class_of_provider,
    location_keys,
    providers_of,
    published_locations,
    published_providers,
    site_keys,
    sites_of,
)

BASES = ("published", "provider", "country", "unknown")


def candidates(model, organizations, country, year, region="", provider=""):
    """``(((region, weight), ...), basis)`` of a run.

    Parameters
    ----------
    model : str
        The model's name (``data/models.csv``).
    organizations : sequence of str
        Its organisations, in the record's order.
    country : str
        ISO 3166 alpha-3 code of the organisation's country, "" if unknown.
    year : int
        Publication year (the provider and its sites of that year).
    region, provider : str, optional
        A region, or a provider, that the record itself states (a user's inventory, a
        published footprint): they come first.
    """
    choices, basis, _ = _evidence(model, organizations, country, year, region, provider)
    return choices, basis


def candidate_keys(model, organizations, country, year, region="", provider=""):
    """The keys of ``data/sources.csv`` of the documents behind a run's
    :func:`candidates` (same arguments): its published sites, its organisation's providers and
    the providers' sites of the year; empty where the evidence is the record's own region, a
    country or nothing."""
    return _evidence(model, organizations, country, year, region, provider)[2]


def _evidence(model, organizations, country, year, region, provider):
    """``(choices, basis, source keys)`` of :func:`candidates`: tuples, made once per
    distinct arguments (the embedded tables it reads do not change; the main job asks for
    each record's about 18 times, once per build of the dataset)."""
    return _evidence_of(model, tuple(organizations), country, year, region, provider)


@lru_cache(maxsize=4096)
def _evidence_of(model, organizations, country, year, region, provider):
    """:func:`_evidence` (``organizations`` a tuple)."""
    if region:
        return ((region, 1.0),), "published", ()
    if provider and sites_of(provider, year):
        return _normalised(sites_of(provider, year)), "provider", site_keys(provider, year)
    published = published_locations().get(model)
    if published:
        return _normalised(published), "published", location_keys(model)
    regions = []
    found = providers_of(organizations, year)
    for provider in found:
        sites = sites_of(provider.provider, year)
        total = sum(w for _, w in sites)
        regions.extend((region, weight / total / len(found)) for region, weight in sites)
    if regions and all(sites_of(p.provider, year) for p in found):
        keys = (k for p in found for k in (*p.source_keys, *site_keys(p.provider, year)))
        return _normalised(regions), "provider", tuple(dict.fromkeys(keys))
    if country:
        inside = grid.country_regions(country)
        if inside:
            return tuple((region, 1.0 / len(inside)) for region in inside), "country", ()
        return ((country, 1.0),), "country", ()
    return (), "unknown", ()


def _normalised(weighted):
    merged = {}
    for region, weight in weighted:
        merged[region] = merged.get(region, 0.0) + weight
    total = sum(merged.values())
    return tuple((region, weight / total) for region, weight in sorted(merged.items()))


def provider_class(model, organizations, year, provider=""):
    """The class of the provider a run trained with (hyperscale, cloud, academic_hpc or
    unknown): the record's own provider, the model's published site's, or its organisation's
    provider of that year."""
    for name in (provider, *published_providers().get(model, ())):
        if class_of_provider(name):
            return class_of_provider(name)
    found = providers_of(organizations, year)
    classes = {p.provider_class for p in found}
    return classes.pop() if len(classes) == 1 else "unknown"
