"""Coverage of the dataset: which notable models enter a run, complete or imputed, and which are
excluded and why; what every hardware name of the records stands for."""

from collections import Counter

from mlimpact.runs.notable import WINDOW
from mlimpact.tables.hardware import hardware_table


def coverage(notable, window=WINDOW, records=None):
    """The coverage report of :class:`mlimpact.runs.notable.NotableRuns`: totals, exclusion
    reasons, imputed fields, per-year counts and the hardware mapping, as a JSON-ready dict.
    With a user's ``records`` (a models file), also the runs of the file outside the window
    (``outside_window``: their names, none silently left out)."""
    years = {
        str(y): {"complete": 0, "imputed": 0, "excluded": 0}
        for y in range(window[0], window[1] + 1)
    }
    reasons, imputations = Counter(), Counter()
    for record in notable.records:
        years[str(record.year)][record.status] += 1
        if record.status == "excluded":
            reasons[_reason_class(record.reason)] += 1
        for what in record.imputed:
            imputations[what.split(" (")[0]] += 1
    mapping = {}
    table = hardware_table()
    for record in notable.records:
        for name in filter(None, (n.strip() for n in record.hardware.split(","))):
            hardware = table.find(name, field="hardware")
            mapping[name] = list(hardware.variants) or [hardware.name]
    included = sum(1 for r in notable.records if r.status != "excluded")
    return {
        "window": list(window),
        "included_total": included,
        "complete_total": sum(1 for r in notable.records if r.status == "complete"),
        "imputed_total": sum(1 for r in notable.records if r.status == "imputed"),
        "excluded_total": sum(1 for r in notable.records if r.status == "excluded"),
        "excluded_reasons": dict(reasons.most_common()),
        "imputed_fields": dict(imputations.most_common()),
        "years": years,
        "speculative_included": sum(
            1 for r in notable.records if r.status != "excluded" and r.confidence == "Speculative"
        ),
        "hardware_mapping": dict(sorted(mapping.items())),
        "outside_window": None
        if records is None
        else [r["model"] for r in records if not window[0] <= int(r["year"]) <= window[1]],
    }


def records_json(notable):
    """Every model of the window with its status, imputed fields, reason and notes."""
    return [
        {
            "model": r.name,
            "year": r.year,
            "status": r.status,
            "imputed": list(r.imputed),
            "reason": r.reason,
            "notes": list(r.notes),
            "confidence": r.confidence,
        }
        for r in notable.records
    ]


def _reason_class(reason):
    """Exclusion reasons grouped for the report (the per-model reason keeps the details)."""
    return reason.split(" (")[0]
