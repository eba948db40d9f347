"""Runs that stand for one graphics card, to price its production alone.

A card run has one node with one card, no server and no use phase of interest; its card
quantities (die, memory, other per criterion) come from the same kernel as every training run
(:func:`mlimpact.engine.kernels.production.card_of_rows`), so the card commands and the training
model can never disagree.
"""

import math

import numpy as np

from mlimpact.errors import MlimpactError
from mlimpact.runs.defaults import default_row
from mlimpact.runs.table import PRODUCTION_MODELS, RUN_FIELDS, RunTable
from mlimpact.tables.fab import hardware_act_fields
from mlimpact.tables.hardware import hardware_table

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
        ACT's fields (:func:`mlimpact.tables.fab.act_fields`); required unless the model is MLCA.
    """
    if production_model not in MODEL_CHOICES:
        raise MlimpactError(
            f"production model must be one of {', '.join(MODEL_CHOICES)} (got {production_model!r})"
        )
    if not (math.isfinite(die_area_cm2) and die_area_cm2 > 0):
        raise MlimpactError(f"{label}: die area unknown (not published); cannot price the card")
    if not (math.isfinite(memory_gb) and memory_gb >= 0):
        raise MlimpactError(f"{label}: memory size unknown; cannot price the card")
    if production_model != "mlca" and act is None:
        raise MlimpactError(f"{label}: ACT's inputs are missing")
    fields = default_row(
        host=False,
        hours=1.0,
        nodes=1.0,
        gpus=1.0,
        gpu_usage=1.0,
        gpu_die_area_cm2=die_area_cm2,
        gpu_memory_gb=memory_gb,
        production_model=float(
            PRODUCTION_MODELS.index("act" if production_model == "act" else "mlca")
        ),
    )
    fields.update(act or {})
    return fields


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
        records.append(
            (
                hardware.name,
                card_fields(
                    hardware.name, hardware.die_area_cm2, hardware.memory_gb, production_model, act
                ),
            )
        )
    runs = RunTable.from_records(records)
    known = np.ones((len(runs), len(RUN_FIELDS)), dtype=bool)
    uncertain = [
        "memory_density",
        "gpa_abatement",
        "defect_density_quantile",
        "memory_gwp_quantile",
        "fab_intensity",
    ]
    if production_model == "mixture":
        uncertain.append("production_model")
    for field in uncertain:
        known[:, RUN_FIELDS.index(field)] = False
    return runs, known


def find_card(name):
    """The accelerator called ``name`` in the hardware table (with close-match errors)."""
    return hardware_table().find(name, field="card")


def catalogue_gpus():
    """Data-centre and workstation GPUs of the hardware table."""
    return [
        h
        for h in hardware_table()
        if h.segment in ("data_centre", "workstation") and "GPU" in h.type.upper()
    ]


def priced_gpus(production_model="mixture"):
    """The GPUs of :func:`catalogue_gpus` that ``production_model`` can price
    (:func:`why_not_priced`), in the hardware table's order: the cards of the studies."""
    return [h for h in catalogue_gpus() if why_not_priced(h, production_model) is None]


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
