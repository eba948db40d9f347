"""Throughput of the fused Monte Carlo kernel against a naive numpy evaluation, in one run.

    python benchmarks/kernel.py --samples 1000000 [--models 300] [--json]

The run table holds ``--models`` synthetic training runs (accelerators drawn from the hardware
table's data-centre GPUs with known die area, memory and TDP; hours, nodes, usage and grid drawn
at random with a fixed seed), so that ``--models`` sets the size; the kernel's cost does not
depend on where the numbers come from (``benchmarks/dask_scaling.py`` runs the 440 notable
models). Every input of the default catalogue is
uncertain (per-run GPU usage, per-country grid errors, global assumptions, factor errors, the
production model MLCA or ACT and ACT's inputs per accelerator).

Both sides compute the same thing: the thirteen quantities (energy; production, use and total
of GWP, ADPe, PE; the energy of the accelerators, the host and the overhead) of every
(sample, model), and their mean, standard deviation and five quantiles
per model.

- fused: :func:`mlimpact.engine.propagate.propagate`, chunked, streaming reductions (numba, all
cores);
- naive: numpy on whole (sample, model) arrays (``tests/naive.py``), then ``mean``, ``std`` and
  ``np.quantile`` over the samples. It keeps every value, so it runs on ``--naive-samples``
  samples only; throughputs are per evaluation, so the ratio is fair.

Each side is timed ``--repeats`` times after a warm-up (compilation excluded), the two sides
alternating (fused, naive, fused, naive...) so that both meet the same load of a shared
machine; medians are reported, and the ratio is the median of the per-pair ratios. Peak
memory is the process's maximum resident set size after the first fused run (before any
naive run, which holds every sample).
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import naive  # noqa: E402

from mlimpact.engine.propagate import QUANTILES, parameter_values, propagate  # noqa: E402
from mlimpact.quantities import TRAINING_QUANTITIES  # noqa: E402
from mlimpact.runs.cards import why_not_priced  # noqa: E402
from mlimpact.runs.defaults import default_row  # noqa: E402
from mlimpact.runs.table import RUN_FIELDS, RunTable  # noqa: E402
from mlimpact.tables.fab import hardware_act_fields  # noqa: E402
from mlimpact.tables.grid import electricity_factors  # noqa: E402
from mlimpact.tables.hardware import hardware_table  # noqa: E402
from mlimpact.uncertainty.binding import bind  # noqa: E402
from mlimpact.uncertainty.catalogue import default_catalogue  # noqa: E402
from mlimpact.uncertainty.sampling import Design  # noqa: E402

COUNTRIES = ("USA", "CHN", "GBR", "FRA", "DEU", "CAN", "JPN", "KOR")


def synthetic_runs(n_models, seed=0):
    """A run table of n_models plausible training runs, with the hardware and country of each."""
    rng = np.random.default_rng(seed)
    cards = [
        h
        for h in hardware_table()
        if h.segment == "data_centre"
        and np.isfinite([h.die_area_cm2, h.memory_gb, h.tdp_w]).all()
        and why_not_priced(h, "act") is None
    ]
    factors = electricity_factors()
    records, hardware, countries = [], [], []
    for i in range(n_models):
        card = cards[rng.integers(len(cards))]
        country = COUNTRIES[rng.integers(len(COUNTRIES))]
        grid = factors[country]
        records.append(
            (
                f"model {i}",
                default_row(
                    hours=float(rng.lognormal(np.log(300), 1.0)),
                    nodes=float(rng.integers(1, 512)),
                    gpus=8.0,
                    gpu_tdp_w=card.tdp_w,
                    gpu_memory_gb=card.memory_gb,
                    gpu_die_area_cm2=card.die_area_cm2,
                    grid_gwp=grid.gwp,
                    grid_adpe=grid.adpe,
                    grid_pe=grid.pe,
                    **hardware_act_fields(card),
                ),
            )
        )
        hardware.append(card.name)
        countries.append(country)
    return RunTable.from_records(records), hardware, countries


def naive_statistics(runs, bound, n, seed):
    """Evaluate n samples with numpy on whole arrays and reduce them as the fused path does."""
    values = parameter_values(bound, Design("mc", n, bound.n_columns, seed).uniforms(0, n))
    by_name = naive.monte_carlo(runs, values, bound)  # (criterion, phase or scope) -> values
    quantities = np.stack([by_name[k] for k in TRAINING_QUANTITIES], axis=-1)
    return (
        quantities.mean(axis=0),
        quantities.std(axis=0, ddof=1),
        np.quantile(quantities, list(QUANTILES.values()), axis=0),
    )


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--naive-samples", type=int, default=4096)
    parser.add_argument("--chunk-size", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--fused-only",
        action="store_true",
        help="skip the naive run (for memory measurements at large sizes)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    runs, hardware, countries = synthetic_runs(args.models)
    # As for a dataset run with nothing imputed: one hardware variant, MFU unused.
    known = np.zeros((len(runs), len(RUN_FIELDS)), dtype=bool)
    known[:, [RUN_FIELDS.index("variant"), RUN_FIELDS.index("mfu")]] = True
    bound = bind(default_catalogue(), runs, hardware, countries, known)
    propagate(runs, bound, 2048, seed=1, chunk_size=1024)  # compile
    if not args.fused_only:
        naive_statistics(runs, bound, 256, seed=1)  # warm-up
    fused_times, naive_times, ratios, peak_rss_mb = [], [], [], None
    for _ in range(args.repeats):
        fused_times.append(
            timed(lambda: propagate(runs, bound, args.samples, seed=1, chunk_size=args.chunk_size))
        )
        if peak_rss_mb is None:
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not args.fused_only:
            naive_times.append(
                timed(lambda: naive_statistics(runs, bound, args.naive_samples, seed=1))
            )
            ratios.append((args.samples / fused_times[-1]) / (args.naive_samples / naive_times[-1]))
    fused_time = statistics.median(fused_times)
    fused_rate = args.samples * args.models / fused_time
    naive_time = statistics.median(naive_times) if naive_times else float("nan")
    naive_rate = args.naive_samples * args.models / naive_time
    ratio = statistics.median(ratios) if ratios else float("nan")
    threads = __import__("numba").get_num_threads()
    figures = {
        "samples": args.samples,
        "models": args.models,
        "columns": bound.n_columns,
        "chunk_size": args.chunk_size,
        "naive_samples": args.naive_samples,
        "repeats": args.repeats,
        "fused_seconds_median": fused_time,
        "fused_seconds": fused_times,
        "fused_evaluations_per_second": fused_rate,
        "naive_seconds_median": naive_time,
        "naive_seconds": naive_times,
        "naive_evaluations_per_second": naive_rate,
        "ratio_fused_over_naive": ratio,
        "ratios": ratios,
        "peak_rss_mb_after_first_fused_run": peak_rss_mb,
        "machine": f"{platform.machine()}, {platform.python_version()}, numba threads {threads}",
        # the fused kernel runs on every numba thread, the naive numpy evaluation on one
        # (element-wise operations and np.quantile do not use BLAS threads)
        "threads_fused": threads,
        "threads_naive": 1,
        "ratio_per_core": ratio / threads,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"fused kernel: {args.samples:,} samples x {args.models} models "
        f"({bound.n_columns} uncertain columns), chunk {args.chunk_size:,}"
    )
    print(f"  median {fused_time:.3f} s -> {fused_rate / 1e6:,.1f} M evaluations/s")
    if not args.fused_only:
        print(f"naive numpy: {args.naive_samples:,} samples x {args.models} models")
        print(f"  median {naive_time:.3f} s -> {naive_rate / 1e6:,.2f} M evaluations/s")
        print(
            f"ratio (fused / naive throughput, median of {len(ratios)} side-by-side pairs): "
            f"{ratio:,.1f}x (pairs: {', '.join(f'{r:.0f}' for r in ratios)})"
        )
        print(f"  fused on {threads} numba thread(s), naive on 1: per core {ratio / threads:,.1f}x")
    print(f"peak RSS after the first fused run: {peak_rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
