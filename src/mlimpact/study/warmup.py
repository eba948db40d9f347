"""Compile, on a cold numba cache, the main job's later kernels in a second process.

With numba's disk cache empty, ``mlimpact run`` compiles its kernels one after the other on one
core: the fused Monte Carlo kernel (about 9 s of the cold run on 2 cores) and then, as the
study reaches them, the trend fits, the histogram quantiles, the point kernel of the notable
runs, the Saltelli rows and the counter-based uniforms (about 6 s more). Numba compiles one
function at a time in a process (its compiler lock), but each kernel is cached on disk by
its types, and a process looks in that cache before it compiles: so :func:`start` launches
``python -m mlimpact.study.warmup``, which calls :func:`compile_later_kernels` (each kernel
once, on a few numbers, with the types the main job gives it) while this process compiles
the fused kernel on the other core. When the study reaches those kernels, it loads them from
the cache. Nothing waits on the child: a kernel this process needs before the child has
cached it is compiled here as before (same code, same results), and :func:`finish` reaps the
child at the end (it is stopped if it is still compiling by then, or at once if the study
fails).

Only a cold cache that can be written starts a child
(:func:`mlimpact._config.cached_on_disk` of the fused kernel, :func:`mlimpact._config.cache_dir`);
a warm run starts no process.
"""

import subprocess
import sys

import numpy as np

#: Seconds :func:`finish` waits for the child to end before it stops it.
FINISH_TIMEOUT = 30.0


def compile_later_kernels():
    """Call each kernel the main job reaches after the fused Monte Carlo kernel, once, on a
    few numbers, with the argument types the main job gives it (so that numba compiles and
    caches the same specialisation), in the order the study reaches them."""
    from mlimpact.analysis import trends
    from mlimpact.engine.kernels.training import evaluate_runs
    from mlimpact.engine.propagate import Accumulator
    from mlimpact.runs.cards import card_runs, catalogue_gpus, why_not_priced
    from mlimpact.tables.factors import PRODUCTION_FACTORS
    from mlimpact.uncertainty.sampling import Design, SaltelliDesign

    # counter-based uniforms (the bootstrap weights, the Monte Carlo designs)
    weights = trends.bootstrap_weights(12, 0, 4, 0)
    # trend fits: weighted least squares and Huber's, one kernel (trends._fit_rows)
    dates = np.linspace(2015.0, 2025.0, 12)
    logs = np.log1p(np.arange(48.0).reshape(4, 12))
    trends.fit_slopes(dates, logs, weights)
    trends.fit_slopes(dates, logs, method="huber")
    # quantiles of the streamed histograms (int32 counts, as the main job's accumulators)
    Accumulator.empty(np.ones((2, 3)), samples=8).quantiles([0.025, 0.5, 0.975])
    # the point kernel of a run table
    priced = [h for h in catalogue_gpus() if why_not_priced(h, "mixture") is None][:2]
    runs, _ = card_runs(priced, "mixture")
    evaluate_runs(runs, PRODUCTION_FACTORS)
    # the rows of a Saltelli design, and the Monte Carlo design's uniforms
    SaltelliDesign(3, [[0], [1, 2]], 2).uniforms(0, 8)
    Design("mc", 4, 3).uniforms(0, 4)


def start():
    """Start the child process that compiles the later kernels (:func:`compile_later_kernels`)
    if numba's cache is cold and can be written; its handle for :func:`finish`, or None."""
    from mlimpact._config import cache_dir, cached_on_disk
    from mlimpact.engine.kernels.montecarlo import fused_kernel

    if cache_dir() is None or cached_on_disk(fused_kernel):
        return None
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "mlimpact.study.warmup"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # no child: this process compiles everything, as without one
        return None


def finish(child, stop=False):
    """Reap the child of :func:`start` (None: nothing to do): wait for it to end, at most
    :data:`FINISH_TIMEOUT` seconds, or with ``stop`` (the study failed or was interrupted: its
    error should not wait for a compilation) not at all, then stop it. Numba writes each
    cache file whole (a temporary file renamed), so a stopped child leaves no partial entry
    in the cache."""
    if child is None:
        return
    try:
        child.wait(timeout=0 if stop else FINISH_TIMEOUT)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":
    compile_later_kernels()
