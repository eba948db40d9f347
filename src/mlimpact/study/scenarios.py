"""The study's scenarios: the notable models' runs as they were, or changed by one assumption.

- ``baseline``: the runs as the dataset describes them (:func:`mlimpact.runs.notable.build_runs`);
- ``location_shifting``: every run on a low-carbon grid: a given country's, or by default the
  lowest-intensity grid of its year among the countries of Boavizta's table
  (:func:`mlimpact.tables.grid.lowest_intensity_country`);
- ``hardware_efficiency``: every run with a known training compute on the most efficient
  data-centre accelerator (peak FLOP/s per W) released by its publication date, its chip count
  kept and its training time recomputed from the compute.

A scenario is a rule handed to the dataset builder, so that every scenario goes through the
same mapping, imputation and grid rules as the baseline. Each is one entry of
:data:`REGISTRY` (name, rules, the claim its growth rates test, colour and label of figures):
a new scenario is a new entry; an unknown name is an error everywhere (:func:`scenario_of`).
"""

from dataclasses import dataclass
from functools import partial

from mlimpact.errors import MlimpactError
from mlimpact.runs import notable
from mlimpact.tables import grid
from mlimpact.tables.hardware import die_ranges, hardware_table


@dataclass(frozen=True)
class Scenario:
    """One scenario of the study.

    ``rules(low_carbon_country, power)`` returns the hooks it hands to
    :func:`mlimpact.runs.notable.build_runs`, a :class:`mlimpact.runs.notable.RunRules` (none
    for the baseline); ``claim`` is the claim that its growth rates of impacts test; ``colour`` and
    ``label`` are those of its figures."""

    name: str
    claim: str
    colour: str
    label: str
    rules: object = None

    def rules_for(self, low_carbon_country=None, power="evidence"):
        """The :class:`mlimpact.runs.notable.RunRules` that make it (no hook for the baseline)."""
        return notable.RunRules() if self.rules is None else self.rules(low_carbon_country, power)


def _location_shifting_rules(low_carbon_country, power):
    return notable.RunRules(location_rule=partial(_low_carbon_grid, low_carbon_country))


def _hardware_efficiency_rules(low_carbon_country, power):
    return notable.RunRules(hardware_rule=partial(_most_efficient_hardware, die_ranges(), power))


#: Every scenario, in report order.
REGISTRY = {
    s.name: s
    for s in (
        Scenario("baseline", "impacts_grow", "#1f77b4", "baseline"),
        Scenario(
            "location_shifting",
            "grow_under_location_shifting",
            "#2ca02c",
            "location shifting",
            _location_shifting_rules,
        ),
        Scenario(
            "hardware_efficiency",
            "rebound",
            "#9467bd",
            "hardware efficiency",
            _hardware_efficiency_rules,
        ),
    )
}
SCENARIOS = tuple(REGISTRY)


def scenario_of(name):
    """The :class:`Scenario` named ``name``; an unknown name is an error that lists them."""
    if name not in REGISTRY:
        raise MlimpactError(f"scenario must be one of {', '.join(REGISTRY)} (got {name!r})")
    return REGISTRY[name]


def check_low_carbon_country(code):
    """Raise unless ``code`` (any case, as country codes everywhere) has a year-specific grid
    intensity."""
    if code is not None and (
        not isinstance(code, str) or code.upper() not in grid.intensity_countries()
    ):
        raise MlimpactError(f"low-carbon country: unknown code {code!r}")


def scenario_runs(scenario, dataset=None, low_carbon_country=None):
    """The runs of the notable models of ``dataset`` (a
    :class:`mlimpact.runs.notable.DatasetOptions`; default: the whole embedded dataset) under
    ``scenario`` (:class:`mlimpact.runs.notable.NotableRuns`)."""
    chosen = scenario_of(scenario)
    dataset = notable.DatasetOptions() if dataset is None else dataset
    check_low_carbon_country(low_carbon_country)
    low_carbon_country = low_carbon_country.upper() if low_carbon_country else None
    return dataset.runs(chosen.rules_for(low_carbon_country, dataset.power))


def _low_carbon_grid(low_carbon_country, country, year):
    return low_carbon_country or grid.lowest_intensity_country(year)


def _most_efficient_hardware(ranges, power, record, candidates):
    best = most_efficient(record["publication_date"], record["numerical_format"], ranges, power)
    if best is None:
        return None
    return [(best[0], 1.0, best[1])], f"scenario: on {best[0].name}"


def most_efficient(date, precision, ranges, power="mlca"):
    """The data-centre accelerator with the highest peak FLOP/s per W released by ``date``
    (with every fact the model needs), and its facts in the power model ``power``; None if
    there is none (the first in the hardware table's order among equals)."""
    best = None
    for hardware, facts, efficiency in _candidates(precision, ranges, power):
        if hardware.release_date > date:
            continue
        if best is None or efficiency > best[2]:
            best = (hardware, facts, efficiency)
    return (best[0], dict(best[1])) if best else None


#: (precision, power, id of the ranges) -> (ranges, candidates) of :func:`_candidates`.
_CANDIDATES = {}


def _candidates(precision, ranges, power):
    """The data-centre accelerators with a release date and every fact the model needs, in
    the hardware table's order, with their facts and peak FLOP/s per W: computed once per
    precision, power model and die ranges (each record of a run asks for them)."""
    key = (precision, power, id(ranges))
    if key not in _CANDIDATES or _CANDIDATES[key][0] is not ranges:
        found = []
        for hardware in hardware_table():
            if hardware.segment != "data_centre" or not hardware.release_date:
                continue
            facts, _ = notable.hardware_facts(hardware, precision, True, ranges, power)
            if facts is None or not facts["act"]:
                continue
            found.append((hardware, facts, facts["peak_flops"] / facts["gpu_tdp_w"]))
        _CANDIDATES[key] = (ranges, tuple(found))
    return _CANDIDATES[key][1]
