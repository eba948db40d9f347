"""Reading codecarbon's emissions.csv into a portfolio: the reader, the inventory reader and the
portfolio's Monte Carlo, timed apart.

    python benchmarks/codecarbon.py [--rows 10000] [--samples 1000] [--repeats 3] [--json]

The file holds ``--rows`` rows written in codecarbon 2.8's 32 columns, in a temporary folder,
drawn with a fixed seed: one session per row, 1, 2, 4 or 8 cards of six data-centre kinds
under their nvidia-smi names, 10 min to 10 days, an energy of the cards at 40-90 % of their
TDP plus the host's, and a place among US states, Canadian provinces, Google Cloud regions
and countries. Three stages are timed, each ``--repeats`` times, and the median reported:

- ``codecarbon_rows``: :func:`mlimpact.runs.codecarbon.codecarbon_rows` (parse, look up,
  map), one run per row;
- ``inventory_records``: :func:`mlimpact.runs.records.inventory_records` on its rows;
- ``estimate_portfolio``: :func:`mlimpact.study.portfolio.estimate_portfolio` on the records
  (``--samples`` samples, seed 0), after one untimed run on 50 rows that compiles the numba
  kernels.
"""

import argparse
import csv
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from mlimpact.runs import records as inventory
from mlimpact.runs.codecarbon import EMISSIONS_COLUMNS, codecarbon_rows
from mlimpact.study.portfolio import estimate_portfolio

#: nvidia-smi name, TDP [W].
CARDS = (
    ("NVIDIA A100-SXM4-40GB", 400),
    ("NVIDIA A100-SXM4-80GB", 400),
    ("NVIDIA H100 80GB HBM3", 700),
    ("Tesla V100-SXM2-32GB", 300),
    ("NVIDIA A10G", 150),
    ("NVIDIA L4", 72),
)
#: country_iso_code, region, cloud_provider, cloud_region as codecarbon writes them.
PLACES = (
    ("USA", "virginia", "", ""),
    ("USA", "oregon", "", ""),
    ("CAN", "quebec", "", ""),
    ("USA", "iowa", "gcp", "us-central1"),
    ("NLD", "groningen", "gcp", "europe-west4"),
    ("FRA", "", "", ""),
    ("DEU", "", "", ""),
    ("SWE", "", "", ""),
    ("JPN", "", "", ""),
)


def write_emissions(path, n_rows, seed=0):
    """Write an emissions.csv of ``n_rows`` plausible sessions (codecarbon 2.8's columns)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EMISSIONS_COLUMNS)
        for i in range(n_rows):
            card, tdp_w = CARDS[rng.integers(len(CARDS))]
            country, region, cloud, cloud_region = PLACES[rng.integers(len(PLACES))]
            gpus = int(rng.choice([1, 2, 4, 8]))
            seconds = float(rng.uniform(600, 864_000))
            hours = seconds / 3600
            gpu_w = gpus * tdp_w * rng.uniform(0.4, 0.9)
            cpu_w, ram_w = rng.uniform(60, 250), 3 * 512 / 8  # codecarbon 2.x: 3 W per 8 GB
            energies = [w * hours / 1000 for w in (cpu_w, gpu_w, ram_w)]
            energy = sum(energies)
            emissions = energy * rng.uniform(0.02, 0.7)
            day = start + np.timedelta64(int(rng.integers(0, 730 * 86400)), "s")
            writer.writerow(
                [
                    str(day),
                    f"project-{i % 200}",
                    f"run-{i:06d}",
                    "5b0fa12a-3dd7-45bb-9766-cc326314d9f1",
                    f"{seconds:.6f}",
                    f"{emissions:.6f}",
                    f"{emissions / seconds:.9f}",
                    f"{cpu_w:.1f}",
                    f"{gpu_w:.3f}",
                    f"{ram_w:.1f}",
                    *(f"{e:.6f}" for e in energies),
                    f"{energy:.6f}",
                    "",
                    country,
                    region,
                    cloud,
                    cloud_region,
                    "Linux-5.15.0-105-generic-x86_64-with-glibc2.35",
                    "3.10.12",
                    "2.8.3",
                    64,
                    "AMD EPYC 7742 64-Core Processor",
                    gpus,
                    f"{gpus} x {card}",
                    "0.0",
                    "0.0",
                    "512.0",
                    "machine",
                    "Y" if cloud else "N",
                    "1.0",
                ]
            )


def median_seconds(function, repeats):
    """Median wall-clock time [s] of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "emissions.csv"
        write_emissions(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        read_s, (rows, columns, _) = median_seconds(lambda: codecarbon_rows(path), args.repeats)
    records_s, found = median_seconds(
        lambda: inventory.inventory_records(rows, columns, "<benchmark>"), args.repeats
    )
    estimate_portfolio(found[:50], samples=256, seed=0)  # compile the kernels
    portfolio_s, _ = median_seconds(
        lambda: estimate_portfolio(found, samples=args.samples, seed=0), args.repeats
    )
    stages = {
        "codecarbon_rows": read_s,
        "inventory_records": records_s,
        "estimate_portfolio": portfolio_s,
    }
    figures = {
        "rows": args.rows,
        "file_mb": size_mb,
        "samples": args.samples,
        "repeats": args.repeats,
        "seconds_median": stages,
        "rows_per_second": {k: args.rows / v for k, v in stages.items()},
        "machine": f"{platform.machine()}, {platform.python_version()}, numba threads "
        f"{__import__('numba').get_num_threads()}",
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"{args.rows:,} codecarbon rows ({size_mb:.1f} MB), median of {args.repeats}; "
        f"portfolio with {args.samples:,} samples; {figures['machine']}"
    )
    print(f"{'stage':<20}{'seconds':>10}{'rows/s':>12}")
    for stage, seconds in stages.items():
        print(f"{stage:<20}{seconds:>10.3f}{args.rows / seconds:>12,.0f}")


if __name__ == "__main__":
    main()
