"""Build data/grid_regions.csv: carbon intensity of electricity below the country level.

Reads the regional data files that the codecarbon package (version 3.3.2, MIT licence) ships,
each from its original publisher (data/README.md, "grid_regions.csv"):

- US states: EPA eGRID2023, annual CO2eq total output emission rate (lbs/MWh -> kg/kWh);
- Canadian provinces: 2023 generation mix x the life-cycle factor of each source
  (codecarbon's carbon_intensity_per_source.json; sources without a factor count as 0);
- Chinese provinces: MEE/NBS 2023 provincial average emission factors (CO2 only);
- Nordic bidding zones: ENTSO-E 2025 production mix x the same per-source factors;
- Google Cloud regions: Google's published grid carbon intensity of each region (the file
  gives no year: taken as 2023, the year before the package's release, and said so).

Run from the repository root: ``python scripts/build_regions.py [--raw DIR] [--out DIR]``
(default raw folder ../shared/data/codecarbon). The output is sorted and deterministic.
"""

import argparse
import csv
import json
from pathlib import Path

#: ISO 3166-2 codes of the Canadian provinces and territories, by the names of the file.
CANADA = {
    "alberta": "CA-AB",
    "british columbia": "CA-BC",
    "manitoba": "CA-MB",
    "new brunswick": "CA-NB",
    "newfoundland and labrador": "CA-NL",
    "northwest territories": "CA-NT",
    "nova scotia": "CA-NS",
    "nunavut": "CA-NU",
    "ontario": "CA-ON",
    "prince edward island": "CA-PE",
    "quebec": "CA-QC",
    "saskatchewan": "CA-SK",
    "yukon": "CA-YT",
}
#: Source names of the Canadian mix -> names of the per-source factors.
CANADA_SOURCES = {
    "naturalGas": "natural_gas",
    "petroleum": "petroleum",
    "coal": "coal",
    "nuclear": "nuclear",
    "hydro": "hydroelectricity",
    "wind": "wind",
    "solar": "solar",
    "biomass": "biomass",
}
NORDIC_COUNTRIES = {"SE": "SWE", "NO": "NOR", "FI": "FIN"}
#: 1 lb in kg (international avoirdupois pound).
POUND_KG = 0.45359237
HEADER = ("region", "country", "name", "year", "gwp_kgco2eq_per_kwh", "basis", "source")


def _number(x):
    return float(f"{x:.6g}")


def rows(raw):
    raw = Path(raw)
    out = []
    usa = json.loads((raw / "usa_emissions.json").read_text(encoding="utf-8"))
    egrid = f"{usa['_source']['name']} ({usa['_source']['url']})"
    for name, entry in usa.items():
        if name.startswith("_") or name == "usa":
            continue
        out.append(
            (
                f"US-{entry['regionCode']}",
                "USA",
                name,
                2023,
                _number(entry["emissions"] * POUND_KG / 1000),
                "CO2eq, generation",
                egrid,
            )
        )
    factors = json.loads((raw / "carbon_intensity_per_source.json").read_text(encoding="utf-8"))
    canada = json.loads((raw / "canada_energy_mix.json").read_text(encoding="utf-8"))
    for name, mix in canada.items():
        grams = sum(
            mix.get(key, 0.0) / 100 * factors[source] for key, source in CANADA_SOURCES.items()
        )
        out.append(
            (
                CANADA[name],
                "CAN",
                name,
                2023,
                _number(grams / 1000),
                "CO2eq life cycle, generation mix x per-source factors",
                "codecarbon canada_energy_mix.json (2023) x carbon_intensity_per_source.json",
            )
        )
    china = json.loads((raw / "china_provincial_emissions.json").read_text(encoding="utf-8"))
    for code, entry in china["data"].items():
        out.append(
            (
                code,
                "CHN",
                entry["description"],
                entry["year"],
                _number(entry["emission_factor"] / 1000),
                "CO2 only, generation",
                china["metadata"]["source"],
            )
        )
    nordic = json.loads((raw / "nordic_emissions.json").read_text(encoding="utf-8"))
    for code, entry in nordic["data"].items():
        out.append(
            (
                code,
                NORDIC_COUNTRIES[code[:2]],
                entry["description"],
                entry["year"],
                _number(entry["emission_factor"] / 1000),
                "CO2eq life cycle, production mix",
                nordic["metadata"]["source"],
            )
        )
    with (raw / "gcp_region_impact.csv").open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["provider"] != "gcp":
                continue
            out.append(
                (
                    f"gcp:{row['region']}",
                    row["countryIsoCode"],
                    f"{row['city']} ({row['country_name']})",
                    2023,
                    _number(float(row["impact"]) / 1000),
                    "Google's grid carbon intensity of the region (year not given: 2023 taken)",
                    row["source"],
                )
            )
    return sorted(out)


def main(argv=None):
    here = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", default=here.parent / "shared" / "data" / "codecarbon")
    parser.add_argument("--out", default=here / "data")
    args = parser.parse_args(argv)
    path = Path(args.out) / "grid_regions.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows(args.raw))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
