"""mlimpact: environmental impacts of training machine-learning models, with honest uncertainty.

Energy, climate change (GWP), abiotic depletion (ADPe) and primary energy (PE) of training
runs, the production of the hardware included, as distributions (Monte Carlo), after Morand,
Ligozat and Névéol's model (MLCA, ICT4S 2024; the 2025 study of notable AI models).

From Python::

    import mlimpact
    run = mlimpact.Setup(gpu="H100 SXM5", gpus=8, nodes=64, hours=720, country="USA",
                         gpu_usage=0.7)
    result = mlimpact.estimate(run, samples=10_000)        # an xarray.Dataset
    result.gwp.sel(phase="total", statistic="median")

The public API: :class:`Setup`, :func:`estimate`, :func:`run_study` (:class:`Study`),
:func:`hardware`, :func:`models`, :func:`load_parameters`, :class:`Parameter`,
:func:`sobol`, the distributions (:mod:`mlimpact.uncertainty.distributions`) and
:class:`MlimpactError`. The package is a pipeline, one subpackage per stage
(``docs/architecture.md``): tables -> runs -> uncertainty -> engine -> analysis -> study ->
render, with :mod:`mlimpact.cli` the command line.
"""

from importlib import import_module

from mlimpact._version import __version__
from mlimpact.errors import MlimpactError

#: Public name -> the module it lives in: imported on first use (PEP 562), so that
#: ``import mlimpact`` and a command line that stops at a bad argument do not load numba,
#: scipy and xarray first.
_PUBLIC = {
    "sobol": "mlimpact.analysis.sobol",
    "CRITERION_UNITS": "mlimpact.api",
    "Setup": "mlimpact.api",
    "Study": "mlimpact.api",
    "estimate": "mlimpact.api",
    "hardware": "mlimpact.api",
    "models": "mlimpact.api",
    "run_study": "mlimpact.api",
    "Parameter": "mlimpact.uncertainty.catalogue",
    "default_catalogue": "mlimpact.uncertainty.catalogue",
    "load_parameters": "mlimpact.uncertainty.catalogue",
}

__all__ = [
    "CRITERION_UNITS",
    "MlimpactError",
    "Parameter",
    "Setup",
    "Study",
    "__version__",
    "default_catalogue",
    "distributions",
    "estimate",
    "hardware",
    "load_parameters",
    "models",
    "run_study",
    "sobol",
]


def __getattr__(name):
    if name == "distributions":
        return import_module("mlimpact.uncertainty.distributions")
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mlimpact' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
