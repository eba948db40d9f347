"""Card prices: the production impacts of graphics cards, one card or the whole catalogue.

The card runs (:mod:`mlimpact.runs.cards`) go through the same kernels as training runs: the
point model (MLCA, or ACT) or Monte Carlo propagation of the catalogue's inputs that act on a
card (memory density, production-factor errors, ACT's inputs, the production model).
"""

import math

from mlimpact.engine import model
from mlimpact.engine.propagate import DEFAULT_CHUNK_SIZE, propagate
from mlimpact.quantities import COMPONENTS, IMPACT_CRITERIA, UNITS
from mlimpact.runs.cards import MODEL_CHOICES, card_runs, catalogue_gpus, why_not_priced
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue


def card_estimate(
    hardware_list,
    production_model="mlca",
    samples=None,
    seed=0,
    method="mc",
    catalogue=None,
    chunk_size=None,
):
    """Production impacts of cards: point values, or Monte Carlo statistics.

    Parameters
    ----------
    hardware_list : sequence of mlimpact.tables.hardware.Hardware
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
    runs, known = card_runs(hardware_list, production_model)
    if samples is None:
        return model.card_production(runs)
    catalogue = default_catalogue() if catalogue is None else catalogue
    bound = bind(catalogue, runs, list(runs.names), [""] * len(runs), known)
    return propagate(
        runs,
        bound,
        samples,
        seed=seed,
        method=method,
        kind="card",
        chunk_size=chunk_size or DEFAULT_CHUNK_SIZE,
    )


#: Columns of the cards table.
CARDS_HEADER = (
    "hardware",
    "manufacturer",
    "segment",
    "release_date",
    "process_node_nm",
    "die_area_cm2",
    "memory_gb",
    "memory_type",
    "model",
    "criterion",
    "unit",
    "component",
    "point",
    "mean",
    "median",
    "q025",
    "q975",
)


def cards_table(production_models=MODEL_CHOICES, samples=4096, seed=0, method="mc"):
    """Per-card production impacts of every data-centre and workstation GPU, per model.

    Returns
    -------
    rows : list of tuples
        One row per card, model, criterion and component (:data:`CARDS_HEADER`).
    skipped : list of (hardware, model, reason)
    """
    rows, skipped = [], []
    for production_model in production_models:
        priced = []
        for hardware in catalogue_gpus():
            reason = why_not_priced(hardware, production_model)
            if reason:
                skipped.append((hardware.name, production_model, reason))
            else:
                priced.append(hardware)
        result = card_estimate(priced, production_model, samples=samples, seed=seed, method=method)
        statistics = ["point", "mean", "median", "q025", "q975"]
        # (hardware, component, statistic) arrays, read once per criterion
        values = {
            c: result[c]
            .sel(statistic=statistics)
            .transpose("hardware", "component", "statistic")
            .values
            for c in IMPACT_CRITERIA
        }
        for h, hardware in enumerate(priced):
            for criterion in IMPACT_CRITERIA:
                for k, component in enumerate(COMPONENTS):
                    rows.append(
                        (
                            hardware.name,
                            hardware.manufacturer,
                            hardware.segment,
                            hardware.release_date,
                            _cell(hardware.process_node_nm),
                            _cell(hardware.die_area_cm2),
                            _cell(hardware.memory_gb),
                            hardware.memory_type,
                            production_model,
                            criterion,
                            UNITS[criterion],
                            component,
                            *(_cell(float(x)) for x in values[criterion][h, k]),
                        )
                    )
    return rows, skipped


def mlca_only():
    """The data-centre and workstation GPUs that MLCA's production model prices and ACT's
    cannot (so neither can their mixture, which ``run`` uses): [(name, ACT's reason)]."""
    only = []
    for hardware in catalogue_gpus():
        if why_not_priced(hardware, "mlca") is None:
            reason = why_not_priced(hardware, "act")
            if reason is not None:
                only.append((hardware.name, reason))
    return only


def _cell(value):
    return "" if not math.isfinite(value) else float(f"{value:.6g}")
