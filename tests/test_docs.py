"""Docs that cannot drift: every module a document names exists, and the model counts it
quotes are those of the data (issue 32, item 6)."""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "mlimpact"
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])

#: A file path ending in .py (``src/mlimpact/study/budget.py``, ``study/budget.py``,
#: ``scripts/build_models.py``, ``tests/naive.py``), and a dotted name in mlimpact
#: (``mlimpact.study.validation``, ``mlimpact.study.budget.budget_rows``).
PY_PATH = re.compile(r"(?<![\w./-])((?:[\w-]+/)*[\w-]+\.py)\b")
DOTTED = re.compile(r"(?<![\w.])(mlimpact(?:\.\w+)+)")


def _named(pattern):
    """(document, name) of every match of ``pattern`` in the documents."""
    return sorted(
        {
            (path.relative_to(ROOT).as_posix(), match)
            for path in DOCUMENTS
            for match in pattern.findall(path.read_text(encoding="utf-8"))
        }
    )


def _file_exists(name):
    """A .py path as docs write it: from the repository's root, or from the package (the
    stages' folders, as docs/architecture.md writes them)."""
    return (ROOT / name).is_file() or (PACKAGE / name).is_file()


def _dotted_exists(name):
    """A dotted name: its longest prefix that imports is a module of mlimpact, and the rest
    are attributes of it (a function, a class, a constant)."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[split:]:
            if not hasattr(target, attribute):
                return False
            target = getattr(target, attribute)
        return True
    return False


def test_documents_name_python_files():
    # the patterns find what they look for: a test that checks nothing would pass too
    assert len(_named(PY_PATH)) > 50 and len(_named(DOTTED)) > 20


@pytest.mark.parametrize(("document", "name"), _named(PY_PATH))
def test_every_python_file_a_document_names_exists(document, name):
    assert _file_exists(name), f"{document} names {name}, which does not exist"


@pytest.mark.parametrize(("document", "name"), _named(DOTTED))
def test_every_module_a_document_names_exists(document, name):
    assert _dotted_exists(name), f"{document} names {name}, which does not exist"
