"""Type hints of the public API (PEP 561): every public function and method of ``mlimpact.api``,
``mlimpact.analysis.sobol`` and the distributions annotates its parameters and its return, the
annotations resolve at run time, and the package ships its ``py.typed`` marker."""

import inspect
import tomllib
import typing
from pathlib import Path

import pytest

import mlimpact
from mlimpact.analysis import sobol as sobol_module
from mlimpact.uncertainty import distributions

ROOT = Path(__file__).resolve().parent.parent


def _public_callables(owner, qualname):
    """(name, function) of the public functions, methods and properties defined in ``owner``
    (a module or a class), with its own ``__init__`` for a class; classes defined in a
    module are walked too."""
    found = []
    for name, value in vars(owner).items():
        if name.startswith("_") and name != "__init__":
            continue
        if name == "__init__" and not inspect.isclass(owner):
            continue
        label = f"{qualname}.{name}"
        if isinstance(value, property):
            found.append((label, value.fget))
        elif isinstance(value, classmethod | staticmethod):
            found.append((label, value.__func__))
        elif inspect.isfunction(value):
            if inspect.isclass(owner) or value.__module__ == owner.__name__:
                found.append((label, value))
        elif inspect.isclass(value) and inspect.ismodule(owner):
            if value.__module__ == owner.__name__:
                found.extend(_public_callables(value, label))
    return found


def _api_callables():
    found = []
    for name in mlimpact.__all__:
        value = getattr(mlimpact, name)
        if getattr(value, "__module__", None) != "mlimpact.api":
            continue
        if inspect.isclass(value):
            found.extend(_public_callables(value, f"mlimpact.{name}"))
        elif callable(value):
            found.append((f"mlimpact.{name}", value))
    return found


def _distribution_callables():
    found = [
        (f"distributions.{name}", getattr(distributions, name))
        for name in distributions.__all__
        if inspect.isfunction(getattr(distributions, name))
    ]
    for name in distributions.__all__:
        cls = getattr(distributions, name)
        if not (inspect.isclass(cls) and issubclass(cls, distributions.Distribution)):
            continue
        # the class's own methods and those it inherits (from Distribution, _Peaked...)
        for base in cls.__mro__:
            if base is object or not issubclass(base, distributions.Distribution):
                continue
            found.extend(
                (f"{name}: {label}", function)
                for label, function in _public_callables(base, base.__name__)
            )
    return found


def _missing_annotations(function):
    """Names of the parameters (``self``/``cls`` aside) and ``return`` left unannotated."""
    hints = typing.get_type_hints(function)  # also proves that the annotations resolve
    parameters = list(inspect.signature(function).parameters)
    if parameters and parameters[0] in ("self", "cls"):
        parameters = parameters[1:]
    return [name for name in [*parameters, "return"] if name not in hints]


@pytest.mark.parametrize(
    "callables",
    [_api_callables, lambda: _public_callables(sobol_module, "sobol"), _distribution_callables],
    ids=["api", "sobol", "distributions"],
)
def test_public_functions_are_fully_annotated(callables):
    found = callables()
    assert found, "no public function found: the walk itself is broken"
    missing = {
        label: names for label, function in found if (names := _missing_annotations(function))
    }
    assert not missing, f"unannotated parameters or returns: {missing}"


def test_the_walk_covers_the_public_api():
    labels = {label for label, _ in _api_callables()}
    assert {
        "mlimpact.estimate",
        "mlimpact.run_study",
        "mlimpact.hardware",
        "mlimpact.models",
        "mlimpact.Setup.__init__",
        "mlimpact.Setup.from_dict",
        "mlimpact.Setup.from_toml",
        "mlimpact.Study.write",
    } <= labels
    labels = {label for label, _ in _public_callables(sobol_module, "sobol")}
    assert {"sobol.sobol", "sobol.indices_dataset", "sobol.SobolAccumulator.add"} <= labels
    labels = {label for label, _ in _distribution_callables()}
    assert {
        "distributions.from_spec",
        "Normal: Normal.ppf",
        "Triangular: _Peaked.support",
        "Uniform: Distribution.to_spec",
        "LogNormal: LogNormal.__init__",
    } <= labels


def test_a_missing_annotation_is_found():
    def half(x: float, y) -> float:
        return x / 2

    assert _missing_annotations(half) == ["y"]
    assert _missing_annotations(lambda: None) == ["return"]


def test_the_package_ships_its_py_typed_marker():
    assert (Path(mlimpact.__file__).parent / "py.typed").is_file()
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("not run from a source tree")
    with pyproject.open("rb") as file:
        package_data = tomllib.load(file)["tool"]["setuptools"]["package-data"]
    assert "py.typed" in package_data.get("mlimpact", [])
