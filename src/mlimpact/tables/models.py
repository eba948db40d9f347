"""The notable AI models of Epoch AI, as ``data/models.csv`` holds them (built by
``scripts/build_models.py`` from Epoch AI's "Notable AI Models", CC BY 4.0; columns in
``data/README.md``)."""

from functools import lru_cache

from mlimpact._io import packaged_csv


@lru_cache(maxsize=None)
def _models():
    return tuple(packaged_csv("models.csv"))


def load_models():
    """Rows of ``data/models.csv`` as dicts of strings (empty cells: unknown)."""
    return [dict(row) for row in _models()]
