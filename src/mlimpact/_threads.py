"""The BLAS library's threads held to one while the package's kernels run (a module of its
own, without numba: the command line imports it at start-up)."""

import functools
import os


def one_blas_thread(function):
    """Run ``function`` with the BLAS library's threads held to one (threadpoolctl), then
    give them back: the command line's commands and the public API's entry points.

    The numba kernels take both cores in parallel regions that alternate with numpy's
    matrix products (the Sobol' accumulators' bootstrap products, the trend fits). OpenBLAS's
    threads spin for a while after each product, so a kernel's threads then shared their
    cores with them and waited for each other: ``mlimpact run`` took 27.5 s instead of 21.0 s,
    the Sobol' analysis of a five-run inventory 4 s instead of 1.4 s (docs/performance.md).
    The products are small; on one thread they lose nothing."""

    @functools.wraps(function)
    def limited(*args, **kwargs):
        with _limits():
            return function(*args, **kwargs)

    return limited


def _limits():
    """threadpoolctl's limit of every BLAS loaded now (numpy's among them: the products run
    there), about a millisecond to find them, once per command or API call."""
    import numpy  # noqa: F401 (the BLAS whose threads are held is numpy's)

    # threadpoolctl sets KMP_DUPLICATE_LIB_OK in the environment when imported (for
    # programs that load two OpenMP runtimes); using mlimpact changes nothing there
    kept = os.environ.get(_KMP)
    from threadpoolctl import threadpool_limits

    if kept is None:
        os.environ.pop(_KMP, None)
    return threadpool_limits(limits=1, user_api="blas")


_KMP = "KMP_DUPLICATE_LIB_OK"
