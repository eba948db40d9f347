"""Numba options in one place, so that every kernel is compiled the same way.

``cache=True`` keeps compiled kernels on disk between processes (numba falls back to a user
cache directory when the package folder is read-only). ``fastmath`` stays off: results must
match the numpy references to rounding, and reassociation would break chunk-size invariance.
"""

JIT_OPTIONS = {"cache": True, "fastmath": False, "nogil": True}
PARALLEL_JIT_OPTIONS = {**JIT_OPTIONS, "parallel": True}
