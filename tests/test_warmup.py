"""The cold-cache warm-up: a child compiles the fused kernel while the main process compiles the
main job's other kernels, each with the main job's types."""

import os
import subprocess
import sys
import time

import pytest

from mlimpact.analysis import trends
from mlimpact.engine import model
from mlimpact.engine.kernels import montecarlo, ppf, training
from mlimpact.errors import MlimpactError
from mlimpact.study import claims, warmup
from mlimpact.study.options import StudyOptions
from mlimpact.uncertainty import sampling


def _signatures():
    kernels = {
        "fused_kernel": montecarlo.fused_kernel,
        "sample_factors": montecarlo.sample_factors,
        "cards_kernel": model.cards_kernel,
        "ppf_columns": ppf.ppf_columns,
        "discrete_columns": ppf.discrete_columns,
        "_fit_rows": trends._fit_rows,
        "histogram_quantiles": montecarlo.histogram_quantiles,
        "training_kernel": training.training_kernel,
        "_counter_uniforms": sampling._counter_uniforms,
        "_saltelli_rows": sampling._saltelli_rows,
        "_sobol_rows": sampling._sobol_rows,
    }
    return {name: set(kernel.signatures) for name, kernel in kernels.items()}


def test_the_warm_up_compiles_the_specialisations_the_study_uses(quick_study):
    # after a study, every kernel the warm-up calls has the study's specialisation: calling
    # the warm-up again must not add one (a new one would be a compile done for nothing,
    # which the main process would still pay)
    before = _signatures()
    assert all(before.values()), before
    warmup.compile_fused_kernel()
    warmup.compile_other_kernels()
    warmup.compile_point_kernel()
    assert _signatures() == before


def test_a_warm_cache_starts_no_child(monkeypatch):
    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: True)
    monkeypatch.setattr(subprocess, "Popen", pytest.fail)
    assert warmup.start() is None
    warmup.finish(None)  # nothing to reap


def test_a_cold_cache_starts_the_module_as_a_child(monkeypatch):
    from mlimpact._config import cache_dir

    started = []
    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: False)
    monkeypatch.setattr(
        subprocess, "Popen", lambda args, **kwargs: started.append((args, kwargs["env"]))
    )
    warmup.start()
    [(args, environment)] = started
    assert args == [sys.executable, "-P", "-m", "mlimpact.study.warmup"]
    # the child writes into this process's cache folder, and imports from this one's path
    assert environment["NUMBA_CACHE_DIR"] == os.path.dirname(cache_dir())
    assert environment["PYTHONPATH"].split(os.pathsep) == [p for p in sys.path if p]


def test_no_child_without_an_interpreter_to_start(monkeypatch):
    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: False)
    monkeypatch.setattr(subprocess, "Popen", pytest.fail)
    monkeypatch.setattr(sys, "executable", "")
    assert warmup.start() is None


def test_a_child_that_cannot_start_leaves_the_work_to_this_process(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: False)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert warmup.start() is None


def _sleeping_child():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_child_that_takes_too_long_is_stopped_and_this_process_goes_on(monkeypatch):
    monkeypatch.setattr(warmup, "WAIT_TIMEOUT", 0.2)
    child = _sleeping_child()
    started = time.perf_counter()
    warmup.wait(child)
    assert child.returncode is not None
    assert time.perf_counter() - started < 30.0  # not the child's 60 s


@pytest.mark.parametrize("error", [MlimpactError("the study failed"), KeyboardInterrupt()])
def test_a_failed_study_stops_the_child_at_once(monkeypatch, error):
    child, waited = _sleeping_child(), []
    monkeypatch.setattr(warmup, "start", lambda: child)
    monkeypatch.setattr(warmup, "wait", waited.append)  # as if the child were still compiling

    def fail(*args):
        raise error

    monkeypatch.setattr(claims, "_run_study", fail)
    started = time.perf_counter()
    with pytest.raises(type(error)):
        claims.run_study(StudyOptions())
    assert waited == [child]
    assert child.returncode is not None
    assert time.perf_counter() - started < 30.0  # not the child's 60 s


def test_a_failed_warm_up_here_leaves_the_kernels_to_the_study(monkeypatch):
    def fail():
        raise RuntimeError("no compiler")

    monkeypatch.setattr(warmup, "compile_other_kernels", fail)
    child = _sleeping_child()
    warmup.wait(child)  # no error: the study compiles what is missing
    assert child.returncode is not None  # and the child is not left behind


def test_the_child_runs_to_its_end(quick_study):
    # the child's own entry point (warm here after the quick study: it loads its kernels),
    # which a cold run starts with its output discarded: an error in it would go unseen
    done = subprocess.run(
        [sys.executable, "-m", "mlimpact.study.warmup"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
