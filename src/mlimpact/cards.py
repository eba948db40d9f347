"""Runs that stand for one graphics card, to price its production alone.

A card run has one node with one card, no server and no use phase of interest; its card
quantities (die, memory, other per criterion) come from the same kernel as every training run
(:func:`mlimpact.kernels.production.card_parts`), so the card commands and the training model
can never disagree.
"""

import math

import numpy as np

from mlimpact import datasets, defaults, fab
from mlimpact.errors import MlimpactError
from mlimpact.runs import PRODUCTION_MODELS, RUN_FIELDS, RunTable

#: Choices of the production model: one model, or both as an uncertain (categorical) input.
MODEL_CHOICES = ("mlca", "act", "mixture")


def card_fields(label, die_area_cm2, memory_gb, production_model="mlca", act=None):
    """Run-table fields of a card run.

    Parameters
    ----------
    label : str
    die_area_cm2 : float
        [cm2]; memory_gb : float [GB].
    production_model : {"mlca", "act", "mixture"}
        ``mixture`` evaluates MLCA at its point value and leaves the model to be sampled.
    act : dict, optional
        ACT's fields (:func:`mlimpact.fab.act_fields`); required unless the model is MLCA.
    """
    if production_model not in MODEL_CHOICES:
        raise MlimpactError(f"production model must be one of {', '.join(MODEL_CHOICES)} "
                            f"(got {production_model!r})")
    if not (math.isfinite(die_area_cm2) and die_area_cm2 > 0):
        raise MlimpactError(f"{label}: die area unknown (not published); cannot price the card")
    if not (math.isfinite(memory_gb) and memory_gb >= 0):
        raise MlimpactError(f"{label}: memory size unknown; cannot price the card")
    if production_model != "mlca" and act is None:
        raise MlimpactError(f"{label}: ACT's inputs are missing")
    fields = {field: 0.0 for field in RUN_FIELDS}
    fields.update(
        hours=1.0, nodes=1.0, repetitions=1.0, gpus=1.0, gpu_usage=1.0,
        gpu_die_area_cm2=die_area_cm2, gpu_memory_gb=memory_gb,
        lifetime_years=defaults.LIFETIME_YEARS, lifetime_usage=defaults.LIFETIME_USAGE,
        dynamic_ratio=defaults.DYNAMIC_RATIO, memory_density=defaults.MEMORY_DENSITY_GB_PER_CM2,
        intensity_ratio=defaults.INTENSITY_RATIO,
        production_model=float(PRODUCTION_MODELS.index("act" if production_model == "act"
                                                       else "mlca")),
        yield_model=float(("constant", "poisson", "murphy").index(defaults.YIELD_MODEL)),
        yield_constant=defaults.FAB_YIELD, gpa_abatement=0.5, defect_density_quantile=0.5,
        memory_gwp_quantile=0.5, mfu=1.0, variant=0.5)
    fields.update(act or {})
    return fields


def hardware_act_fields(hardware):
    """ACT's fields of an accelerator of the hardware table (MlimpactError if incomplete)."""
    return fab.act_fields(hardware.name, hardware.process_node_nm, hardware.foundry,
                          hardware.release_year, hardware.memory_type, hardware.memory_gb)


def card_runs(hardware_list, production_model="mlca"):
    """A run table of one card run per accelerator, and which fields are known.

    Returns
    -------
    runs : RunTable
    known : bool array (run, field)
        Everything but the production model (when ``mixture``) and the inputs of the models.
    """
    records = []
    for hardware in hardware_list:
        act = None if production_model == "mlca" else hardware_act_fields(hardware)
        records.append((hardware.name, card_fields(hardware.name, hardware.die_area_cm2,
                                                    hardware.memory_gb, production_model, act)))
    runs = RunTable.from_records(records)
    known = np.ones((len(runs), len(RUN_FIELDS)), dtype=bool)
    uncertain = ["memory_density", "gpa_abatement", "defect_density_quantile",
                 "memory_gwp_quantile", "fab_intensity"]
    if production_model == "mixture":
        uncertain.append("production_model")
    for field in uncertain:
        known[:, RUN_FIELDS.index(field)] = False
    return runs, known


def find_card(name):
    """The accelerator called ``name`` in the hardware table (with close-match errors)."""
    return datasets.hardware_table().find(name, field="card")


def card_estimate(hardware_list, production_model="mlca", samples=None, seed=0, method="mc",
                  catalogue=None, chunk_size=None):
    """Production impacts of cards: point values, or Monte Carlo statistics.

    Parameters
    ----------
    hardware_list : sequence of mlimpact.datasets.Hardware
    production_model : {"mlca", "act", "mixture"}
    samples : int, optional
        Monte Carlo samples; None for the point estimate (MLCA for ``mixture``).
    catalogue : dict, optional
        Uncertain inputs (default ``data/parameters.toml``); those acting on card inputs are
        used (memory density, production-factor errors, and ACT's inputs).

    Returns
    -------
    xarray.Dataset
        ``gwp``, ``adpe``, ``pe`` over (hardware, component[, statistic]).
    """
    from mlimpact import model, parameters, propagate

    runs, known = card_runs(hardware_list, production_model)
    if samples is None:
        return model.card_production(runs)
    catalogue = parameters.default_catalogue() if catalogue is None else catalogue
    bound = parameters.bind(catalogue, runs, list(runs.names), [""] * len(runs), known)
    return propagate.propagate(runs, bound, samples, seed=seed, method=method, kind="card",
                               chunk_size=chunk_size or propagate.DEFAULT_CHUNK_SIZE)


def catalogue_gpus():
    """Data-centre and workstation GPUs of the hardware table."""
    return [h for h in datasets.hardware_table()
            if h.segment in ("data_centre", "workstation") and "GPU" in h.type.upper()]


def why_not_priced(hardware, production_model):
    """The reason a card cannot be priced with a model, or None."""
    if not math.isfinite(hardware.die_area_cm2):
        return "die area not published"
    if not math.isfinite(hardware.memory_gb):
        return "memory size unknown"
    if hardware.release_year is None:
        return "release date unknown"
    if production_model != "mlca":
        try:
            hardware_act_fields(hardware)
        except MlimpactError as error:
            return str(error)
    return None


#: Columns of the cards table.
CARDS_HEADER = ("hardware", "manufacturer", "segment", "release_date", "process_node_nm",
                "die_area_cm2", "memory_gb", "memory_type", "model", "criterion", "unit",
                "component", "point", "mean", "median", "q025", "q975")


def cards_table(production_models=MODEL_CHOICES, samples=4096, seed=0, method="mc"):
    """Per-card production impacts of every data-centre and workstation GPU, per model.

    Returns
    -------
    rows : list of tuples
        One row per card, model, criterion and component (:data:`CARDS_HEADER`).
    skipped : list of (hardware, model, reason)
    """
    from mlimpact.factors import IMPACT_CRITERIA, UNITS

    rows, skipped = [], []
    for production_model in production_models:
        priced = []
        for hardware in catalogue_gpus():
            reason = why_not_priced(hardware, production_model)
            if reason:
                skipped.append((hardware.name, production_model, reason))
            else:
                priced.append(hardware)
        result = card_estimate(priced, production_model, samples=samples, seed=seed,
                               method=method)
        for hardware in priced:
            for criterion in IMPACT_CRITERIA:
                card = result[criterion].sel(hardware=hardware.name)
                for component in ("die", "memory", "other", "total"):
                    stats = card.sel(component=component)
                    rows.append((
                        hardware.name, hardware.manufacturer, hardware.segment,
                        hardware.release_date, _cell(hardware.process_node_nm),
                        _cell(hardware.die_area_cm2), _cell(hardware.memory_gb),
                        hardware.memory_type, production_model, criterion, UNITS[criterion],
                        component, *(_cell(float(stats.sel(statistic=s)))
                                     for s in ("point", "mean", "median", "q025", "q975"))))
    return rows, skipped


def _cell(value):
    return "" if not math.isfinite(value) else float(f"{value:.6g}")
