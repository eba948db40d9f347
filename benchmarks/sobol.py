"""Our Sobol' analysis against SALib's on the same samples: time, ratio, largest difference.

    python benchmarks/sobol.py [--json] [--sizes 12 14 16] [--outputs 1 1000]
                               [--salib-outputs K]

The model has D = 10 uniform inputs and k outputs: output j is
``sum_i c_ij x_i + x_1 x_2 + sin(x_3) x_(4 + j mod 6)`` with fixed random coefficients, so every
output has its own indices. Both analyses read the same Saltelli samples (our design, SALib's
row layout) and use 100 bootstrap resamples (SALib: resampling with replacement; ours: Poisson
weights, all resamples in one product). SALib analyses one output at a time: with
``--salib-outputs K`` (K < k) it runs on the first K outputs only and its time for k outputs
is extrapolated linearly (reported as such). The largest difference is over S1 and ST of the
outputs both analysed.
"""

import argparse
import json
import os
import statistics
import sys
import time

# BLAS threads are pinned (to 1 unless the environment says otherwise) before numpy loads:
# both analyses use BLAS (our bootstrap products, SALib's resampling), and with default
# threads on a loaded 2-core machine the ratio fell from 105-162x to 30x.
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
for _variable in BLAS_VARIABLES:
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
from SALib.analyze import sobol as salib_sobol  # noqa: E402

from mlimpact.analysis.sobol import SobolAccumulator  # noqa: E402
from mlimpact.uncertainty.sampling import SaltelliDesign  # noqa: E402

D = 10


def model_outputs(x, k, seed=0):
    coefficients = np.random.default_rng(seed).uniform(0.1, 1, (D, k))
    y = x @ coefficients + (x[:, 0] * x[:, 1])[:, None]
    y += np.sin(x[:, 2])[:, None] * x[:, 4 + (np.arange(k) % 6)]
    return y


def ours(design, y):
    accumulator = SobolAccumulator(D, y.shape[1], resamples=100, seed=0)
    step = design.step
    for start in range(0, design.n, 4096):
        stop = min(start + 4096, design.n)
        accumulator.add(start, y[start * step : stop * step])
    return accumulator.indices()


def salib(y, outputs):
    problem = {"num_vars": D, "names": [f"x{i}" for i in range(D)], "bounds": [[0, 1]] * D}
    s1, st = [], []
    for j in range(outputs):
        result = salib_sobol.analyze(
            problem,
            y[:, j],
            calc_second_order=False,
            num_resamples=100,
            print_to_console=False,
            seed=1,
        )
        s1.append(result["S1"])
        st.append(result["ST"])
    return np.array(s1).T, np.array(st).T


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[12, 14, 16], help="log2 of the base points N"
    )
    parser.add_argument("--outputs", type=int, nargs="+", default=[1, 1000])
    parser.add_argument(
        "--salib-outputs",
        type=int,
        default=None,
        help="run SALib on this many outputs at most and extrapolate",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timings of ours (median)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    threads = {v: os.environ[v] for v in BLAS_VARIABLES}
    if not args.json:
        print("BLAS threads: " + ", ".join(f"{k}={v}" for k, v in threads.items()))
    rows = []
    for power in args.sizes:
        n = 2**power
        design = SaltelliDesign(D, [[i] for i in range(D)], n, seed=0)
        x = design.uniforms(0, design.rows)
        for k in args.outputs:
            y = model_outputs(x, k)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                first, total, *_ = ours(design, y)
                times.append(time.perf_counter() - start)
            ours_time = statistics.median(times)
            m = k if args.salib_outputs is None else min(k, args.salib_outputs)
            start = time.perf_counter()
            s1, st = salib(y, m)
            salib_measured = time.perf_counter() - start
            salib_time = salib_measured * k / m
            difference = max(np.max(np.abs(s1 - first[:, :m])), np.max(np.abs(st - total[:, :m])))
            rows.append(
                {
                    "N": n,
                    "outputs": k,
                    "evaluations": design.rows,
                    "ours_s": ours_time,
                    "salib_s": salib_time,
                    "salib_outputs_run": m,
                    "salib_extrapolated": m < k,
                    "ratio": salib_time / ours_time,
                    "blas_threads": threads,
                    "max_index_difference": float(difference),
                }
            )
            row = rows[-1]
            if not args.json:
                note = f" (SALib run on {m} outputs, time scaled x{k / m:g})" if m < k else ""
                print(
                    f"N=2^{power} outputs={k}: ours {ours_time:.3f} s, SALib "
                    f"{salib_time:.2f} s, ratio {row['ratio']:.0f}x, "
                    f"max |diff| {difference:.1e}{note}",
                    flush=True,
                )
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()


if __name__ == "__main__":
    main()
