"""What each claim fits: its series' quantities, the frontier of the largest models, the
impact-shifting order and the rebound's joint probability; shared by the claims
(:mod:`mlimpact.study.claims`) and their variance budget (:mod:`mlimpact.study.budget`).
"""

import numpy as np

from mlimpact.quantities import IMPACT_CRITERIA

#: Order of the impact-shifting claims: abiotic depletion first (the criterion whose
#: production share is the claim), then the others in the vocabulary's order.
SHIFTING_ORDER = ("adpe", *(c for c in IMPACT_CRITERIA if c != "adpe"))

#: Models of each publication year that form the frontier: the largest by training compute
#: (Epoch AI marks as frontier models those among the 10 largest by compute when published).
FRONTIER_PER_YEAR = 10


def frontier(dates, compute, per_year=FRONTIER_PER_YEAR):
    """Boolean mask of the runs among the ``per_year`` largest by training compute of their
    publication year (runs without a compute are never in it)."""
    years = np.floor(dates).astype(int)
    keep = np.zeros(len(dates), dtype=bool)
    for year in np.unique(years):
        members = np.flatnonzero((years == year) & (compute > 0))
        keep[members[np.argsort(-compute[members], kind="stable")[:per_year]]] = True
    return keep


def series_quantity(series):
    """The quantity (trends.csv's column) of a scenario's trend series."""
    if series.endswith("_use"):
        return "use-phase impact per model"
    if series.endswith("_share"):
        return "production share per model"
    if series == "efficiency":
        return "training FLOP per kWh"
    if series == "compute":
        return "training compute per model"
    if series == "energy":
        return "energy per model"
    return "life-cycle impact per model"


#: What the rebound row's probability is.
REBOUND_STATISTIC = "growth factor per year (P: FLOP per kWh and energy both grow)"


def rebound_probability(efficiency, energy):
    """P(the efficiency and the energy both grow): the share of samples whose slopes of ln
    FLOP per kWh and of ln energy are both positive (NaN if none is finite). Efficiency that
    grows while the energy grows is the rebound the paper claims; efficiency growth alone is
    not evidence of it."""
    efficiency, energy = np.asarray(efficiency), np.asarray(energy)
    finite = np.isfinite(efficiency) & np.isfinite(energy)
    if not finite.any():
        return np.nan
    return float(np.mean((efficiency[finite] > 0) & (energy[finite] > 0)))


#: Sources of a claim's variance budget (:mod:`mlimpact.study.budget`), in report order.
SOURCES = ("inputs", "imputation", "dataset", "specification", "interactions")
#: Columns of budget.csv.
BUDGET_HEADER = (
    "claim",
    "criterion",
    "scenario",
    "quantity",
    "variance",
    *SOURCES,
    "specifications",
    "samples",
)


#: The numeric columns of a claims-table row (claims.csv writes them as numbers, and they
#: are blanked where a claim is not evaluable).
CLAIM_NUMBERS = (
    "estimate",
    "low",
    "high",
    "probability",
    "robustness",
    "total_estimate",
    "total_low",
    "total_high",
    "total_probability",
)
