"""The one exception type users see, and the checks of public functions' arguments.

Every check on user input (setup files, parameter files, hardware names, countries) raises
:class:`MlimpactError` with a one-line message that names the offending field. The command line
prints that line and exits with status 2; library users can catch it like any ``ValueError``.
"""

import math
import numbers
import os

import numpy as np


class MlimpactError(ValueError):
    """Bad input: the message is one line, names the field and says what was expected.

    A message quoting the user's text (a key with a newline, say) is folded into one line.
    """

    def __init__(self, message=""):
        super().__init__(" ".join(str(message).split()))


# Checks of a public function's arguments: each returns the value (converted) or raises
# MlimpactError with one line "<where>: <name> must be ... (got ...)". Kernels never check.


def _shown(value):
    """The value as a message shows it: short, even for a huge integer or a long text."""
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 24:
        return f"a whole number of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_whole(where, name, value, low, high=None):
    """``value`` as an int if it is a whole number (an int or a NumPy integer, not a bool) in
    ``[low, high]`` (``high`` None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MlimpactError(f"{where}: {name} must be a whole number (got {_shown(value)})")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high:,}"
        raise MlimpactError(f"{where}: {name} must be {bound} (got {_shown(value)})")
    return value


def check_number(where, name, value, low=None, high=None, low_inclusive=True):
    """``value`` as a float if it is a finite real number (not a bool) in the range given:
    ``low`` (inclusive unless ``low_inclusive`` is False) to ``high`` (inclusive)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MlimpactError(f"{where}: {name} must be a number (got {_shown(value)})")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise MlimpactError(f"{where}: {name} must be a finite number (got {_shown(value)})")
    below = low is not None and (x < low if low_inclusive else x <= low)
    if below or (high is not None and x > high):
        left = "" if low is None else f"{'>=' if low_inclusive else '>'} {low:g}"
        right = "" if high is None else f"<= {high:g}"
        raise MlimpactError(
            f"{where}: {name} must be {' and '.join(p for p in (left, right) if p)} "
            f"(got {_shown(value)})"
        )
    return x


def check_flag(where, name, value):
    """``value`` if it is True or False (a NumPy bool too), never a truthy string or number."""
    if not isinstance(value, (bool, np.bool_)):
        raise MlimpactError(f"{where}: {name} must be True or False (got {_shown(value)})")
    return bool(value)


def check_choice(where, name, value, choices):
    """``value`` if it is one of the strings ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise MlimpactError(
            f"{where}: {name} must be one of {', '.join(choices)} (got {_shown(value)})"
        )
    return value


def check_text(where, name, value, optional=False):
    """``value`` if it is a string (or None when ``optional``)."""
    if (value is None and optional) or isinstance(value, str):
        return value
    raise MlimpactError(f"{where}: {name} must be a string (got {_shown(value)})")


def check_path(where, name, value, optional=False):
    """``value`` if it is a path: a string or an ``os.PathLike`` (or None when ``optional``)."""
    if (value is None and optional) or isinstance(value, (str, os.PathLike)):
        return value
    raise MlimpactError(f"{where}: {name} must be the path of a file (got {_shown(value)})")
