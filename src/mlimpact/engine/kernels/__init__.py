"""Numba kernels of the impact model.

Scalar ``@njit`` building blocks live in :mod:`.production` (graphics card, server) and
:mod:`.use` (node power, energy); :mod:`.training` combines them into the kernel evaluated for
every run of a run table. Kernels see plain arrays and scalars only; the public functions of
:mod:`mlimpact.engine.model` validate inputs and label outputs. Every kernel has a naive numpy
reference in ``tests/naive.py``.
"""
