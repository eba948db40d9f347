"""Reading packaged tables and user files, and writing files atomically: one place for each.

- :func:`packaged_csv`, :func:`packaged_text`: the tables of ``data/`` shipped in the wheel as
  ``mlimpact.data``;
- :func:`load_toml`: a user's TOML file (setup, parameters, run configuration), every failure
  turned into one :class:`~mlimpact.errors.MlimpactError` line naming the file;
- :func:`read_user_csv`: a user's CSV file (an Epoch export, an inventory, a table of published
  footprints), the same way;
- :func:`atomic_write`: a file is written under a temporary name in its folder and renamed into
  place only when complete, so an interrupted write never leaves a truncated file;
- :func:`toml_text`: a parameters document (a table of tables) as TOML text.
"""

import csv
import hashlib
import io
import os
import tempfile
import tomllib
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from mlimpact.errors import MlimpactError


def packaged_text(filename):
    """The text of a file of ``data/`` (``mlimpact.data``)."""
    return resources.files("mlimpact.data").joinpath(filename).read_text("utf-8")


def packaged_csv(filename):
    """Rows of a CSV table of ``data/`` as dicts (cells as strings; empty means unknown)."""
    path = resources.files("mlimpact.data").joinpath(filename)
    with path.open("r", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_user_csv(path, what):
    """The columns, rows (dicts of strings) and SHA-256 of the user's CSV file ``path``;
    ``what`` names the kind of file in messages ("models file", ...). A byte-order mark is not
    an error; a missing, unreadable or malformed file is one
    :class:`~mlimpact.errors.MlimpactError` line naming it."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        content = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise MlimpactError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    columns = reader.fieldnames or []
    try:
        rows = list(reader)
    except csv.Error as error:
        raise MlimpactError(f"{path}: malformed CSV ({error})") from None
    return columns, rows, hashlib.sha256(raw).hexdigest()


def load_toml(path, what):
    """Parse the TOML file ``path``; ``what`` names the kind of file in messages
    ("setup file", "parameters file", ...)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not an error
    except FileNotFoundError:
        raise MlimpactError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MlimpactError(f"{path}: malformed TOML: {error}") from None


@contextmanager
def atomic_write(path, suffix=".tmp"):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on any
    failure remove it (the earlier ``path``, if any, is untouched)."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _toml_value(v):
    """One TOML value: a boolean, number, string, list or inline table."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def toml_text(document, comments=()):
    """TOML text of a parameters document: one table per entry of ``document`` (its values
    strings, numbers, booleans, lists and inline tables), after ``comments`` (lines, each
    written as ``# line``, then a blank line). Returns the text."""
    lines = [f"# {comment}" for comment in comments]
    if comments:
        lines.append("")
    for name, entry in document.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(v)}" for key, v in entry.items()]
        lines.append("")
    return "\n".join(lines)
