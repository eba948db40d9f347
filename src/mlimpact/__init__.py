"""mlimpact: environmental impacts of training machine-learning models, with honest uncertainty.

The pipeline runs one way: tables (:mod:`mlimpact.datasets`) -> setup and run tables
(:mod:`mlimpact.setupfile`, :mod:`mlimpact.runs`) -> numba kernels (:mod:`mlimpact.kernels`) ->
labelled results (:mod:`mlimpact.model`) -> the command line (:mod:`mlimpact.cli`).
"""

from mlimpact.errors import MlimpactError

__version__ = "0.1.0"

__all__ = ["MlimpactError", "__version__"]
