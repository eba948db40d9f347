"""What each scenario changes in the level of the impacts: the summed energy and impacts of
every model, and of each publication year, against the baseline, with common random numbers.

A scenario applies a rule to every run (another grid, another accelerator); scaling every
run leaves the slope of the trend and moves its level, so the level is the finding. To tell
the change from the noise of two independent Monte Carlo runs, the scenario and the baseline
are evaluated on the *same* draws: each uniform column of the scenario's binding takes the
baseline's column of the same input and member (parameter, run or country...), and only the
inputs the baseline does not have (the scenario's own) draw fresh columns. A scenario that
does not touch an input then changes nothing in it: location shifting leaves the energy
exactly the baseline's.
"""

import numpy as np

from mlimpact.engine.propagate import evaluate_rows
from mlimpact.quantities import CRITERIA, training_index
from mlimpact.uncertainty.sampling import Design

#: Seed offset of the levels' design (apart from the other designs of the study).
_LEVELS_STREAM = 0x6C76


def aligned_uniforms(base_columns, u_base, columns, seed):
    """Uniforms for a binding of ``columns`` ((parameter, member) keys) that take the
    baseline's column ``u_base[:, j]`` of the same key, and fresh columns for the others."""
    position = {key: j for j, key in enumerate(base_columns)}
    fresh = Design("mc", u_base.shape[0], len(columns), seed + _LEVELS_STREAM + 1)
    u = fresh.uniforms(0, u_base.shape[0])
    for j, key in enumerate(columns):
        if key in position:
            u[:, j] = u_base[:, position[key]]
    return np.asfortranarray(u)


#: The quantities the levels read (every criterion's training total): only these are stored.
QUANTITIES = [training_index(criterion) for criterion in CRITERIA]


def scenario_sums(runs, bounds, n, seed, dates):
    """Per scenario, :func:`sums` of its runs' quantities on draws common with the baseline's
    (:func:`aligned_uniforms`), one scenario's samples in memory at a time (only the
    :data:`QUANTITIES` read). ``runs``, ``bounds`` and ``dates`` map a scenario name to its
    NotableRuns, those runs bound to its catalogue, and their publication dates; the
    baseline is ``"baseline"``."""
    base = bounds["baseline"]
    u_base = Design("mc", n, base.n_columns, seed + _LEVELS_STREAM).uniforms(0, n)
    out = {}
    for name, bound in bounds.items():
        u = aligned_uniforms(base.columns, u_base, bound.columns, seed)
        samples = evaluate_rows(runs[name].runs, bound, u, overwrite=True, quantities=QUANTITIES)
        out[name] = sums(samples, dates[name])
    return out


def sums(samples, dates):
    """Per criterion: the per-sample sum over every run, and over each publication year's runs
    ((sample, year), the distinct years of ``dates`` [decimal years] in order); ``samples``
    (sample, run, quantity) holds the :data:`QUANTITIES`, in order."""
    years = np.floor(dates).astype(int)
    members = [years == year for year in np.unique(years)]
    out = {}
    for k, criterion in enumerate(CRITERIA):
        values = samples[..., k]
        out[criterion] = (
            values.sum(axis=1),
            np.stack([values[:, m].sum(axis=1) for m in members], -1),
        )
    return out


def relative_change(values, baseline):
    """``values / baseline - 1`` per sample (NaN where the baseline is 0)."""
    values, baseline = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(baseline != 0, values / baseline - 1.0, np.nan)
