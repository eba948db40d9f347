"""The cold-cache warm-up: a child compiles the main job's later kernels, with the main job's
types, while the main process compiles the fused kernel."""

import subprocess
import sys
import time

import pytest

from mlimpact.analysis import trends
from mlimpact.engine.kernels import montecarlo, training
from mlimpact.errors import MlimpactError
from mlimpact.study import claims, warmup
from mlimpact.study.options import StudyOptions
from mlimpact.uncertainty import sampling


def _signatures():
    kernels = {
        "_fit_rows": trends._fit_rows,
        "histogram_quantiles": montecarlo.histogram_quantiles,
        "training_kernel": training.training_kernel,
        "_counter_uniforms": sampling._counter_uniforms,
    }
    return {name: set(kernel.signatures) for name, kernel in kernels.items()}


def test_the_warm_up_compiles_the_specialisations_the_study_uses(quick_study):
    # after a study, every kernel the warm-up calls has the study's specialisation: calling
    # the warm-up again must not add one (a new one would be a compile the child did for
    # nothing, and that the main process still pays)
    before = _signatures()
    assert all(before.values()), before
    warmup.compile_later_kernels()
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


def test_a_child_that_cannot_start_leaves_the_work_to_this_process(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("no processes left")

    monkeypatch.setattr("mlimpact._config.cached_on_disk", lambda dispatcher: False)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert warmup.start() is None


def test_a_child_still_running_at_the_end_is_stopped(monkeypatch):
    monkeypatch.setattr(warmup, "FINISH_TIMEOUT", 0.2)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    warmup.finish(child)
    assert child.returncode is not None


def test_a_failed_study_stops_the_child_at_once(monkeypatch):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(warmup, "start", lambda: child)

    def fail(*args):
        raise MlimpactError("the study failed")

    monkeypatch.setattr(claims, "_run_study", fail)
    started = time.perf_counter()
    with pytest.raises(MlimpactError, match="the study failed"):
        claims.run_study(StudyOptions())
    assert child.returncode is not None
    assert time.perf_counter() - started < 5.0  # not FINISH_TIMEOUT (30 s)
