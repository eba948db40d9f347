"""Which uncertain inputs dominate the study's outputs: Sobol' indices over the notable models.

The generic estimator (:mod:`mlimpact.analysis.sobol`) is applied to the impact model: the
Saltelli design's rows are evaluated by the engine (:func:`mlimpact.engine.propagate.evaluate_rows`)
and reduced to the study's outputs, each named by three coordinates:

- ``quantity``: ``impact`` (a model's, a year's or all models' summed impact), ``growth rate``
  (slope of ln impact on publication date, as in the claims), ``production share`` (of the
  summed impacts), and for cards ``card impact`` and ``card growth rate``;
- ``criterion``: energy, gwp, adpe, pe;
- ``subject``: a model's or card's name, ``year YYYY``, ``all models`` or ``all cards``.

Results are Datasets over (parameter, quantity, criterion, subject), NaN where an output does
not exist (energy has no production share).
"""

import math
import time
from functools import partial

import numpy as np

from mlimpact.analysis import trends
from mlimpact.analysis.sobol import SobolAccumulator, indices_dataset
from mlimpact.engine.propagate import stage_plan
from mlimpact.errors import MlimpactError
from mlimpact.quantities import CRITERIA, IMPACT_CRITERIA, card_index, training_index
from mlimpact.runs import notable
from mlimpact.runs.cards import card_runs, priced_gpus
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue, with_runs
from mlimpact.uncertainty.sampling import SaltelliDesign

#: Subject of the outputs that aggregate every model, every card.
ALL_MODELS, ALL_CARDS = "all models", "all cards"


def _check_convergence_options(n, target, max_n):
    """Check that the largest N is a power of two >= ``n`` and the target half-width > 0."""
    if max_n is not None and (max_n < n or max_n & (max_n - 1)):
        raise MlimpactError(
            f"sensitivity: the largest N must be a power of two >= {n} (got {max_n})"
        )
    if target is not None and not target > 0:
        raise MlimpactError(f"sensitivity: the target half-width must be > 0 (got {target})")


def _card_outputs(priced, card_dates):
    """The reduction of :func:`impact_sensitivity` for cards: a function from evaluated
    samples (row, card, quantity) to ``(values (row, output), names)``."""

    def card_outputs(samples):
        columns, names = [], []
        for k, criterion in enumerate(IMPACT_CRITERIA):
            values = samples[..., k]
            columns.append(values)
            names += [("card impact", criterion, h.name) for h in priced]
            slope = trends.ols_slopes(card_dates, np.log(values))
            columns.append(slope[:, None])
            names.append(("card growth rate", criterion, ALL_CARDS))
        return np.concatenate(columns, axis=1), names

    # the quantities the outputs read, in their order: only these are stored
    card_outputs.quantities = [card_index(c) for c in IMPACT_CRITERIA]
    return card_outputs


def _card_design(n, seed, resamples, chunk_size, client, screened=None, scratch=None):
    """The design run of one card of each priced data-centre and workstation GPU (with the
    ``screened["cards"]`` inputs as one group, :func:`screened_grouping`; ``scratch`` as in
    :class:`_DesignRun`)."""
    priced = priced_gpus("mixture")
    cards, known = card_runs(priced, "mixture")
    card_bound = bind(default_catalogue(), cards, list(cards.names), [""] * len(cards), known)
    groups = None if screened is None else screened_grouping(card_bound.groups, screened["cards"])
    card_dates = trends.decimal_years(
        np.array([h.release_date for h in priced], dtype="datetime64[D]")
    )
    return _DesignRun(
        cards,
        card_bound,
        n,
        seed,
        resamples,
        chunk_size,
        _card_outputs(priced, card_dates),
        "card",
        client,
        groups,
        scratch=scratch,
    )


#: Margin on the base points that the 1/sqrt(N) rule predicts for the target (the half-width's
#: own sampling error): the step aims at 10 % more.
PREDICTION_MARGIN = 1.1


def next_checkpoint(checkpoint, widest, target, step):
    """The N of the next extension: the N at which a half-width ``widest`` at ``checkpoint``
    shrinks to ``target`` if it falls as 1/sqrt(N) (the Monte Carlo rate, which randomised
    quasi-Monte Carlo at least matches), with :data:`PREDICTION_MARGIN`, in whole multiples of
    ``step`` base points (a chunk of the design: the extension ends within a chunk of the N
    predicted); at least one more step, at most twice ``checkpoint``."""
    predicted = checkpoint * (widest / target) ** 2 * PREDICTION_MARGIN
    steps = math.ceil(predicted / step) if math.isfinite(predicted) else 2 * checkpoint // step
    return int(min(2 * checkpoint, max(checkpoint + step, steps * step)))


def _extend_until_converged(design, n, progress, target, max_n, budget, started):
    """The result of a design run extended until converged (see :func:`impact_sensitivity`),
    and its history [(N, widest half-width)]."""
    history, checkpoint = [], n
    while True:
        segment, done = time.perf_counter(), design.count
        design.extend(checkpoint, progress)
        result = design.result()
        if target is None:
            break
        widest = reported_halfwidth({"design": result})
        history.append((checkpoint, widest))
        now = time.perf_counter()
        following = next_checkpoint(checkpoint, widest, target, min(n, design.chunk_size))
        # the cost per base point of the last extension (the first also holds the set-up and
        # any compilation, a pilot's base points none: neither is a guide)
        per_point = (now - segment) / (checkpoint - done) if checkpoint > done else 0.0
        if (
            widest <= target
            or (max_n is not None and following > max_n)
            or (
                budget is not None and now - started + per_point * (following - checkpoint) > budget
            )
        ):
            break
        checkpoint = following
    return result, history


def _record_convergence(data, history, target):
    """Write the convergence history into the attributes of a result's Dataset (in place)."""
    if history:
        data.attrs.update(
            convergence="; ".join(f"N={m}: widest ST half-width {w:.3f}" for m, w in history),
            converged=int(history[-1][1] <= target),
            target_halfwidth=target,
            widest_st_halfwidth=history[-1][1],
        )


def impact_sensitivity(
    n=256,
    seed=0,
    dataset=None,
    resamples=100,
    per_model=True,
    chunk_size=128,
    progress=None,
    client=None,
    target=None,
    max_n=None,
    budget=None,
    screen=False,
    runs=None,
):
    """Sobol' indices of the impact model's outputs over the notable models.

    Outputs: each model's energy, GWP, ADPe and PE (``per_model``); the sum over all models and
    the total of each publication year, per criterion; the growth rate (slope of ln impact on
    date) per criterion, as in the claims; the production share of the summed GWP, ADPe and
    PE; and, for one card of each data-centre and workstation GPU, its production GWP, ADPe
    and PE and their growth rates with release date. Parameters are the inputs of the
    catalogue (all columns of one input form one group). ``dataset``: the notable models'
    :class:`~mlimpact.runs.notable.DatasetOptions` (default: the whole embedded dataset);
    ``runs``, its runs if built already: those :meth:`~mlimpact.runs.notable.DatasetOptions.runs`
    gives without a scenario's rules (the baseline's), not checked here.

    Convergence (``target``): after ``n`` base points, each design (the models', the cards')
    goes on over the same Sobol' sequence, to the N that the 1/sqrt(N) rule predicts for the
    target (:func:`next_checkpoint`: whole chunks, at most doubling), until the widest
    half-width of the total-order intervals of its outputs the report reads (:data:`REPORTED`)
    is at most ``target``, or N would pass ``max_n``, or the next extension would pass
    ``budget`` seconds since the start (projected from the cost per base point of the last
    extension). Each Dataset's N reached (``base_points``) and widest half-width at each N are
    in its attributes ``convergence``, ``converged`` and ``widest_st_halfwidth``.

    Screening (``screen``, with a ``target``): a pilot of ``n`` base points names the inputs
    whose total-order index is below :data:`SCREENING_THRESHOLD` for every reported output
    (:func:`screened_inputs`); the analysis then starts again with them as one group,
    :data:`SCREENED`, whose index bounds each member's; the pilot's rows that the new design
    shares (A, B and the rows of the groups kept) are reused, only the screened group's are
    evaluated (:data:`PILOT_BYTES` bounds the pilot's outputs kept). Its cost per base point
    falls with the number of groups (one evaluation per group and two more); the outputs the
    report does not read (per-year totals, one card's impacts) then see the screened inputs as
    that group. The screened inputs are in the attribute ``screened`` of each Dataset.

    Returns
    -------
    dict
        ``{"models": Dataset, "cards": Dataset}``: ``S1``, ``ST``, their interval bounds
        ``S1_low``, ``S1_high``, ``ST_low``, ``ST_high`` (clipped to [0, 1]) and half-widths
        ``S1_halfwidth``, ``ST_halfwidth`` (:func:`mlimpact.analysis.sobol.sobol`) over
        (parameter, quantity, criterion, subject).
    """
    _check_convergence_options(n, target, max_n)
    started = time.perf_counter()
    dataset = notable.DatasetOptions() if dataset is None else dataset
    runs = dataset.runs() if runs is None else runs
    catalogue = with_runs(default_catalogue(dataset.power), runs)
    bound = bind(catalogue, runs.runs, runs.hardware, runs.countries, runs.known, runs.classes)
    outputs = training_outputs(runs, per_model)
    scratch = _Scratch()  # the designs below run one after the other

    def designs(screened=None, keep=False):
        groups = None if screened is None else screened_grouping(bound.groups, screened["models"])
        models = _DesignRun(
            runs.runs,
            bound,
            n,
            seed,
            resamples,
            chunk_size,
            outputs,
            "training",
            client,
            groups,
            keep=keep and n * (len(bound.groups) + 2) * len(outputs.names) * 8 <= PILOT_BYTES,
            scratch=scratch,
        )
        cards = _card_design(n, seed, resamples, chunk_size, client, screened, scratch)
        return models, cards

    try:
        return _analysis(designs, n, progress, target, max_n, budget, screen, started)
    finally:
        scratch.close()


def _analysis(designs, n, progress, target, max_n, budget, screen, started):
    """:func:`impact_sensitivity` of the design runs ``designs(screened, keep)`` makes."""
    pilot = screen and target is not None  # a pilot of n base points screens the inputs
    models, card_design = designs(keep=pilot)
    screened = None
    if pilot:
        models.extend(n, progress)
        card_design.extend(n)
        results = {"models": models.result(), "cards": card_design.result()}
        screened = {name: screened_inputs(data) for name, data in results.items()}
        if any(screened.values()):
            kept = models
            models, card_design = designs(screened)
            if not screened["models"]:
                models, kept.kept = kept, None  # the same design: its pilot goes on
            elif kept.kept is not None:
                models.reuse(kept, progress)
    # each design goes on until its own reported intervals meet the target: the cards' (the
    # same for every dataset) first, then the models', whose progress the caller follows
    result = {}
    for name, design, report in (("cards", card_design, None), ("models", models, progress)):
        result[name], history = _extend_until_converged(
            design, n, report, target, max_n, budget, started
        )
        _record_convergence(result[name], history, target)
    result = {"models": result["models"], "cards": result["cards"]}
    for name, data in result.items():
        data.attrs["screened"] = ", ".join(screened[name]) if screened else ""
        data.attrs["screening_base_points"] = n if screened else 0
    return result


#: Below this total-order index for every reported output at the pilot (:data:`REPORTED`), an
#: input is screened: it joins the one group :data:`SCREENED` for the rest of the analysis.
SCREENING_THRESHOLD = 0.01
#: Name of the group of screened inputs in the indices.
SCREENED = "screened inputs"


def screened_inputs(data):
    """The inputs of a pilot's indices (a Dataset of :func:`impact_sensitivity`) whose
    total-order index is below :data:`SCREENING_THRESHOLD` for every output of
    :data:`REPORTED` (an empty tuple if fewer than two are: a group of one saves nothing)."""
    largest = np.zeros(len(data.parameter))
    for quantity, subject in REPORTED:
        if quantity in data.quantity.values and subject in data.subject.values:
            cell = data.ST.sel(quantity=quantity, subject=subject).transpose("parameter", ...)
            values = np.nan_to_num(cell.values.reshape(len(data.parameter), -1), nan=0.0)
            largest = np.maximum(largest, values.max(axis=1, initial=0.0))
    names = tuple(
        str(p) for p, st in zip(data.parameter.values, largest) if st < SCREENING_THRESHOLD
    )
    return names if len(names) > 1 else ()


def screened_grouping(groups, screened):
    """The groups of a Saltelli design (name -> columns) with the ``screened`` inputs as one
    group :data:`SCREENED`, last. The total-order index of a group is at least each member's:
    the group's index bounds every screened input's."""
    if not screened:
        return dict(groups)
    kept = {name: columns for name, columns in groups.items() if name not in screened}
    kept[SCREENED] = sorted(c for name in screened for c in groups[name])
    return kept


#: The outputs the report reads, as (quantity, subject): the convergence check watches the
#: total-order intervals of every input for these.
REPORTED = (
    ("growth rate", ALL_MODELS),
    ("impact", ALL_MODELS),
    ("production share", ALL_MODELS),
    ("card growth rate", ALL_CARDS),
)
#: Below this total-order index an input is not called dominant, whatever its rank.
DOMINANCE_THRESHOLD = 0.05


def reported_halfwidth(result):
    """The widest half-width of the total-order intervals of the outputs of
    :data:`REPORTED` (over every input and criterion)."""
    widest = 0.0
    for data in result.values():
        for quantity, subject in REPORTED:
            if quantity in data.quantity.values and subject in data.subject.values:
                cell = data.ST_halfwidth.sel(quantity=quantity, subject=subject).values
                if np.isfinite(cell).any():
                    widest = max(widest, float(np.nanmax(cell)))
    return widest


def training_outputs(runs, per_model=True):
    """The reduction of :func:`impact_sensitivity` for notable runs
    (:class:`mlimpact.runs.notable.NotableRuns`): a function from evaluated samples (row, run,
    quantity) to ``(values (row, output), names)``, each name ``(quantity, criterion,
    subject)``. Whole-array operations only, each row's outputs computed from that row alone
    in an order that does not depend on the other rows (so that a row evaluated again, as
    :meth:`_DesignRun.reuse` does, gives the same bits): yearly totals are sums over each
    year's runs, not a product with an indicator matrix (whose blocking depends on the number
    of rows)."""
    dates = trends.decimal_years(runs.dates)
    years = dates.astype(int)
    year_list = sorted(set(years))
    members = [np.flatnonzero(years == year) for year in year_list]
    # a year's runs side by side (the dataset sorted by date) are a slice: no copy to sum
    members = [slice(m[0], m[-1] + 1) if m.size and (np.diff(m) == 1).all() else m for m in members]
    names = []
    for criterion in CRITERIA:
        if per_model:
            names += [("impact", criterion, m) for m in runs.runs.names]
        names.append(("impact", criterion, ALL_MODELS))
        names += [("impact", criterion, f"year {y}") for y in year_list]
        names.append(("growth rate", criterion, ALL_MODELS))
    names += [("production share", criterion, ALL_MODELS) for criterion in IMPACT_CRITERIA]

    # the quantities the outputs read: only these are stored (``outputs.quantities``)
    quantities = [training_index(c) for c in CRITERIA]
    quantities += [training_index(c, "production") for c in IMPACT_CRITERIA]
    at = {q: k for k, q in enumerate(quantities)}

    def outputs(samples):
        # read in the engine's layout, (run, quantity, row): each quantity's values of a run
        # side by side, summed over runs one run after another whatever the layout
        stored = samples.transpose(1, 2, 0)
        columns, totals = [], []
        for criterion in CRITERIA:
            values = stored[:, at[training_index(criterion)]]  # (run, row)
            if per_model:
                columns.append(values.T)
            total = values.sum(axis=0)
            if criterion in IMPACT_CRITERIA:
                totals.append(total)
            columns.append(total[:, None])
            columns.append(np.stack([values[m].sum(axis=0) for m in members], axis=1))
            with np.errstate(divide="ignore"):
                slope = trends.ols_slopes(dates, np.log(values).T)
            columns.append(slope[:, None])
        for c, criterion in enumerate(IMPACT_CRITERIA):
            production = stored[:, at[training_index(criterion, "production")]]
            columns.append((production.sum(axis=0) / totals[c])[:, None])
        return np.concatenate(columns, axis=1), names

    outputs.names, outputs.quantities = names, quantities
    return outputs


def _design_task(
    base_start, base_stop, runs, bound, design, outputs, kind, plan=None, scratch=None
):
    """Outputs of base points base_start..base_stop-1 (a task, locally or on a worker;
    ``scratch`` as in :func:`_outputs_of`)."""
    width = design.n_columns * design.step  # values of a base point's rows
    rows = partial(
        design.uniforms,
        base_start * design.step,
        base_stop * design.step,
        out=None if scratch is None else scratch.take("rows", width, base_stop - base_start),
    )
    return _outputs_of(rows, runs, bound, outputs, kind, plan, scratch)


def _group_task(base_start, base_stop, runs, bound, design, outputs, kind, plan, group):
    """Outputs of the rows AB_g of one group of base points base_start..base_stop-1, (point,
    output) (a task, locally or on a worker)."""
    rows = partial(design.group_rows, base_start, base_stop, group)
    return _outputs_of(rows, runs, bound, outputs, kind, plan)


def _outputs_of(rows, runs, bound, outputs, kind, plan, scratch=None):
    """``outputs`` of the design rows ``rows(transform=...)`` makes, their quantile functions
    taken on A and B only (every other row takes its columns from them), only the quantities
    the outputs read stored (in ``scratch``, a :class:`_Scratch`, if given)."""
    from mlimpact.engine.propagate import evaluate_rows, parameter_values

    specs = None if plan is None else plan.ppf_specs
    values = rows(transform=lambda u: parameter_values(bound, u, specs=specs))
    quantities = getattr(outputs, "quantities", None)
    kept = None
    if scratch is not None and quantities is not None:
        kept = scratch.take("samples", len(runs) * len(quantities), values.shape[0])
    samples = evaluate_rows(
        runs,
        bound,
        values,
        kind=kind,
        plan=plan,
        overwrite=True,
        given_values=True,
        quantities=quantities,
        out=kept,
    )
    if scratch is None or samples.shape[0] < 2:
        return outputs(samples)
    # the two halves of the rows reduced at once, here and on the scratch's second thread:
    # numpy's passes release the interpreter's lock, and each row's outputs are its own
    half = samples.shape[0] // 2
    other = scratch.second_thread().submit(outputs, samples[half:])
    first, names = outputs(samples[:half])
    return np.concatenate([first, other.result()[0]]), names


class _Scratch:
    """What the chunks of design runs evaluated here, one after the other, reuse: blocks of
    memory (their rows, their evaluated samples: each chunk's arrays are views of the same
    blocks, not new arrays whose pages the system maps and clears again, about 140 MB a
    chunk of the main job's design) and a second thread, on which half of each chunk's rows
    are reduced to their outputs (:func:`_outputs_of`: the reductions are numpy's
    single-threaded passes, the outputs' fits run no numba parallel region). A chunk's
    outputs, the only thing kept, are new arrays. :meth:`close` ends the thread."""

    def __init__(self):
        self.blocks = {}
        self._second = None

    def second_thread(self):
        """The scratch's executor of one thread (started on first use)."""
        from concurrent.futures import ThreadPoolExecutor

        if self._second is None:
            self._second = ThreadPoolExecutor(1, thread_name_prefix="mlimpact-outputs")
        return self._second

    def close(self):
        """End the second thread and let the blocks go."""
        if self._second is not None:
            self._second.shutdown()
            self._second = None
        self.blocks = {}

    def take(self, name, per_row, rows):
        """A flat float64 array of ``per_row * rows`` values, in the block ``name``."""
        size = per_row * rows
        if name not in self.blocks or self.blocks[name].size < size:
            self.blocks[name] = np.empty(size)
        return self.blocks[name][:size]


#: Largest size [bytes] of a pilot's outputs that a design run keeps, so that the analysis
#: after screening reuses them (:meth:`_DesignRun.reuse`).
PILOT_BYTES = 64 * 2**20


class _DesignRun:
    """A Saltelli design evaluated chunk by chunk and folded into Sobol' accumulators; it can
    be extended to more base points (the points of a Sobol' sequence do not depend on N).
    With ``keep``, the outputs of every chunk are kept (a pilot's, for :meth:`reuse`); with a
    ``scratch`` (:class:`_Scratch`), chunks evaluated here reuse its blocks and thread."""

    def __init__(
        self,
        runs,
        bound,
        n,
        seed,
        resamples,
        chunk_size,
        outputs,
        kind,
        client=None,
        groups=None,
        keep=False,
        scratch=None,
    ):
        groups = bound.groups if groups is None else groups
        self.groups = list(groups)
        self.design = SaltelliDesign(bound.n_columns, [groups[g] for g in self.groups], n, seed)
        self.shared = dict(
            runs=runs,
            bound=bound,
            design=self.design,
            outputs=outputs,
            kind=kind,
            plan=stage_plan(runs, bound),
        )
        self.seed, self.resamples, self.chunk_size = seed, resamples, chunk_size
        self.client, self.count = client, 0
        self.accumulator, self.names = None, None
        self.kept = [] if keep else None
        # evaluated here, the chunks' rows and samples are held in the scratch that the design
        # runs of an analysis share (they run one after the other; its owner closes it)
        self.scratch = scratch if client is None else None

    def extend(self, n, progress=None):
        """Evaluate base points up to ``n`` (exclusive) and fold them in."""
        ranges = [(s, min(s + self.chunk_size, n)) for s in range(self.count, n, self.chunk_size)]
        extra = {} if self.scratch is None else {"scratch": self.scratch}
        results = self._results(_design_task, ranges, progress, n, **extra)
        for (base_start, base_stop), (values, names) in zip(ranges, results):
            self._fold(base_start, values, names)
            if self.kept is not None:
                self.kept.append((base_start, base_stop, values))
            if progress is not None and self.client is None:
                progress(base_stop, n)
        self.count = max(self.count, n)

    def _results(self, task, ranges, progress=None, total=None, **extra):
        """``task`` of each (start, stop) of ``ranges`` with the design's arguments and
        ``extra``: on the Dask cluster (which reports ``progress`` of ``total`` itself), or
        here, one after the other as they are read."""
        if self.client is not None:
            from mlimpact.engine import distributed

            return distributed.map_chunks(
                self.client, task, ranges, progress, total, **extra, **self.shared
            )
        return (task(start, stop, **extra, **self.shared) for start, stop in ranges)

    def _fold(self, base_start, values, names):
        if self.accumulator is None:
            self.accumulator = SobolAccumulator(
                len(self.groups), values.shape[1], self.resamples, self.seed
            )
        self.accumulator.add(base_start, values)
        self.names = names

    def reuse(self, pilot, progress=None):
        """Fold in the base points of ``pilot`` (a kept design run of the same inputs, seed and
        first N whose groups are this one's but for :data:`SCREENED`, here one group of its
        members): the rows A, B and AB_g of the groups both have are the same rows, so only
        the rows of the screened group are evaluated. The sums are those of evaluating every
        row here (same rows, same chunks, same order)."""
        group = self.groups.index(SCREENED)
        ranges = [(start, stop) for start, stop, _ in pilot.kept]
        results = self._results(_group_task, ranges, group=group)
        old = [pilot.groups.index(g) if g != SCREENED else -1 for g in self.groups]
        step = len(self.groups) + 2
        for (start, stop, values), (screened, names) in zip(pilot.kept, results):
            rows = values.reshape(stop - start, len(pilot.groups) + 2, -1)
            assembled = np.empty((stop - start, step, rows.shape[2]))
            assembled[:, 0], assembled[:, -1] = rows[:, 0], rows[:, -1]
            for g, o in enumerate(old):
                assembled[:, 1 + g] = screened if o < 0 else rows[:, 1 + o]
            self._fold(start, assembled.reshape(-1, rows.shape[2]), names)
            if progress is not None:
                progress(stop, pilot.count)
        self.count = pilot.count

    def result(self):
        return named_outputs(
            indices_dataset(self.accumulator, self.groups, output_names=range(len(self.names))),
            self.names,
        )


def named_outputs(result, names):
    """A Sobol' Dataset over (parameter, output) with outputs named by ``(quantity,
    criterion, subject)`` tuples, as a Dataset over (parameter, quantity, criterion,
    subject)."""
    quantity, criterion, subject = (list(x) for x in zip(*names))
    flat = result.assign_coords(
        quantity=("output", quantity), criterion=("output", criterion), subject=("output", subject)
    )
    named = flat.set_index(output=["quantity", "criterion", "subject"]).unstack("output")
    named.attrs = result.attrs
    return named.transpose("parameter", "quantity", "criterion", "subject")


#: Columns of sensitivity.csv.
SENSITIVITY_HEADER = (
    "quantity",
    "criterion",
    "subject",
    "parameter",
    "S1",
    "S1_low",
    "S1_high",
    "ST",
    "ST_low",
    "ST_high",
    "flag",
)


def sensitivity_rows(result):
    """Rows of sensitivity.csv from a Dataset of :func:`impact_sensitivity` (outputs that
    exist only), built by whole-array operations."""
    frame = (
        result[list(SENSITIVITY_HEADER[4:10])].to_dataframe().dropna(subset=["S1", "ST"], how="all")
    )
    frame = frame.reset_index()
    table = frame[list(SENSITIVITY_HEADER[4:10])].to_numpy()
    rounded = [[float(f"{x:.6g}") for x in row] for row in table.tolist()]
    keys = frame[["quantity", "criterion", "subject", "parameter"]].itertuples(index=False)
    flags = np.where(
        frame["S1"].to_numpy() > frame["ST"].to_numpy(), "S1 > ST (sampling error)", ""
    )
    return [(*key, *numbers, flag) for key, numbers, flag in zip(keys, rounded, flags)]


def dominant(
    result, quantity, criterion, subject=ALL_MODELS, count=3, threshold=DOMINANCE_THRESHOLD
):
    """Up to ``count`` parameters with the largest total-order index for one output, among
    those whose index is at least ``threshold``: ``[(parameter, ST, ST_halfwidth)]``."""
    cell = result.sel(quantity=quantity, criterion=criterion, subject=subject)
    st = cell.ST.values
    order = np.argsort(-np.nan_to_num(st, nan=-1.0))[:count]
    return [
        (str(result.parameter.values[i]), float(st[i]), float(cell.ST_halfwidth.values[i]))
        for i in order
        if st[i] >= threshold
    ]


def output(result, quantity, criterion, subject=ALL_MODELS):
    """The indices of one output, over ``parameter``."""
    return result.sel(quantity=quantity, criterion=criterion, subject=subject)
