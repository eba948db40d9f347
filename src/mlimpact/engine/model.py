"""The deterministic impact model (MLCA [1]_): public functions that validate and label.

- :func:`training_impacts` evaluates every run of a :class:`~mlimpact.runs.table.RunTable` and
  returns an :class:`xarray.Dataset` with ``energy`` (model) [kWh], ``energy_by_scope``
  (model, scope) [kWh] over the scopes accelerators, host and overhead, and ``gwp``
  [kg CO2eq], ``adpe`` [kg Sb eq], ``pe`` [MJ] over (model, phase), phases production, use,
  total.
- :func:`card_production` gives the production impacts of graphics cards, split into die,
  memory and the rest.

The computations are the numba kernels of :mod:`mlimpact.engine.kernels`; equations and sources are
in ``docs/methodology.md``.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
"""

import numpy as np
import xarray as xr

from mlimpact import quantities as q
from mlimpact.engine.kernels.training import cards_kernel, evaluate_runs
from mlimpact.errors import MlimpactError
from mlimpact.runs.table import RUN_FIELDS, RunTable, bounds_text, out_of_bounds
from mlimpact.tables.factors import PRODUCTION_FACTORS

_SOURCE = (
    "MLCA (Morand, Ligozat, Neveol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031); "
    "factors of Boavizta and Loubet et al. 2023"
)


def validate_runs(runs):
    """Check every field of a run table against :data:`mlimpact.runs.table.FIELD_BOUNDS`."""
    if not isinstance(runs, RunTable):
        raise TypeError(f"expected a RunTable, got {type(runs).__name__}")
    for j, field in enumerate(RUN_FIELDS):
        bad = out_of_bounds(field, runs.values[:, j])
        if bad.any():
            r = int(np.argmax(bad))
            raise MlimpactError(
                f"run {runs.names[r]!r}: {field} = {runs.values[r, j]:g} is outside the "
                f"accepted range {bounds_text(field)}"
            )


def checked_factors(production_factors):
    """Production factors as a C-contiguous float64 array of the shape of
    :data:`mlimpact.tables.factors.PRODUCTION_FACTORS` (item, criterion)."""
    factors = np.ascontiguousarray(production_factors, dtype=np.float64)
    if factors.shape != PRODUCTION_FACTORS.shape:
        raise MlimpactError(f"production factors must have shape {PRODUCTION_FACTORS.shape}")
    # a writable copy of the read-only table: numba compiles the kernels again for read-only
    # arrays, and the Monte Carlo path hands them writable per-sample factors
    return factors if factors.flags.writeable else factors.copy()


def criterion_variables(values):
    """Per-criterion variables from quantities on the last axis of ``values`` (any leading
    dims, :data:`mlimpact.quantities.TRAINING_QUANTITIES` order, totals included): ``energy``
    with the leading dims, ``energy_by_scope`` with ``scope`` added last, each impact
    criterion with ``phase`` added last. Returns ``{name: (added dims, values, attrs)}``."""
    energy = {"units": q.UNITS["energy"], "long_name": q.LONG_NAMES["energy"]}
    out = {
        "energy": ((), values[..., q.training_index("energy")], energy),
        "energy_by_scope": (
            ("scope",),
            np.stack(
                [values[..., q.training_index("energy", s)] for s in q.ENERGY_SCOPES], axis=-1
            ),
            {
                **energy,
                "long_name": f"{energy['long_name']}, by scope (accelerators, "
                "host, facility overhead: they add up to energy)",
            },
        ),
    }
    for criterion in q.IMPACT_CRITERIA:
        out[criterion] = (
            ("phase",),
            np.stack(
                [values[..., q.training_index(criterion, phase)] for phase in q.PHASES], axis=-1
            ),
            {"units": q.UNITS[criterion], "long_name": q.LONG_NAMES[criterion]},
        )
    return out


#: Coordinates of the dims that :func:`criterion_variables` adds.
CRITERION_COORDS = {"phase": list(q.PHASES), "scope": list(q.ENERGY_SCOPES)}


def with_totals(raw):
    """Kernel output (..., N_KERNEL_OUT) with the totals of each criterion appended, in
    :data:`mlimpact.quantities.TRAINING_QUANTITIES` order."""
    n = len(q.IMPACT_CRITERIA)
    return np.concatenate(
        [raw, raw[..., q.PRODUCTION : q.PRODUCTION + n] + raw[..., q.USE : q.USE + n]], axis=-1
    )


def impacts_dataset(raw, names, attrs=None):
    """Label kernel output of shape (model, N_KERNEL_OUT) as a Dataset (model, phase)."""
    if raw.shape[-1] != q.N_KERNEL_OUT:
        raise ValueError(f"expected {q.N_KERNEL_OUT} outputs per run, got {raw.shape[-1]}")
    data = {
        name: (("model", *dims), values, attrs_)
        for name, (dims, values, attrs_) in criterion_variables(with_totals(raw)).items()
    }
    return xr.Dataset(
        data,
        coords={"model": list(names), **CRITERION_COORDS},
        attrs={"source": _SOURCE, **(attrs or {})},
    )


def training_impacts(runs, production_factors=PRODUCTION_FACTORS):
    """Energy and impacts of every run of ``runs``, split into production and use.

    Parameters
    ----------
    runs : RunTable
        Validated by :func:`validate_runs`.
    production_factors : array of shape (item, criterion), optional
        LCA factors (default :data:`mlimpact.tables.factors.PRODUCTION_FACTORS`).

    Returns
    -------
    xarray.Dataset
        ``energy`` (model) [kWh], ``energy_by_scope`` (model, scope) [kWh]; ``gwp``
        [kg CO2eq], ``adpe`` [kg Sb eq], ``pe`` [MJ] over (model, phase).
    """
    validate_runs(runs)
    raw = evaluate_runs(runs, checked_factors(production_factors))
    if not np.isfinite(raw).all():
        r = int(np.argmax(~np.isfinite(raw).all(axis=1)))
        raise MlimpactError(
            f"run {runs.names[r]!r}: the results are not finite numbers "
            "(an input is outside its physical range: docs/setup.md)"
        )
    return impacts_dataset(raw, runs.names)


def card_production(runs, production_factors=PRODUCTION_FACTORS):
    """Production impacts of the graphics card of every run: die, memory, other and total.

    MLCA: ``M_gpu = A_die f_die + f_base + (C_mem / rho_mem) f_mem_die + f_mem_base``; with a
    run's production model set to ACT, the GWP of die and memory is ACT's (see
    :mod:`mlimpact.engine.kernels.production`). Runs for single cards are built by
    :func:`mlimpact.runs.cards.card_runs`.

    Parameters
    ----------
    runs : RunTable
    production_factors : array of shape (item, criterion), optional

    Returns
    -------
    xarray.Dataset
        ``gwp`` [kg CO2eq], ``adpe`` [kg Sb eq], ``pe`` [MJ] over (hardware, component), with
        components die, memory, other, total; ``hardware`` holds the run names.
    """
    validate_runs(runs)
    return card_dataset(card_parts(runs, checked_factors(production_factors)), runs.names)


def card_parts(runs, production_factors):
    """Production of each run's card, shape (run, criterion, component): the kernel's parts
    (die, memory, other) and their total."""
    out = np.empty((len(runs), len(q.IMPACT_CRITERIA), q.N_CARD_PARTS))
    factors = np.array(production_factors, dtype=np.float64)[np.newaxis]  # a writable copy
    cards_kernel(runs.values, runs.variant_values, runs.variant_cdf, factors, out)
    return np.concatenate([out, out.sum(axis=2, keepdims=True)], axis=2)


def card_dataset(values, names, extra_dims=(), coords=None, attrs=None):
    """Label card values of shape (hardware, criterion, component, *extra) as a Dataset."""
    data = {
        criterion: (
            ("hardware", "component", *extra_dims),
            values[:, c],
            {"units": q.UNITS[criterion], "long_name": q.LONG_NAMES[criterion]},
        )
        for c, criterion in enumerate(q.IMPACT_CRITERIA)
    }
    return xr.Dataset(
        data,
        coords={"hardware": list(names), "component": list(q.COMPONENTS), **(coords or {})},
        attrs={"source": _SOURCE, **(attrs or {})},
    )
