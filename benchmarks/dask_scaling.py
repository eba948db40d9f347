"""The same propagation without Dask, and on a local Dask cluster of 1 and 2 workers.

    python benchmarks/dask_scaling.py [--samples 16384] [--chunk-size 1024] [--json]

Runs the default catalogue over the notable models of 2013-2025 (440 runs). Times are medians
of ``--repeats`` runs after a warm-up on each backend (cluster start-up excluded). On a 2-core
machine each worker's numba kernels use both cores, so 2 workers share them: the figures show
the cost of the task layer more than a speed-up, which needs more machines or cores.
"""

import argparse
import json
import statistics
import time

import numpy as np

from mlimpact.engine import distributed, propagate
from mlimpact.runs import notable
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters


def timed(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runs = notable.build_runs()
    bound = bind(
        {**default_catalogue(), **run_parameters(runs)},
        runs.runs,
        runs.hardware,
        runs.countries,
        runs.known,
    )

    def run(client=None):
        return propagate.propagate(
            runs.runs, bound, args.samples, seed=0, chunk_size=args.chunk_size, client=client
        )

    figures = {
        "samples": args.samples,
        "runs": len(runs.runs),
        "chunk_size": args.chunk_size,
        "no_dask_s": timed(run, args.repeats),
    }
    reference = run()
    for workers in (1, 2):
        client = distributed.connect("local", workers)
        try:
            key = f"dask_{workers}_workers_s"
            figures[key] = timed(lambda client=client: run(client), args.repeats)
            result = run(client)
            figures[f"dask_{workers}_max_relative_difference"] = max(
                float(np.nanmax(np.abs(result[c] - reference[c]) / np.abs(reference[c])))
                for c in ("energy", "gwp", "adpe", "pe")
            )
        finally:
            distributed.close(client)
    # Peak memory of the workers (high-water marks of a fresh cluster) after runs of n/4, n
    # and 4n samples: bounded by the chunk, it should not grow with n.
    client = distributed.connect("local", 2)
    try:
        peaks = []
        for factor in (0.25, 1, 4):
            propagate.propagate(
                runs.runs,
                bound,
                int(args.samples * factor),
                seed=0,
                chunk_size=args.chunk_size,
                client=client,
            )
            rss = client.run(
                lambda: (
                    __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss
                    / 1024
                )
            )
            peaks.append(
                {"samples": int(args.samples * factor), "worker_peak_rss_mb": max(rss.values())}
            )
        figures["worker_memory"] = peaks
    finally:
        distributed.close(client)
    evaluations = args.samples * len(runs.runs)
    for key in ("no_dask_s", "dask_1_workers_s", "dask_2_workers_s"):
        figures[key.replace("_s", "_evaluations_per_second")] = evaluations / figures[key]
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{args.samples:,} samples x {len(runs.runs)} runs, chunks of {args.chunk_size}")
    for label, key in (
        ("no Dask", "no_dask_s"),
        ("Dask, 1 worker", "dask_1_workers_s"),
        ("Dask, 2 workers", "dask_2_workers_s"),
    ):
        print(f"  {label:<16} {figures[key]:.2f} s ({evaluations / figures[key] / 1e6:.1f} M/s)")
    for peak in figures["worker_memory"]:
        print(
            f"  2 workers, {peak['samples']:,} samples: worker peak RSS "
            f"{peak['worker_peak_rss_mb']:.0f} MB"
        )
    print(
        f"  largest relative difference from no Dask: 1 worker "
        f"{figures['dask_1_max_relative_difference']:.1e}, 2 workers "
        f"{figures['dask_2_max_relative_difference']:.1e}"
    )


if __name__ == "__main__":
    main()
