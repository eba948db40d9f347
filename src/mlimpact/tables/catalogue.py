"""The catalogue file ``data/parameters.toml`` as a document, and the point values it gives.

The catalogue is parsed into uncertain inputs by :mod:`mlimpact.uncertainty.catalogue`; this
module only reads it, so that the run tables (an earlier stage) take their point values from the
same file: every point value of the model that is also an uncertain input lives there once, as the
entry's ``point`` (argued in ``docs/uncertainty.md``).
"""

import tomllib
from functools import lru_cache
from types import MappingProxyType

from mlimpact._io import packaged_text

#: Name of the packaged catalogue in messages.
SOURCE = "data/parameters.toml"


@lru_cache(maxsize=None)
def catalogue_document():
    """The parsed ``data/parameters.toml`` (read-only at its top level)."""
    return MappingProxyType(tomllib.loads(packaged_text("parameters.toml")))


@lru_cache(maxsize=None)
def point_values():
    """Run field -> point value, for every catalogue entry that states a ``point``."""
    return MappingProxyType({spec["target"]: float(spec["point"])
                             for spec in catalogue_document().values() if "point" in spec})
