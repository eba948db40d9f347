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


@pytest.fixture(scope="module")
def counts():
    """The model counts docs quote, from the embedded data (default options, 2013-2025)."""
    from collections import Counter

    from mlimpact.runs.notable import WINDOW, DatasetOptions
    from mlimpact.study.coverage import coverage
    from mlimpact.tables.models import load_models

    runs = DatasetOptions().runs()
    summary = coverage(runs, WINDOW)
    imputed = summary["imputed_fields"]
    classes = Counter(runs.classes["accelerator"])
    return {
        "epoch": len(load_models()),
        "window": summary["included_total"] + summary["excluded_total"],
        "included": summary["included_total"],
        "complete": summary["complete_total"],
        "imputed": summary["imputed_total"],
        "excluded": summary["excluded_total"],
        "complete_only": coverage(DatasetOptions(impute=False).runs(), WINDOW)["included_total"],
        "missing_hardware": imputed["hardware"],
        "time_derived": imputed["training time"],
        "chips_derived": imputed["chip count"],
        "both_set": imputed["chip count and training time"],
        "GPU_large": classes["GPU_large"],
        "GPU": classes["GPU"],
        "TPU": classes["TPU"],
    }


#: Every model count the docs quote: (document, pattern whose groups are the numbers, the
#: counts they must equal). A sentence reworded so that its pattern no longer matches fails
#: too: the count then needs a new pattern here, or to go.
QUOTED_COUNTS = [
    ("docs/dataset.md", r"with a publication date \((\d+) models;", ["epoch"]),
    ("docs/dataset.md", r"\(default 2013-2025: (\d+)\s+models\)", ["window"]),
    (
        "docs/dataset.md",
        r"included: (\d+) \((\d+) complete, (\d+) imputed\); excluded: (\d+)",
        ["included", "complete", "imputed", "excluded"],
    ),
    ("docs/dataset.md", r"complete records\), (\d+) models enter", ["complete_only"]),
    (
        "docs/dataset.md",
        r"\*\*Missing hardware\*\* \((\d+) included models\)",
        ["missing_hardware"],
    ),
    (
        "docs/dataset.md",
        r"\((\d+) models get their time, (\d+) their chip count\)",
        ["time_derived", "chips_derived"],
    ),
    ("docs/dataset.md", r"Both missing, compute reported \((\d+) models\)", ["both_set"]),
    ("docs/user-guide.md", r"\((\d+) of (\d+) for 2013-2025\)", ["included", "window"]),
    (
        "docs/uncertainty.md",
        r"(\d+) of the (\d+) runs of the embedded\s+dataset \(default options, 2013-2025\) fall "
        r"in `GPU_large` \((\d+) stay `GPU`, (\d+) are `TPU`\)",
        ["GPU_large", "included", "GPU", "TPU"],
    ),
    ("docs/validation.md", r"per-model median energies of the (\d+) runs", ["included"]),
]


@pytest.mark.parametrize(("document", "pattern", "names"), QUOTED_COUNTS)
def test_model_counts_quoted_in_docs_are_those_of_the_data(counts, document, pattern, names):
    text = (ROOT / document).read_text(encoding="utf-8")
    found = re.search(pattern, text)
    assert found, f"{document}: no sentence matches {pattern!r}"
    quoted = [int(n) for n in found.groups()]
    assert quoted == [counts[n] for n in names], f"{document}: {found.group(0)!r}"


#: A run time: a number of seconds or minutes ("52 s", "20-35 s", "1.5 seconds", "3 min").
RUN_TIME = re.compile(r"\b\d+(?:[.,]\d+)?(?:-\d+(?:\.\d+)?)? (?:s|seconds|min|minutes)\b(?![-\w])")


def test_run_times_are_quoted_in_performance_md_only():
    """Times depend on the machine and drift with every change: one document holds them,
    dated, and the others point to it."""
    quoted = [
        (path.name, match.group(0))
        for path in DOCUMENTS
        if path.name != "performance.md"
        for match in RUN_TIME.finditer(path.read_text(encoding="utf-8"))
    ]
    assert quoted == []
    assert RUN_TIME.findall((ROOT / "docs" / "performance.md").read_text(encoding="utf-8"))
