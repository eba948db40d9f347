"""A second Python process that runs one of the package's modules (the compile warm-up of
:mod:`mlimpact.study.warmup`, the figure worker of :mod:`mlimpact.render.figure_worker`)."""

import os
import subprocess
import sys


def start_module(module, *args, environment=None, stdout=subprocess.DEVNULL):
    """``python -P -m module args``, started and returned (a :class:`subprocess.Popen`), or
    None where no such process can start: an embedding interpreter that does not know its
    executable, a frozen application (it would start itself again), a failed start.

    The child imports this package from this process's ``sys.path`` and nothing from the
    current folder (``-P``: a ``numpy.py`` there would run instead of numpy); its environment
    is this one's with ``environment`` on top. Its stdin and stderr are closed, its stdout
    ``stdout``."""
    if not sys.executable or getattr(sys, "frozen", False):
        return None
    path = os.pathsep.join(p for p in sys.path if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-P", "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env={**os.environ, **(environment or {}), "PYTHONPATH": path},
        )
    except OSError:  # no process left, no such executable: no child
        return None
