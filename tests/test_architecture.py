"""The package's shape: stages import only earlier stages, no cycles, few import floors; one
vocabulary of quantities; one source of point values."""

import ast
import math
from functools import cache
from pathlib import Path

import pytest

from mlimpact import quantities as q
from mlimpact.runs.defaults import default_row
from mlimpact.tables.catalogue import catalogue_document, point_values
from mlimpact.uncertainty.catalogue import default_catalogue

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "mlimpact"
#: The stages in pipeline order; a module may import its own stage and earlier ones.
STAGES = {
    "errors": 0,
    "quantities": 0,
    "_config": 0,
    "_threads": 0,
    "_process": 0,
    "_io": 0,
    "_version": 0,
    "tables": 1,
    "runs": 2,
    "uncertainty": 3,
    "engine": 4,
    "analysis": 5,
    "study": 6,
    "render": 7,
    "cli": 8,
    "api": 8,
    "": 9,
    "__main__": 9,
}
#: Longest chain of imports between the package's modules, in edges (the package's top
#: level, which re-exports the public API, and ``__main__`` aside).
#: Nine since the run table's grid fields come from the vocabulary (quantities.py), one floor
#: below it: cli -> claims -> validation -> cards -> propagate -> montecarlo -> training ->
#: production -> runs.table -> quantities.
MAX_FLOORS = 9
FACES = ("mlimpact", "mlimpact.__main__")


def _modules():
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("mlimpact", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


@cache
def _graph():
    """Module -> the package's modules it imports (at module level or inside functions)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.split(".")[0] == "mlimpact"
            ):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    imported.add(target if target in modules else node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name in modules)
        imported.discard(name)
        graph[name] = imported
    return graph


def _stage(module):
    parts = module.split(".")
    return STAGES[parts[1] if len(parts) > 1 else ""]


def test_no_stage_imports_a_later_stage():
    backward = [(m, t) for m, targets in _graph().items() for t in targets if _stage(t) > _stage(m)]
    assert backward == []


def test_every_module_has_a_stage():
    for module in _graph():
        _stage(module)  # KeyError names a module outside the known stages


def test_no_import_cycles_and_at_most_nine_floors():
    graph, depth, visiting = _graph(), {}, set()

    def floors(module):
        if module in visiting:
            pytest.fail(f"import cycle through {module}")
        if module not in depth:
            visiting.add(module)
            depth[module] = max((floors(t) + 1 for t in graph[module]), default=0)
            visiting.discard(module)
        return depth[module]

    deepest = max(floors(m) for m in graph if m not in FACES)
    assert deepest <= MAX_FLOORS


def test_quantities_layout_is_what_the_kernels_write():
    # the kernels write criterion c of a phase at block + c, and card part p of c at 4 c + p
    for c, criterion in enumerate(q.IMPACT_CRITERIA):
        assert q.training_index(criterion, "production") == q.PRODUCTION + c
        assert q.training_index(criterion, "use") == q.USE + c
        assert q.training_index(criterion, "total") == q.TOTAL + c
        for k, component in enumerate(q.COMPONENTS):
            assert q.card_index(criterion, component) == len(q.COMPONENTS) * c + k
    assert q.training_index("energy") == q.ENERGY == 0
    for k, scope in enumerate(q.ENERGY_SCOPES):
        assert q.training_index("energy", scope) == q.SCOPES + k
    assert q.N_KERNEL_OUT == q.TOTAL == 1 + 2 * len(q.IMPACT_CRITERIA) + len(q.ENERGY_SCOPES)
    with pytest.raises(KeyError):
        q.training_index("energy", "production")


@pytest.mark.parametrize("power", ["mlca", "evidence"])
def test_point_values_have_one_source(power):
    catalogue = default_catalogue(power)
    points = {p.target: p.point for p in catalogue.values() if p.point is not None}
    # the point model of each power model reads the same values as the parsed catalogue
    assert points == dict(point_values(power))
    row = default_row(power=power)
    for field, value in points.items():
        assert row[field] == value
    for parameter in catalogue.values():
        if parameter.point is None:
            continue
        low, high = parameter.distribution.support()
        assert low <= parameter.point <= high, parameter.name
        mode = catalogue_document()[parameter.name]["distribution"].get("mode")
        if mode is not None:  # a stated mode is the point, to the rounding of the file
            assert math.isclose(parameter.point, mode, rel_tol=1e-3), parameter.name


def test_point_values_are_mlca_defaults():
    # MLCA (Morand et al., ICT4S 2024) defaults, from the BLOOM footprint study (Luccioni et
    # al., JMLR 2023): lifetime 6 years, 85 % in use, dynamic ratio 200/109; Boavizta's lowest
    # memory density 0.625 GB/cm2
    assert point_values()["lifetime_years"] == 6.0
    assert point_values()["lifetime_usage"] == 0.85
    assert point_values()["dynamic_ratio"] == 200 / 109
    assert point_values()["memory_density"] == 0.625


def test_docs_architecture_lists_every_module():
    # the module table of docs/architecture.md: every module of the package, and no other
    import re

    text = (PACKAGE.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = text[text.index("| module |") :]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"`([\w/]+\.py)`", table))
    modules = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if not (path.name == "__init__.py" and path.parent != PACKAGE)
    }
    assert modules - listed == set(), "modules missing from docs/architecture.md"
    assert listed - modules == set(), "docs/architecture.md lists modules that do not exist"


def test_the_criteria_are_named_and_counted_in_quantities_only():
    # a new criterion is data in quantities.py: no other module restates the criteria as a
    # literal tuple, list, set or dict keys, nor sizes an array or loop by their count
    criteria = {frozenset(q.CRITERIA), frozenset(q.IMPACT_CRITERIA)}
    sizers = {"range", "empty", "zeros", "ones", "full"}
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "quantities.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
            elements = (
                node.keys
                if isinstance(node, ast.Dict)
                else node.elts
                if isinstance(node, (ast.Tuple, ast.List, ast.Set))
                else None
            )
            if elements and all(isinstance(e, ast.Constant) for e in elements):
                if frozenset(e.value for e in elements) in criteria:
                    found.append(f"{where}: the criteria restated")
            if isinstance(node, ast.Call) and node.args:
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                first = node.args[0]
                sizes = first.elts if isinstance(first, ast.Tuple) else [first]
                if name in sizers and any(
                    isinstance(s, ast.Constant) and s.value == len(q.IMPACT_CRITERIA) for s in sizes
                ):
                    found.append(f"{where}: {name}({len(q.IMPACT_CRITERIA)}...)")
    assert found == []


#: Functions that may pass the size limits, and why: a run's span in the fused Monte Carlo kernel
#: keeps the preparation of its rows, its model, its tiles and the folding of every quantity in
#: one compiled function, whose buffers live for the whole span (a call per block of samples
#: takes every array; numba cannot share buffers across calls without allocating per call). Most
#: of its lines are the arguments of the kernel, passed on one per line, as in the kernel itself
#: (which takes 25 arrays and hands them to a card or host's span and a run's).
LONG_FUNCTIONS = {
    "engine/kernels/montecarlo.py:fused_kernel",
    "engine/kernels/montecarlo.py:run_span",
}
#: Lines of code (the docstring aside) and branches a function may have.
MAX_LINES, MAX_BRANCHES = 80, 25


def _branches(function):
    """Branches of a function: if/for/while/try/with/conditional expressions, comprehensions,
    except clauses and match statements, and each extra operand of and/or."""
    kinds = (
        ast.If,
        ast.For,
        ast.While,
        ast.Try,
        ast.With,
        ast.IfExp,
        ast.comprehension,
        ast.ExceptHandler,
        ast.Match,
    )
    count = 0
    for node in ast.walk(function):
        count += isinstance(node, kinds)
        if isinstance(node, ast.BoolOp):
            count += len(node.values) - 1
    return count


def _docstring_lines(function):
    """Lines of a function's docstring (they document, they do not count as its length)."""
    first = function.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        if isinstance(first.value.value, str):
            return first.end_lineno - first.lineno + 1
    return 0


def test_no_function_is_over_80_lines_or_25_branches():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{path.relative_to(PACKAGE).as_posix()}:{node.name}"
                lines = node.end_lineno - node.lineno + 1 - _docstring_lines(node)
                branches = _branches(node)
                if (lines > MAX_LINES or branches > MAX_BRANCHES) and name not in LONG_FUNCTIONS:
                    found.append(f"{name}: {lines} lines, {branches} branches")
    assert found == []
