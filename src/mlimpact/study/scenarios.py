"""The study's scenarios: the notable models' runs as they were, or changed by one assumption.

- ``baseline``: the runs as the dataset describes them (:func:`mlimpact.runs.notable.build_runs`);
- ``location_shifting``: every run on a low-carbon grid: a given country's, or by default the
  lowest-intensity grid of its year among the countries of Boavizta's table
  (:func:`mlimpact.tables.grid.lowest_intensity_country`);
- ``hardware_efficiency``: every run with a known training compute on the most efficient
  data-centre accelerator (peak FLOP/s per W) released by its publication date, its chip count
  kept and its training time recomputed from the compute.

A scenario is a rule handed to the dataset builder, so that every scenario goes through the
same mapping, imputation and grid rules as the baseline.
"""

from functools import partial

from mlimpact.errors import MlimpactError
from mlimpact.runs import notable
from mlimpact.tables import grid
from mlimpact.tables.hardware import die_ranges, hardware_table

SCENARIOS = ("baseline", "location_shifting", "hardware_efficiency")


def check_low_carbon_country(code):
    """Raise unless ``code`` (any case, as country codes everywhere) has a year-specific grid
    intensity."""
    if code is not None and (
        not isinstance(code, str) or code.upper() not in grid.intensity_countries()
    ):
        raise MlimpactError(f"low-carbon country: unknown code {code!r}")


def scenario_runs(
    scenario,
    window=notable.WINDOW,
    impute=True,
    low_carbon_country=None,
    location="evidence",
    power="evidence",
    speculative=True,
    records=None,
):
    """The runs of the notable models of ``window`` under ``scenario``
    (:class:`mlimpact.runs.notable.NotableRuns`)."""
    if scenario not in SCENARIOS:
        raise MlimpactError(f"scenario must be one of {', '.join(SCENARIOS)} (got {scenario!r})")
    check_low_carbon_country(low_carbon_country)
    low_carbon_country = low_carbon_country.upper() if low_carbon_country else None
    rules = {}
    if scenario == "location_shifting":
        rules["location_rule"] = partial(_low_carbon_grid, low_carbon_country)
    elif scenario == "hardware_efficiency":
        rules["hardware_rule"] = partial(_most_efficient_hardware, die_ranges(), power)
    return notable.build_runs(
        window,
        impute,
        location=location,
        power=power,
        speculative=speculative,
        records=records,
        **rules,
    )


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
    there is none."""
    best = None
    for hardware in hardware_table():
        if (
            hardware.segment != "data_centre"
            or not hardware.release_date
            or hardware.release_date > date
        ):
            continue
        facts, _ = notable.hardware_facts(hardware, precision, True, ranges, power)
        if facts is None or not facts["act"]:
            continue
        efficiency = facts["peak_flops"] / facts["gpu_tdp_w"]
        if best is None or efficiency > best[2]:
            best = (hardware, facts, efficiency)
    return best[:2] if best else None
