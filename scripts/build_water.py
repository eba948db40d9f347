"""Build data/grid_water.csv: water consumed off site per kWh of each country's electricity.

The off-site water of a kWh is the water its generation consumes (evaporates or otherwise does
not return), summed over the sources of the grid's generation mix::

    w_grid = sum_{s != hydro} share_s * w_s  +  share_hydro * w_hydro          [L/kWh]

The table gives the first term (``water_l_per_kwh``: every source but hydropower) and
``hydro_share``; the water of hydropower, ``w_hydro``, is one uncertain input of the model for
every grid (``hydro_water`` in data/parameters.toml): how much of a reservoir's evaporation to
charge to its electricity is a matter of method, on which the published factors differ
fourteen-fold, and it is the same question for every country.

- ``share_s``: the share of source s in the country's generation, from the generation mix by
  source (TWh) of Our World in Data (Ember and the Energy Institute, CC BY 4.0) as shipped by
  the codecarbon package (version 3.3.2, MIT licence: ``global_energy_mix.json``, one year per
  country, 2022 or 2023 for most); Canadian provinces from the 2023 mix of
  ``canada_energy_mix.json`` (Canada Energy Regulator, as shipped by codecarbon);
- ``w_s``: the consumption factor of source s with its low and high values
  (``data/water_generation.csv``, each row with its source).

Each row also gives ``low`` and ``high``: the first term with every source at its low or its
high factor (the sources' errors taken as fully correlated, so these bound it). The world row
(``WOR``) sums the generation of every country of the file. The script prints the
generation-weighted root-mean-square of ``ln(high / low) / (2 x 1.96)``, the log-spread that
``grid_water_error`` takes (data/parameters.toml).

Run from the repository root: ``python scripts/build_water.py [--raw DIR] [--out DIR]``
(default raw folder ../shared/data/codecarbon). The output is sorted and deterministic.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_regions import CANADA  # noqa: E402  (the provinces' names -> ISO 3166-2 codes)

#: Sources of the country mixes (``<source>_TWh`` keys), which add up to ``total_TWh``.
SOURCES = (
    "biofuel",
    "coal",
    "gas",
    "hydroelectricity",
    "nuclear",
    "oil",
    "other_renewable_exc_biofuel",
    "solar",
    "wind",
)
#: Sources of the Canadian mix -> sources of the factors table (tidal and other: no factor,
#: counted with wind's, 0, and said so in data/README.md).
CANADA_SOURCES = {
    "naturalGas": "gas",
    "petroleum": "oil",
    "coal": "coal",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
    "biomass": "biofuel",
    "tidal": "wind",
    "other": "wind",
}
HEADER = (
    "grid",
    "country",
    "name",
    "year",
    "water_l_per_kwh",
    "low_l_per_kwh",
    "high_l_per_kwh",
    "hydro_share",
    "source",
)
MIX = (
    "Our World in Data (Ember, Energy Institute), generation by source, as shipped by "
    "codecarbon 3.3.2 (global_energy_mix.json)"
)
CANADA_MIX = "Canada Energy Regulator 2023 generation mix, as shipped by codecarbon 3.3.2"


def _number(x):
    return float(f"{x:.6g}")


def factors(path):
    """``{source: (point, low, high)}`` [L/kWh] of ``data/water_generation.csv``."""
    with open(path, encoding="utf-8", newline="") as handle:
        table = {
            r["generation"]: tuple(float(r[k]) for k in ("water_l_per_kwh", "low", "high"))
            for r in csv.DictReader(handle)
        }
    missing = set(SOURCES) - set(table)
    if missing:
        raise SystemExit(f"water_generation.csv has no factor for {sorted(missing)}")
    return table


HYDRO = "hydroelectricity"


def mix_row(grid, country, name, year, mix, table, source):
    """One output row of a mix ``{source: TWh}``."""
    total = sum(mix.values())
    point, low, high = (
        sum(mix[s] / total * table[s][k] for s in mix if s != HYDRO) for k in range(3)
    )
    hydro = mix.get(HYDRO, 0.0) / total
    return (grid, country, name, year, *map(_number, (point, low, high, hydro)), source)


def log_spread(rows_, weights):
    """Weighted root-mean-square of ``ln(high / low) / (2 x 1.96)`` over rows whose low is
    positive."""
    import math

    low, high = HEADER.index("low_l_per_kwh"), HEADER.index("high_l_per_kwh")
    pairs = [
        (math.log(r[high] / r[low]) / (2 * 1.96), w) for r, w in zip(rows_, weights) if r[low] > 0
    ]
    return math.sqrt(sum(w * x * x for x, w in pairs) / sum(w for _, w in pairs))


def rows(raw, table):
    """Rows of every country, the world and the Canadian provinces, and the weighted log-spread
    of the countries' factors (:func:`log_spread`)."""
    world = dict.fromkeys(SOURCES, 0.0)
    out, weights = [], []
    data = json.loads((Path(raw) / "global_energy_mix.json").read_text(encoding="utf-8"))
    for code, entry in sorted(data.items()):
        mix = {s: float(entry.get(f"{s}_TWh") or 0.0) for s in SOURCES}
        if sum(mix.values()) <= 0:
            continue
        for s in SOURCES:
            world[s] += mix[s]
        out.append(mix_row(code, code, entry["country_name"], entry["year"], mix, table, MIX))
        weights.append(sum(mix.values()))
    spread = log_spread(out, weights)
    years = sorted({int(e["year"]) for e in data.values()})
    span = f"{years[0]}-{years[-1]}"
    out.append(mix_row("WOR", "WOR", "World", span, world, table, MIX + ": sum of countries"))
    canada = json.loads((Path(raw) / "canada_energy_mix.json").read_text(encoding="utf-8"))
    for name, code in CANADA.items():
        mix = dict.fromkeys(SOURCES, 0.0)
        for key, share in canada[name].items():
            if key in CANADA_SOURCES:
                mix[CANADA_SOURCES[key]] += float(share)
        out.append(mix_row(code, "CAN", name.title(), 2023, mix, table, CANADA_MIX))
    return sorted(out), spread


def main(argv=None):
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", default=here.parent / "shared" / "data" / "codecarbon")
    parser.add_argument("--out", default=here / "data")
    args = parser.parse_args(argv)
    table = factors(here / "data" / "water_generation.csv")
    path = Path(args.out) / "grid_water.csv"
    out, spread = rows(args.raw, table)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(out)
    print(f"wrote {path}; log-spread of the countries' factors {spread:.3f}")


if __name__ == "__main__":
    main()
