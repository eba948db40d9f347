"""The main job's progress: its stages, their shares, the first run's compilation, and no bar
where nobody watches it."""

import io

import numba
import pytest

from mlimpact.study.options import StudyOptions
from mlimpact.study.progress import STAGE_LABELS, sobol_progress, study_stages


def test_stages_come_in_the_order_the_job_runs_them_and_share_the_whole_bar():
    stages = study_stages(StudyOptions(), figures=True, compiling=True)
    shares = stages.shares()
    assert list(shares) == [
        "compiling kernels (first run)",
        "sampling: cards",
        "scenario: baseline",
        "scenario: location shifting",
        "scenario: hardware efficiency",
        "sensitivity (Sobol')",
        "validation",
        "specifications",
        "figures and report",
    ]
    assert sum(shares.values()) == pytest.approx(1)
    assert all(share > 0 for share in shares.values())
    # the Sobol' analysis is the longest stage of the default run, once the kernels are
    # compiled (their compilation takes longer still in a first run)
    warm = study_stages(StudyOptions(), figures=True, compiling=False).shares()
    assert max(warm, key=warm.get) == STAGE_LABELS["sensitivity"]


def test_stages_follow_the_options():
    options = StudyOptions(
        scenarios=("baseline",), sensitivity_samples=0, specifications=False, validate=False
    )
    stages = study_stages(options, compiling=False)
    assert list(stages.shares()) == ["sampling: cards", "scenario: baseline"]
    # more samples: the sampling stages take a larger share of the bar
    few = study_stages(StudyOptions(samples=512), compiling=False).shares()
    many = study_stages(StudyOptions(samples=32768), compiling=False).shares()
    assert many["scenario: baseline"] > few["scenario: baseline"]


def test_a_stage_reports_the_fraction_of_the_whole_job():
    seen = []
    options = StudyOptions(scenarios=("baseline",), sensitivity_samples=0, specifications=False)
    stages = study_stages(options, lambda f, what: seen.append((f, what)), compiling=False)
    share = stages.shares()
    stages.start("cards")
    stages.step("cards")(1, 2)
    stages.step("baseline")(2, 2)
    assert seen[0] == (0.0, "sampling: cards")
    assert seen[1] == (pytest.approx(share["sampling: cards"] / 2), "sampling: cards")
    end_of_baseline = share["sampling: cards"] + share["scenario: baseline"]
    assert seen[2] == (pytest.approx(end_of_baseline), "scenario: baseline")


def test_the_sobol_progress_never_moves_back_as_the_analysis_extends():
    seen = []
    report = sobol_progress(lambda fraction, total: seen.append(fraction), expected=1024)
    # 256 base points aimed at, then extended to 2048: done / total would fall from 1 to 1/8
    for done, total in ((128, 256), (256, 256), (512, 2048), (1024, 2048), (2048, 2048)):
        report(done, total)
    assert seen == sorted(seen)
    assert seen[-1] == 1.0 and seen[1] == 0.25


def test_the_first_run_is_told_apart_by_numba_s_cache_index(tmp_path, monkeypatch):
    """`cached_on_disk` is False before a kernel's first call with an empty cache and True
    after it: what makes the bar say "compiling kernels (first run)"."""
    from mlimpact._config import cached_on_disk

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    kernel = numba.njit(cache=True)(_twice)
    assert not cached_on_disk(kernel)
    assert kernel(2.0) == 4.0
    assert cached_on_disk(kernel)


def _twice(x):
    return 2.0 * x


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_draws_on_a_terminal_only(monkeypatch):
    from mlimpact import cli

    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert cli._progress_bar() is None
    assert cli._sensitivity_progress(True) is None
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    cli._progress_bar()(0.5, "sensitivity (Sobol')")
    assert "[###############...............]  50.0 % sensitivity (Sobol')" in terminal.getvalue()
