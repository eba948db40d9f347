"""Binding the catalogue's parameters to the runs of a run table.

:func:`bind` turns parameters (:mod:`mlimpact.uncertainty.catalogue`) and a run table into a
:class:`BoundParameters`: one column per (parameter, member of its scope), and index arrays that
say which column acts on which field of which run. A field that a run states explicitly is known
and is not sampled for that run. The engine turns a design's uniforms into the columns' values
(:func:`mlimpact.engine.propagate.parameter_values`) and applies them.
"""

import math
from dataclasses import dataclass

import numpy as np

from mlimpact.errors import MlimpactError
from mlimpact.quantities import IMPACT_CRITERIA
from mlimpact.runs.table import (
    FIELD_BOUNDS,
    METERED_ENERGY_KWH,
    METERED_SCOPE,
    RUN_FIELDS,
    VARIANT_FIELDS,
    bounds_text,
)
from mlimpact.tables.factors import FACTOR_NAMES
from mlimpact.uncertainty.distributions import sampled_range

#: The level up to which an unbounded multiplicative error must keep its field in range.
UNBOUNDED_LEVEL = 0.999
#: Codes of the modes in :attr:`BoundParameters.apply_mode` (the kernels' convention).
REPLACE, SCALE = 0, 1


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
    column_ids : int array of shape (columns,), optional
        Where the columns are a part of a larger binding's (:func:`bound_runs`): the address
        of each in it, so that a design draws the same numbers for them
        (:class:`mlimpact.uncertainty.sampling.Design`); None for a whole binding.
    """

    columns: tuple
    distributions: tuple
    groups: dict
    apply_field: np.ndarray
    apply_mode: np.ndarray
    apply_column: np.ndarray
    factor_column: np.ndarray
    variant_column: np.ndarray
    column_ids: np.ndarray = None

    @property
    def n_columns(self):
        return len(self.columns)


def bound_runs(bound, indices):
    """The binding of the runs ``indices`` (positions in the bound run table) alone: only the
    columns they read (their applications and the production factors), renumbered, with the
    address of each in ``bound`` (``column_ids``). A design of the same method and seed draws
    each column's numbers by its address, so the runs get the same values as in the whole
    binding (common draws across the parts of a large table evaluated one part at a time)."""
    indices = np.asarray(indices, dtype=np.int64)
    apply_column = bound.apply_column[:, indices]
    variant_column = bound.variant_column[:, indices, :]
    used = np.unique(
        np.concatenate([apply_column.ravel(), variant_column.ravel(), bound.factor_column.ravel()])
    )
    used = used[used >= 0]
    new = np.full(max(bound.n_columns, 1), -1, dtype=np.int64)
    new[used] = np.arange(used.size)

    def renumber(columns):
        return np.where(columns >= 0, new[np.maximum(columns, 0)], -1)

    groups = {}
    for name, columns in bound.groups.items():
        kept = [int(new[c]) for c in columns if new[c] >= 0]
        if kept:
            groups[name] = kept
    base = np.arange(bound.n_columns) if bound.column_ids is None else bound.column_ids
    return BoundParameters(
        columns=tuple(bound.columns[c] for c in used),
        distributions=tuple(bound.distributions[c] for c in used),
        groups=groups,
        apply_field=bound.apply_field,
        apply_mode=bound.apply_mode,
        apply_column=renumber(apply_column),
        factor_column=renumber(bound.factor_column),
        variant_column=renumber(variant_column),
        column_ids=base[used],
    )


def _is_identity(parameter):
    """Whether a parameter scales by exactly 1 everywhere (it takes no column)."""
    return (
        parameter.distribution.kind == "constant"
        and parameter.mode == "scale"
        and parameter.distribution.value == 1.0
        and not parameter.member_distributions
    )


def _column(key, label, name, column_of, columns):
    """The column of a member of a parameter's scope, made on first use (runs are keyed by
    position: two runs may share a name)."""
    if key not in column_of:
        column_of[key] = len(columns)
        columns.append((name, label))
    return column_of[key]


def _bind_factors(name, parameter, columns, factor_column):
    """Append one column per production factor of the parameter's criterion (in place)."""
    c = IMPACT_CRITERIA.index(parameter.target)
    for item, item_name in enumerate(FACTOR_NAMES):
        factor_column[c, item] = len(columns)
        columns.append((name, item_name))


def _bind_run_field(name, parameter, runs, labels, known, run_keys, columns):
    """The field index and the per-run and per-variant column arrays of a run-field parameter
    (columns appended in place), or None if it acts on no run."""
    n_runs = len(runs)
    field = RUN_FIELDS.index(parameter.target)
    by_variant = parameter.scope == "hardware" and parameter.target in VARIANT_FIELDS
    column_of = {}
    per_run = np.full(n_runs, -1, dtype=np.int64)
    per_variant = np.full((n_runs, runs.variant_cdf.shape[1]), -1, dtype=np.int64)
    for r in np.flatnonzero(~known[:, field]):
        variants = runs.variant_labels[r]
        if by_variant and len(variants) > 1:
            for k, label in enumerate(variants):
                if not parameter.members or label in parameter.members:
                    per_variant[r, k] = _column(label, label, name, column_of, columns)
        elif not parameter.members or labels[r] in parameter.members:
            key = (
                (run_keys[r] if run_keys is not None else (r, labels[r]))
                if parameter.scope == "run"
                else labels[r]
            )
            per_run[r] = _column(key, labels[r], name, column_of, columns)
    if not column_of:
        return None
    return field, per_run, per_variant


def _column_distributions(parameter, runs, classes, new_columns):
    """The distributions of a parameter's new columns (a by-class run parameter's by the
    class of each run)."""
    if parameter.scope == "run" and parameter.by_class:
        labels_of = dict(
            zip(runs.names, (classes or {}).get(parameter.class_kind, [None] * len(runs)))
        )
        return [parameter.distribution_of(label, labels_of.get(label)) for _, label in new_columns]
    return [parameter.distribution_of(label) for _, label in new_columns]


def _check_scaled_ranges(app_names, runs, fields, modes, applications, dists):
    """Refuse a multiplicative error that can take a run's field out of the field's valid
    range (:data:`mlimpact.runs.table.FIELD_BOUNDS`): a scale of up to 100 on a GPU usage of
    0.7 would draw 70 x TDP. Each scale application is checked on its own, on top of the
    field's range before scaling (the run's value, or the drawn range of the parameter
    replacing it), with its drawn range (:func:`mlimpact.uncertainty.distributions.sampled_range`,
    the extreme uniforms of a design) if its support is bounded, up to its
    :data:`UNBOUNDED_LEVEL` quantile if not: a log-normal error's far tail is the catalogue's
    choice of shape (the unknown country's grid error draws 300 x at the level 1 - 2^-53), its
    bulk must lie in range. Several independent errors at their extremes at once are not the
    check's business. Per-variant applications (runs of several accelerators) are not checked
    here."""
    ranges = {}  # column -> drawn range, computed once however many runs share the column

    def drawn(column):
        if column not in ranges:
            distribution = dists[column]
            low, high = sampled_range(distribution)
            if not math.isfinite(distribution.support()[1]):
                high = float(distribution.ppf(UNBOUNDED_LEVEL))
            ranges[column] = (low, high)
        return ranges[column]

    scaled = {fields[a] for a in range(len(fields)) if modes[a] == SCALE}
    for field in scaled:
        apps = [a for a in range(len(fields)) if fields[a] == field]
        field_name = RUN_FIELDS[field]
        bound_high = FIELD_BOUNDS[field_name][2]
        for r in range(len(runs)):
            low = high = float(runs.values[r, field])
            for a in apps:
                if modes[a] == REPLACE and applications[a][r] >= 0:
                    low, high = drawn(applications[a][r])
            for a in apps:
                column = applications[a][r]
                if modes[a] != SCALE or column < 0:
                    continue
                top = high * drawn(column)[1]
                if top > bound_high:
                    name = app_names[a]
                    raise MlimpactError(
                        f"run {runs.names[r]!r}: the multiplicative error {name} on "
                        f"{field_name} can draw {top:.4g} ({high:.4g} x {drawn(column)[1]:.4g}), "
                        f"beyond its valid range ({bounds_text(field_name)})"
                    )


def bind(parameters, runs, hardware, countries, known=None, classes=None, run_keys=None):
    """Bind parameters to the runs of a run table.

    Parameters
    ----------
    parameters : dict of Parameter
    runs : RunTable
    hardware, countries : sequence of str, one per run
        The accelerator and grid of each run (members of the hardware and country scopes).
    known : bool array of shape (run, field), optional
        True where a run states a field explicitly; such fields are not sampled (nor is the
        metered energy of a run without a meter).
    classes : dict, optional
        Class kind (``accelerator``, ``provider``) -> the class of each run: a run-scope
        parameter with ``by_class`` distributions draws each run from its class's.
    run_keys : sequence, optional
        One hashable key per run: runs with the same key share the draws of run-scope
        parameters (runs of one cluster: the same facility, the same utilisation); by
        default every run draws its own.

    Returns
    -------
    BoundParameters
        Parameters whose distribution is a constant for every run, or that act on no run, take
        no column.
    """
    n_runs = len(runs)
    if len(hardware) != n_runs or len(countries) != n_runs:
        raise ValueError("hardware and countries need one entry per run")
    known = np.zeros((n_runs, len(RUN_FIELDS)), bool) if known is None else np.array(known, bool)
    # a run without a meter never reads its metered energy: nothing to draw there
    known[runs.values[:, METERED_SCOPE] == 0, METERED_ENERGY_KWH] = True
    columns, dists, groups = [], [], {}
    fields, modes, applications, variant_applications, app_names = [], [], [], [], []
    factor_column = np.full((len(IMPACT_CRITERIA), len(FACTOR_NAMES)), -1, dtype=np.int64)
    n_variants = runs.variant_cdf.shape[1]
    for name, parameter in sorted(parameters.items()):
        if _is_identity(parameter):
            continue
        start = len(columns)
        if parameter.scope == "factor":
            _bind_factors(name, parameter, columns, factor_column)
        else:
            labels = {
                "global": [""] * n_runs,
                "hardware": list(hardware),
                "country": list(countries),
                "run": list(runs.names),
            }[parameter.scope]
            bound = _bind_run_field(name, parameter, runs, labels, known, run_keys, columns)
            if bound is None:
                continue
            field, per_run, per_variant = bound
            fields.append(field)
            app_names.append(name)
            modes.append(SCALE if parameter.mode == "scale" else REPLACE)
            applications.append(per_run)
            variant_applications.append(per_variant)
        dists.extend(_column_distributions(parameter, runs, classes, columns[start:]))
        groups[name] = list(range(start, len(columns)))
    _check_scaled_ranges(app_names, runs, fields, modes, applications, dists)
    return BoundParameters(
        columns=tuple(columns),
        distributions=tuple(dists),
        groups=groups,
        apply_field=np.asarray(fields, dtype=np.int64),
        apply_mode=np.asarray(modes, np.int64),
        apply_column=(np.asarray(applications, dtype=np.int64).reshape(len(fields), n_runs)),
        factor_column=factor_column,
        variant_column=np.asarray(variant_applications, dtype=np.int64).reshape(
            len(fields), n_runs, n_variants
        ),
    )
