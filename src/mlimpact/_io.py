"""Reading packaged tables and user files, and writing files atomically: one place for each.

- :func:`packaged_csv`, :func:`packaged_text`: the tables of ``data/`` shipped in the wheel as
  ``mlimpact.data``;
- :func:`load_toml`: a user's TOML file (setup, parameters, run configuration), every failure
  turned into one :class:`~mlimpact.errors.MlimpactError` line naming the file;
- :func:`load_json`: a JSON file a user hands back (a run's manifest), the same way;
- :func:`read_user_csv`: a user's CSV file (an Epoch export, an inventory, a table of published
  footprints), the same way;
- they read only regular files (a pipe, a device or a folder is refused before it is read, so a
  FIFO cannot hang a command nor ``/dev/zero`` fill the memory), of at most
  :data:`MAX_FILE_BYTES` (64 MiB: the largest inputs mlimpact knows, an Epoch AI export and the
  inventories of a portfolio, are a few MiB), and :func:`load_toml` refuses documents nested
  deeper than :data:`MAX_TOML_DEPTH` levels (a setup or configuration file needs 4);
- :func:`atomic_write`: a file is written under a temporary name in its folder and renamed into
  place only when complete, so an interrupted write never leaves a truncated file;
- :func:`toml_text`: a parameters document (a table of tables) as TOML text.
"""

import csv
import hashlib
import io
import os
import stat
import tempfile
import tomllib
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from mlimpact.errors import MlimpactError

#: Largest user file read (bytes): 64 MiB, ten times the largest input mlimpact expects.
MAX_FILE_BYTES = 64 * 2**20
#: Deepest nesting of a user's TOML document (the document itself is level 1, each table or
#: array inside it one more): mlimpact's files need at most 4 levels
#: (``[uncertainty.NAME]`` with an inline table holding a list); deeper documents would only
#: exhaust Python's recursion in the parser or in the code that reads them.
MAX_TOML_DEPTH = 32


def packaged_text(filename):
    """The text of a file of ``data/`` (``mlimpact.data``)."""
    return resources.files("mlimpact.data").joinpath(filename).read_text("utf-8")


def packaged_csv(filename):
    """Rows of a CSV table of ``data/`` as dicts (cells as strings; empty means unknown)."""
    path = resources.files("mlimpact.data").joinpath(filename)
    with path.open("r", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _read_user_bytes(path, what):
    """The bytes of the user's file ``path``, refused (one
    :class:`~mlimpact.errors.MlimpactError` line) if it is missing, unreadable, not a regular
    file or larger than :data:`MAX_FILE_BYTES`. The file is opened without blocking and checked
    on the open descriptor, so a FIFO never blocks and the check cannot be raced."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise MlimpactError(f"{path}: no such {what}") from None
    except OSError as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    too_big = MlimpactError(
        f"{path}: {what} is larger than {MAX_FILE_BYTES // 2**20} MiB, the most mlimpact reads"
    )
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            kind = "a folder" if stat.S_ISDIR(status.st_mode) else "a pipe, device or socket"
            raise MlimpactError(f"{path}: cannot read {what} ({kind}, not a regular file)")
        if status.st_size > MAX_FILE_BYTES:
            raise too_big
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # a file growing, or a size the system hides
    except OSError as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    finally:
        os.close(descriptor)
    if len(raw) > MAX_FILE_BYTES:
        raise too_big
    return raw


def _depth(document):
    """How deep tables and arrays nest in ``document`` (the document is 1), counted without
    recursion and stopping once past :data:`MAX_TOML_DEPTH`."""
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_TOML_DEPTH:
            break
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def read_user_csv(path, what):
    """The columns, rows (dicts of strings) and SHA-256 of the user's CSV file ``path``;
    ``what`` names the kind of file in messages ("models file", ...). A byte-order mark is not
    an error; a missing, unreadable or malformed file is one
    :class:`~mlimpact.errors.MlimpactError` line naming it."""
    path = Path(path)
    raw = _read_user_bytes(path, what)
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
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
    ("setup file", "parameters file", ...). Only a regular file of at most
    :data:`MAX_FILE_BYTES` is read, and a document nested deeper than
    :data:`MAX_TOML_DEPTH` levels is refused."""
    path = Path(path)
    raw = _read_user_bytes(path, what)
    try:
        text = raw.decode("utf-8-sig")  # a byte-order mark is not an error
        # universal newlines, as reading the file in text mode did
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    too_deep = MlimpactError(
        f"{path}: {what} nests tables or arrays deeper than {MAX_TOML_DEPTH} levels"
    )
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise MlimpactError(f"{path}: malformed TOML: {error}") from None
    except RecursionError:  # the parser recurses once per level of arrays and inline tables
        raise too_deep from None
    if _depth(document) > MAX_TOML_DEPTH:
        raise too_deep
    return document


def load_json(path, what):
    """Parse the JSON file ``path`` (a result folder's manifest); ``what`` names the kind of
    file in messages. Read as :func:`load_toml` reads: a regular file of at most
    :data:`MAX_FILE_BYTES`, nested at most :data:`MAX_TOML_DEPTH` levels; every failure is one
    :class:`~mlimpact.errors.MlimpactError` line naming the file."""
    import json

    path = Path(path)
    raw = _read_user_bytes(path, what)
    too_deep = MlimpactError(f"{path}: {what} nests objects or arrays deeper than {MAX_TOML_DEPTH}")
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise MlimpactError(f"{path}: cannot read {what} ({error.__class__.__name__})") from None
    except json.JSONDecodeError as error:
        raise MlimpactError(f"{path}: malformed JSON: {error}") from None
    except RecursionError:
        raise too_deep from None
    if isinstance(document, (dict, list)) and _depth(document) > MAX_TOML_DEPTH:
        raise too_deep
    return document


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
