#!/usr/bin/env python3
"""Build data/models.csv, one row per notable AI model, from Epoch AI's "Notable AI Models".

Source (read-only, in --raw, default ../shared/data next to the repository; provenance, licence
and quirks are described in that folder's README.md, section 1):

    epoch/notable_ai_models.csv   Epoch AI, "Data on AI Models / Notable AI Models",
                                  https://epoch.ai/data/notable-ai-models (CC BY 4.0;
                                  cite: Epoch AI, 'Data on AI Models', published online at epoch.ai)

Its SHA-256 is checked against the value published in ../shared/data/README.md (copied below);
the build stops if the file differs.

Also read: data/countries.csv (Epoch country name -> ISO 3166 alpha-3), built by
scripts/build_tables.py. Its mapping is reused here, not repeated.

Output (in --out, default data/ of the repository):

    models.csv   one row per model with a valid `Publication date` (every year is kept; the
                 consumer chooses the window), sorted by (publication_date, model). Columns and
                 rules: data/README.md, section "models.csv".

What is changed compared with Epoch's file: columns selected and renamed; embedded newlines in
text collapsed to one space; `country` is the ISO alpha-3 code of the organisation's country
(rule in `country_of`); `domain` is the first entry of Epoch's `Domain`; the *_status columns
say whether a key field is reported. Numbers keep the digits of the source (Epoch's `16384.0`
is written `16384`). Nothing is imputed or estimated here: missing values stay empty, and the
impact engine treats them as uncertain inputs.

Usage:  python scripts/build_models.py [--raw DIR] [--out DIR] [--countries FILE]

The output is deterministic: same inputs, byte-identical file (UTF-8, "\\n" line endings).
Helpers (number parsing/formatting, SHA-256, CSV writing) are imported from build_tables.py.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.dont_write_bytecode = (
    True  # do not leave scripts/__pycache__ behind when importing build_tables
)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_tables import NOTABLE, check_raw, read_csv, write_csv  # noqa: E402

# the conversion rules live in the package (mlimpact.runs.records), so that a user's newer
# Epoch export and this build read records the same way; they read the package's own tables
# (data/record_fixes.csv), so the package must be installed (pip install -e .)
try:
    import mlimpact  # noqa: F401,E402
except ImportError:
    sys.exit("build_models: install the package first (pip install -e .)")
from mlimpact.errors import MlimpactError  # noqa: E402
from mlimpact.runs.records import MODEL_COLUMNS as COLUMNS  # noqa: E402
from mlimpact.runs.records import epoch_records, parse_date, text  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "data"
DEFAULT_COUNTRIES = REPO_ROOT / "data" / "countries.csv"

# SHA-256 of epoch/notable_ai_models.csv, copied from ../shared/data/README.md.
NOTABLE_SHA256 = "c5a262f52d614d11d7b6f0e5e2ac07d3501cfd7d325d92895bb2c5a9190ed860"

# Fill counts for models published 2012-2025, as stated in ../shared/data/README.md (section 1).
# They hold for the file with the SHA-256 above; a difference means a bug in this script.
EXPECTED_2012_2025 = {"models": 843, "compute": 447, "hardware": 350, "quantity": 236, "time": 216}


def load_countries(path: Path) -> dict[str, str]:
    if not path.is_file():
        sys.exit(f"build_models: {path} missing; run python scripts/build_tables.py first")
    return {r["epoch_name"]: r["country"] for r in read_csv(path)}


def build_models(
    raw_rows: list[dict[str, str]], codes: dict[str, str]
) -> tuple[list[dict[str, str]], dict]:
    """The records of models.csv: the package's conversion of an Epoch export
    (mlimpact.runs.records.epoch_records, the one place its rules live)."""
    no_date = [text(r["Model"]) for r in raw_rows if parse_date(r["Publication date"]) is None]
    try:
        return epoch_records(raw_rows, codes, source=str(NOTABLE)), {"no_date": no_date}
    except MlimpactError as error:
        sys.exit(f"build_models: {error}")


def year_counts(rows: list[dict[str, str]]) -> dict[int, Counter]:
    by_year: dict[int, Counter] = defaultdict(Counter)
    for r in rows:
        c = by_year[int(r["year"])]
        c["models"] += 1
        c["hardware"] += r["hardware_status"] == "reported"
        c["quantity"] += r["quantity_status"] == "reported"
        c["time"] += r["time_status"] == "reported"
        c["compute"] += r["compute_status"] == "reported"
    return by_year


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--raw", type=Path, default=DEFAULT_RAW, help=f"raw data folder (default {DEFAULT_RAW})"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--countries",
        type=Path,
        default=DEFAULT_COUNTRIES,
        help=f"Epoch country name -> ISO alpha-3 table (default {DEFAULT_COUNTRIES})",
    )
    args = parser.parse_args(argv)

    check_raw(
        args.raw, {NOTABLE: NOTABLE_SHA256}, "build_models", "NOTABLE_SHA256 and EXPECTED_2012_2025"
    )
    path = args.raw / NOTABLE

    codes = load_countries(args.countries)
    raw_rows = read_csv(path)
    models, info = build_models(raw_rows, codes)

    # the counts are of Epoch's file as it is, before data/record_fixes.csv
    by_year = year_counts(epoch_records(raw_rows, codes, source=str(NOTABLE), fixes=False))
    total = Counter()
    for y in range(2012, 2026):
        total.update(by_year.get(y, Counter()))
    diff = {k: (total[k], v) for k, v in EXPECTED_2012_2025.items() if total[k] != v}
    if diff:
        sys.exit(
            f"build_models: 2012-2025 counts differ from ../shared/data/README.md "
            f"(got, expected): {diff}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "models.csv", list(COLUMNS), models)

    flags = Counter(r["country_flag"].split(" (")[0].split(":")[0] for r in models)
    unmapped = Counter(r["country_flag"] for r in models if not r["country"])
    print(f"build_models: raw SHA-256 verified: {path}")
    print(
        f"  models.csv  {len(models)} rows written ({len(info['no_date'])} raw rows without a "
        f"publication date skipped: {', '.join(info['no_date'])})"
    )
    print("  reported, by year:  year  models  hardware  quantity  time  compute")
    for y in range(2013, 2026):
        c = by_year.get(y, Counter())
        print(
            f"                     {y}  {c['models']:6d}  {c['hardware']:8d}  {c['quantity']:8d}"
            f"  {c['time']:4d}  {c['compute']:7d}"
        )
    print(
        f"            2012-2025 total  {total['models']:4d}  {total['hardware']:8d}  "
        f"{total['quantity']:8d}  {total['time']:4d}  {total['compute']:7d}"
        "  (matches ../shared/data/README.md)"
    )
    print(
        f"  country: single {flags['single']}, first of several {flags['first of several']}, "
        f"unmapped {flags['none']}"
    )
    for flag, n in sorted(unmapped.items()):
        print(f"    {flag}: {n}")
    print(f"  written to {args.out / 'models.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
