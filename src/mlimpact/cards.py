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
        memory_gwp_quantile=0.5)
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
