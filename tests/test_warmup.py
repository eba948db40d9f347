"""The cold-cache warm-up: a child compiles the main job's later kernels, with the main job's
types, while the main process compiles the fused kernel."""

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
    assert _signatures() == before


def test_a_warm_cache_starts_no_child(monkeypatch):
    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: True)
    monkeypatch.setattr(subprocess, "Popen", pytest.fail)
    assert warmup.start() is None
    warmup.finish(None)  # nothing to reap


def test_a_cold_cache_starts_the_module_as_a_child(monkeypatch):
    started = []
    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: False)
    monkeypatch.setattr(subprocess, "Popen", lambda args, **kwargs: started.append(args))
    warmup.start()
    assert started == [[sys.executable, "-m", "mlimpact.study.warmup"]]


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


def test_a_failed_study_stops_the_child_at_once(monkeypatch):
    child = _sleeping_child()
    monkeypatch.setattr(warmup, "start", lambda: child)
    monkeypatch.setattr(warmup, "wait", lambda child: None)  # the child still compiling

    def fail(*args):
        raise MlimpactError("the study failed")

    monkeypatch.setattr(claims, "_run_study", fail)
    started = time.perf_counter()
    with pytest.raises(MlimpactError, match="the study failed"):
        claims.run_study(StudyOptions())
    assert child.returncode is not None
    assert time.perf_counter() - started < 30.0  # not the child's 60 s


def test_the_child_runs_to_its_end(quick_study):
    # the child's own entry point (warm here after the quick study: it loads its kernels),
    # which a cold run starts with its output discarded: an error in it would go unseen
    done = subprocess.run(
        [sys.executable, "-m", "mlimpact.study.warmup"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
