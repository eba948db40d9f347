"""The catalogue of uncertain inputs, and how its parameters bind to the runs of a run table.

Each :class:`Parameter` has a distribution (:mod:`mlimpact.distributions`), a unit, a *scope*
that fixes how many random columns it needs, a *target* (the run-table field it acts on, or a
criterion for production-factor errors) and a *mode* (``replace`` the field, or ``scale`` it by
a multiplicative error). The defaults are in ``data/parameters.toml``, argued in
``docs/uncertainty.md``; a setup's ``[uncertainty]`` section or a parameters file can change
any of them.

:func:`bind` turns parameters and a run table into a :class:`BoundParameters`: one column per
(parameter, member of its scope), and index arrays that tell the Monte Carlo kernel which column
acts on which field of which run. A field that a run states explicitly is known and is not
sampled for that run.
"""

import tomllib
from dataclasses import dataclass, replace
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np

from mlimpact import distributions
from mlimpact.errors import MlimpactError
from mlimpact.factors import FACTOR_NAMES, IMPACT_CRITERIA
from mlimpact.kernels import ppf
from mlimpact.runs import FIELD_BOUNDS, RUN_FIELDS, VARIANT_FIELDS

SCOPES = ("global", "hardware", "country", "run", "factor")
MODES = ("replace", "scale")
_KEYS = {"distribution", "unit", "scope", "target", "mode", "source", "description", "members"}
_REQUIRED = ("distribution", "scope", "target", "mode")


@dataclass(frozen=True)
class Parameter:
    """One uncertain input.

    Attributes
    ----------
    name : str
    distribution : mlimpact.distributions.Distribution
    scope : str
        ``global``, ``hardware``, ``country``, ``run`` or ``factor``.
    target : str
        A field of :data:`mlimpact.runs.RUN_FIELDS`, or for scope ``factor`` a criterion
        (``gwp``, ``adpe``, ``pe``) whose production factors are scaled.
    mode : str
        ``replace`` or ``scale``.
    unit, source, description : str
    members : tuple of str
        If not empty, the parameter acts only on these members of its scope (one accelerator,
        say); otherwise on every member.
    """

    name: str
    distribution: object
    scope: str
    target: str
    mode: str
    unit: str = ""
    source: str = ""
    description: str = ""
    members: tuple = ()

    def __post_init__(self):
        where = f"parameter {self.name!r}"
        object.__setattr__(self, "members", tuple(self.members))
        if self.scope not in SCOPES:
            raise MlimpactError(f"{where}: scope must be one of {', '.join(SCOPES)} "
                                f"(got {self.scope!r})")
        if self.mode not in MODES:
            raise MlimpactError(f"{where}: mode must be replace or scale (got {self.mode!r})")
        if self.scope == "factor":
            if self.target not in IMPACT_CRITERIA or self.mode != "scale":
                raise MlimpactError(f"{where}: a factor-scope parameter scales the production "
                                    f"factors of one criterion: target in {IMPACT_CRITERIA}, "
                                    "mode scale")
        elif self.target not in RUN_FIELDS:
            raise MlimpactError(f"{where}: unknown target {self.target!r} (a run field: "
                                f"{', '.join(RUN_FIELDS)})")
        low, high = self.distribution.support()
        if self.mode == "scale":
            if low < 0:
                raise MlimpactError(f"{where}: a multiplicative error must be >= 0, but "
                                    f"{self.distribution} reaches {low:g}")
        else:
            bound_low, low_ok, bound_high = FIELD_BOUNDS[self.target]
            below = low < bound_low or (not low_ok and low <= bound_low
                                        and self.distribution.kind in ("constant", "discrete",
                                                                       "empirical"))
            if below or high > bound_high:
                raise MlimpactError(
                    f"{where}: {self.distribution} can leave the valid range of "
                    f"{self.target} ({'[' if low_ok else '('}{bound_low:g}, {bound_high:g}])")


def _parameter(name, spec, source):
    where = f"{source}: parameter {name!r}"
    if not isinstance(spec, dict):
        raise MlimpactError(f"{where} must be a table with distribution, scope, target, mode")
    unknown = set(spec) - _KEYS
    if unknown:
        raise MlimpactError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                            f"(known: {', '.join(sorted(_KEYS))})")
    for key in _REQUIRED:
        if key not in spec:
            raise MlimpactError(f"{where}: {key} is required")
    for key in _KEYS - {"distribution", "members"}:
        if key in spec and not isinstance(spec[key], str):
            raise MlimpactError(f"{where}: {key} must be a string")
    members = spec.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise MlimpactError(f"{where}: members must be a list of names")
    try:
        return Parameter(
            name=name, distribution=distributions.from_spec(spec["distribution"], name=name),
            scope=spec["scope"], target=spec["target"], mode=spec["mode"],
            unit=spec.get("unit", ""), source=spec.get("source", ""),
            description=spec.get("description", ""), members=tuple(members))
    except MlimpactError as error:
        message = str(error)
        raise MlimpactError(message if message.startswith(source) else f"{source}: {message}") \
            from None


def parse_parameters(document, source="<parameters>"):
    """Parameters from a parsed TOML document: ``{name: {distribution, scope, ...}}``."""
    if not isinstance(document, dict):
        raise MlimpactError(f"{source}: a parameters file must be a TOML table")
    return {name: _parameter(name, spec, source) for name, spec in document.items()}


def load_parameters(path):
    """Read a parameters file (the format of ``data/parameters.toml``)."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlimpactError(f"{path}: no such parameters file") from None
    except tomllib.TOMLDecodeError as error:
        raise MlimpactError(f"{path}: malformed TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MlimpactError(f"{path}: cannot read parameters file ({error.__class__.__name__})") \
            from None
    return parse_parameters(document, source=str(path))


def default_catalogue():
    """The default catalogue of ``data/parameters.toml``."""
    text = resources.files("mlimpact.data").joinpath("parameters.toml").read_text("utf-8")
    return parse_parameters(tomllib.loads(text), source="data/parameters.toml")


def apply_uncertainty(catalogue, section, source="[uncertainty]"):
    """Apply a setup's ``[uncertainty]`` section to a catalogue; return the new catalogue.

    Each key is either a catalogue parameter (its distribution is replaced: a table is a
    distribution spec, a number fixes it), a run field not in the catalogue (a new run-scope
    parameter that replaces that field), or a new parameter given in full (a table with
    ``distribution``, ``scope``, ``target`` and ``mode``).
    """
    catalogue = dict(catalogue)
    if not isinstance(section, dict):
        raise MlimpactError(f"{source} must be a section")
    for name, spec in section.items():
        if isinstance(spec, dict) and "distribution" in spec:
            catalogue[name] = _parameter(name, spec, source)
            continue
        where = f"{source} {name}"
        if name not in catalogue and name not in RUN_FIELDS:
            raise MlimpactError(f"{where}: not a parameter of the catalogue "
                                f"({', '.join(sorted(catalogue))}) nor a run field")
        distribution = distributions.from_spec(spec, name=where)
        try:
            if name in catalogue:
                catalogue[name] = replace(catalogue[name], distribution=distribution,
                                          source="setup file")
            else:
                catalogue[name] = Parameter(name=name, distribution=distribution, scope="run",
                                            target=name, mode="replace", source="setup file")
        except MlimpactError as error:
            raise MlimpactError(f"{source}: {error}") from None
    return catalogue


@dataclass(frozen=True)
class BoundParameters:
    """Parameters bound to a run table: the columns to sample and where each acts.

    Attributes
    ----------
    columns : tuple of (str, str)
        ``(parameter name, member)`` of each sampled column; member is ``""`` for global
        parameters, the hardware, country, run or factor name otherwise.
    distributions : tuple
        The distribution of each column.
    groups : dict
        Parameter name -> column indices (the natural groups of a Sobol analysis).
    apply_field, apply_mode : int arrays of shape (A,)
        For each run-field application: field index, 0 for replace / 1 for scale.
    apply_column : int array of shape (A, R)
        Column index acting on each run, -1 where the run's field is known.
    factor_column : int array of shape (3, item)
        Column scaling each production factor per criterion, -1 for none.
    variant_column : int array of shape (A, R, V)
        For a run of several hardware variants, the column acting on each variant (by its
        hardware name) when the application has hardware scope and targets a field that the
        variant sets; -1 elsewhere. Such an application acts on the chosen variant after its
        selection, and ``apply_column`` is -1 for that run.
    """

    columns: tuple
    distributions: tuple
    groups: dict
    apply_field: np.ndarray
    apply_mode: np.ndarray
    apply_column: np.ndarray
    factor_column: np.ndarray
    variant_column: np.ndarray

    @property
    def n_columns(self):
        return len(self.columns)

    def values(self, uniforms, out=None):
        """Turn uniforms of shape (sample, column) into parameter values (same shape, column-major).

        Common kinds go through the compiled :func:`mlimpact.kernels.ppf.ppf_columns`; the
        others through their numpy ``ppf``. ``out`` (column-major float64, that shape) receives
        the values; it may be ``uniforms`` itself, which is then overwritten.
        """
        uniforms = np.asfortranarray(uniforms, dtype=np.float64)
        if uniforms.ndim != 2 or uniforms.shape[1] != self.n_columns:
            raise ValueError(f"expected uniforms of shape (n, {self.n_columns}), "
                             f"got {uniforms.shape}")
        if out is None:
            out = np.empty_like(uniforms, order="F")
        elif out.shape != uniforms.shape or not out.flags.f_contiguous:
            raise ValueError(f"out must be a column-major array of shape {uniforms.shape}")
        codes, params = self._kernel_specs
        ppf.ppf_columns(uniforms, codes, params, out)
        # ppf_columns leaves these columns alone: their uniforms are intact even in place
        for indices in self.groups.values():
            if codes[indices[0]] == ppf.NOT_HERE:
                out[:, indices] = self.distributions[indices[0]].ppf(uniforms[:, indices])
        return out

    @cached_property
    def _kernel_specs(self):
        specs = [kernel_spec(d) for d in self.distributions]
        codes = np.array([code for code, _ in specs], dtype=np.int64)
        params = np.array([p for _, p in specs], dtype=np.float64).reshape(len(specs), 4)
        return codes, params


def kernel_spec(distribution):
    """``(code, params[4])`` of a distribution for :mod:`mlimpact.kernels.ppf`, or NOT_HERE."""
    kind, d = distribution.kind, distribution
    spec = {
        "constant": lambda: (ppf.CONSTANT, (d.value,)),
        "uniform": lambda: (ppf.UNIFORM, (d.low, d.high)),
        "loguniform": lambda: (ppf.LOGUNIFORM, (d.low, d.high)),
        "normal": lambda: (ppf.NORMAL, (d.mu, d.sd)),
        "lognormal": lambda: (ppf.LOGNORMAL, (d.scale, d.gsd)),
        "triangular": lambda: (ppf.TRIANGULAR, (d.low, d.mode, d.high)),
    }.get(kind)
    if spec is None:
        return ppf.NOT_HERE, (0.0,) * 4
    code, values = spec()
    return code, tuple(float(v) for v in values) + (0.0,) * (4 - len(values))


def bind(parameters, runs, hardware, countries, known=None):
    """Bind parameters to the runs of a run table.

    Parameters
    ----------
    parameters : dict of Parameter
    runs : RunTable
    hardware, countries : sequence of str, one per run
        The accelerator and grid of each run (members of the hardware and country scopes).
    known : bool array of shape (run, field), optional
        True where a run states a field explicitly; such fields are not sampled.

    Returns
    -------
    BoundParameters
        Parameters whose distribution is a constant for every run, or that act on no run, take
        no column.
    """
    n_runs = len(runs)
    if len(hardware) != n_runs or len(countries) != n_runs:
        raise ValueError("hardware and countries need one entry per run")
    known = np.zeros((n_runs, len(RUN_FIELDS)), bool) if known is None else np.asarray(known, bool)
    columns, dists, groups = [], [], {}
    fields, modes, applications, variant_applications = [], [], [], []
    factor_column = np.full((len(IMPACT_CRITERIA), len(FACTOR_NAMES)), -1, dtype=np.int64)
    n_variants = runs.variant_cdf.shape[1]
    for name, parameter in sorted(parameters.items()):
        if parameter.distribution.kind == "constant" and parameter.mode == "scale" \
                and parameter.distribution.value == 1.0:
            continue
        start = len(columns)
        if parameter.scope == "factor":
            c = IMPACT_CRITERIA.index(parameter.target)
            for item, item_name in enumerate(FACTOR_NAMES):
                factor_column[c, item] = len(columns)
                columns.append((name, item_name))
        else:
            field = RUN_FIELDS.index(parameter.target)
            labels = {"global": [""] * n_runs, "hardware": list(hardware),
                      "country": list(countries), "run": list(runs.names)}[parameter.scope]
            by_variant = parameter.scope == "hardware" and parameter.target in VARIANT_FIELDS
            column_of = {}

            def column(key, label):
                """The column of a member of the parameter's scope, made on first use (runs
                are keyed by position: two runs may share a name)."""
                if key not in column_of:
                    column_of[key] = len(columns)
                    columns.append((name, label))
                return column_of[key]

            per_run = np.full(n_runs, -1, dtype=np.int64)
            per_variant = np.full((n_runs, n_variants), -1, dtype=np.int64)
            for r in np.flatnonzero(~known[:, field]):
                variants = runs.variant_labels[r]
                if by_variant and len(variants) > 1:
                    for k, label in enumerate(variants):
                        if not parameter.members or label in parameter.members:
                            per_variant[r, k] = column(label, label)
                elif not parameter.members or labels[r] in parameter.members:
                    key = (r, labels[r]) if parameter.scope == "run" else labels[r]
                    per_run[r] = column(key, labels[r])
            if not column_of:
                continue
            fields.append(field)
            modes.append(MODES.index(parameter.mode))
            applications.append(per_run)
            variant_applications.append(per_variant)
        dists.extend([parameter.distribution] * (len(columns) - start))
        groups[name] = list(range(start, len(columns)))
    return BoundParameters(
        columns=tuple(columns), distributions=tuple(dists), groups=groups,
        apply_field=np.asarray(fields, dtype=np.int64), apply_mode=np.asarray(modes, np.int64),
        apply_column=(np.asarray(applications, dtype=np.int64).reshape(len(fields), n_runs)),
        factor_column=factor_column,
        variant_column=np.asarray(variant_applications, dtype=np.int64).reshape(
            len(fields), n_runs, n_variants))
