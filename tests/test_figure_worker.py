"""Figures drawn by a second process: the same files, and every figure drawn whatever it does."""

import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from mlimpact.render import figure_worker, report
from mlimpact.render.figure_worker import FigureWorker
from mlimpact.render.plots import draw


@pytest.fixture
def spawned(monkeypatch):
    """The spawned worker (no fork) taking trend figures too (small ones, for quick tests)."""
    monkeypatch.setattr(figure_worker, "SPAWNED", (*figure_worker.SPAWNED, "trend_figure"))
    return lambda jobs, folder: FigureWorker.start(jobs, folder, fork=False)


def _trend_job(filename, title="title"):
    """A small trend figure as a job."""
    dates = np.linspace(2013.0, 2025.0, 12)
    values = np.geomspace(10.0, 1e4, 12)
    slopes, intercepts = np.full(20, 0.5), np.full(20, np.log(10.0) - 0.5 * 2013.0)
    args = (dates, values, values / 2, values * 2, slopes, intercepts, title, "value")
    return ("trend_figure", args, {}, filename)


def test_the_worker_draws_the_files_this_process_draws(tmp_path, spawned):
    jobs = [_trend_job("a.png"), _trend_job("b.png", "other")]
    worker = spawned(jobs, tmp_path / "worker")
    assert worker is not None
    (tmp_path / "worker").mkdir()
    (tmp_path / "here").mkdir()
    assert worker.finish() == []
    for job in jobs:
        draw(job, tmp_path / "here")
        drawn = (tmp_path / "worker" / job[3]).read_bytes()
        assert drawn == (tmp_path / "here" / job[3]).read_bytes() and drawn[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "worker").iterdir()) == ["a.png", "b.png"]
    assert not os.path.exists(worker.job_file)
    # the current folder's modules are not the worker's (-P): a numpy.py there is not run
    assert worker.process.args[:3] == [sys.executable, "-P", "-m"]


@pytest.mark.parametrize("fork", [True, False])
def test_a_job_the_worker_fails_is_left_to_the_caller(tmp_path, spawned, fork):
    # the second job's function does not take its arguments: the worker draws the others and
    # reports them, the caller gets that one back (and draws it, raising its error there)
    jobs = [_trend_job("a.png"), ("trend_figure", (1,), {}, "bad.png"), _trend_job("c.png")]
    worker = FigureWorker.start(jobs, tmp_path) if fork else spawned(jobs, tmp_path)
    assert isinstance(worker, figure_worker.ForkedWorker) == fork
    assert worker.finish() == [jobs[1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "c.png"]


def test_a_worker_past_its_time_is_stopped_and_its_figures_left_to_the_caller(tmp_path):
    jobs = [_trend_job("a.png")]
    (tmp_path / ".a.png.x1y2.png").write_bytes(b"half a figure")  # a save cut short
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], stdout=subprocess.PIPE
    )
    job_file = tmp_path.parent / f"{tmp_path.name}.pickle"
    job_file.write_bytes(b"")
    worker = FigureWorker(sleeper, jobs, tmp_path, str(job_file))
    assert worker.finish(timeout=0.2) == jobs
    assert sleeper.returncode is not None  # stopped, not left running
    assert not list(tmp_path.iterdir()) and not job_file.exists()


def test_no_worker_without_jobs_or_an_interpreter_to_start(tmp_path, monkeypatch, spawned):
    monkeypatch.setattr(figure_worker.tempfile, "tempdir", str(tmp_path))  # job files here
    assert FigureWorker.start([], tmp_path) is None
    monkeypatch.setattr(figure_worker.sys, "executable", "")
    assert spawned([_trend_job("a.png")], tmp_path) is None
    monkeypatch.setattr(figure_worker.sys, "executable", str(tmp_path / "no-python"))
    assert spawned([_trend_job("a.png")], tmp_path) is None
    assert not list(tmp_path.iterdir())  # the job file of the start that failed, removed


def test_stop_ends_the_worker_at_once(tmp_path, spawned):
    worker = spawned([_trend_job(f"{k}.png") for k in range(20)], tmp_path)
    worker.stop()
    assert worker.process.returncode == -signal.SIGKILL  # killed, not waited for
    assert len(list(tmp_path.glob("*.png"))) < 20
    assert not os.path.exists(worker.job_file)


def test_only_the_workers_own_marks_count_as_drawn(tmp_path):
    # a number a library prints, or a mark for a file that is not there, is not a drawn job
    script = "print(0); print('drawn 1'); print('drawn 2')"
    jobs = [_trend_job("a.png"), _trend_job("b.png"), _trend_job("c.png")]
    (tmp_path / "b.png").write_bytes(b"\x89PNG")
    printer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    worker = FigureWorker(printer, jobs, tmp_path, str(tmp_path / "jobs.pickle"))
    assert worker.finish() == [jobs[0], jobs[2]]


@pytest.mark.parametrize("fork", [True, False])
def test_a_failed_report_stops_its_worker(tmp_path, monkeypatch, quick_study, fork):
    started = []

    def start(jobs, folder):
        worker = FigureWorker.start(jobs, folder, fork=fork)
        baseline = quick_study.scenarios["baseline"]
        names = [job[3] for job in report._figure_jobs(quick_study, baseline)]
        assert names and [job[3] for job in jobs] == names
        started.append(worker)
        return worker

    def fail(result):
        raise RuntimeError("report failed")

    monkeypatch.setattr(report, "study_markdown", fail)
    try:
        report.write_study(quick_study, tmp_path, second=start)
    except RuntimeError as error:
        assert str(error) == "report failed"
    else:
        raise AssertionError("the report's error was lost")
    worker = started[0]
    assert isinstance(worker, figure_worker.ForkedWorker) == fork
    ended = worker.returncode if fork else worker.process.returncode
    assert ended is not None  # stopped and reaped, not left running


def test_the_report_draws_here_what_no_second_process_drew(
    tmp_path, quick_study, placeholder_figures
):
    # no second process, one that draws nothing: every figure is in the folder either way
    # (drawn here, so as placeholders: this is about which files, not their pixels)
    (tmp_path / "none").mkdir()
    (tmp_path / "idle").mkdir()
    report.write_study(quick_study, tmp_path / "none")
    idle = []

    def start(jobs, folder):
        idle.append(FigureWorker.start([], folder))  # nothing to draw: None
        worker = FigureWorker(
            subprocess.Popen([sys.executable, "-c", "pass"], stdout=subprocess.PIPE),
            jobs,
            folder,
            str(tmp_path / "jobs.pickle"),
        )
        return worker

    report.write_study(quick_study, tmp_path / "idle", second=start)
    names = sorted(p.name for p in (tmp_path / "none").iterdir())
    jobs = report._figure_jobs(quick_study, quick_study.scenarios["baseline"])
    assert {job[3] for job in jobs} == {name for name in names if name.endswith(".png")}
    assert names == sorted(p.name for p in (tmp_path / "idle").iterdir())
    assert idle == [None]


def test_the_worker_removes_its_job_file_once_read(tmp_path, spawned):
    # a parent killed after the start leaves no job file behind
    worker = spawned([_trend_job("a.png")], tmp_path)
    job_file = worker.job_file
    worker.process.wait(timeout=60)  # (its few printed indices wait in the pipe)
    assert not os.path.exists(job_file)
    assert (tmp_path / "a.png").exists()
    assert worker.finish() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_goes_back_to_the_system_before_the_worker_starts():
    # freed chunks between live ones stay resident until trimmed (what the study leaves)
    def resident():
        with open("/proc/self/statm") as stream:
            return int(stream.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    blocks = [np.ones(8192) for _ in range(2000)]  # 64 KB each, from the heap
    del blocks[::2]  # 64 MB of holes between the kept blocks
    before = resident()
    figure_worker._release_freed_memory()
    assert before - resident() > 32 * 2**20


def test_no_worker_for_jobs_that_do_not_pickle(tmp_path, monkeypatch, spawned):
    # (a lambda does not pickle): no job file is left behind, the caller draws every job
    monkeypatch.setattr(figure_worker.tempfile, "tempdir", str(tmp_path))
    assert spawned([("trend_figure", (lambda: 0,), {}, "a.png")], tmp_path) is None
    assert not list(tmp_path.iterdir())
    assert spawned([_trend_job("a.png")], tmp_path).finish() == []
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # its job file made here, removed


def test_a_spawned_worker_takes_the_slowest_figures_and_leaves_the_others_here(tmp_path):
    # without a fork, the worker draws the figures of SPAWNED and finish() draws the rest here
    jobs = [_trend_job("a.png"), ("levels_figure", (1,), {}, "bad.png")]
    worker = FigureWorker.start(jobs, tmp_path, fork=False)
    assert worker.jobs == [jobs[1]] and worker.here == [jobs[0]]
    assert worker.finish() == [jobs[1]]  # (its arguments are wrong: left to the caller)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_a_forked_worker_draws_the_files_this_process_draws(tmp_path):
    jobs = [_trend_job("a.png"), _trend_job("b.png", "other"), _trend_job("c.png", "third")]
    (tmp_path / "copy").mkdir()
    (tmp_path / "here").mkdir()
    worker = FigureWorker.start(jobs, tmp_path / "copy")
    assert isinstance(worker, figure_worker.ForkedWorker)
    deadline = time.monotonic() + 60  # the copy takes every job before this process asks
    while len(list((tmp_path / "copy").glob("*.png"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.finish() == [] and worker.returncode == 0
    for job in jobs:
        draw(job, tmp_path / "here")
        drawn = (tmp_path / "copy" / job[3]).read_bytes()
        assert drawn == (tmp_path / "here" / job[3]).read_bytes() and drawn[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == ["a.png", "b.png", "c.png"]


def test_this_process_and_its_copy_take_each_job_once_from_the_queue(tmp_path, monkeypatch):
    # both processes draw as they are free: every job is drawn once, by one of the two
    def marked(job, folder):
        draw(job, folder)
        with open(os.path.join(folder, job[3] + ".by"), "a") as stream:
            stream.write(f"{os.getpid()}\n")

    monkeypatch.setattr(figure_worker, "draw", marked)
    jobs = [_trend_job(f"{k}.png", f"title {k}") for k in range(8)]
    worker = FigureWorker.start(jobs, tmp_path)
    assert worker.finish() == []
    by = [(tmp_path / f"{k}.png.by").read_text().split() for k in range(8)]
    assert all(len(pids) == 1 for pids in by)
    assert {pid for pids in by for pid in pids} <= {str(os.getpid()), str(worker.pid)}
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(j[3] for j in jobs)


def test_a_forked_worker_past_its_time_is_stopped_and_its_figures_left_to_the_caller(tmp_path):
    # a copy that never draws (here: a child that sleeps), an empty queue: finish() stops it
    jobs = [_trend_job("a.png")]
    (tmp_path / ".a.png.x1y2.png").write_bytes(b"half a figure")  # a save cut short
    queue_read, queue_write = os.pipe()
    marks_read, marks_write = os.pipe()
    os.close(queue_write)
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(marks_write)
    worker = figure_worker.ForkedWorker(pid, queue_read, marks_read, jobs, tmp_path)
    assert worker.finish(timeout=0.2) == jobs
    assert worker.returncode == -signal.SIGKILL  # stopped, not left running
    assert not list(tmp_path.iterdir())
    assert worker.queue == worker.marks == -1  # this process's ends of the pipes closed


def test_stop_ends_a_forked_worker_at_once(tmp_path):
    worker = FigureWorker.start([_trend_job(f"{k}.png") for k in range(20)], tmp_path)
    worker.stop()
    assert worker.returncode == -signal.SIGKILL
    assert len(list(tmp_path.glob("*.png"))) < 20
    worker.stop()  # a second stop does nothing


def test_the_queue_hands_out_each_index_once(tmp_path):
    # the queue itself: indices as 4 bytes each, read to its end
    read, write = os.pipe()
    os.write(write, b"".join(struct.pack("<i", k) for k in range(5)))
    os.close(write)
    drawn = figure_worker._draw_queued([_trend_job(f"{k}.png") for k in range(5)], tmp_path, read)
    os.close(read)
    assert drawn == ["0", "1", "2", "3", "4"]
