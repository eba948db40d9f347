"""The catalogue file ``data/parameters.toml`` as a document, and the point values it gives.

The catalogue is parsed into uncertain inputs by :mod:`mlimpact.uncertainty.catalogue`; this
module only reads it, so that the run tables (an earlier stage) take their point values from the
same file: every point value of the model that is also an uncertain input lives there once, as the
entry's ``point`` (argued in ``docs/uncertainty.md``).
"""

import tomllib
from functools import cache
from types import MappingProxyType

from mlimpact._io import packaged_text

#: Name of the packaged catalogue in messages.
SOURCE = "data/parameters.toml"


@cache
def catalogue_document():
    """The parsed ``data/parameters.toml`` (read-only at its top level)."""
    return MappingProxyType(tomllib.loads(packaged_text("parameters.toml")))


@cache
def catalogue_sources():
    """Entry name -> the keys of ``data/sources.csv`` its ``sources`` list names (the documents
    it was taken or argued from; checked by
    :func:`mlimpact.uncertainty.catalogue.default_catalogue`)."""
    return MappingProxyType(
        {name: tuple(spec.get("sources", ())) for name, spec in catalogue_document().items()}
    )


#: Power models: MLCA's (a global dynamic ratio, 0.75 x TDP) or the evidence model (PUE by
#: provider class, measured draws by accelerator class); entries tagged ``power_model``
#: belong to one of them.
POWER_MODELS = ("evidence", "mlca")


def _in_power_model(spec, power_model):
    return spec.get("power_model", power_model) == power_model


@cache
def point_values(power_model="mlca"):
    """Run field -> point value, for every catalogue entry of ``power_model`` that states a
    ``point`` (MLCA's by default: setup files and cards)."""
    return MappingProxyType(
        {
            spec["target"]: float(spec["point"])
            for spec in catalogue_document().values()
            if "point" in spec and _in_power_model(spec, power_model)
        }
    )


@cache
def class_points(power_model):
    """``{(field, class kind): {class: point}}`` of the entries of ``power_model`` whose
    distribution depends on a run's class (accelerator or provider)."""
    return MappingProxyType(
        {
            (spec["target"], spec["class"]): MappingProxyType(
                {label: float(value) for label, value in spec.get("class_points", {}).items()}
            )
            for spec in catalogue_document().values()
            if "class" in spec and _in_power_model(spec, power_model)
        }
    )
