"""Running chunks of samples on a Dask cluster.

A chunk of sample indices is the unit of work. Locally, :mod:`mlimpact.engine.propagate` loops over
chunks; with a Dask ``Client``, each chunk is a task that runs the same numba kernels and
streaming reductions on a worker and returns its accumulator (histograms sent sparsely) and
its per-sample statistics; the client merges them in chunk order. Since every sample's random
numbers are addressed by (seed, sample index), the results do not depend on the number of
workers or on which worker ran which chunk, and a task lost with its worker is recomputed by
Dask with the same numbers.

See ``docs/distributed.md``.
"""

import threading
from collections import deque

from mlimpact.errors import MlimpactError

#: Tasks submitted ahead of the one being merged (chunks are made as they are submitted).
IN_FLIGHT = 64


def connect(scheduler, workers=2, timeout=10):
    """A Dask client: ``"local"`` starts a ``LocalCluster`` of ``workers`` processes (one
    task at a time each; numba parallelises inside a task); anything else is the address of
    an existing scheduler (``tcp://host:8786``), which must answer within ``timeout`` seconds
    (a port that accepts and never answers, or answers something else, is one error line).

    The client is not made dask's default: every task goes to it by name, and a default would
    set dask's global ``scheduler`` option, which a client that never connects leaves behind
    (xarray then refuses to write NetCDF: "Requested dask.distributed scheduler but no Client
    active")."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise MlimpactError(
            "the Dask backend needs dask[distributed]: pip install 'mlimpact[distributed]'"
        ) from None
    if scheduler == "local":
        if workers < 1:
            raise MlimpactError(f"workers must be >= 1 (got {workers})")
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster, set_as_default=False)
    outcome = {}

    def attempt():
        try:
            outcome["client"] = Client(scheduler, timeout=timeout, set_as_default=False)
        except BaseException as error:  # reported below, in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    # a margin past dask's own timeout, for its error (more telling than ours) to arrive
    waited = timeout + min(5, timeout)
    thread.join(waited)
    if "client" in outcome:
        return outcome["client"]
    reason = outcome.get("error")
    detail = (
        f"{reason.__class__.__name__}: {reason}"
        if reason is not None
        else f"no answer within {waited} s"
    )
    raise MlimpactError(f"cannot reach the Dask scheduler at {scheduler!r} ({detail})")


def close(client):
    """Close a client and, for a local cluster, the cluster it started."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def map_chunks(client, task, ranges, progress=None, total=None, **shared):
    """Run ``task(start, stop, **shared)`` for every range on the cluster; yield the results
    in range order, releasing each result on the cluster once it is taken (so that workers do
    not hold finished results). The shared arguments (run tables, bound parameters: small)
    travel with each task, so a task lost with its worker can be recomputed anywhere."""
    pending = deque()
    ranges = iter(ranges)
    while True:
        while len(pending) < IN_FLIGHT:
            chunk = next(ranges, None)
            if chunk is None:
                break
            pending.append((chunk[1], client.submit(task, *chunk, pure=False, **shared)))
        if not pending:
            return
        stop, future = pending.popleft()
        result = future.result()
        future.release()
        if progress is not None and total is not None:
            progress(stop, total)
        yield result
