"""The deterministic impact model (MLCA [1]_): public functions that validate and label.

- :func:`training_impacts` evaluates every run of a :class:`~mlimpact.runs.RunTable` and
  returns an :class:`xarray.Dataset` with ``energy`` (model) [kWh] and ``gwp`` [kg CO2eq],
  ``adpe`` [kg Sb eq], ``pe`` [MJ] over (model, phase), phases production, use, total.
- :func:`card_production` gives the production impacts of graphics cards, split into die,
  memory and the rest.

The computations are the numba kernels of :mod:`mlimpact.kernels`; equations and sources are
in ``docs/methodology.md``.

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
"""

import numpy as np
import xarray as xr

from mlimpact import factors as lca
from mlimpact.errors import MlimpactError
from mlimpact.kernels.production import cards_kernel
from mlimpact.kernels.training import N_OUT, OUT_ENERGY, OUT_PRODUCTION, OUT_USE, evaluate_runs
from mlimpact.runs import RUN_FIELDS, RunTable, out_of_bounds

_SOURCE = ("MLCA (Morand, Ligozat, Neveol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031); "
           "factors of Boavizta and Loubet et al. 2023")

def validate_runs(runs):
    """Check every field of a run table against :data:`mlimpact.runs.FIELD_BOUNDS`."""
    if not isinstance(runs, RunTable):
        raise TypeError(f"expected a RunTable, got {type(runs).__name__}")
    for j, field in enumerate(RUN_FIELDS):
        bad = out_of_bounds(field, runs.values[:, j])
        if bad.any():
            r = int(np.argmax(bad))
            raise MlimpactError(
                f"run {runs.names[r]!r}: {field} = {runs.values[r, j]!r} is out of range")


def _factors(production_factors):
    factors = np.ascontiguousarray(production_factors, dtype=np.float64)
    if factors.shape != lca.PRODUCTION_FACTORS.shape:
        raise MlimpactError(f"production factors must have shape {lca.PRODUCTION_FACTORS.shape}")
    return factors


def impacts_dataset(raw, names, attrs=None):
    """Label kernel output of shape (model, N_OUT) as a Dataset (model, phase)."""
    if raw.shape[-1] != N_OUT:
        raise ValueError(f"expected {N_OUT} outputs per run, got {raw.shape[-1]}")
    coords = {"model": list(names), "phase": list(lca.PHASES)}
    data = {"energy": (("model",), raw[:, OUT_ENERGY],
                       {"units": lca.UNITS["energy"], "long_name": lca.LONG_NAMES["energy"]})}
    for c, criterion in enumerate(lca.IMPACT_CRITERIA):
        production = raw[:, OUT_PRODUCTION + c]
        use = raw[:, OUT_USE + c]
        data[criterion] = (("model", "phase"), np.stack([production, use, production + use], axis=-1),
                           {"units": lca.UNITS[criterion], "long_name": lca.LONG_NAMES[criterion]})
    return xr.Dataset(data, coords=coords, attrs={"source": _SOURCE, **(attrs or {})})


def training_impacts(runs, production_factors=lca.PRODUCTION_FACTORS):
    """Energy and impacts of every run of ``runs``, split into production and use.

    Parameters
    ----------
    runs : RunTable
        Validated by :func:`validate_runs`.
    production_factors : array of shape (item, criterion), optional
        LCA factors (default :data:`mlimpact.factors.PRODUCTION_FACTORS`).

    Returns
    -------
    xarray.Dataset
        ``energy`` (model) [kWh]; ``gwp`` [kg CO2eq], ``adpe`` [kg Sb eq], ``pe`` [MJ] over
        (model, phase).
    """
    validate_runs(runs)
    raw = evaluate_runs(runs, _factors(production_factors))
    return impacts_dataset(raw, runs.names)


def card_production(runs, production_factors=lca.PRODUCTION_FACTORS):
    """Production impacts of the graphics card of every run: die, memory, other and total.

    MLCA: ``M_gpu = A_die f_die + f_base + (C_mem / rho_mem) f_mem_die + f_mem_base``; with a
    run's production model set to ACT, the GWP of die and memory is ACT's (see
    :mod:`mlimpact.kernels.production`). Runs for single cards are built by
    :func:`mlimpact.cards.card_runs`.

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
    out = np.empty((len(runs), 3, 3))
    cards_kernel(runs.values, runs.variant_values, runs.variant_cdf, _factors(production_factors),
                 out)
    return card_dataset(np.concatenate([out, out.sum(axis=2, keepdims=True)], axis=2),
                        runs.names)


#: Components of a card's production, in the order of the ``component`` coordinate.
COMPONENTS = ("die", "memory", "other", "total")


def card_dataset(values, names, extra_dims=(), coords=None, attrs=None):
    """Label card values of shape (hardware, criterion, component, *extra) as a Dataset."""
    data = {criterion: (("hardware", "component", *extra_dims), values[:, c],
                        {"units": lca.UNITS[criterion], "long_name": lca.LONG_NAMES[criterion]})
            for c, criterion in enumerate(lca.IMPACT_CRITERIA)}
    return xr.Dataset(data, coords={"hardware": list(names), "component": list(COMPONENTS),
                                    **(coords or {})},
                      attrs={"source": _SOURCE, **(attrs or {})})
