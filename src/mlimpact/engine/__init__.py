"""Stage 4, the engine: numba kernels of the impact model, the point model, Monte Carlo
propagation with streaming reductions, and the Dask backend."""
