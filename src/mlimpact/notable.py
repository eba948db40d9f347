"""The notable AI models of Epoch AI as a run table: hardware mapping, imputation, coverage.

:func:`build_runs` turns ``data/models.csv`` (Epoch AI, "Notable AI Models", CC BY 4.0) into a
:class:`~mlimpact.runs.RunTable` with one run per model of a publication window, and a record
per model saying whether it is complete, imputed (which fields, how) or excluded (why). The
rules, each argued in ``docs/dataset.md``:

- **Hardware**: every name of the record is resolved in the hardware table; a generic name
  ("NVIDIA A100") stands for its variants and a list of chips for its members, as an uncertain
  choice with equal weights. Missing hardware is imputed as a choice among the hardware of the
  models of the same year and domain, weighted by use (same year only, if the domain has none).
- **Chip count or training time** missing: from the training compute,
  ``chips * hours = C / (peak * MFU * 3600)``, with the peak rate at the record's precision
  and the record's MFU or an uncertain one. With both missing, hours are set to the median
  reported training time and chips follow: the impacts depend only on chips x hours.
- **Grid**: the organisation's country in the year before publication (training precedes
  publication); GWP from OWID/Ember, ADPe and PE from Boavizta's table (the world's where the
  country has none). An unknown country takes the world average with a wide error.
- **Die areas** that are not published take the uncertain ranges of ``data/die_areas.csv``.
- Nodes hold 8 accelerators (4 for TPUs); each node has MLCA's default server.
"""

import csv
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from mlimpact import datasets, defaults
from mlimpact.cards import hardware_act_fields
from mlimpact.distributions import Uniform
from mlimpact.errors import MlimpactError
from mlimpact.parameters import Parameter
from mlimpact.runs import IMPUTE_CHIPS, IMPUTE_HOURS, NO_IMPUTATION, RUN_FIELDS, RunTable

WINDOW = (2013, 2025)
#: Accelerators per node: 8 for GPU servers (DGX/HGX), 4 for TPU hosts; an assumption that
#: only sets how many host servers are counted.
GPUS_PER_NODE, TPUS_PER_NODE = 8, 4
#: Peak-rate columns tried, in order, for each numerical format of Epoch's records.
PRECISIONS = {
    "FP32": ("fp32",),
    "TF32": ("tf32", "fp32"),
    "FP16": ("tensor_fp16_bf16", "fp16", "fp32"),
    "BF16": ("tensor_fp16_bf16", "fp16", "fp32"),
    "FP8": ("fp8", "tensor_fp16_bf16", "fp16", "fp32"),
}
#: For a record without a numerical format: 16-bit tensor rate where the chip has one.
DEFAULT_PRECISION = ("tensor_fp16_bf16", "fp16", "fp32")
#: Point value of an unreported MFU: the median of the reported ones (data/parameters.toml).
MFU_POINT = 0.34
UNKNOWN_COUNTRY = "unknown"


@dataclass
class ModelRecord:
    """What happened to one model of the window."""

    name: str
    year: int
    status: str  # complete, imputed or excluded
    imputed: tuple = ()
    reason: str = ""
    hardware: str = ""
    notes: tuple = ()


@dataclass
class NotableRuns:
    """The run table of the included models and everything needed to sample it."""

    runs: RunTable
    known: np.ndarray
    hardware: list
    countries: list
    records: list
    parameters: dict = field(default_factory=dict)
    dates: np.ndarray = None


def load_models():
    """Rows of ``data/models.csv`` as dicts."""
    path = resources.files("mlimpact.data").joinpath("models.csv")
    with path.open("r", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class DieRange:
    dies: int
    low_mm2: float
    high_mm2: float
    basis: str

    @property
    def low_cm2(self):
        return self.dies * self.low_mm2 / 100

    @property
    def high_cm2(self):
        return self.dies * self.high_mm2 / 100


def die_ranges():
    """Uncertain die areas of accelerators whose die area is not published."""
    path = resources.files("mlimpact.data").joinpath("die_areas.csv")
    with path.open("r", encoding="utf-8", newline="") as handle:
        return {row["hardware"]: DieRange(int(row["dies"]), float(row["die_low_mm2"]),
                                          float(row["die_high_mm2"]), row["basis"])
                for row in csv.DictReader(handle)}


def _number(text):
    return float(text) if text else math.nan


def _peak(hardware, precision):
    for column in PRECISIONS.get(precision, DEFAULT_PRECISION):
        value = hardware.peak_flops.get(column, math.nan)
        if math.isfinite(value) and value > 0:
            return value
    return math.nan


def _resolve(names):
    """Table rows a hardware field stands for (generic names expanded to their variants)."""
    table = datasets.hardware_table()
    rows = []
    for name in names:
        hardware = table.find(name, field="hardware")
        rows.extend(table.find(v) for v in hardware.variants) if hardware.variants \
            else rows.append(hardware)
    return rows


def _facts(hardware, precision, needs_peak, ranges):
    """Hardware values of a candidate, or the reason it cannot be used."""
    die = hardware.die_area_cm2
    if not math.isfinite(die):
        if hardware.name not in ranges:
            return None, f"{hardware.name}: die area not published and no range"
        die = (ranges[hardware.name].low_cm2 + ranges[hardware.name].high_cm2) / 2
    if not math.isfinite(hardware.tdp_w):
        return None, f"{hardware.name}: no TDP"
    if not math.isfinite(hardware.memory_gb):
        return None, f"{hardware.name}: no memory size"
    peak = _peak(hardware, precision)
    if needs_peak and not math.isfinite(peak):
        return None, f"{hardware.name}: no peak FLOP/s"
    facts = {"gpu_tdp_w": hardware.tdp_w, "gpu_memory_gb": hardware.memory_gb,
             "gpu_die_area_cm2": die, "peak_flops": peak if math.isfinite(peak) else 0.0}
    try:
        facts.update({k: v for k, v in hardware_act_fields(hardware).items()
                      if k in ("epa", "gpa_95", "gpa_99", "defect_density_low",
                               "defect_density_high", "fab_intensity", "memory_gwp_low",
                               "memory_gwp_high")})
        facts["act"] = True
    except MlimpactError:
        facts.update(epa=0.0, gpa_95=0.0, gpa_99=0.0, defect_density_low=0.0,
                     defect_density_high=0.0, fab_intensity=0.0, memory_gwp_low=0.0,
                     memory_gwp_high=0.0, act=False)
    return facts, ""


def _grid(country, year):
    """GWP, ADPe, PE per kWh of a country's grid in a year, and notes on their sources."""
    factors = datasets.electricity_factors()
    intensities = datasets.grid_intensity()
    notes = []
    code = country if country else "WOR"
    if not datasets.intensity_years(code):
        code = "WOR"
        notes.append(f"no grid intensity for {country}: world average")
    nearest = datasets.nearest_intensity_year(code, year)
    boavizta = factors.get(country) or factors["WOR"]
    if country not in factors:
        notes.append("ADPe and PE factors of the world (no Boavizta factor for the country)")
    return (intensities[code, nearest], boavizta.adpe, boavizta.pe), notes


SCENARIOS = ("baseline", "location_shifting", "hardware_efficiency")


def build_runs(window=WINDOW, impute=True, scenario="baseline", low_carbon_country=None):
    """The notable models of ``window`` (publication years, inclusive) as runs.

    Parameters
    ----------
    window : (int, int)
    impute : bool
        With False, only complete records enter (hardware, chip count and training time all
        reported), as the study likely did.
    scenario : {"baseline", "location_shifting", "hardware_efficiency"}
        ``location_shifting``: every run on a low-carbon grid, ``low_carbon_country`` or, by
        default, the lowest-intensity grid of its year among the countries of Boavizta's
        table. ``hardware_efficiency``: every run with a known training compute on the most
        efficient accelerator (peak FLOP/s per W) released by its publication date, its
        chip count kept and its training time recomputed from the compute.

    Returns
    -------
    NotableRuns
    """
    first, last = window
    if first > last:
        raise MlimpactError(f"window: first year {first} after last year {last}")
    if scenario not in SCENARIOS:
        raise MlimpactError(f"scenario must be one of {', '.join(SCENARIOS)} (got {scenario!r})")
    if low_carbon_country is not None and low_carbon_country not in \
            {c for c, _ in datasets.grid_intensity()}:
        raise MlimpactError(f"low-carbon country: unknown code {low_carbon_country!r}")
    rows = [row for row in load_models() if first <= int(row["year"]) <= last]
    ranges = die_ranges()
    reported_times = [float(r["training_time_hours"]) for r in rows if r["training_time_hours"]]
    median_hours = statistics.median(reported_times) if reported_times else math.nan
    usage = defaultdict(Counter)
    for row in rows:
        if row["hardware"]:
            names = [n.strip() for n in row["hardware"].split(",")]
            for hardware in _resolve(names):
                usage[int(row["year"]), row["domain"]][hardware.name] += 1
                usage[int(row["year"]), ""][hardware.name] += 1

    records, run_records, variants, known_rows, labels, countries, dates = [], [], {}, [], [], [], []
    variant_labels = {}
    extra = {}
    table = datasets.hardware_table()
    for row in rows:
        name, year = row["model"], int(row["year"])
        imputed, notes = [], []

        def exclude(reason):
            records.append(ModelRecord(name, year, "excluded", reason=reason,
                                       hardware=row["hardware"]))

        quantity, hours = _number(row["hardware_quantity"]), _number(row["training_time_hours"])
        compute, mfu = _number(row["training_compute_flop"]), _number(row["mfu"])
        if not impute and not (row["hardware"] and math.isfinite(quantity)
                               and math.isfinite(hours)):
            exclude("incomplete record (imputation off)")
            continue
        # chip count and training time
        imputation = NO_IMPUTATION
        if math.isfinite(quantity) and math.isfinite(hours):
            pass
        elif not math.isfinite(compute):
            missing = [f for f, v in (("chip count", quantity), ("training time", hours))
                       if not math.isfinite(v)]
            exclude(f"no {' or '.join(missing)} and no training compute")
            continue
        elif math.isfinite(quantity):
            imputation = IMPUTE_HOURS
            imputed.append("training time (from compute)")
        elif math.isfinite(hours):
            imputation = IMPUTE_CHIPS
            imputed.append("chip count (from compute)")
        else:
            imputation, hours = IMPUTE_CHIPS, median_hours
            imputed.append("chip count and training time (from compute; hours at the median "
                           "reported time)")
        # hardware candidates
        if row["hardware"]:
            candidates = [(h, 1.0) for h in
                          _resolve([n.strip() for n in row["hardware"].split(",")])]
            label = row["hardware"]
        else:
            counts = usage.get((year, row["domain"])) or usage.get((year, ""))
            if not counts:
                exclude("hardware not reported, and none reported in its year")
                continue
            candidates = [(table.find(n), float(c)) for n, c in sorted(counts.items())]
            label = f"imputed {year} {row['domain'] or 'any domain'}"
            imputed.append("hardware (from the models of its year and domain)")
        usable, problems = [], []
        for hardware, weight in candidates:
            facts, problem = _facts(hardware, row["numerical_format"],
                                    imputation != NO_IMPUTATION, ranges)
            if facts:
                usable.append((hardware, weight, facts))
            else:
                problems.append(problem)
        if not usable:
            exclude(f"no usable hardware ({'; '.join(problems)})")
            continue
        if problems:
            notes.append("candidates dropped: " + "; ".join(problems))
        if scenario == "hardware_efficiency" and math.isfinite(compute):
            best = most_efficient(row["publication_date"], row["numerical_format"], ranges)
            if best is not None:
                usable = [(best[0], 1.0, best[1])]
                if imputation == NO_IMPUTATION:
                    imputation = IMPUTE_HOURS
                notes.append(f"scenario: on {best[0].name}")
        # MFU and country
        if imputation != NO_IMPUTATION and not math.isfinite(mfu):
            imputed.append("MFU (uncertain)")
        country = row["country"] or ""
        if scenario == "location_shifting":
            country = low_carbon_country or lowest_intensity_country(year - 1)
        grid, grid_notes = _grid(country, year - 1)
        notes.extend(grid_notes)
        if not country:
            imputed.append("country (world average, wide uncertainty)")
        gpus = TPUS_PER_NODE if usable[0][0].type == "TPU" else GPUS_PER_NODE
        point = usable[len(usable) // 2 if len(usable) > 1 else 0][2]
        act_everywhere = all(facts["act"] for _, _, facts in usable)
        fields = {f: 0.0 for f in RUN_FIELDS}
        fields.update({k: v for k, v in point.items() if k != "act"})
        fields.update(
            hours=hours if math.isfinite(hours) else median_hours,
            nodes=(quantity / gpus) if math.isfinite(quantity) else 1.0,
            repetitions=1.0, gpus=float(gpus), gpu_usage=0.75, server=1.0,
            **{k: float(v) for k, v in defaults.SERVER.items()},
            grid_gwp=grid[0], grid_adpe=grid[1], grid_pe=grid[2],
            intensity_ratio=defaults.INTENSITY_RATIO, lifetime_years=defaults.LIFETIME_YEARS,
            lifetime_usage=defaults.LIFETIME_USAGE, dynamic_ratio=defaults.DYNAMIC_RATIO,
            memory_density=defaults.MEMORY_DENSITY_GB_PER_CM2, production_model=0.0,
            yield_model=1.0, yield_constant=defaults.FAB_YIELD, gpa_abatement=0.5,
            defect_density_quantile=0.5, memory_gwp_quantile=0.5,
            training_compute=compute if math.isfinite(compute) else 0.0,
            mfu=mfu if math.isfinite(mfu) else MFU_POINT, imputation=float(imputation),
            variant=0.5)
        known = np.zeros(len(RUN_FIELDS), dtype=bool)
        # MFU is known when reported, and irrelevant when nothing is imputed.
        known[RUN_FIELDS.index("mfu")] = math.isfinite(mfu) or imputation == NO_IMPUTATION
        # Unpublished die areas: one uncertain area per accelerator, whether it is the run's
        # only accelerator or one of its variants (parameters of hardware scope act on a
        # run's variants by their names).
        for hardware, _, _ in usable:
            if not math.isfinite(hardware.die_area_cm2):
                die = ranges[hardware.name]
                extra[f"die_area[{hardware.name}]"] = Parameter(
                    f"die_area[{hardware.name}]",
                    Uniform(die.low_cm2, die.high_cm2, unit="cm2"), scope="hardware",
                    target="gpu_die_area_cm2", mode="replace", unit="cm2",
                    source=die.basis, description=f"die area of {hardware.name}",
                    members=(hardware.name,))
        if len(usable) == 1:
            known[RUN_FIELDS.index("variant")] = True
            hardware_label = usable[0][0].name
        else:
            hardware_label = label
            variants[name] = [(w, {k: v for k, v in f.items() if k != "act"})
                              for _, w, f in usable]
            variant_labels[name] = [hardware.name for hardware, _, _ in usable]
        if not act_everywhere:
            known[RUN_FIELDS.index("production_model")] = True
            notes.append("production model MLCA only (ACT's inputs missing)")
        run_records.append((name, fields))
        known_rows.append(known)
        labels.append(hardware_label)
        countries.append(country or UNKNOWN_COUNTRY)
        dates.append(np.datetime64(row["publication_date"]))
        records.append(ModelRecord(name, year, "imputed" if imputed else "complete",
                                   tuple(imputed), hardware=row["hardware"], notes=tuple(notes)))
    if not run_records:
        raise MlimpactError(f"no model of {first}-{last} can enter the run")
    runs = RunTable.from_records(run_records, variants, variant_labels)
    return NotableRuns(runs, np.array(known_rows), labels, countries, records, extra,
                       np.array(dates))


def lowest_intensity_country(year):
    """The country of Boavizta's table whose grid had the lowest GWP intensity in ``year``
    (OWID / Ember; nearest year with data)."""
    intensities = datasets.grid_intensity()
    best = None
    for code in datasets.electricity_factors():
        nearest = datasets.nearest_intensity_year(code, year)
        if nearest is None:
            continue
        if best is None or intensities[code, nearest] < best[1]:
            best = (code, intensities[code, nearest])
    return best[0]


def most_efficient(date, precision, ranges):
    """The data-centre accelerator with the highest peak FLOP/s per W released by ``date``
    (with every fact the model needs), and its facts; None if there is none."""
    best = None
    for hardware in datasets.hardware_table():
        if hardware.segment != "data_centre" or not hardware.release_date \
                or hardware.release_date > date:
            continue
        facts, _ = _facts(hardware, precision, True, ranges)
        if facts is None or not facts["act"]:
            continue
        efficiency = facts["peak_flops"] / facts["gpu_tdp_w"]
        if best is None or efficiency > best[2]:
            best = (hardware, facts, efficiency)
    return best[:2] if best else None


def coverage(notable, window=WINDOW):
    """The coverage report: totals, exclusion reasons, per year counts, hardware mapping."""
    years = {str(y): {"complete": 0, "imputed": 0, "excluded": 0}
             for y in range(window[0], window[1] + 1)}
    reasons, imputations = Counter(), Counter()
    for record in notable.records:
        years[str(record.year)][record.status] += 1
        if record.status == "excluded":
            reasons[_reason_class(record.reason)] += 1
        for what in record.imputed:
            imputations[what.split(" (")[0]] += 1
    mapping = {}
    table = datasets.hardware_table()
    for record in notable.records:
        for name in filter(None, (n.strip() for n in record.hardware.split(","))):
            hardware = table.find(name, field="hardware")
            mapping[name] = list(hardware.variants) or [hardware.name]
    included = sum(1 for r in notable.records if r.status != "excluded")
    return {"window": list(window), "included_total": included,
            "complete_total": sum(1 for r in notable.records if r.status == "complete"),
            "imputed_total": sum(1 for r in notable.records if r.status == "imputed"),
            "excluded_total": sum(1 for r in notable.records if r.status == "excluded"),
            "excluded_reasons": dict(reasons.most_common()),
            "imputed_fields": dict(imputations.most_common()), "years": years,
            "hardware_mapping": dict(sorted(mapping.items()))}


def _reason_class(reason):
    """Exclusion reasons grouped for the report (the per-model reason keeps the details)."""
    return reason.split(" (")[0]
