"""Numba options in one place, so that every kernel is compiled the same way.

``cache=True`` keeps compiled kernels on disk between processes. Numba invalidates a cached
kernel when the file that defines it changes, but not when a function it calls from another
module changes (kernels here call across ``engine/kernels/`` and read constants from
``runs/table.py`` and ``quantities.py``), so a stale cache could run old code. The cache
therefore lives in a folder named after a hash of the package's source: any change to the
package gives a fresh cache. The folder is under ``NUMBA_CACHE_DIR`` if set, else the user cache
directory (``$XDG_CACHE_HOME`` or ``~/.cache``)/mlimpact/numba.

Kernels are compiled with :func:`njit`, which points numba's cache at that folder while it
decorates a function (numba picks a function's cache folder when it is decorated) and restores
numba's setting after: importing mlimpact changes nothing for other users of numba. The source
hash is computed when the first kernel is defined, not when the package is imported.

``fastmath`` stays off: results must match the numpy references to rounding, and reassociation would
break chunk-size invariance (the one exception, a tile's plain sums in
:func:`mlimpact.engine.kernels.montecarlo.tile_sums`, says why). Division follows numpy's error
model (a zero divisor gives inf or nan, as in the numpy references) rather than Python's check and
exception at every division, which cost about 6 % of the Monte Carlo kernel's time; inputs are
validated before any kernel runs, so no divisor is zero.
"""

import hashlib
import os
import tempfile
import warnings
from functools import cache
from pathlib import Path

import numba


def _source_hash():
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@cache
def cache_dir():
    """The folder of the package's compiled kernels (see the module's docstring), or None
    where it cannot be created or written (a read-only home, a path through a file): the
    kernels are then compiled in every process, without a cache, and one warning says so."""
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "mlimpact",
        "numba",
    )
    folder = os.path.join(base, _source_hash())
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        warnings.warn(
            f"numba cache folder {folder} cannot be written ({error.strerror}): kernels are "
            "compiled in every run, without a cache (set NUMBA_CACHE_DIR to a writable folder)",
            stacklevel=2,
        )
        return None
    return folder


JIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}
PARALLEL_JIT_OPTIONS = {**JIT_OPTIONS, "parallel": True}


def njit(**options):
    """``numba.njit(**options)`` whose disk cache is the package's folder (:func:`cache_dir`)."""

    def decorate(function):
        folder = cache_dir()
        if folder is None:
            return numba.njit(**{**options, "cache": False})(function)
        previous = numba.config.CACHE_DIR
        numba.config.CACHE_DIR = folder
        try:
            return numba.njit(**options)(function)
        finally:
            numba.config.CACHE_DIR = previous

    return decorate


def cached_on_disk(dispatcher):
    """Whether numba's disk cache holds compiled code of ``dispatcher`` (a kernel made by
    :func:`njit`): its cache index file exists. Numba's cache layout is not a public API, so a
    dispatcher without the expected attributes counts as cached (nothing claimed)."""
    try:
        index = dispatcher._cache._cache_file._index_path
    except AttributeError:
        return True
    return os.path.exists(index)
