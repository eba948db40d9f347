"""Compile the main job's kernels in two processes when numba's cache is cold.

With numba's disk cache empty, ``mlimpact run`` compiled its kernels one after the other on one
core, each as the study first reached it: the cards' point kernel and the quantile functions,
the fused Monte Carlo kernel (about 9 s of the cold run on 2 cores), then the trend fits, the
histogram quantiles, the notable runs' point kernel, the Saltelli rows and the counter-based
uniforms (about 6 s more). Numba compiles one function at a time in a process (its compiler
lock), but it caches each kernel on disk by its argument types, and a process looks in that
cache before it compiles. So, on a cold cache that can be written, :func:`start` launches
``python -m mlimpact.study.warmup``, which compiles the fused kernel
(:func:`compile_fused_kernel`: two cards evaluated through the engine), while this process
compiles the other kernels (:func:`compile_other_kernels`: each called once, on a few numbers,
with the argument types the main job gives it) and then waits for the child (:func:`wait`);
the study then finds every kernel in the cache. The calls are the engine's own, so their types
are the study's (a test checks that calling them after a study adds no compiled version).
No function is compiled by both processes at once: numba's cache names a function's
compiled versions by their order of saving, so two processes saving different versions of one
function at once could swap them. The notable runs' point kernel calls the model's stage
functions, as the fused kernel does, so this process compiles it after the child has ended.

If the child cannot start or fails, this process compiles the fused kernel itself when the
study reaches it (same code, same results); :func:`finish` reaps the child, or stops it at once
when the study fails. A warm run starts no process.
"""

import os
import subprocess

import numpy as np

from mlimpact._process import start_module

#: Seconds :func:`wait` waits for the child to compile the fused kernel before it stops it
#: (this process then compiles the kernel itself): about ten times what it takes on 2 cores.
WAIT_TIMEOUT = 120.0


def _cards():
    """Two cards as a run table, bound to the default catalogue: the engine's argument types
    are those of any run table and binding."""
    from mlimpact.runs.cards import card_runs, priced_gpus
    from mlimpact.uncertainty.binding import bind
    from mlimpact.uncertainty.catalogue import default_catalogue

    runs, known = card_runs(priced_gpus("mixture")[:2], "mixture")
    return runs, bind(default_catalogue(), runs, list(runs.names), [""] * len(runs), known)


def compile_fused_kernel():
    """Evaluate two cards at their parameters' medians through the engine
    (:func:`mlimpact.engine.propagate.evaluate_rows`): numba compiles, and caches, the fused
    kernel and the cards' point kernel. The medians come from the distributions' own numpy
    quantile functions, so that the compiled ones are left to the other process."""
    from mlimpact.engine.propagate import evaluate_rows

    runs, bound = _cards()
    values = np.empty((2, bound.n_columns), order="F")
    for j, distribution in enumerate(bound.distributions):
        values[:, j] = distribution.ppf(np.full(2, 0.5))
    evaluate_rows(runs, bound, values, kind="card", given_values=True)


def compile_other_kernels():
    """Call each kernel of the main job that shares no function with the fused kernel (not the
    point kernels), once, on a few numbers, with the argument types the main job gives it."""
    from mlimpact.analysis import trends
    from mlimpact.engine.propagate import Accumulator, parameter_values
    from mlimpact.uncertainty.sampling import Design, SaltelliDesign

    _, bound = _cards()
    # the quantile functions (compiled kinds and discrete columns), the counter uniforms
    parameter_values(bound, Design("mc", 2, bound.n_columns).uniforms(0, 2))
    # trend fits: bootstrap-weighted least squares and Huber's, one kernel (trends._fit_rows)
    weights = trends.bootstrap_weights(12, 0, 4, 0)
    dates = np.linspace(2015.0, 2025.0, 12)
    logs = np.log1p(np.arange(48.0).reshape(4, 12))
    trends.fit_slopes(dates, logs, weights)
    trends.fit_slopes(dates, logs, method="huber")
    # quantiles of the streamed histograms (int32 counts, as the main job's accumulators)
    Accumulator.empty(np.ones((2, 3)), samples=8).quantiles([0.025, 0.5, 0.975])
    # the rows of a Saltelli design, and the Sobol' points they are made from (scipy
    # scrambles the design's 6-dimensional sequence once, and its table is stored)
    SaltelliDesign(3, [[0], [1, 2]], 2).uniforms(0, 8)


def compile_point_kernel():
    """Evaluate two cards at their point values through the notable runs' point kernel, which
    calls the model's stage functions as the fused kernel does: after the child, which has
    cached them."""
    from mlimpact.engine.kernels.training import evaluate_runs
    from mlimpact.tables.factors import PRODUCTION_FACTORS

    evaluate_runs(_cards()[0], PRODUCTION_FACTORS)


def start():
    """Start the child process that compiles the fused kernel (:func:`compile_fused_kernel`)
    if numba's cache does not hold it and can be written; its handle, or None."""
    from mlimpact._config import cache_dir, cached_on_disk
    from mlimpact.engine.kernels.montecarlo import fused_kernel

    folder = cache_dir()
    if folder is None or cached_on_disk(fused_kernel):
        return None
    # the child writes into this process's cache folder, whatever the environment said when
    # this process started (no child: this process compiles everything, as without one)
    return start_module(
        "mlimpact.study.warmup", environment={"NUMBA_CACHE_DIR": os.path.dirname(folder)}
    )


def wait(child):
    """Compile the other kernels here (:func:`compile_other_kernels`) while the child of
    :func:`start` compiles the fused one, wait for the child (at most :data:`WAIT_TIMEOUT`
    seconds), then compile the notable runs' point kernel (:func:`compile_point_kernel`) on
    the child's cached stage functions. None: no child, nothing is done here."""
    if child is None:
        return
    try:
        compile_other_kernels()
        finish(child, timeout=WAIT_TIMEOUT)
        compile_point_kernel()
    except Exception:  # a speed-up only: the study compiles what is missing as it goes
        finish(child)


def finish(child, timeout=0.0):
    """Reap the child of :func:`start` (None: nothing to do): wait at most ``timeout`` seconds
    for it to end (by default none: a failed or interrupted study does not wait for a
    compilation), then stop it. Numba writes each cache file whole (a temporary file
    renamed); a child stopped between a kernel's index and its data leaves an entry that
    numba reads as missing (it compiles the kernel again)."""
    if child is None:
        return
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":
    compile_fused_kernel()
