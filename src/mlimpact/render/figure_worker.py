"""Figures drawn in a second process while this one writes the rest of a result folder.

The main job's twelve figures took about 3 s to draw, on one core (matplotlib's drawing holds
the interpreter's lock, so threads would not share it), after the study, when nothing else
runs. :func:`mlimpact.render.report.write_study`, given :meth:`FigureWorker.start` (the
command line and :meth:`mlimpact.api.Study.write` give it), hands the slowest (about half the
drawing) to ``python -m mlimpact.render.figure_worker``, which starts in about 0.4 s, and
draws the others and writes the tables itself meanwhile.

A figure is a *job*: ``(function, args, kwargs, filename)``, the name of a figure function of
:mod:`mlimpact.render.plots` and its arguments (pickled to the worker through a private
temporary file), drawn into ``filename`` of the result folder by
:func:`mlimpact.render.plots.draw`. A job the worker did not draw (it could not start, failed,
or took longer than :data:`TIMEOUT`) is drawn here, after any temporary file of its figure is
removed: the same figures, the same files, whichever process draws them.
"""

import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from mlimpact._process import start_module
from mlimpact.render.plots import draw

#: What the worker prints before the index of each job it has drawn (anything else printed,
#: by a library say, is not taken for one).
_DRAWN = "drawn "

#: Seconds :meth:`FigureWorker.finish` waits for the worker (its share takes about 2 s on 2
#: cores) before it stops it and draws the figures it has not drawn.
TIMEOUT = 60.0


class FigureWorker:
    """A second process drawing ``jobs`` into ``folder`` (:meth:`start`), reaped with
    :meth:`finish` (the jobs it did not draw) or :meth:`stop`."""

    def __init__(self, process, jobs, folder, job_file):
        self.process, self.jobs, self.folder, self.job_file = process, jobs, folder, job_file

    @classmethod
    def start(cls, jobs, folder):
        """The worker drawing ``jobs`` into ``folder``, started; None if there is nothing
        to draw or no second process can start (the caller then draws every job)."""
        if not jobs:
            return None
        _release_freed_memory()
        job_file = None
        try:
            handle, job_file = tempfile.mkstemp(prefix="mlimpact-figures-", suffix=".pickle")
            with os.fdopen(handle, "wb") as stream:
                pickle.dump((str(folder), list(jobs)), stream, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 (no temporary file, an argument that does not
            # pickle: no worker, the caller draws every job, as without one)
            process = None
        else:
            process = start_module(
                "mlimpact.render.figure_worker", job_file, stdout=subprocess.PIPE
            )
        if process is None:
            if job_file is not None:
                Path(job_file).unlink(missing_ok=True)
            return None
        return cls(process, list(jobs), Path(folder), job_file)

    def finish(self, timeout=TIMEOUT):
        """Wait for the worker (at most ``timeout`` seconds, then stop it); the jobs it did
        not draw, each figure's temporary files removed so that the caller can draw it."""
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        finally:
            Path(self.job_file).unlink(missing_ok=True)
        # "drawn <index>" is printed once a figure is saved: those drawn before a failure hold
        lines = output.decode("ascii", "replace").splitlines()
        drawn = {line.removeprefix(_DRAWN) for line in lines if line.startswith(_DRAWN)}
        missing = [
            job
            for k, job in enumerate(self.jobs)
            if str(k) not in drawn or not (self.folder / job[3]).is_file()
        ]
        for job in missing:  # a worker stopped while it saved one leaves its temporary file
            for leftover in self.folder.glob(f".{job[3]}.*"):
                leftover.unlink(missing_ok=True)
        return missing

    def stop(self):
        """Stop the worker at once (a failed or interrupted write does not wait for it)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        Path(self.job_file).unlink(missing_ok=True)


def _release_freed_memory():
    """Give the memory this process has freed back to the system, where the C library is
    glibc (``malloc_trim``; elsewhere nothing is done). After the main job's study, glibc kept
    about 150 MB of freed chunks (resident 493 MB, 340 MB after the call): returned before the
    worker starts, the two processes together hold less than the study did at its peak."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return
    try:  # the C library this process has loaded
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return
    trim(0)


def _main(job_file):
    """Draw the jobs of ``job_file`` (:meth:`FigureWorker.start`'s, removed once read, so that
    a parent killed meanwhile leaves no file behind), printing ``drawn <index>`` for each; a
    job that fails is left to the parent, which draws it again (and reports its error if it
    fails there too). A parent that has gone ends this process at the next index it prints
    (the pipe is closed)."""
    with open(job_file, "rb") as stream:
        folder, jobs = pickle.load(stream)
    Path(job_file).unlink(missing_ok=True)
    for k, job in enumerate(jobs):
        try:
            draw(job, folder)
        except Exception:  # noqa: BLE001 (the parent draws it and reports what fails)
            continue
        print(f"{_DRAWN}{k}", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
