"""The Dask backend on a real LocalCluster of two worker processes."""

import os
import signal

import numpy as np
import pytest

from mlimpact.engine import distributed, propagate
from mlimpact.errors import MlimpactError
from mlimpact.quantities import CRITERIA
from mlimpact.runs import notable
from mlimpact.study import claims as study
from mlimpact.study.options import StudyOptions
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, run_parameters

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    client = distributed.connect("local", workers=2)
    yield client
    distributed.close(client)


@pytest.fixture(scope="module")
def dataset():
    runs = notable.build_runs()
    bound = bind(
        {**default_catalogue(), **run_parameters(runs)},
        runs.runs,
        runs.hardware,
        runs.countries,
        runs.known,
    )
    return runs, bound


def assert_same(a, b):
    for name in CRITERIA:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=0)


def test_same_results_with_and_without_dask(client, dataset):
    runs, bound = dataset
    local = propagate.propagate(runs.runs, bound, 2048, seed=4, chunk_size=512)
    remote = propagate.propagate(runs.runs, bound, 2048, seed=4, chunk_size=512, client=client)
    assert_same(local, remote)


def test_same_screened_sensitivity_with_and_without_dask(client):
    # the design chunks and the screened group's rows of the pilot's reuse run as tasks
    from mlimpact.study.sensitivity import impact_sensitivity

    arguments = dict(
        n=16,
        dataset=notable.DatasetOptions(window=(2021, 2022)),
        per_model=False,
        target=1e-9,
        max_n=32,
        screen=True,
    )
    local = impact_sensitivity(**arguments)
    remote = impact_sensitivity(**arguments, client=client)
    for name in ("models", "cards"):
        assert local[name].attrs["screened"] == remote[name].attrs["screened"]
        for variable in ("S1", "ST", "ST_halfwidth"):
            np.testing.assert_array_equal(local[name][variable], remote[name][variable])


def test_same_claims_with_and_without_dask(client):
    options = StudyOptions(
        samples=256,
        seed=2,
        chunk_size=128,
        sensitivity_samples=0,
        specifications=False,
        scenarios=("baseline", "location_shifting"),
    )
    local = study.run_study(options)
    remote = study.run_study(options, client=client)
    assert len(local.claims) == len(remote.claims)
    for a, b in zip(local.claims, remote.claims):
        assert (a["claim"], a["criterion"], a["scenario"]) == (
            b["claim"],
            b["criterion"],
            b["scenario"],
        )
        for key in ("estimate", "low", "high", "probability"):
            assert a[key] == pytest.approx(b[key], rel=1e-12)
    assert_same(local.scenarios["baseline"].summary, remote.scenarios["baseline"].summary)


def test_lost_worker_is_recomputed(client, dataset, tmp_path):
    # the worker that evaluates the fourth chunk dies there, once (SIGKILL: no clean-up, its
    # finished chunks lost with it); the scheduler recomputes what it held on the other worker
    # and the result is the same as without Dask. Eight chunks of 128 samples: the check
    # needs chunks on both workers, one of them lost with its worker, not many samples (the
    # comparison is to 1e-12 whatever their number; it was 4,096 samples in 16 chunks)
    runs, bound = dataset
    n, chunk = 1024, 128
    expected = propagate.propagate(runs.runs, bound, n, seed=9, chunk_size=chunk)
    flag = str(tmp_path / "killed")

    def kill_once(start, stop, samples):
        if start == 3 * chunk and not os.path.exists(flag):
            open(flag, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)

    result, _ = propagate.propagate(
        runs.runs, bound, n, seed=9, chunk_size=chunk, client=client, on_chunk=kill_once
    )
    assert os.path.exists(flag), "no worker was killed"
    assert_same(expected, result)
    client.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(MlimpactError, match="cannot reach the Dask scheduler"):
        distributed.connect("tcp://127.0.0.1:9", timeout=2)
