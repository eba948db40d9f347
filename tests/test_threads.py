"""The BLAS threads held to one while a command or an API entry point runs, and given back.

The suite runs with them held to one (conftest.py): each test here sets two first."""

import argparse

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mlimpact import cli
from mlimpact._threads import one_blas_thread

#: The BLAS libraries loaded before any test here (numpy's): the ones a limit holds.
LOADED = {pool["filepath"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def _blas_threads():
    return [
        pool["num_threads"]
        for pool in threadpool_info()
        if pool["user_api"] == "blas" and pool["filepath"] in LOADED
    ]


@pytest.fixture(autouse=True)
def two_blas_threads():
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_one_blas_thread_holds_the_pools_to_one_and_gives_them_back():
    before = _blas_threads()
    assert before and set(before) == {2}  # numpy's BLAS is loaded
    inside = one_blas_thread(_blas_threads)()
    assert inside == [1] * len(inside)
    assert _blas_threads() == before


def test_a_command_runs_with_one_blas_thread():
    seen = []
    args = argparse.Namespace(handler=lambda _: seen.append(_blas_threads()))
    assert cli._handle(args) == 0
    assert seen and seen[0] and set(seen[0]) == {1}


def test_the_api_entry_points_hold_the_blas_threads():
    import numpy as np

    import mlimpact

    seen = []

    def model(values):
        seen.append(_blas_threads())
        return values["x"] + values["y"]

    mlimpact.sobol(model, {"x": 1.0, "y": {"type": "uniform", "low": 0, "high": 1}}, 64)
    assert seen and all(set(threads) == {1} for threads in seen)
    wrapper = one_blas_thread(np.sum).__code__
    for function in (mlimpact.estimate, mlimpact.run_study):  # the same wrapper
        assert function.__code__ is wrapper and function.__wrapped__
