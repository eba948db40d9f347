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
    if factor_column[c, 0] >= 0:  # the kernels take one error per factor: the other would be
        other = columns[factor_column[c, 0]][0]  # lost without a word
        raise MlimpactError(
            f"parameters {other!r} and {name!r} both scale the production factors of "
            f"{parameter.target}, and only one can act: give one of them the other's name, "
            "which replaces it"
        )
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


def _drawn_ranges(dists):
    """Column -> the range of values its distribution can draw, computed on first use: the
    drawn range (:func:`mlimpact.uncertainty.distributions.sampled_range`, the extreme uniforms
    of a design) if the support is bounded above, up to the :data:`UNBOUNDED_LEVEL` quantile if
    not (a log-normal error's far tail is the catalogue's choice of shape: the unknown
    country's grid error draws 300 x at the level 1 - 2^-53; its bulk must lie in range)."""
    ranges = {}  # by distribution object: one often serves many columns (a run class's)

    def drawn(column):
        distribution = dists[column]
        if id(distribution) not in ranges:
            low, high = sampled_range(distribution)
            if not math.isfinite(distribution.support()[1]):
                high = float(distribution.ppf(UNBOUNDED_LEVEL))
            ranges[id(distribution)] = (low, high)
        return ranges[id(distribution)]

    return drawn


def _field_ranges(field, runs, apps, modes, applications, variant_applications, drawn):
    """The lowest and highest values each run's ``field`` can take after the applications
    ``apps`` (in the kernel's order: a replacing one sets the range, a scaling one multiplies
    it), per variant of the run where the field is one a variant sets: arrays (run, variant)
    of the low and high ends and of whether a scaling acts, and the variants that count (a
    positive weight)."""
    n_runs = len(runs)
    if RUN_FIELDS[field] in VARIANT_FIELDS:
        j = VARIANT_FIELDS.index(RUN_FIELDS[field])
        base = runs.variant_values[:, :, j]
        cdf = np.concatenate([np.zeros((n_runs, 1)), runs.variant_cdf], axis=1)
        counts = np.diff(cdf, axis=1) > 0
    else:
        base = runs.values[:, field][:, None]
        counts = np.ones((n_runs, 1), bool)
    low, high = base.copy(), base.copy()
    scaled = np.zeros(base.shape, bool)
    for a in apps:
        column = np.broadcast_to(applications[a][:, None], base.shape)
        if base.shape[1] > 1:  # a run of several variants: the column of each variant
            column = np.where(column >= 0, column, variant_applications[a])
        acting = column >= 0
        if not acting.any():
            continue
        used = np.unique(column[acting])
        ends = np.zeros((column.max() + 1, 2))
        ends[used] = [drawn(int(c)) for c in used]
        lows, highs = ends[np.maximum(column, 0), 0], ends[np.maximum(column, 0), 1]
        if modes[a] == REPLACE:
            low, high = np.where(acting, lows, low), np.where(acting, highs, high)
            scaled &= ~acting
        else:
            low, high = np.where(acting, low * lows, low), np.where(acting, high * highs, high)
            scaled |= acting
    return low, high, scaled & counts


def _check_scaled_ranges(app_names, runs, fields, modes, applications, variant_applications, dists):
    """Refuse multiplicative errors that can take a run's field out of the field's valid
    range (:data:`mlimpact.runs.table.FIELD_BOUNDS`): a scale of up to 100 on a GPU usage of
    0.7 would draw 70 x TDP, a scale that can draw 0 would give a run of no hours. The field's
    range before scaling is the run's value (each variant's, for a run of several
    accelerators and a field a variant sets), or the drawn range of the parameter replacing
    it; the errors acting on it are taken at their extremes together (:func:`_drawn_ranges`),
    as a design can draw them: two errors of up to 1.5 on a usage of up to 0.6 reach 1.35.
    Taking each unbounded error at its :data:`UNBOUNDED_LEVEL` quantile and multiplying is
    conservative: independent errors are not at that level all at once."""
    drawn = _drawn_ranges(dists)
    for field in sorted({fields[a] for a in range(len(fields)) if modes[a] == SCALE}):
        apps = [a for a in range(len(fields)) if fields[a] == field]
        low, high, scaled = _field_ranges(
            field, runs, apps, modes, applications, variant_applications, drawn
        )
        field_name = RUN_FIELDS[field]
        bound_low, low_ok, bound_high = FIELD_BOUNDS[field_name]
        # a scaled draw must stay positive (or at least 0 where the field allows 0); a
        # stated value's floor above 0 does not bind it: the calibrated energy scatter
        # carries a run's energy around its class's through the dynamic ratio, whose
        # stated floor (a PUE of at least 1) is the facility's, not the scatter's
        positive = bound_low > 0 or not low_ok
        outside = (high > bound_high) | ((low <= 0) if positive else (low < bound_low))
        bad = np.argwhere(scaled & outside)
        if bad.size:
            r, k = (int(i) for i in bad[0])
            _refuse_scaled(
                app_names,
                runs,
                field,
                apps,
                modes,
                applications,
                variant_applications,
                drawn,
                r,
                k,
                low[r, k],
                high[r, k],
            )


def _refuse_scaled(
    app_names, runs, field, apps, modes, applications, variant_applications, drawn, r, k, low, high
):
    """Raise the one-line error of run ``r`` (variant ``k``) whose ``field`` the scaling
    errors can take to ``low`` or ``high``, outside its valid range."""
    field_name = RUN_FIELDS[field]
    errors = []
    base = None
    for a in apps:
        column = applications[a][r]
        if column < 0 and variant_applications[a].shape[1] > k:
            column = variant_applications[a][r, k]
        if column < 0:
            continue
        if modes[a] == REPLACE:
            errors, base = [], drawn(int(column))
        else:
            errors.append((app_names[a], drawn(int(column))))
    if base is None:
        value = (
            runs.variant_values[r, k, VARIANT_FIELDS.index(field_name)]
            if field_name in VARIANT_FIELDS
            else runs.values[r, field]
        )
        base = (value, value)
    upper = high > FIELD_BOUNDS[field_name][2]
    end, start = (high, base[1]) if upper else (low, base[0])
    factors = " x ".join(f"{e[1] if upper else e[0]:.4g}" for _, e in errors)
    names = " and ".join(name for name, _ in errors)
    variant = runs.variant_labels[r][k] if k < len(runs.variant_labels[r]) else ""
    where = f"run {runs.names[r]!r}" + (f" (variant {variant})" if variant else "")
    plural = "error" if len(errors) == 1 else "errors"
    together = "" if len(errors) == 1 else " together"
    raise MlimpactError(
        f"{where}: the multiplicative {plural} {names} on {field_name} can draw "
        f"{end:.4g}{together} ({start:.4g} x {factors}), beyond its valid range "
        f"({bounds_text(field_name)})"
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
    # a field is replaced, then scaled: the applications in that order (the kernels keep it),
    # so that no replacing input that sorts after a scaling one wipes out its error
    order = sorted(range(len(fields)), key=lambda a: modes[a] == SCALE)
    fields, modes, app_names = ([x[a] for a in order] for x in (fields, modes, app_names))
    applications = [applications[a] for a in order]
    variant_applications = [variant_applications[a] for a in order]
    _check_scaled_ranges(app_names, runs, fields, modes, applications, variant_applications, dists)
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
