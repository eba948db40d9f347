"""The Dask backend on a real LocalCluster of two worker processes."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from mlimpact.engine import distributed, propagate
from mlimpact.errors import MlimpactError
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
    for name in ("energy", "gwp", "adpe", "pe"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=0)


def test_same_results_with_and_without_dask(client, dataset):
    runs, bound = dataset
    local = propagate.propagate(runs.runs, bound, 2048, seed=4, chunk_size=512)
    remote = propagate.propagate(runs.runs, bound, 2048, seed=4, chunk_size=512, client=client)
    assert_same(local, remote)


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


def test_lost_worker_is_recomputed(client, dataset):
    runs, bound = dataset
    expected = propagate.propagate(runs.runs, bound, 32768, seed=9, chunk_size=256)
    pids = list(client.run(os.getpid).values())
    result = {}

    def work():
        result["value"] = propagate.propagate(
            runs.runs, bound, 32768, seed=9, chunk_size=256, client=client
        )

    thread = threading.Thread(target=work)
    thread.start()
    time.sleep(1.5)  # some chunks are running or done
    assert thread.is_alive(), "the run ended before the worker could be killed"
    os.kill(pids[0], signal.SIGKILL)
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert_same(expected, result["value"])
    client.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_is_a_clear_error():
    with pytest.raises(MlimpactError, match="cannot reach the Dask scheduler"):
        distributed.connect("tcp://127.0.0.1:9", timeout=2)
