"""Electricity of a grid: per-country factors and year-specific carbon intensity, one lookup rule.

- :func:`electricity_factors`: GWP [kg CO2eq/kWh], ADPe [kg Sb eq/kWh] and PE [MJ/kWh] of one kWh
  per country (Boavizta's factors, as used by MLCA; ``data/electricity_factors.csv``);
- :func:`intensity`: the GWP intensity [kg CO2eq/kWh] of a country's electricity in a year (Our
  World in Data, from Ember and the Energy Institute, CC BY 4.0; ``data/grid_intensity.csv``).

The lookup rule, the same for every caller: a year without data takes **the nearest year with
data** (the later one on a tie), and the year used is returned with the value so that callers can
say so. A country without any data raises; what to use instead (the world average, say) is the
caller's decision and is stated where it is made.
"""

from dataclasses import dataclass
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError
from mlimpact.quantities import IMPACT_CRITERIA

#: Code of the world average in both tables.
WORLD = "WOR"


@dataclass(frozen=True)
class ElectricityFactors:
    """Impacts of one kWh of a country's electricity: GWP [kg CO2eq/kWh], ADPe [kg Sb eq/kWh],
    PE [MJ/kWh] (Boavizta factors as used by MLCA; ``data/electricity_factors.csv``)."""

    country: str
    name: str
    gwp: float
    adpe: float
    pe: float


#: Criteria whose grid factor is Boavizta's (every one of the table's but the GWP, which is
#: the year-specific intensity); water's comes from the generation mix (:func:`water_of`).
BOAVIZTA_CRITERIA = tuple(
    c for c in IMPACT_CRITERIA[1:] if c in ElectricityFactors.__dataclass_fields__
)


@cache
def electricity_factors():
    """Per-country electricity factors, keyed by code (ISO 3166 alpha-3, or WOR / EEE)."""
    return {
        row["country"]: ElectricityFactors(
            row["country"],
            row["name"],
            float(row["gwp_kgco2eq_per_kwh"]),
            float(row["adpe_kgsbeq_per_kwh"]),
            float(row["pe_mj_per_kwh"]),
        )
        for row in packaged_csv("electricity_factors.csv")
    }


@cache
def world_fallback_gsd(criterion):
    """Geometric standard deviation [-] of a country's ADPe or PE factor (``criterion``
    ``adpe`` or ``pe``) around the world's, for a country that has none: the root-mean-square
    log ratio of the countries of Boavizta's table to its world factor (WOR; the European
    aggregate EEE left out), ``exp(sqrt(mean(ln(f_c / f_world)^2)))``: 1.39 for ADPe, 1.36 for
    PE with the 11 countries of ``data/electricity_factors.csv``."""
    import math

    factors = electricity_factors()
    world = getattr(factors[WORLD], criterion)
    logs = [
        math.log(getattr(f, criterion) / world)
        for code, f in factors.items()
        if code not in (WORLD, "EEE")
    ]
    return math.exp(math.sqrt(sum(x * x for x in logs) / len(logs)))


@cache
def _intensities():
    """``{country: {year: intensity}}`` of ``data/grid_intensity.csv``."""
    table = {}
    for row in packaged_csv("grid_intensity.csv"):
        table.setdefault(row["country"], {})[int(row["year"])] = float(row["gwp_kgco2eq_per_kwh"])
    return table


def has_intensity(country):
    """Whether the intensity table has any year for ``country``."""
    return country in _intensities()


def intensity_countries():
    """Codes of the countries (and aggregates) with a year-specific intensity."""
    return frozenset(_intensities())


@cache
def intensity(country, year):
    """GWP intensity [kg CO2eq/kWh] of ``country``'s electricity in ``year``, and the year
    whose value it is: ``year`` itself, or the nearest year with data (the later on a tie).

    Raises :class:`MlimpactError` if the table has no year for ``country``.
    """
    years = _intensities().get(country)
    if not years:
        raise MlimpactError(f"no grid intensity for {country!r} (OWID/Ember table)")
    used = min(years, key=lambda y: (abs(y - year), -y))
    return years[used], used


def intensity_span(country):
    """First and last years with an intensity for ``country``, or None."""
    years = _intensities().get(country)
    return (min(years), max(years)) if years else None


@cache
def country_names():
    """Names of every country code known to either table."""
    names = {row["country"]: row["name"] for row in packaged_csv("grid_intensity.csv")}
    names.update({code: f.name for code, f in electricity_factors().items()})
    return names


def lowest_intensity_country(year):
    """The country of Boavizta's table whose grid had the lowest GWP intensity in ``year``
    (nearest year with data)."""
    best = None
    for code in electricity_factors():
        if not has_intensity(code):
            continue
        value, _ = intensity(code, year)
        if best is None or value < best[1]:
            best = (code, value)
    return best[0]


@dataclass(frozen=True)
class Region:
    """A grid below the country level (``data/grid_regions.csv``): its country, the year its
    factor stands for, and its GWP intensity that year [kg CO2eq/kWh]."""

    region: str
    country: str
    name: str
    year: int
    gwp: float


@cache
def regions():
    """Region key -> :class:`Region` (US states US-XX, Canadian provinces CA-XX, Chinese
    provinces CN-XX, Nordic bidding zones SE1..NO5 and FI, Google Cloud regions gcp:...)."""
    return {
        row["region"]: Region(
            row["region"],
            row["country"],
            row["name"],
            int(row["year"]),
            float(row["gwp_kgco2eq_per_kwh"]),
        )
        for row in packaged_csv("grid_regions.csv")
    }


def is_region(key):
    """Whether ``key`` names a grid: a region of :func:`regions` or a country with a
    year-specific intensity."""
    return key in regions() or has_intensity(key)


def region_country(key):
    """ISO 3166 alpha-3 code of a region's (or a country's) country."""
    return regions()[key].country if key in regions() else key


@cache
def region_intensity(key, year):
    """GWP intensity [kg CO2eq/kWh] of a region or country in ``year``.

    A country takes its year-specific intensity (:func:`intensity`). A region's factor is of
    one year (its table's); another year's is derived with the trend of its country's
    series: ``f(year) = f(year0) * I_country(year) / I_country(year0)`` (nearest years with
    data). Raises :class:`MlimpactError` for an unknown key.
    """
    if key not in regions():
        if not has_intensity(key):
            raise MlimpactError(
                f"unknown grid region {key!r} (data/grid_regions.csv or an "
                "ISO 3166 alpha-3 country code)"
            )
        return intensity(key, year)[0]
    region = regions()[key]
    if not has_intensity(region.country):
        return region.gwp
    return (
        region.gwp * intensity(region.country, year)[0] / intensity(region.country, region.year)[0]
    )


@cache
def country_regions(country):
    """The regions that partition a country's grid (states, provinces, bidding zones; not
    cloud regions, which are sites), sorted; empty if the table has none."""
    return tuple(
        sorted(k for k, r in regions().items() if r.country == country and not k.startswith("gcp:"))
    )


@dataclass(frozen=True)
class GridWater:
    """Water consumed off site per kWh of a grid's electricity (``data/grid_water.csv``, built
    by ``scripts/build_water.py``): ``water`` [L/kWh] the water of every source but
    hydropower, per kWh of the grid's whole generation (the generation mix of Our World in
    Data, Ember and the Energy Institute, times the consumption factor of each source,
    ``data/water_generation.csv``), ``hydro_share`` [-] hydropower's share of the generation,
    and the year of the mix."""

    grid: str
    country: str
    name: str
    year: str
    water: float
    hydro_share: float


@cache
def grid_water():
    """Grid key (country code, ``WOR``, or a Canadian province CA-XX) -> :class:`GridWater`."""
    return {
        row["grid"]: GridWater(
            row["grid"],
            row["country"],
            row["name"],
            row["year"],
            float(row["water_l_per_kwh"]),
            float(row["hydro_share"]),
        )
        for row in packaged_csv("grid_water.csv")
    }


def water_of(key):
    """The :class:`GridWater` of a region or a country: the region's own where the table has
    its mix (Canadian provinces), else its country's, else the world's; and a note where it is
    not the grid's own ("" otherwise)."""
    table = grid_water()
    if key in table:
        return table[key], ""
    country = region_country(key)
    if country in table:
        return table[country], f"water of {country}'s mix for {key}" if country != key else ""
    return table[WORLD], f"no generation mix for {key or 'an unknown country'}: world's water"
