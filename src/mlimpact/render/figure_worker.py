"""Figures drawn in a second process while this one writes the rest of a result folder.

The main job's twelve figures took about 3 s to draw, on one core (matplotlib's drawing holds
the interpreter's lock, so threads would not share it), after the study, when nothing else
runs. :func:`mlimpact.render.report.write_study`, given :meth:`FigureWorker.start` (the
command line and :meth:`mlimpact.api.Study.write` give it), shares the drawing with a second
process while it writes the tables:

- where the system forks (Linux), a copy of this process (:class:`ForkedWorker`, started in
  milliseconds, its modules and the figures' data already there) and this one take the
  figures from one queue, each the next as it is free, so that both end together;
- elsewhere, or where no fork can be made, ``python -m mlimpact.render.figure_worker``
  (:class:`FigureWorker`, about 0.4 s to start) draws the slowest figures
  (:data:`SPAWNED`), read from a private temporary file, and this process the others.

A figure is a *job*: ``(function, args, kwargs, filename)``, the name of a figure function of
:mod:`mlimpact.render.plots` and its arguments, drawn into ``filename`` of the result folder
by :func:`mlimpact.render.plots.draw`. A job the worker did not draw (it could not start,
failed, or took longer than :data:`TIMEOUT`) is drawn here, after any temporary file of its
figure is removed: the same figures, the same files, whichever process draws them.
"""

import os
import pickle
import signal
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from mlimpact._process import start_module
from mlimpact.render.plots import draw

#: What the worker prints before the index of each job it has drawn (anything else printed,
#: by a library say, is not taken for one).
_DRAWN = "drawn "

#: Seconds :meth:`FigureWorker.finish` waits for the worker (its share takes about 2 s on 2
#: cores) before it stops it and draws the figures it has not drawn.
TIMEOUT = 60.0

#: The figures a spawned worker (:class:`FigureWorker`) draws: the slowest three of the main
#: job (validation.png 0.7 s, specifications.png 0.45 s, levels.png 0.25 s), whose arguments
#: pickle small and need no module beyond matplotlib's and numpy's (the Sobol' figure's
#: Datasets would have it import xarray, 1.2 s): with its 0.4 s start, about half the
#: drawing.
SPAWNED = ("validation_figure", "specification_figure", "levels_figure")


class FigureWorker:
    """A spawned second process drawing ``jobs`` into ``folder`` while this one draws
    ``here`` (:meth:`start`), reaped with :meth:`finish` (which draws ``here`` first, then
    returns the jobs the worker did not draw) or :meth:`stop`."""

    def __init__(self, process, jobs, folder, job_file, here=()):
        self.process, self.jobs, self.folder, self.job_file = process, jobs, folder, job_file
        self.here = list(here)

    @classmethod
    def start(cls, jobs, folder, fork=None):
        """A second process drawing some of ``jobs`` into ``folder``, started: a
        :class:`ForkedWorker` sharing every job where this process can fork (``fork`` None:
        on Linux; True: wherever it can), else this class's worker drawing the jobs of
        :data:`SPAWNED`. None if there is nothing to draw or no second process can start
        (the caller then draws every job)."""
        if not jobs:
            return None
        _release_freed_memory()
        if fork is None:
            fork = sys.platform.startswith("linux")
        if fork and hasattr(os, "fork"):
            worker = ForkedWorker.start(jobs, folder)
            if worker is not None:
                return worker
        here = [job for job in jobs if job[0] not in SPAWNED]
        jobs = [job for job in jobs if job[0] in SPAWNED]
        if not jobs:
            return None
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
        return cls(process, list(jobs), Path(folder), job_file, here)

    def finish(self, timeout=TIMEOUT):
        """Draw here the jobs the worker was not given, then wait for it (at most
        ``timeout`` seconds, then stop it); the jobs it did not draw, each figure's temporary
        files removed so that the caller can draw it."""
        for job in self.here:
            draw(job, self.folder)
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        finally:
            Path(self.job_file).unlink(missing_ok=True)
        # "drawn <index>" is printed once a figure is saved: those drawn before a failure hold
        return _undrawn(self.jobs, _drawn_marks(output), self.folder)

    def stop(self):
        """Stop the worker at once (a failed or interrupted write does not wait for it)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.communicate()
        Path(self.job_file).unlink(missing_ok=True)


#: Most jobs a :class:`ForkedWorker` queues: their indices, 4 bytes each, are written into its
#: queue's pipe before anyone reads, in one write that no pipe's buffer (4 KB at least) holds
#: back.
QUEUED = 1024


class ForkedWorker:
    """A copy of this process (``os.fork``) drawing ``jobs`` into ``folder`` as this one
    does (:meth:`start`): both take the next job from one queue, so each figure is drawn
    once, by whichever process is free first. Reaped with :meth:`finish` (which draws here
    until the queue is empty, then waits for the copy) or :meth:`stop`.

    The queue is a pipe holding every job's index as 4 bytes, written at once before the
    fork (at most 4 KB, :data:`QUEUED`, which a pipe holds): a read of 4 bytes takes one index, and
    the system serialises the two processes' reads, so no index is taken twice; the end of
    the pipe says that none is left. The copy reports each job drawn as ``drawn <index>``
    on a second pipe. The copy runs no numba kernel and no thread (the fork keeps only the
    forking thread): it draws with matplotlib, then leaves by ``os._exit``, with none of
    this process's exit handlers."""

    def __init__(self, pid, queue, marks, jobs, folder):
        self.pid, self.queue, self.marks = pid, queue, marks
        self.jobs, self.folder = jobs, Path(folder)
        self.returncode = None

    @classmethod
    def start(cls, jobs, folder):
        """The copy, started; None where the system cannot fork, or for more jobs than
        :data:`QUEUED` (their indices would not fit in the pipe before the copy reads)."""
        jobs = list(jobs)
        if len(jobs) > QUEUED:
            return None
        queue_read = queue_write = marks_read = marks_write = None
        try:
            queue_read, queue_write = os.pipe()
            marks_read, marks_write = os.pipe()
            os.write(queue_write, b"".join(struct.pack("<i", k) for k in range(len(jobs))))
            os.close(queue_write)
            queue_write = None
            sys.stdout.flush()
            sys.stderr.flush()
            with warnings.catch_warnings():  # (Python 3.12+ warns of forking with threads,
                # here numba's idle workers: the copy only draws, with none of them)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:  # no process left, too many open files: no copy
            for fd in (queue_read, queue_write, marks_read, marks_write):
                if fd is not None:
                    os.close(fd)
            return None
        if pid == 0:  # the copy
            try:
                os.close(marks_read)
                _draw_queued(jobs, folder, queue_read, marks_write)
            finally:
                os._exit(0)
        os.close(marks_write)
        return cls(pid, queue_read, marks_read, jobs, folder)

    def finish(self, timeout=TIMEOUT):
        """Draw the queue's jobs here as the copy draws its own, then wait for the copy (at
        most ``timeout`` seconds after the queue is empty, then stop it); the jobs neither
        drew, each figure's temporary files removed so that the caller can draw it."""
        import select

        drawn = set(_draw_queued(self.jobs, self.folder, self.queue))
        deadline = time.monotonic() + timeout
        output = bytearray()
        while not self._ended():
            if time.monotonic() > deadline:
                self._kill()
                break
            ready, _, _ = select.select([self.marks], [], [], 0.05)
            if ready:
                output += os.read(self.marks, 65536)
        output += _read_all(self.marks)  # (the copy has ended: its end of the pipe is closed)
        self._close()
        return _undrawn(self.jobs, drawn | _drawn_marks(bytes(output)), self.folder)

    def stop(self):
        """Stop the copy at once (a failed or interrupted write does not wait for it)."""
        self._kill()
        self._close()

    def _ended(self):
        """Whether the copy has ended (and is reaped)."""
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid != 0:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode is not None

    def _kill(self):
        """Kill the copy if it runs, and reap it."""
        if self.returncode is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:  # (ended meanwhile: reaped below)
                pass
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)

    def _close(self):
        """Close this process's ends of the pipes (once)."""
        for fd in (self.queue, self.marks):
            if fd >= 0:
                os.close(fd)
        self.queue = self.marks = -1


def _read_all(fd):
    """Every byte left in the pipe ``fd`` (until its writers have closed it)."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _draw_queued(jobs, folder, queue, marks=None):
    """Draw the jobs whose indices this process takes from the ``queue`` pipe until it is
    empty (:func:`_draw_each`), writing ``drawn <index>`` to the ``marks`` pipe for each if
    given; the indices drawn."""
    drawn = []

    def mark(k):
        drawn.append(str(k))
        if marks is not None:
            os.write(marks, f"{_DRAWN}{k}\n".encode("ascii"))

    if queue >= 0:  # (a worker stopped has closed its queue)
        _draw_each(((k, jobs[k]) for k in _taken(queue)), folder, mark)
    return drawn


def _taken(queue):
    """The job indices this process takes from the ``queue`` pipe, 4 bytes each, until it
    is empty."""
    while len(taken := os.read(queue, 4)) == 4:
        yield struct.unpack("<i", taken)[0]


def _draw_each(indexed, folder, mark):
    """Draw each ``(index, job)`` of ``indexed`` into ``folder``, calling ``mark(index)`` once
    its figure is saved. A job that fails is left to whoever reaps the worker, which draws it
    again (and reports its error if it fails there too)."""
    for k, job in indexed:
        try:
            draw(job, folder)
        except Exception:  # noqa: BLE001 (drawn again by the caller, who sees its error)
            continue
        mark(k)


def _drawn_marks(output):
    """The indices a worker's output marks as drawn (``drawn <index>`` lines)."""
    lines = output.decode("ascii", "replace").splitlines()
    return {line.removeprefix(_DRAWN) for line in lines if line.startswith(_DRAWN)}


def _undrawn(jobs, drawn, folder):
    """The jobs not marked ``drawn`` (indices as text) or whose file is not in ``folder``,
    their figures' temporary files removed (a worker stopped while it saved one leaves
    its temporary file)."""
    folder = Path(folder)
    missing = [
        job for k, job in enumerate(jobs) if str(k) not in drawn or not (folder / job[3]).is_file()
    ]
    for job in missing:
        for leftover in folder.glob(f".{job[3]}.*"):
            leftover.unlink(missing_ok=True)
    return missing


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
    _draw_each(enumerate(jobs), folder, lambda k: print(f"{_DRAWN}{k}", flush=True))


if __name__ == "__main__":
    _main(sys.argv[1])
