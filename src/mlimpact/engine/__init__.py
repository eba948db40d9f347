"""Stage 4, the engine: numba kernels of the impact model, the point model, Monte Carlo
propagation with streaming reductions, and the Dask backend."""

#: Samples per chunk of a propagation (memory: chunk x runs x quantities values at most).
DEFAULT_CHUNK_SIZE = 16_384
