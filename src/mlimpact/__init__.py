"""mlimpact: environmental impacts of training machine-learning models, with honest uncertainty.

The pipeline runs one way, one stage per subpackage (``docs/architecture.md``): tables
(:mod:`mlimpact.tables`) -> run tables (:mod:`mlimpact.runs`) -> uncertain inputs
(:mod:`mlimpact.uncertainty`) -> kernels and propagation (:mod:`mlimpact.engine`) -> generic
analyses (:mod:`mlimpact.analysis`) -> the study (:mod:`mlimpact.study`) -> rendering
(:mod:`mlimpact.render`) and the command line (:mod:`mlimpact.cli`).
"""

from mlimpact.errors import MlimpactError

__version__ = "0.1.0"

__all__ = ["MlimpactError", "__version__"]
