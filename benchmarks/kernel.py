"""Throughput of the fused Monte Carlo kernel against a naive numpy evaluation, in one run.

    python benchmarks/kernel.py --samples 1000000 [--models 300] [--json]

The run table holds ``--models`` synthetic training runs (accelerators drawn from the hardware
table's data-centre GPUs with known die area, memory and TDP; hours, nodes, usage and grid drawn
at random with a fixed seed), so that ``--models`` sets the size; the kernel's cost does not
depend on where the numbers come from (``benchmarks/dask_scaling.py`` runs the 440 notable
models). Every input of the default catalogue is
uncertain (per-run GPU usage, per-country grid errors, global assumptions, factor errors, the
production model MLCA or ACT and ACT's inputs per accelerator).

Both sides compute the same thing: the sixteen quantities (energy; production, use and total
of GWP, ADPe, PE and water; the energy of the accelerators, the host and the overhead) of every
(sample, model), and their mean, standard deviation and five quantiles
per model.

- fused: :func:`mlimpact.engine.propagate.propagate`, chunked, streaming reductions (numba, all
cores);
- naive: numpy on whole (sample, model) arrays (``tests/naive.py``), then ``mean``, ``std`` and
  ``np.quantile`` over the samples. It keeps every value, so it runs on ``--naive-samples``
  samples only; throughputs are per evaluation, so the ratio is fair.

Each side is timed ``--repeats`` times after a warm-up (compilation excluded), the two sides
alternating (fused, naive, fused, naive...) so that both meet the same load of a shared
machine; medians are reported, and the ratio is the median of the per-pair ratios. Peak
memory is the process's maximum resident set size after the first fused run (before any
naive run, which holds every sample).
"""

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import naive  # noqa: E402
from numba import prange  # noqa: E402

from mlimpact._config import JIT_OPTIONS, PARALLEL_JIT_OPTIONS, njit  # noqa: E402
from mlimpact.engine.kernels import montecarlo as mc  # noqa: E402
from mlimpact.engine.kernels.prepare import impute  # noqa: E402
from mlimpact.engine.kernels.production import MEMORY_YIELD, act_die  # noqa: E402
from mlimpact.engine.kernels.training import run_from_parts  # noqa: E402
from mlimpact.engine.propagate import (  # noqa: E402
    QUANTILES,
    Accumulator,
    evaluate_rows,
    parameter_values,
    point_quantities,
    propagate,
    stage_plan,
)
from mlimpact.quantities import (  # noqa: E402
    ENERGY,
    IMPACT_CRITERIA,
    LABELS,
    N_IMPACTS,
    N_TRAINING_QUANTITIES,
    PRODUCTION,
    SCOPES,
    TOTAL,
    TRAINING_QUANTITIES,
    USE,
    WATER,
)
from mlimpact.runs.cards import why_not_priced  # noqa: E402
from mlimpact.runs.defaults import default_row  # noqa: E402
from mlimpact.runs.table import RUN_FIELDS, RunTable  # noqa: E402
from mlimpact.tables import factors as ft  # noqa: E402
from mlimpact.tables.fab import hardware_act_fields  # noqa: E402
from mlimpact.tables.grid import electricity_factors  # noqa: E402
from mlimpact.tables.hardware import hardware_table  # noqa: E402
from mlimpact.uncertainty.binding import bind  # noqa: E402
from mlimpact.uncertainty.catalogue import default_catalogue  # noqa: E402
from mlimpact.uncertainty.sampling import Design, chunks  # noqa: E402

COUNTRIES = ("USA", "CHN", "GBR", "FRA", "DEU", "CAN", "JPN", "KOR")


def synthetic_runs(n_models, seed=0, accelerator=None):
    """A run table of n_models plausible training runs, with the hardware and country of each
    (all on the card named ``accelerator`` if given)."""
    rng = np.random.default_rng(seed)
    cards = [
        h
        for h in hardware_table()
        if h.segment == "data_centre"
        and np.isfinite([h.die_area_cm2, h.memory_gb, h.tdp_w]).all()
        and why_not_priced(h, "act") is None
        and (accelerator is None or h.name == accelerator)
    ]
    if not cards:
        raise ValueError(f"no data-centre card with die area, memory and TDP named {accelerator!r}")
    factors = electricity_factors()
    records, hardware, countries = [], [], []
    for i in range(n_models):
        card = cards[rng.integers(len(cards))]
        country = COUNTRIES[rng.integers(len(COUNTRIES))]
        grid = factors[country]
        records.append(
            (
                f"model {i}",
                default_row(
                    hours=float(rng.lognormal(np.log(300), 1.0)),
                    nodes=float(rng.integers(1, 512)),
                    gpus=8.0,
                    gpu_tdp_w=card.tdp_w,
                    gpu_memory_gb=card.memory_gb,
                    gpu_die_area_cm2=card.die_area_cm2,
                    grid_gwp=grid.gwp,
                    grid_adpe=grid.adpe,
                    grid_pe=grid.pe,
                    **hardware_act_fields(card),
                ),
            )
        )
        hardware.append(card.name)
        countries.append(country)
    return RunTable.from_records(records), hardware, countries


def naive_statistics(runs, bound, n, seed):
    """Evaluate n samples with numpy on whole arrays and reduce them as the fused path does."""
    values = parameter_values(bound, Design("mc", n, bound.n_columns, seed).uniforms(0, n))
    by_name = naive.monte_carlo(runs, values, bound)  # (criterion, phase or scope) -> values
    quantities = np.stack([by_name[k] for k in TRAINING_QUANTITIES], axis=-1)
    return (
        quantities.mean(axis=0),
        quantities.std(axis=0, ddof=1),
        np.quantile(quantities, list(QUANTILES.values()), axis=0),
    )


# --- Roofline: a kernel written by hand for one accelerator type (issue 30, item 3) ---------

#: The card of every run of the roofline's case.
ROOFLINE_ACCELERATOR = "NVIDIA A100 SXM4 80 GB"
#: Positions in the hand-specialised kernel's ``shared_columns``: the sampled columns that every
#: run reads (global parameters and those of the one accelerator).
(
    DYNAMIC_RATIO,
    LIFETIME_YEARS,
    LIFETIME_USAGE,
    MEMORY_DENSITY,
    PRODUCTION_MODEL,
    GPA_ABATEMENT,
    DEFECT_DENSITY_QUANTILE,
    FAB_INTENSITY,
    MEMORY_GWP_QUANTILE,
    HYDRO_WATER,
) = range(10)
SHARED_FIELDS = (
    "dynamic_ratio",
    "lifetime_years",
    "lifetime_usage",
    "memory_density",
    "production_model",
    "gpa_abatement",
    "defect_density_quantile",
    "fab_intensity",
    "memory_gwp_quantile",
    "hydro_water",
)
#: Positions in ``card``: the accelerator's point values.
CARD_FIELDS = (
    "gpu_die_area_cm2",
    "gpu_memory_gb",
    "fab_intensity",
    "epa",
    "gpa_95",
    "gpa_99",
    "yield_model",
    "yield_constant",
    "defect_density_low",
    "defect_density_high",
    "memory_gwp_low",
    "memory_gwp_high",
)
#: Positions in ``host``: the host server's point values.
HOST_FIELDS = ("cpus", "cpu_die_area_cm2", "ram_modules", "ram_module_gb", "ssd_gb", "psus")


#: The package's JIT options without the disk cache: a kernel of a script cached by numba is
#: not found again when the script is imported under another module name (as by the tests).
SCRIPT_JIT_OPTIONS = {**JIT_OPTIONS, "cache": False}
SCRIPT_PARALLEL_JIT_OPTIONS = {**PARALLEL_JIT_OPTIONS, "cache": False}


@njit(**SCRIPT_JIT_OPTIONS)
def _factor(table, values, s, factor_column, item, c):
    """Production factor (item, criterion c) of sample s: the table's times its sampled error."""
    column = factor_column[c, item]
    return table[item, c] * (values[s, column] if column >= 0 else 1.0)


@njit(**SCRIPT_PARALLEL_JIT_OPTIONS)
def shared_stage(
    span_start,
    span,
    values,
    table,
    factor_column,
    shared_columns,
    card,
    host,
    card_production,
    host_production,
    dynamic_ratio,
    lifetime_hours,
):
    """What every run of a sample reads, for the samples ``span_start..span_start+span-1``:
    the production of the card and of the host server per criterion, the overhead DR and
    the hours of the hardware's lifetime, into the first ``span`` values of the last four
    arrays (in parallel over samples)."""
    area, memory_gb = card[0], card[1]
    for i in prange(span):
        s = span_start + i
        density = values[s, shared_columns[MEMORY_DENSITY]]
        memory_area = memory_gb / density
        ram_area = host[2] * host[3] * (1.0 / density)
        ssd_area = host[4] / ft.SSD_DENSITY_GB_PER_CM2
        act = values[s, shared_columns[PRODUCTION_MODEL]] >= 0.5
        for c in range(N_IMPACTS):
            die = area * _factor(table, values, s, factor_column, ft.GPU_DIE, c)
            memory = memory_area * _factor(
                table, values, s, factor_column, ft.GPU_MEMORY_DIE, c
            ) + 1.0 * _factor(table, values, s, factor_column, ft.GPU_MEMORY_BASE, c)
            if act and c == 0:
                low, high = card[8], card[9]
                defect_density = low + values[s, shared_columns[DEFECT_DENSITY_QUANTILE]] * (
                    high - low
                )
                gpa = card[4] + values[s, shared_columns[GPA_ABATEMENT]] * (card[5] - card[4])
                die = act_die(
                    area,
                    card[2] * values[s, shared_columns[FAB_INTENSITY]],
                    card[3],
                    gpa,
                    defect_density,
                    card[6],
                    card[7],
                )
                per_gb = 0.0
                if card[10] > 0.0:
                    per_gb = (
                        card[10]
                        * (card[11] / card[10]) ** values[s, shared_columns[MEMORY_GWP_QUANTILE]]
                    )
                memory = per_gb * memory_gb / MEMORY_YIELD
            card_production[c, i] = (
                die + memory + _factor(table, values, s, factor_column, ft.GPU_BASE, c)
            )
            cpu = _factor(table, values, s, factor_column, ft.CPU_DIE, c)
            host_production[c, i] = (
                host[0] * (host[1] * cpu + _factor(table, values, s, factor_column, ft.CPU_BASE, c))
                + ram_area * _factor(table, values, s, factor_column, ft.RAM_DIE, c)
                + host[2] * _factor(table, values, s, factor_column, ft.RAM_BASE, c)
                + ssd_area * _factor(table, values, s, factor_column, ft.SSD_DIE, c)
                + 1.0 * _factor(table, values, s, factor_column, ft.SSD_BASE, c)
                + host[5]
                * ft.PSU_MASS_KG
                * _factor(table, values, s, factor_column, ft.PSU_PER_KG, c)
                + _factor(table, values, s, factor_column, ft.MOTHERBOARD, c)
                + _factor(table, values, s, factor_column, ft.RACK_CASE, c)
                + _factor(table, values, s, factor_column, ft.ASSEMBLY, c)
            )
        dynamic_ratio[i] = values[s, shared_columns[DYNAMIC_RATIO]]
        lifetime_hours[i] = (
            values[s, shared_columns[LIFETIME_YEARS]]
            * ft.HOURS_PER_YEAR
            * values[s, shared_columns[LIFETIME_USAGE]]
        )


@njit(**SCRIPT_PARALLEL_JIT_OPTIONS)
def specialised_kernel(
    first_sample,
    values,
    table,
    factor_column,
    shared_columns,
    card,
    host,
    gpus,
    gpu_tdp_w,
    host_w,
    nodes,
    hours,
    usage_column,
    grid,
    grid_column,
    hydro_share,
    wue_column,
    anchor,
    shift,
    hist,
    tails,
    sums,
    compensation,
    extremes,
    samples,
    keep,
):
    """The fused kernel's model and reductions written out by hand for runs of one accelerator
    and one host (:func:`roofline_case`): no row, no variant, no table of applications.

    Per sample of a span of :data:`mc.SPAN_TILES` tiles, the card and the host server (one of
    each for every run) and the per-sample global inputs; then, in parallel over runs, the
    sixteen quantities of every sample of a tile, folded as the fused kernel folds them
    (:func:`mc.fold`, tiles aligned on absolute sample indices). The run constants are arguments:
    ``nodes`` (times the repetitions), ``hours``, ``grid`` (run, criterion), ``hydro_share`` and the
    columns of the run's GPU usage, grid errors and facility WUE; the node's host power ``host_w``
    [W] is a constant (no rated host, CPU usage and RAM at their point values). ``values`` are the
    parameter values of the engine's parameter stage, ``table`` the production factors and
    ``factor_column`` the columns of their errors. Same accumulators, ``samples`` and ``keep`` as
    :func:`mc.fused_kernel`.
    """
    n_samples, n_runs = values.shape[0], nodes.shape[0]
    n_quantities = shift.shape[1]
    width = mc.SPAN_TILES * mc.TILE
    card_production = np.empty((N_IMPACTS, width))
    host_production = np.empty((N_IMPACTS, width))
    dynamic_ratio = np.empty(width)
    lifetime_hours = np.empty(width)
    span_start = 0
    while span_start < n_samples:
        absolute = first_sample + span_start
        span = min(
            (absolute // mc.TILE + mc.SPAN_TILES) * mc.TILE - absolute, n_samples - span_start
        )
        shared_stage(
            span_start,
            span,
            values,
            table,
            factor_column,
            shared_columns,
            card,
            host,
            card_production,
            host_production,
            dynamic_ratio,
            lifetime_hours,
        )
        for r in prange(n_runs):
            buffer = np.empty((n_quantities, mc.TILE + mc.PAD))
            index = np.empty(mc.TILE, dtype=np.int64)
            run_nodes, run_hours, usage = nodes[r], hours[r], usage_column[r]
            hydro, wue = hydro_share[r], wue_column[r]
            tile_start = 0
            while tile_start < span:
                tile_absolute = absolute + tile_start
                count = min(
                    (tile_absolute // mc.TILE + 1) * mc.TILE - tile_absolute, span - tile_start
                )
                for i in range(count):
                    at = tile_start + i  # in the span
                    s = span_start + at
                    accelerators_w = values[s, usage] * gpus * gpu_tdp_w
                    node = run_nodes * ((accelerators_w + host_w) / 1000.0) * run_hours
                    accelerators = run_nodes * (accelerators_w / 1000.0) * run_hours
                    energy = node * dynamic_ratio[at]
                    buffer[ENERGY, i] = energy
                    buffer[SCOPES, i] = accelerators
                    buffer[SCOPES + 1, i] = node - accelerators
                    buffer[SCOPES + 2, i] = energy - node
                    allocation = run_nodes * run_hours / lifetime_hours[at]
                    for c in range(N_IMPACTS):
                        production = allocation * (
                            gpus * card_production[c, at] + host_production[c, at]
                        )
                        use = energy * (grid[r, c] * values[s, grid_column[r, c]])
                        if c == WATER:
                            use += energy * (hydro * values[s, shared_columns[HYDRO_WATER]])
                            use += node * values[s, wue]
                        buffer[PRODUCTION + c, i] = production
                        buffer[USE + c, i] = use
                        buffer[TOTAL + c, i] = production + use
                if keep & mc.KEEP:
                    for k in range(n_quantities):
                        for i in range(count):
                            samples[r, k, span_start + tile_start + i] = buffer[k, i]
                if keep & mc.FOLD:
                    for k in range(n_quantities):
                        mc.fold(
                            buffer[k],
                            count,
                            shift[r, k],
                            anchor[r, k],
                            hist[r, k],
                            tails[r, k],
                            sums[r, k],
                            compensation[r, k],
                            extremes[r, k],
                            index,
                        )
                tile_start += count
        span_start += span


@njit(**SCRIPT_PARALLEL_JIT_OPTIONS)
def rows_kernel(
    first_sample,
    values,
    table,
    factor_column,
    shared_columns,
    card,
    host,
    runs,
    variant_values,
    variant_cdf,
    apply,
    variant_columns,
    run_ptr,
    anchor,
    shift,
    hist,
    tails,
    sums,
    compensation,
    extremes,
    keep,
    prepare,
):
    """For the decomposition only: :func:`specialised_kernel`'s card, host and per-sample
    inputs (:func:`shared_stage`), then every run as the fused kernel evaluates it (its rows
    prepared from the stage plan's applications by :func:`mc.prepare_rows`, imputed, and
    :func:`run_from_parts`), folded alike. Against the hand-specialised kernel it measures the
    rows and the general run model; against the fused kernel, the card and host stage through
    rows and the per-sample factor table. With ``prepare`` False, a run's rows are prepared
    for its first block only and then reused (wrong values, for timing the preparation)."""
    n_samples, n_runs, n_fields = values.shape[0], runs.shape[0], runs.shape[1]
    columns_first = values.T  # the package's kernels read (column, sample)
    # False as a value, not a literal (a literal compiles mc.prepare_rows once more)
    no_selection = variant_cdf.shape[1] < 0
    n_quantities = shift.shape[1]
    width = mc.SPAN_TILES * mc.TILE
    card_production = np.empty((N_IMPACTS, width))
    host_production = np.empty((N_IMPACTS, width))
    dynamic_ratio = np.empty(width)
    lifetime_hours = np.empty(width)
    span_start = 0
    while span_start < n_samples:
        absolute = first_sample + span_start
        span = min(
            (absolute // mc.TILE + mc.SPAN_TILES) * mc.TILE - absolute, n_samples - span_start
        )
        shared_stage(
            span_start,
            span,
            values,
            table,
            factor_column,
            shared_columns,
            card,
            host,
            card_production,
            host_production,
            dynamic_ratio,
            lifetime_hours,
        )
        for r in prange(n_runs):
            x = np.empty((n_fields, mc.ROWS))
            chosen = np.zeros(mc.ROWS, dtype=np.int64)
            buffer = np.empty((n_quantities, mc.TILE + mc.PAD))
            index = np.empty(mc.TILE, dtype=np.int64)
            tile_start = 0
            while tile_start < span:
                tile_absolute = absolute + tile_start
                count = min(
                    (tile_absolute // mc.TILE + 1) * mc.TILE - tile_absolute, span - tile_start
                )
                for block in range(0, count, mc.ROWS):
                    size = min(mc.ROWS, count - block)
                    at = tile_start + block
                    if prepare or tile_start + block == 0:
                        mc.prepare_rows(
                            x,
                            chosen,
                            runs,
                            r,
                            columns_first,
                            span_start + tile_start + block,
                            size,
                            apply,
                            run_ptr[r],
                            run_ptr[r + 1],
                            variant_columns,
                            variant_values,
                            variant_cdf,
                            no_selection,
                            tile_start + block == 0,
                        )
                    card_r = card_production[:, at : at + size]
                    host_r = host_production[:, at : at + size]
                    out = buffer[:, block : block + size]
                    impute(x, size)
                    run_from_parts(x, card_r, host_r, out, size)
                    for c in range(N_IMPACTS):
                        for j in range(size):
                            out[TOTAL + c, j] = out[PRODUCTION + c, j] + out[USE + c, j]
                if keep & mc.FOLD:
                    for k in range(n_quantities):
                        mc.fold(
                            buffer[k],
                            count,
                            shift[r, k],
                            anchor[r, k],
                            hist[r, k],
                            tails[r, k],
                            sums[r, k],
                            compensation[r, k],
                            extremes[r, k],
                            index,
                        )
                tile_start += count
        span_start += span


def roofline_case(n_models, seed=0, catalogue=None):
    """Runs of one accelerator type (:data:`ROOFLINE_ACCELERATOR`, the run builders of
    :func:`synthetic_runs`), every input of the default catalogue uncertain, and the arguments
    of :func:`specialised_kernel` read off the run table and the binding once. Checks the
    assumptions that the hand-specialised kernel makes (one card, one host of MLCA's power
    model, one repetition, no meter, no imputation, intensity ratio 1). ``catalogue``: the
    default one if not given."""
    runs, hardware, countries = synthetic_runs(n_models, seed, ROOFLINE_ACCELERATOR)
    known = np.zeros((len(runs), len(RUN_FIELDS)), dtype=bool)
    known[:, [RUN_FIELDS.index("variant"), RUN_FIELDS.index("mfu")]] = True
    catalogue = default_catalogue() if catalogue is None else catalogue
    bound = bind(catalogue, runs, hardware, countries, known)
    v = runs.values
    field = RUN_FIELDS.index
    grid_fields = [f"grid_{c}" for c in IMPACT_CRITERIA]
    same = [f for f in RUN_FIELDS if f not in ("hours", "nodes", "hydro_share", *grid_fields)]
    if not all((v[:, field(f)] == v[0, field(f)]).all() for f in same):
        raise ValueError("the runs differ in more than hours, nodes and grid")
    row = dict(zip(RUN_FIELDS, v[0]))
    assumed = dict(
        server=1.0,
        repetitions=1.0,
        intensity_ratio=1.0,
        metered_scope=0.0,
        imputation=0.0,
        host_rated_w_per_gpu=0.0,
        production_model=0.0,
    )
    if runs.variant_cdf.shape[1] != 1 or any(row[k] != x for k, x in assumed.items()):
        raise ValueError(f"the hand-specialised kernel assumes {assumed} and one variant")
    applications = {
        RUN_FIELDS[f]: (mode, columns)
        for f, mode, columns in zip(bound.apply_field, bound.apply_mode, bound.apply_column)
    }
    expected = (
        {name: 0 for name in SHARED_FIELDS}
        | dict(fab_intensity=1, gpu_usage=0, wue=0)
        | {f: 1 for f in grid_fields}
    )
    if set(applications) != set(expected) or any(
        applications[k][0] != mode or (applications[k][1] < 0).any() for k, mode in expected.items()
    ):
        raise ValueError("the catalogue does not bind what the hand-specialised kernel reads")
    shared = np.array([applications[f][1][0] for f in SHARED_FIELDS], dtype=np.int64)
    if any((applications[f][1] != applications[f][1][0]).any() for f in SHARED_FIELDS):
        raise ValueError("a global or hardware parameter takes several columns")
    ram_gb = row["ram_modules"] * row["ram_module_gb"] * row["server"]
    # the node's host power [W], in the order of mlimpact.engine.kernels.use.node_power_kw
    host_w = (
        row["cpu_usage"] * (row["cpus"] * row["server"]) * row["cpu_tdp_w"]
        + ft.RAM_POWER_W_PER_GB * ram_gb
    )
    arguments = dict(
        table=ft.PRODUCTION_FACTORS,
        factor_column=bound.factor_column,
        shared_columns=shared,
        card=np.array([row[f] for f in CARD_FIELDS]),
        host=np.array([row[f] for f in HOST_FIELDS]),
        gpus=float(row["gpus"]),
        gpu_tdp_w=float(row["gpu_tdp_w"]),
        host_w=float(host_w),
        nodes=row["repetitions"] * v[:, field("nodes")],
        hours=v[:, field("hours")].copy(),
        usage_column=applications["gpu_usage"][1].copy(),
        grid=np.ascontiguousarray(v[:, [field(f) for f in grid_fields]]),
        grid_column=np.ascontiguousarray(np.stack([applications[f][1] for f in grid_fields], 1)),
        hydro_share=v[:, field("hydro_share")].copy(),
        wue_column=applications["wue"][1].copy(),
    )
    return runs, bound, arguments


def run_specialised(arguments, first_sample, values, accumulator, samples=None, keep=mc.FOLD):
    """Call :func:`specialised_kernel` on one chunk's parameter values."""
    acc = accumulator
    specialised_kernel(
        first_sample,
        values,
        *arguments.values(),
        acc.anchor,
        acc.shift,
        acc.hist,
        acc.tails,
        acc.sums,
        acc.compensation,
        acc.extremes,
        np.empty((0, 0, 0)) if samples is None else samples,
        keep,
    )


def run_rows(runs, plan, arguments, first_sample, values, accumulator, keep=mc.FOLD, prepare=True):
    """Call :func:`rows_kernel` on one chunk's parameter values."""
    stages, acc = plan.stages, accumulator
    rows_kernel(
        first_sample,
        values,
        *(arguments[k] for k in ("table", "factor_column", "shared_columns", "card", "host")),
        runs.values,
        runs.variant_values,
        runs.variant_cdf,
        stages.apply,
        stages.variant_columns,
        stages.run_ptr,
        acc.anchor,
        acc.shift,
        acc.hist,
        acc.tails,
        acc.sums,
        acc.compensation,
        acc.extremes,
        keep,
        prepare,
    )


def run_fused(runs, bound, plan, first_sample, values, accumulator, keep=mc.FOLD):
    """The fused path's work after the parameter stage, as :func:`run_chunk` does it: the
    per-sample production factors, then :func:`mc.fused_kernel`."""
    factors = np.empty((values.shape[0], *ft.PRODUCTION_FACTORS.shape))
    mc.sample_factors(ft.PRODUCTION_FACTORS, values.T, bound.factor_column, factors)
    acc = accumulator
    mc.fused_kernel(
        mc.TRAINING,
        first_sample,
        runs.values,
        runs.variant_values,
        runs.variant_cdf,
        factors,
        values.T,
        *plan.stages.arrays(),
        acc.anchor,
        acc.shift,
        acc.hist,
        acc.tails,
        acc.sums,
        acc.compensation,
        acc.extremes,
        np.empty((0, 0, 0)),
        np.arange(acc.shift.shape[1]),
        keep,
    )


#: Quantities compared per sample: energy, and production and use of every impact criterion
#: (the scopes and totals are compared too, reported apart).
CHECKED = (
    ENERGY,
    *(PRODUCTION + c for c in range(N_IMPACTS)),
    *(USE + c for c in range(N_IMPACTS)),
)


def roofline_check(runs, bound, arguments, n, seed=1, first_sample=0):
    """Largest relative difference between the hand-specialised kernel and the engine's
    :func:`evaluate_rows` (the fused kernel) on the same ``n`` rows of uniforms, per quantity of
    :data:`TRAINING_QUANTITIES`; and whether the folded accumulators of the fused kernel, the
    hand-specialised one and :func:`rows_kernel` are identical (same draws, ``first_sample``
    the absolute index of the first)."""
    uniforms = Design("mc", first_sample + n, bound.n_columns, seed).uniforms(
        first_sample, first_sample + n
    )
    fused = evaluate_rows(runs, bound, uniforms)  # (sample, run, quantity)
    values = parameter_values(bound, uniforms)
    point = point_quantities(runs, ft.PRODUCTION_FACTORS)
    samples = np.empty((len(runs), N_TRAINING_QUANTITIES, n))
    run_specialised(arguments, first_sample, values, Accumulator.empty(point, n), samples, mc.KEEP)
    hand = samples.transpose(2, 0, 1)
    scale = np.maximum(np.abs(fused), np.finfo(float).tiny)
    relative = (np.abs(hand - fused) / scale).max(axis=(0, 1))
    accumulators = [Accumulator.empty(point, n) for _ in range(3)]
    plan = stage_plan(runs, bound)
    run_fused(runs, bound, plan, first_sample, values, accumulators[0])
    run_specialised(arguments, first_sample, values, accumulators[1])
    run_rows(runs, plan, arguments, first_sample, values, accumulators[2])
    identical = all(
        np.array_equal(getattr(accumulators[0], a), getattr(other, a))
        for other in accumulators[1:]
        for a in ("hist", "tails", "sums", "compensation", "extremes")
    )
    return {TRAINING_QUANTITIES[k]: float(relative[k]) for k in range(len(relative))}, identical


def roofline(n_models, n, chunk_size, repeats, seed=1):
    """Evaluations per second of the fused kernel and the hand-specialised one, side by side.

    Each repetition evaluates ``n`` samples of ``n_models`` runs chunk by chunk; a chunk's
    parameter values (the shared parameter stage, not timed) are computed once and evaluated by
    both kernels, in an order that alternates between repetitions, each folding into its own
    accumulators (zeroed outside the timings). Also times both without the fold (``keep`` 0),
    to split the difference between the evaluation and the reductions.
    """
    runs, bound, arguments = roofline_case(n_models)
    plan = stage_plan(runs, bound)
    point = point_quantities(runs, ft.PRODUCTION_FACTORS)
    names = ("fused", "hand", "rows", "unprepared")
    accumulators = {name: Accumulator.empty(point, n) for name in names}
    block = np.empty((min(chunk_size, n), bound.n_columns), order="F")
    design = Design("mc", n, bound.n_columns, seed)

    def side(name, start, values, keep):
        acc = accumulators[name]
        if name == "fused":
            return lambda: run_fused(runs, bound, plan, start, values, acc, keep)
        if name in ("rows", "unprepared"):
            prepare = name == "rows"
            return lambda: run_rows(runs, plan, arguments, start, values, acc, keep, prepare)
        return lambda: run_specialised(arguments, start, values, acc, None, keep)

    warm = parameter_values(bound, design.uniforms(0, min(n, 2048)))
    for name in accumulators:  # compile
        side(name, 0, warm, mc.FOLD)()
    # the unprepared rows give wrong values: timed without the fold only
    keys = [(name, keep) for keep in (mc.FOLD, 0) for name in names]
    times = {key: [] for key in keys if key != ("unprepared", mc.FOLD)}
    parameter_seconds = []
    for repeat in range(repeats):
        for acc in accumulators.values():
            for a in ("hist", "tails", "sums", "compensation"):
                getattr(acc, a).fill(0)
        spent = dict.fromkeys(times, 0.0)
        parameters = 0.0
        for start, stop in chunks(n, chunk_size):
            start_time = time.perf_counter()
            rows = block[: stop - start]
            values = parameter_values(bound, design.uniforms(start, stop, out=rows), out=rows)
            parameters += time.perf_counter() - start_time
            turn = repeat % len(times)  # each side starts a repetition in turn
            for name, keep in list(times)[turn:] + list(times)[:turn]:
                spent[name, keep] += timed(side(name, start, values, keep))
        parameter_seconds.append(parameters)
        for key, seconds in spent.items():
            times[key].append(seconds)
    evaluations = n * n_models
    median = {key: statistics.median(t) for key, t in times.items()}
    ratios = [h / f for f, h in zip(times["fused", mc.FOLD], times["hand", mc.FOLD])]
    # where the fused kernel's extra time goes, per evaluation [ns], from the medians
    ns = {key: t * 1e9 / evaluations for key, t in median.items()}
    split = {
        "fold, fused": ns["fused", mc.FOLD] - ns["fused", 0],
        "fold, hand-specialised": ns["hand", mc.FOLD] - ns["hand", 0],
        "rows and general run model (rows - hand, no fold)": ns["rows", 0] - ns["hand", 0],
        "  of which preparing the rows (rows - unprepared, no fold)": ns["rows", 0]
        - ns["unprepared", 0],
        "card and host through rows, factor table (fused - rows, no fold)": ns["fused", 0]
        - ns["rows", 0],
    }
    return {
        "accelerator": ROOFLINE_ACCELERATOR,
        "samples": n,
        "models": n_models,
        "columns": bound.n_columns,
        "chunk_size": chunk_size,
        "repeats": repeats,
        "fused_seconds": times["fused", mc.FOLD],
        "hand_seconds": times["hand", mc.FOLD],
        "fused_evaluations_per_second": evaluations / median["fused", mc.FOLD],
        "hand_evaluations_per_second": evaluations / median["hand", mc.FOLD],
        "ratio_fused_over_hand": statistics.median(ratios),
        "ratios": ratios,
        "fused_no_fold_seconds": times["fused", 0],
        "hand_no_fold_seconds": times["hand", 0],
        "fused_no_fold_evaluations_per_second": evaluations / median["fused", 0],
        "hand_no_fold_evaluations_per_second": evaluations / median["hand", 0],
        "rows_seconds": times["rows", mc.FOLD],
        "rows_no_fold_seconds": times["rows", 0],
        "rows_evaluations_per_second": evaluations / median["rows", mc.FOLD],
        "rows_no_fold_evaluations_per_second": evaluations / median["rows", 0],
        "unprepared_no_fold_seconds": times["unprepared", 0],
        "nanoseconds_per_evaluation": {
            f"{a} {'fold' if k else 'no fold'}": t for (a, k), t in ns.items()
        },
        "split_nanoseconds_per_evaluation": split,
        "parameter_stage_seconds_median": statistics.median(parameter_seconds),
    }


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def roofline_main(args):
    """``--roofline``: check the hand-specialised kernel against the fused one, then time both."""
    n = 131_072 if args.samples is None else args.samples
    repeats = 5 if args.repeats is None else args.repeats
    runs, bound, arguments = roofline_case(args.models)
    # the check starts at an absolute sample that is not a multiple of a tile, so that the
    # hand kernel's spans and tiles are checked where they do not start at 0
    differences, identical = roofline_check(runs, bound, arguments, 4096, first_sample=1000)
    worst = max(differences[TRAINING_QUANTITIES[k]] for k in CHECKED)
    if worst > 1e-9:
        raise SystemExit(f"the hand-specialised kernel differs from the fused one: {differences}")
    figures = roofline(args.models, n, args.chunk_size, repeats)
    threads = __import__("numba").get_num_threads()
    figures.update(
        largest_relative_difference={" ".join(k): d for k, d in differences.items()},
        accumulators_identical=identical,
        machine=f"{platform.machine()}, {platform.python_version()}, numba threads {threads}",
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"roofline: {n:,} samples x {args.models} runs of {figures['accelerator']} "
        f"({figures['columns']} uncertain columns), chunk {args.chunk_size:,}, "
        f"{threads} numba thread(s)"
    )
    criteria = ", ".join(LABELS[c] for c in IMPACT_CRITERIA)
    print(
        f"check on 4,096 draws (energy, production and use of {criteria}): "
        f"largest relative difference {worst:.1e}; all {len(differences)} quantities "
        f"{max(differences.values()):.1e}; folded accumulators identical: {identical}"
    )
    rate = lambda key: figures[key] / 1e6  # noqa: E731
    print(
        f"  fused kernel            {rate('fused_evaluations_per_second'):6.1f} M evaluations/s "
        f"(without the fold {rate('fused_no_fold_evaluations_per_second'):.1f})"
    )
    print(
        f"  hand-specialised kernel {rate('hand_evaluations_per_second'):6.1f} M evaluations/s "
        f"(without the fold {rate('hand_no_fold_evaluations_per_second'):.1f})"
    )
    print(
        f"  fused run model on rows {rate('rows_evaluations_per_second'):6.1f} M evaluations/s "
        f"(without the fold {rate('rows_no_fold_evaluations_per_second'):.1f}; the hand "
        "kernel's card and host)"
    )
    print(
        f"  ratio fused / hand-specialised, median of {repeats} side-by-side repetitions: "
        f"{figures['ratio_fused_over_hand']:.2f} "
        f"(repetitions: {', '.join(f'{r:.2f}' for r in figures['ratios'])})"
    )
    print("  where the time goes, ns per evaluation on all threads (medians):")
    for name, t in figures["nanoseconds_per_evaluation"].items():
        print(f"    {name:<42} {t:6.2f}")
    for name, t in figures["split_nanoseconds_per_evaluation"].items():
        print(f"    {name:<66} {t:+6.2f}")
    print(
        f"  parameter stage (shared, not timed above): "
        f"{figures['parameter_stage_seconds_median']:.3f} s a repetition"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, help="default 1,000,000; 131,072 with --roofline")
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--naive-samples", type=int, default=4096)
    parser.add_argument("--chunk-size", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, help="default 3; 5 with --roofline")
    parser.add_argument(
        "--fused-only",
        action="store_true",
        help="skip the naive run (for memory measurements at large sizes)",
    )
    parser.add_argument(
        "--roofline",
        action="store_true",
        help="the fused kernel against a kernel written by hand for runs of one accelerator",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.roofline:
        roofline_main(args)
        return
    args.samples = 1_000_000 if args.samples is None else args.samples
    args.repeats = 3 if args.repeats is None else args.repeats

    runs, hardware, countries = synthetic_runs(args.models)
    # As for a dataset run with nothing imputed: one hardware variant, MFU unused.
    known = np.zeros((len(runs), len(RUN_FIELDS)), dtype=bool)
    known[:, [RUN_FIELDS.index("variant"), RUN_FIELDS.index("mfu")]] = True
    bound = bind(default_catalogue(), runs, hardware, countries, known)
    propagate(runs, bound, 2048, seed=1, chunk_size=1024)  # compile
    if not args.fused_only:
        naive_statistics(runs, bound, 256, seed=1)  # warm-up
    fused_times, naive_times, ratios, peak_rss_mb = [], [], [], None
    for _ in range(args.repeats):
        fused_times.append(
            timed(lambda: propagate(runs, bound, args.samples, seed=1, chunk_size=args.chunk_size))
        )
        if peak_rss_mb is None:
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if not args.fused_only:
            naive_times.append(
                timed(lambda: naive_statistics(runs, bound, args.naive_samples, seed=1))
            )
            ratios.append((args.samples / fused_times[-1]) / (args.naive_samples / naive_times[-1]))
    fused_time = statistics.median(fused_times)
    fused_rate = args.samples * args.models / fused_time
    naive_time = statistics.median(naive_times) if naive_times else float("nan")
    naive_rate = args.naive_samples * args.models / naive_time
    ratio = statistics.median(ratios) if ratios else float("nan")
    threads = __import__("numba").get_num_threads()
    figures = {
        "samples": args.samples,
        "models": args.models,
        "columns": bound.n_columns,
        "chunk_size": args.chunk_size,
        "naive_samples": args.naive_samples,
        "repeats": args.repeats,
        "fused_seconds_median": fused_time,
        "fused_seconds": fused_times,
        "fused_evaluations_per_second": fused_rate,
        "naive_seconds_median": naive_time,
        "naive_seconds": naive_times,
        "naive_evaluations_per_second": naive_rate,
        "ratio_fused_over_naive": ratio,
        "ratios": ratios,
        "peak_rss_mb_after_first_fused_run": peak_rss_mb,
        "machine": f"{platform.machine()}, {platform.python_version()}, numba threads {threads}",
        # the fused kernel runs on every numba thread, the naive numpy evaluation on one
        # (element-wise operations and np.quantile do not use BLAS threads)
        "threads_fused": threads,
        "threads_naive": 1,
        "ratio_per_core": ratio / threads,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"fused kernel: {args.samples:,} samples x {args.models} models "
        f"({bound.n_columns} uncertain columns), chunk {args.chunk_size:,}"
    )
    print(f"  median {fused_time:.3f} s -> {fused_rate / 1e6:,.1f} M evaluations/s")
    if not args.fused_only:
        print(f"naive numpy: {args.naive_samples:,} samples x {args.models} models")
        print(f"  median {naive_time:.3f} s -> {naive_rate / 1e6:,.2f} M evaluations/s")
        print(
            f"ratio (fused / naive throughput, median of {len(ratios)} side-by-side pairs): "
            f"{ratio:,.1f}x (pairs: {', '.join(f'{r:.0f}' for r in ratios)})"
        )
        print(f"  fused on {threads} numba thread(s), naive on 1: per core {ratio / threads:,.1f}x")
    print(f"peak RSS after the first fused run: {peak_rss_mb:,.0f} MB")


if __name__ == "__main__":
    main()
