"""The notable AI models of Epoch AI as a run table: hardware mapping, imputation, coverage.

:func:`build_runs` turns ``data/models.csv`` (Epoch AI, "Notable AI Models", CC BY 4.0) into a
:class:`~mlimpact.runs.table.RunTable` with one run per model of a publication window, and a record
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

Each record goes through named steps (:func:`build_run`): :func:`admitted_facts`,
:func:`chips_and_hours`, :func:`hardware_candidates`, :func:`usable_hardware`,
:func:`apply_hardware_rule`, :func:`location_choices` and :func:`run_grid`,
:func:`accelerator_class` and :func:`class_points_of`, :func:`point_fields` and
:func:`known_fields`; a step that rejects the record raises :class:`Excluded` with the reason.
Scenarios change the rules through :class:`RunRules`, one field per hook.
"""

import dataclasses
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from mlimpact.errors import MlimpactError
from mlimpact.quantities import IMPACT_CRITERIA, LABELS, WATER
from mlimpact.runs import locations
from mlimpact.runs.defaults import default_row, point
from mlimpact.runs.table import (
    ACT_FIELDS,
    IMPUTE_CHIPS,
    IMPUTE_HOURS,
    METERED_SCOPES,
    NO_IMPUTATION,
    RUN_FIELDS,
    RunTable,
)
from mlimpact.tables import catalogue, grid
from mlimpact.tables.fab import hardware_act_fields
from mlimpact.tables.hardware import die_ranges, hardware_table
from mlimpact.tables.models import load_models, record_fixes
from mlimpact.tables.nodes import host_rated_w_per_gpu

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
UNKNOWN_COUNTRY = "unknown"
#: The criterion whose grid factor comes from the generation mix (hydropower's apart).
WATER_CRITERION = IMPACT_CRITERIA[WATER]
#: How a run's grid is found: from evidence, or the organisation's country (MLCA's rule).
LOCATION_RULES = ("evidence", "organisation")
#: Relative difference of chip-hours between a record and its primary source above which the
#: run carries both (issue "record fixes": Epoch's figures and papers' often differ by a few
#: per cent from rounding and from counting downtime).
DISAGREEMENT = 0.10


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
    #: Epoch AI's confidence in the record (Confident, Likely, Speculative, Unknown or "").
    confidence: str = ""


class Excluded(Exception):
    """A record that cannot enter the run; ``reason`` says why (:attr:`ModelRecord.reason`)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RunRules:
    """The hooks a scenario hands to :func:`build_runs` (:mod:`mlimpact.study.scenarios`),
    one field per hook; a hook left at None keeps the dataset's own rule.

    ``hardware_rule(record, candidates)`` acts on every record with a known training compute:
    ``record`` its row of ``data/models.csv``, ``candidates`` its usable accelerators as
    ``(Hardware, weight, facts)`` (facts of :func:`hardware_facts`). It returns None to keep
    them, or ``(candidates, note)`` to replace them; the run then keeps its chip count and its
    training time is recomputed from its compute (:func:`apply_hardware_rule`).

    ``location_rule(country, year)`` returns the code of the grid a run takes, from the
    record's country code ("" if unknown) and the grid year (the year before publication);
    by default the run's location follows the evidence or the organisation
    (:func:`location_choices`).
    """

    hardware_rule: Callable | None = None
    location_rule: Callable | None = None


@dataclass(frozen=True)
class RecordFacts:
    """The figures of one record (a row of ``data/models.csv``, Epoch AI), nan where blank."""

    name: str
    #: Publication year.
    year: int
    #: Epoch AI's confidence in the record (Confident, Likely, Speculative, Unknown or "").
    confidence: str
    #: Chip count (accelerators).
    quantity: float
    #: Training time [h].
    hours: float
    #: Training compute [FLOP].
    compute: float
    #: Model FLOP utilisation [-].
    mfu: float

    @property
    def reports_chip_hours(self):
        """Whether the record reports both its chip count and its training time."""
        return math.isfinite(self.quantity) and math.isfinite(self.hours)


@dataclass(frozen=True)
class RunGrid:
    """Where a run took its electricity (:func:`run_grid`)."""

    #: Country code of the grid ("" if unknown).
    country: str
    #: GWP [kg CO2eq/kWh], ADPe [kg Sb eq/kWh], PE [MJ/kWh] and water (hydropower's apart)
    #: [L/kWh] of one kWh, at point value.
    factors: tuple
    #: The evidence the location rests on (:data:`mlimpact.runs.locations.BASES`).
    basis: str
    #: (GWP intensity ratios to the point value, weights) of several candidate regions, or None.
    spread: tuple
    #: The record's notes on its grid.
    notes: tuple
    #: The grid (country code or ``unknown``) whose ADPe and PE factors are the world's, or "".
    fallback: str
    #: Hydropower's share of the grid's generation [-] (its water apart from ``factors``).
    hydro_share: float = 0.0


@dataclass(frozen=True)
class BuildContext:
    """What every record of one :func:`build_runs` call shares: its options and the tables its
    rules read."""

    impute: bool
    speculative: bool
    #: Location rule (:data:`LOCATION_RULES`).
    location: str
    #: Power model (``evidence`` or ``mlca``).
    power: str
    rules: RunRules
    #: Die-area ranges [cm2] of unpublished dies (:func:`mlimpact.tables.hardware.die_ranges`).
    ranges: dict
    #: Median reported training time [h] of the window's records (:func:`median_reported_hours`).
    median_hours: float
    #: Accelerators of the window's records by year and domain (:func:`hardware_usage`).
    usage: dict
    #: Record fixes from primary sources (:func:`mlimpact.tables.models.record_fixes`).
    fixes: dict
    #: Point values by class (:func:`mlimpact.tables.catalogue.class_points`; {} for MLCA's).
    class_points: dict
    #: :func:`hardware_facts` already made in this call, by (accelerator object, numerical
    #: format, whether the peak is needed, ranges, power): the records share a few dozen
    #: accelerators.
    facts: dict = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class RunRow:
    """One run of :func:`build_runs` (:func:`build_run`) and everything that belongs to it."""

    name: str
    #: Run field -> point value (:data:`mlimpact.runs.table.RUN_FIELDS`).
    fields: dict
    #: Whether each run field is known (:func:`known_fields`).
    known: np.ndarray
    #: The run's hardware: its accelerator's name, or the record's label of a choice.
    label: str
    #: Country code of the grid, or ``unknown``.
    country: str
    date: np.datetime64
    #: (accelerator class, provider class).
    classes: tuple
    grid: RunGrid
    #: (low, high) factor on the training time, or None (:func:`chip_hours_range`).
    record_range: tuple
    #: The catalogue's run-scope inputs the record states, or None (:attr:`NotableRuns.fixed`).
    fixed: dict
    #: Name -> :class:`UnpublishedDie` of the run's accelerators.
    unpublished: dict
    #: (weight, facts) of each accelerator of a choice, or None (:func:`variants_of`).
    variants: list
    variant_names: list
    record: ModelRecord


@dataclass(frozen=True)
class UnpublishedDie:
    """An accelerator of the runs whose die area is not published: the range its area is
    sampled from [cm2] (``data/die_areas.csv``) and the basis of that range."""

    hardware: str
    low_cm2: float
    high_cm2: float
    basis: str


@dataclass
class NotableRuns:
    """The run table of the included models and everything needed to sample it.

    ``unpublished_dies`` lists the accelerators of the runs whose die area is a range: the
    uncertainty stage samples each one (a parameter of hardware scope acting on that
    accelerator by name).
    """

    runs: RunTable
    known: np.ndarray
    hardware: list
    countries: list
    records: list
    unpublished_dies: tuple = ()
    dates: np.ndarray = None
    #: Run name -> (intensity ratios to the point grid, weights) of its candidate regions.
    location_choices: dict = None
    #: Run name -> (low, high) factor on its training time where a primary source's
    #: chip-hours disagree with the record's by more than 10 % (``data/record_fixes.csv``).
    record_ranges: dict = None
    #: Per run, the evidence its location rests on (:data:`mlimpact.runs.locations.BASES`).
    location_bases: tuple = ()
    #: The power model of the point values (``evidence`` or ``mlca``).
    power: str = "mlca"
    #: Class kind -> the class of each run (accelerator: GPU, TPU, other; provider:
    #: hyperscale, cloud, academic_hpc, unknown), for parameters that depend on it.
    classes: dict = None
    #: Grids (country codes, or ``unknown``) whose ADPe and PE factors are the world's, for
    #: want of the country's (:func:`mlimpact.uncertainty.catalogue.fallback_parameters`).
    grid_fallbacks: tuple = ()
    #: Run name -> {parameter: value} of the catalogue's run-scope inputs that the run's record
    #: states (a setup's PUE: the facility's draw is known, the cluster's overhead is not).
    fixed: dict = None

    def subset(self, indices):
        """The runs at positions ``indices`` (and everything that belongs to them)."""
        indices = np.asarray(indices, dtype=np.int64)
        table = self.runs.subset(indices)
        keep = set(table.names)
        pick = lambda values: [values[i] for i in indices]  # noqa: E731
        return dataclasses.replace(
            self,
            runs=table,
            known=self.known[indices],
            hardware=pick(self.hardware),
            countries=pick(self.countries),
            records=[r for r in self.records if r.name in keep],
            dates=None if self.dates is None else self.dates[indices],
            location_choices={k: v for k, v in (self.location_choices or {}).items() if k in keep},
            record_ranges={k: v for k, v in (self.record_ranges or {}).items() if k in keep},
            location_bases=tuple(pick(self.location_bases)) if self.location_bases else (),
            classes=None if self.classes is None else {k: pick(v) for k, v in self.classes.items()},
            grid_fallbacks=tuple(c for c in self.grid_fallbacks if c in set(pick(self.countries))),
            fixed={k: v for k, v in (self.fixed or {}).items() if k in keep},
        )


def _number(text):
    return float(text) if text else math.nan


#: TPUs multiply FP32 matrices in bfloat16 passes on their matrix units (by default one pass:
#: Google Cloud TPU documentation, "The bfloat16 numerical format"; JAX's default matmul
#: precision on TPU): an FP32 record on a TPU runs at the bfloat16 tensor rate.
TPU_FP32 = ("tensor_fp16_bf16",)
#: A chip with an integer rate only (TPU v1: 92 TOPS of 8-bit multiply-accumulate, Jouppi et al.
#: 2017, ISCA, Table 2) computes at that rate.
INTEGER_ONLY = ("int8",)


def peak_rate(hardware, precision):
    """``(rate [FLOP/s], column)`` of an accelerator at a record's numerical format: the first
    column of :data:`PRECISIONS` it has, then for TPUs the bfloat16 rate of FP32 work
    (:data:`TPU_FP32`), then an integer-only chip's rate; ``(nan, "")`` if none applies."""
    columns = PRECISIONS.get(precision, DEFAULT_PRECISION)
    if hardware.type.upper() == "TPU" and precision in ("FP32", "TF32"):
        columns = (*TPU_FP32, *columns)  # before the chip's vector-unit FP32 rate
    floats = any(
        math.isfinite(v) and v > 0 for k, v in hardware.peak_flops.items() if k not in INTEGER_ONLY
    )
    for column in (*columns, *(() if floats else INTEGER_ONLY)):
        value = hardware.peak_flops.get(column, math.nan)
        if math.isfinite(value) and value > 0:
            return value, column
    return math.nan, ""


def _peak(hardware, precision):
    return peak_rate(hardware, precision)[0]


def _resolve(names):
    """Table rows a hardware field stands for (generic names expanded to their variants)."""
    table = hardware_table()
    rows = []
    for name in names:
        hardware = table.find(name, field="hardware")
        rows.extend(table.find(v) for v in hardware.variants) if hardware.variants else rows.append(
            hardware
        )
    return rows


def accelerators_per_node(hardware):
    """Accelerators per node of a run on ``hardware``: 4 per TPU host, 8 per GPU node."""
    return TPUS_PER_NODE if hardware.type == "TPU" else GPUS_PER_NODE


def hardware_facts(hardware, precision, needs_peak, ranges, power="mlca"):
    """The run fields an accelerator sets (:data:`mlimpact.runs.table.VARIANT_FIELDS`, and
    ``act``: whether ACT's inputs are all known), or None and the reason it cannot be used.

    ``precision`` is the record's numerical format (it picks the peak rate); ``needs_peak``
    whether the run imputes from compute; ``ranges`` the die-area ranges of
    :func:`mlimpact.tables.hardware.die_ranges`, whose middle stands for an unpublished area;
    ``power`` the power model: in the evidence model the host's rated power comes from the
    accelerator's node configuration (:func:`mlimpact.tables.nodes.host_rated_w_per_gpu`), in
    MLCA's it is 0 (MLCA's CPU and RAM terms).
    """
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
    facts = {
        "gpu_tdp_w": hardware.tdp_w,
        "gpu_memory_gb": hardware.memory_gb,
        "gpu_die_area_cm2": die,
        "peak_flops": peak if math.isfinite(peak) else 0.0,
        "host_rated_w_per_gpu": (
            host_rated_w_per_gpu(hardware.name) if power == "evidence" else 0.0
        ),
    }
    try:
        facts.update({k: v for k, v in hardware_act_fields(hardware).items() if k in ACT_FIELDS})
        facts["act"] = True
    except MlimpactError:
        facts.update(
            epa=0.0,
            gpa_95=0.0,
            gpa_99=0.0,
            defect_density_low=0.0,
            defect_density_high=0.0,
            fab_intensity=0.0,
            memory_gwp_low=0.0,
            memory_gwp_high=0.0,
            act=False,
        )
    return facts, ""


#: Accelerators NVIDIA made for the Chinese market under US export rules, and the domestic
#: Chinese ones: imputed only for organisations in China.
CHINA_ONLY = ("A800", "H800", "H20")


def fits(hardware, record, year):
    """Whether an accelerator can stand for a record's unreported hardware: released by
    its publication date, a TPU only for an organisation that trains on Google's cloud
    (``data/providers.csv``), chips for the Chinese market (export versions, Huawei's) only
    for organisations in China."""
    if hardware.release_date and hardware.release_date > record["publication_date"]:
        return False
    if hardware.type.upper() == "TPU":
        organizations = [o.strip() for o in record.get("organization", "").split(",")]
        if not any(p.provider == "Google" for p in locations.providers_of(organizations, year)):
            return False
    china_only = hardware.manufacturer == "Huawei" or any(n in hardware.name for n in CHINA_ONLY)
    return not china_only or record.get("country", "") == "CHN"


def _grid(country, year, water):
    """The grid factors per kWh of a country's grid in a year, one per impact criterion, and
    notes on their sources: the GWP from the OWID/Ember intensity
    (:func:`mlimpact.tables.grid.intensity`; the world's where the country has none), water
    as given (``water`` [L/kWh], :func:`_water_of_choices`), the other criteria from
    Boavizta's factors (the world's where the country has none)."""
    factors = grid.electricity_factors()
    notes = []
    code = country if country else grid.WORLD
    if not grid.has_intensity(code):
        code = grid.WORLD
        notes.append(f"no grid intensity for {country}: world average")
    intensity, _ = grid.intensity(code, year)
    boavizta = factors.get(country) or factors[grid.WORLD]
    others = grid.BOAVIZTA_CRITERIA
    if country not in factors:
        labels = [LABELS[c] for c in others]
        labels = ", ".join(labels[:-1]) + " and " + labels[-1] if len(labels) > 1 else labels[0]
        notes.append(f"{labels} factors of the world (no Boavizta factor for the country)")
    note = grid.water_of(country)[1]
    if note and country:
        notes.append(note)
    values = {c: getattr(boavizta, c) for c in others}
    values[IMPACT_CRITERIA[0]] = intensity
    values[WATER_CRITERION] = water
    return tuple(values[c] for c in IMPACT_CRITERIA), notes


def _water_of_choices(country, choices):
    """``(water [L/kWh], hydro share [-])`` of a run's grid: the choices' weighted means of
    their grids' (:func:`mlimpact.tables.grid.water_of`), or the country's without choices."""
    if not choices:
        water = grid.water_of(country)[0]
        return water.water, water.hydro_share
    total = sum(w for _, w in choices)
    found = [(grid.water_of(region)[0], w / total) for region, w in choices]
    return (
        sum(g.water * w for g, w in found),
        sum(g.hydro_share * w for g, w in found),
    )


def _metered(record):
    """Run fields of a record's metered energy (``energy_kwh`` [kWh] and ``energy_scope``, one of
    :data:`mlimpact.runs.table.METERED_SCOPES`), or {} if it has none."""
    energy = record.get("energy_kwh", "")
    if not energy:
        return {}
    scope = record.get("energy_scope") or "node"
    return {
        "metered_energy_kwh": float(energy),
        "metered_scope": float(METERED_SCOPES.index(scope) + 1),
    }


def _names(field):
    """The accelerator names of a record's ``hardware`` field (a comma-separated list)."""
    return [n.strip() for n in field.split(",")]


def _organizations(record):
    """The organisations of a record (its ``organization`` field, comma-separated)."""
    return [o.strip() for o in record.get("organization", "").split(",")]


def median_reported_hours(records):
    """The median of the training times [h] that ``records`` report; nan if none does. It
    stands for the training time of a record that reports neither it nor its chip count."""
    reported = [float(r["training_time_hours"]) for r in records if r["training_time_hours"]]
    return statistics.median(reported) if reported else math.nan


def hardware_usage(records):
    """(publication year, domain) -> :class:`~collections.Counter` of the accelerators of the
    records that report theirs (by table name: a generic name counts each of its variants, a
    list each of its members); the domain ``""`` counts every domain of the year. A user's
    custom hardware (a setup's own accelerator) is not counted."""
    usage = defaultdict(Counter)
    for record in records:
        if record["hardware"] and record.get("custom_hardware") is None:
            for hardware in _resolve(_names(record["hardware"])):
                usage[int(record["year"]), record["domain"]][hardware.name] += 1
                usage[int(record["year"]), ""][hardware.name] += 1
    return usage


def record_facts(record):
    """The :class:`RecordFacts` of a record of ``data/models.csv`` (or of a user's file)."""
    return RecordFacts(
        name=record["model"],
        year=int(record["year"]),
        confidence=record.get("confidence", ""),
        quantity=_number(record["hardware_quantity"]),
        hours=_number(record["training_time_hours"]),
        compute=_number(record["training_compute_flop"]),
        mfu=_number(record["mfu"]),
    )


def admitted_facts(record, impute=True, speculative=True):
    """The :class:`RecordFacts` of a record that may enter the run; :class:`Excluded` if it
    may not: a record Epoch AI marks ``Speculative`` when ``speculative`` is False, and one
    without hardware, chip count or training time when ``impute`` is False."""
    if not speculative and record.get("confidence", "") == "Speculative":
        raise Excluded("low-confidence record (Epoch AI: Speculative)")
    facts = record_facts(record)
    if not impute and not (record["hardware"] and facts.reports_chip_hours):
        raise Excluded("incomplete record (imputation off)")
    return facts


def chips_and_hours(facts, median_hours):
    """How a run's chip count and training time are found: ``(imputation, hours, imputed)``.

    ``imputation`` is the run field of that name (:data:`~mlimpact.runs.table.NO_IMPUTATION`,
    :data:`~mlimpact.runs.table.IMPUTE_HOURS` or :data:`~mlimpact.runs.table.IMPUTE_CHIPS`:
    the engine computes the missing one from the training compute,
    ``chips * hours = C / (peak * MFU * 3600)``); ``hours`` the training time [h] the run
    starts from: the record's, or ``median_hours`` [h] (the median reported time) when it
    reports neither chips nor hours; ``imputed`` what the record's notes say is imputed.
    :class:`Excluded` if something is missing and the training compute too.
    """
    quantity, hours = facts.quantity, facts.hours
    if facts.reports_chip_hours:
        return NO_IMPUTATION, hours, ()
    if not math.isfinite(facts.compute):
        missing = [
            f
            for f, v in (("chip count", quantity), ("training time", hours))
            if not math.isfinite(v)
        ]
        raise Excluded(f"no {' or '.join(missing)} and no training compute")
    if math.isfinite(quantity):
        return IMPUTE_HOURS, hours, ("training time (from compute)",)
    if math.isfinite(hours):
        return IMPUTE_CHIPS, hours, ("chip count (from compute)",)
    return (
        IMPUTE_CHIPS,
        median_hours,
        ("chip count and training time (from compute; hours at the median reported time)",),
    )


def hardware_candidates(record, year, usage):
    """The accelerators a record's run may have used: ``(candidates, label, imputed)``.

    ``candidates`` are ``(Hardware, weight)``: a user's custom accelerator; the table rows of
    the record's hardware names (weight 1 each: :func:`_resolve`); or, for unreported hardware,
    the accelerators of the models of its publication ``year`` and domain (of the year only,
    if the domain has none) that :func:`fits` the record, weighted by how many models used
    them (``usage``, :func:`hardware_usage`). ``label`` names the choice; ``imputed`` is what
    the record's notes say is imputed. :class:`Excluded` if no accelerator can stand for it.
    """
    if record.get("custom_hardware") is not None:
        return [(record["custom_hardware"], 1.0)], record["hardware"], ()
    if record["hardware"]:
        return [(h, 1.0) for h in _resolve(_names(record["hardware"]))], record["hardware"], ()
    counts = usage.get((year, record["domain"])) or usage.get((year, ""))
    if not counts:
        raise Excluded("hardware not reported, and none reported in its year")
    table = hardware_table()
    candidates = [(table.find(n), float(c)) for n, c in sorted(counts.items())]
    candidates = [(h, c) for h, c in candidates if fits(h, record, year)]
    if not candidates:
        raise Excluded(
            "hardware not reported, and none of its year fits it (released "
            "before publication, usable by the organisation)"
        )
    label = f"imputed {year} {record['domain'] or 'any domain'}"
    return candidates, label, ("hardware (from the models of its year and domain)",)


def peak_rate_reason(hardware, precision):
    """Why the peak rate of ``hardware`` at a record's numerical format ``precision`` is not
    the format's own (:func:`peak_rate`): ``"integer-only chip"``, ``"TPU FP32 work in
    bfloat16 passes"`` or ``""``; and the column it is read from."""
    column = peak_rate(hardware, precision)[1]
    if column in INTEGER_ONLY:
        return "integer-only chip", column
    if column in TPU_FP32 and precision in ("FP32", "TF32"):
        return "TPU FP32 work in bfloat16 passes", column
    return "", column


def usable_hardware(record, candidates, needs_peak, ranges, power, made=None):
    """The candidates with every fact a run needs: ``(usable, notes)``.

    ``usable`` are ``(Hardware, weight, facts)`` (facts of :func:`hardware_facts`, with the
    record's own ``act_fields``, a setup's fab inputs, where it has them); ``notes`` name the
    dropped candidates and, when the run imputes from compute (``needs_peak``), the peak rates
    that are not the record's format's own (:func:`peak_rate_reason`). :class:`Excluded` if no
    candidate is usable. ``made``, a dict, keeps the facts made for the next records
    (:attr:`BuildContext.facts`; each gets its own copy).
    """
    precision = record["numerical_format"]
    usable, problems = [], []
    made = {} if made is None else made
    for hardware, weight in candidates:
        key = (id(hardware), precision, needs_peak, id(ranges), power)
        if key not in made:  # (kept with its accelerator, so that the id stays the object's)
            made[key] = hardware, hardware_facts(hardware, precision, needs_peak, ranges, power)
        facts, problem = made[key][1]
        if facts:
            usable.append((hardware, weight, dict(facts)))
        else:
            problems.append(problem)
    if record.get("act_fields"):
        for _, _, facts in usable:
            facts.update(record["act_fields"], act=True)
    if not usable:
        raise Excluded(f"no usable hardware ({'; '.join(problems)})")
    notes = ["candidates dropped: " + "; ".join(problems)] if problems else []
    if needs_peak:
        for hardware, _, _ in usable:
            why, column = peak_rate_reason(hardware, precision)
            if why:
                notes.append(f"peak rate of {hardware.name}: {column} ({why})")
    return usable, notes


def apply_hardware_rule(rule, record, usable, compute, imputation):
    """A scenario's hardware rule (:attr:`RunRules.hardware_rule`) applied to a run:
    ``(usable, imputation, notes)``. The rule acts only on a run with a known training
    compute ``compute`` [FLOP]; where it replaces the accelerators, a run that imputed
    nothing keeps its chip count and has its training time recomputed from the compute."""
    replaced = rule(record, usable) if rule and math.isfinite(compute) else None
    if replaced is None:
        return usable, imputation, ()
    usable, note = replaced
    return usable, IMPUTE_HOURS if imputation == NO_IMPUTATION else imputation, (note,)


def location_choices(record, facts, location="evidence", location_rule=None):
    """Where a run may have trained: ``(country, choices, basis)``.

    ``country`` is the record's country code ("" if unknown), or the scenario's
    (:attr:`RunRules.location_rule`, of the grid year, the year before publication);
    ``choices`` are ``(region, weight)`` pairs and ``basis`` the evidence they rest on: the
    scenario's grid; with ``location="evidence"`` the best evidence
    (:func:`mlimpact.runs.locations.candidates`); with ``"organisation"`` the organisation's
    country (none if it is unknown).
    """
    country = record["country"] or ""
    if location_rule is not None:
        country = location_rule(country, facts.year - 1)
        return country, ((country, 1.0),), "scenario"
    if location == "evidence":
        choices, basis = locations.candidates(
            facts.name,
            _organizations(record),
            country,
            facts.year,
            record.get("region", ""),
            record.get("provider", ""),
        )
        return country, choices, basis
    return country, (((country, 1.0),) if country else ()), "organisation"


def _location_note(basis, choices):
    """The record's note on its location: the first six regions and their weights [%]."""
    return (
        f"location ({basis}): "
        + ", ".join(f"{r} {100 * w:.0f} %" for r, w in choices[:6])
        + (f" and {len(choices) - 6} more" if len(choices) > 6 else "")
    )


def run_grid(country, choices, basis, year):
    """The :class:`RunGrid` of a run published in ``year`` with the location of
    :func:`location_choices`. The grid year is the year before publication (training precedes
    it); the GWP intensity is the choices' weighted mean, ADPe and PE are the country's
    Boavizta factors (:func:`_grid`), and the country is the choices' own where they all lie
    in one.

    Made once per distinct location and year (the embedded tables it reads do not change, and
    a RunGrid is frozen): the main job builds the dataset's 442 runs 18 times, under the
    scenarios and the specifications, mostly at the same locations."""
    return _run_grid(country, tuple(choices), basis, int(year))


@lru_cache(maxsize=4096)
def _run_grid(country, choices, basis, year):
    """:func:`run_grid` (``choices`` a tuple)."""
    grid_year = year - 1
    if choices:
        intensities = np.array([grid.region_intensity(r, grid_year) for r, _ in choices])
        weights = np.array([w for _, w in choices])
        located = {grid.region_country(r) for r, _ in choices}
        if len(located) == 1:
            country = located.pop()
    water, hydro_share = _water_of_choices(country, choices)
    factors, notes = _grid(country, grid_year, water)
    fallback = "" if country in grid.electricity_factors() else country or UNKNOWN_COUNTRY
    spread = None
    if choices:
        point_gwp = float(weights @ intensities)
        factors = (point_gwp, *factors[1:])
        if len(choices) > 1:
            spread = (tuple(intensities / point_gwp), tuple(weights))
        notes.append(_location_note(basis, choices))
    return RunGrid(
        country,
        factors,
        basis if choices else "unknown",
        spread,
        tuple(notes),
        fallback,
        hydro_share,
    )


def accelerator_class(hardware):
    """The accelerator class of a run on ``hardware`` (its first accelerator): ``TPU``,
    ``GPU`` or ``other``, from the accelerator's type in ``data/hardware.csv``; some
    parameters of the evidence power model depend on it (``data/parameters.toml``)."""
    kind = hardware.type.upper()
    return "TPU" if kind == "TPU" else "GPU" if "GPU" in kind else "other"


#: A GPU run is *large pretraining* from this many accelerators working this many hours (at
#: its point values): the floor set by the metered multi-node runs of
#: ``data/accelerator_power.csv`` (Dodge et al. 2022's 6.1B transformer, 256 A100 for 192 h;
#: Ai2's OLMo runs on hundreds of H100 for weeks); our rule, docs/uncertainty.md.
LARGE_RUN_ACCELERATORS = 256
#: Wall-clock hours of a large pretraining run (7 days): see :data:`LARGE_RUN_ACCELERATORS`.
LARGE_RUN_HOURS = 168.0
#: The accelerator class of a GPU run of large pretraining (:func:`workload_class`).
LARGE_GPU_CLASS = "GPU_large"


def point_chips_and_hours(fields):
    """A run's accelerator count and training time [h] at its point values: as stated, or
    the missing one from its training compute (``chips * hours = C / (peak * MFU * 3600)``,
    the MFU at its point)."""
    chips, hours = fields["nodes"] * fields["gpus"], fields["hours"]
    if fields["imputation"] == NO_IMPUTATION:
        return chips, hours
    rate = fields["peak_flops"] * fields["mfu"] * 3600.0
    chip_hours = fields["training_compute"] / rate if rate > 0 else math.nan
    if fields["imputation"] == IMPUTE_HOURS:
        return chips, chip_hours / chips
    return chip_hours / hours, hours


def workload_class(accelerator, fields):
    """The class of a run for its accelerators' draw: a GPU run of at least
    :data:`LARGE_RUN_ACCELERATORS` accelerators for at least :data:`LARGE_RUN_HOURS` hours
    (:func:`point_chips_and_hours`) is :data:`LARGE_GPU_CLASS`, whose draw comes from metered
    large pretraining runs; every other run keeps its accelerator's class."""
    if accelerator != "GPU":
        return accelerator
    chips, hours = point_chips_and_hours(fields)
    large = chips >= LARGE_RUN_ACCELERATORS and hours >= LARGE_RUN_HOURS
    return LARGE_GPU_CLASS if large else accelerator


def class_points_of(class_points, accelerator, provider, power="evidence"):
    """Run field -> point value of the fields whose point value depends on the run's
    ``accelerator`` class (``gpu_usage``) or ``provider`` class (``dynamic_ratio``, ``wue``), from
    ``class_points`` (:func:`mlimpact.tables.catalogue.class_points`; empty in MLCA's power
    model); a class without its own value takes the field's point value."""
    values = {}
    for field, kind, run_class in (
        ("gpu_usage", "accelerator", accelerator),
        ("dynamic_ratio", "provider", provider),
        ("wue", "provider", provider),
    ):
        if (field, kind) in class_points:
            values[field] = class_points[field, kind].get(run_class, point(field, power))
    return values


def point_fields(record, facts, usable, hours, imputation, grid_factors, context):
    """Every run field of a record at its point value (:func:`mlimpact.runs.defaults.
    default_row`): the middle candidate's accelerator facts, ``hours`` [h] (the median
    reported time where unknown), nodes of the record's chip count (one node where unknown;
    :func:`accelerators_per_node` per node unless the record says), ``grid_factors`` (GWP
    [kg CO2eq/kWh], ADPe [kg Sb eq/kWh], PE [MJ/kWh]), the compute [FLOP] and MFU."""
    gpus = float(record.get("gpus_per_node") or accelerators_per_node(usable[0][0]))
    point_facts = usable[len(usable) // 2 if len(usable) > 1 else 0][2]
    quantity, compute, mfu = facts.quantity, facts.compute, facts.mfu
    return default_row(
        power=context.power,
        **{k: v for k, v in point_facts.items() if k != "act"},
        hours=hours if math.isfinite(hours) else context.median_hours,
        nodes=(quantity / gpus) if math.isfinite(quantity) else 1.0,
        gpus=float(gpus),
        **{f"grid_{c}": factor for c, factor in zip(IMPACT_CRITERIA, grid_factors)},
        training_compute=compute if math.isfinite(compute) else 0.0,
        mfu=mfu if math.isfinite(mfu) else point("mfu"),
        imputation=float(imputation),
    )


def known_fields(record, mfu, imputation, metered, usable):
    """Which run fields are known (not sampled), in :data:`mlimpact.runs.table.RUN_FIELDS`
    order: the fields the record states; a metered energy's scope, and its value where there
    is none (nothing for the measurement's error to act on); the MFU where reported or where
    nothing is imputed; the variant of a run on one accelerator; the production model where
    ACT's inputs are missing (MLCA only)."""
    known = np.zeros(len(RUN_FIELDS), dtype=bool)
    known[RUN_FIELDS.index("metered_energy_kwh")] = not metered
    known[RUN_FIELDS.index("metered_scope")] = True
    for field in record.get("stated", {}):
        known[RUN_FIELDS.index(field)] = True
    known[RUN_FIELDS.index("mfu")] = math.isfinite(mfu) or imputation == NO_IMPUTATION
    if len(usable) == 1:
        known[RUN_FIELDS.index("variant")] = True
    if not all(facts["act"] for _, _, facts in usable):
        known[RUN_FIELDS.index("production_model")] = True
    return known


def variants_of(usable, label):
    """``(hardware label, variants, names)`` of a run: on one accelerator, its name and no
    variants (None, None); on several, the record's ``label``, their ``(weight, facts)`` and
    their names (:meth:`mlimpact.runs.table.RunTable.from_records`)."""
    if len(usable) == 1:
        return usable[0][0].name, None, None
    variants = [(w, {k: v for k, v in f.items() if k != "act"}) for _, w, f in usable]
    return label, variants, [hardware.name for hardware, _, _ in usable]


def unpublished_dies(usable, ranges):
    """Name -> :class:`UnpublishedDie` of each accelerator of a run whose die area is not
    published, with its range [cm2] from ``ranges`` (``data/die_areas.csv``): one uncertain
    area per accelerator, whether it is the run's only one or one of its variants."""
    dies = {}
    for hardware, _, _ in usable:
        if not math.isfinite(hardware.die_area_cm2):
            die = ranges[hardware.name]
            dies[hardware.name] = UnpublishedDie(
                hardware.name, die.low_cm2, die.high_cm2, die.basis
            )
    return dies


def chip_hours_range(fixes, name, quantity, hours):
    """``((low, high), note)``: the factors on a run's training time that span its record's
    chip-hours (``quantity`` chips x ``hours`` [h]) and its primary source's
    (``data/record_fixes.csv``, ``fixes`` of :func:`mlimpact.tables.models.record_fixes`)
    where they differ by more than :data:`DISAGREEMENT`; ``(None, "")`` otherwise."""
    disagreement = fixes.get(name, {}).get("chip_hours")
    if disagreement and math.isfinite(quantity) and math.isfinite(hours):
        ratio = float(disagreement[1]) / (quantity * hours)
        if abs(ratio - 1.0) > DISAGREEMENT:
            note = (
                f"chip-hours: the primary source's differ by {100 * (ratio - 1):+.0f} "
                "% (data/record_fixes.csv); the run spans both"
            )
            return (min(1.0, ratio), max(1.0, ratio)), note
    return None, ""


def build_run(record, context):
    """The :class:`RunRow` of one record, through every step of the dataset's rules;
    :class:`Excluded` (with its reason) if the record cannot enter the run."""
    facts = admitted_facts(record, context.impute, context.speculative)
    imputation, hours, imputed = chips_and_hours(facts, context.median_hours)
    candidates, label, imputed_hardware = hardware_candidates(record, facts.year, context.usage)
    imputed += imputed_hardware
    usable, notes = usable_hardware(
        record,
        candidates,
        imputation != NO_IMPUTATION,
        context.ranges,
        context.power,
        context.facts,
    )
    usable, imputation, rule_notes = apply_hardware_rule(
        context.rules.hardware_rule, record, usable, facts.compute, imputation
    )
    notes.extend(rule_notes)
    if imputation != NO_IMPUTATION and not math.isfinite(facts.mfu):
        imputed += ("MFU (uncertain)",)
    provider = locations.provider_class(
        facts.name, _organizations(record), facts.year, record.get("provider", "")
    )
    where = run_grid(
        *location_choices(record, facts, context.location, context.rules.location_rule),
        facts.year,
    )
    notes.extend(where.notes)
    if not where.country:
        imputed += ("country (world average, wide uncertainty)",)
    fields = point_fields(record, facts, usable, hours, imputation, where.factors, context)
    fields["hydro_share"] = where.hydro_share
    accelerator = workload_class(accelerator_class(usable[0][0]), fields)
    fields.update(class_points_of(context.class_points, accelerator, provider, context.power))
    metered = _metered(record)
    fields.update(metered)
    fields.update(record.get("points", {}))
    fields.update(record.get("stated", {}))
    hardware_label, variants, variant_names = variants_of(usable, label)
    record_range, range_note = chip_hours_range(context.fixes, facts.name, facts.quantity, hours)
    if range_note:
        notes.append(range_note)
    if not all(f["act"] for _, _, f in usable):
        notes.append("production model MLCA only (ACT's inputs missing)")
    if facts.confidence == "Speculative":
        notes.append("low-confidence record (Epoch AI: Speculative)")
    return RunRow(
        name=facts.name,
        fields=fields,
        known=known_fields(record, facts.mfu, imputation, metered, usable),
        label=hardware_label,
        country=where.country or UNKNOWN_COUNTRY,
        date=np.datetime64(record["publication_date"]),
        classes=(accelerator, provider),
        grid=where,
        record_range=record_range,
        fixed=dict(record["fixed"]) if record.get("fixed") else None,
        unpublished=unpublished_dies(usable, context.ranges),
        variants=variants,
        variant_names=variant_names,
        record=ModelRecord(
            facts.name,
            facts.year,
            "imputed" if imputed else "complete",
            tuple(imputed),
            hardware=record["hardware"],
            notes=tuple(notes),
            confidence=facts.confidence,
        ),
    )


def excluded_record(record, reason):
    """The :class:`ModelRecord` of a record that does not enter the run, and why."""
    return ModelRecord(
        record["model"],
        int(record["year"]),
        "excluded",
        reason=reason,
        hardware=record["hardware"],
        confidence=record.get("confidence", ""),
    )


def notable_runs(rows, records, power):
    """The :class:`NotableRuns` of the runs ``rows`` (:class:`RunRow`, in order) with the
    ``records`` of every model, in the power model ``power``."""
    dies, fallbacks = {}, {}
    for row in rows:
        dies.update(row.unpublished)
        fallbacks.update({row.grid.fallback: None} if row.grid.fallback else {})
    return NotableRuns(
        RunTable.from_records(
            [(row.name, row.fields) for row in rows],
            {row.name: row.variants for row in rows if row.variants is not None},
            {row.name: row.variant_names for row in rows if row.variants is not None},
        ),
        np.array([row.known for row in rows]),
        [row.label for row in rows],
        [row.country for row in rows],
        records,
        tuple(dies.values()),
        np.array([row.date for row in rows]),
        {row.name: row.grid.spread for row in rows if row.grid.spread is not None},
        {row.name: row.record_range for row in rows if row.record_range is not None},
        tuple(row.grid.basis for row in rows),
        power,
        # classes select distributions of the evidence power model only
        {
            "accelerator": [row.classes[0] for row in rows],
            "provider": [row.classes[1] for row in rows],
        }
        if power == "evidence"
        else None,
        tuple(fallbacks),
        {row.name: row.fixed for row in rows if row.fixed is not None},
    )


def build_context(rows, impute, rules, location, power, speculative):
    """The :class:`BuildContext` of the records ``rows`` of one :func:`build_runs` call (whose
    options :class:`DatasetOptions` has checked)."""
    context = BuildContext(
        impute=impute,
        speculative=speculative,
        location=location,
        power=power,
        rules=RunRules() if rules is None else rules,
        ranges=die_ranges(),
        median_hours=median_reported_hours(rows),
        usage=hardware_usage(rows),
        fixes=record_fixes(),
        class_points=catalogue.class_points(power) if power == "evidence" else {},
    )
    return context


@dataclass(frozen=True)
class DatasetOptions:
    """How the notable models become runs, checked once when made: the ``window`` of
    publication years (inclusive), whether incomplete records are imputed, the ``records``
    to use instead of ``data/models.csv`` (None: the embedded snapshot), the ``location``
    rule, the ``power`` model and whether Epoch AI's ``Speculative`` records enter
    (:func:`build_runs` says what each does). Every command and study function that builds
    the dataset takes one of these instead of its six fields one by one."""

    window: tuple = WINDOW
    impute: bool = True
    records: list | None = None
    location: str = "evidence"
    power: str = "evidence"
    speculative: bool = True

    def __post_init__(self):
        first, last = self.window
        if first > last:
            raise MlimpactError(f"window: first year {first} after last year {last}")
        if self.power not in catalogue.POWER_MODELS:
            raise MlimpactError(
                f"power model must be one of {', '.join(catalogue.POWER_MODELS)} "
                f"(got {self.power!r})"
            )
        if self.location not in LOCATION_RULES:
            raise MlimpactError(
                f"location must be one of {', '.join(LOCATION_RULES)} (got {self.location!r})"
            )

    def runs(self, rules=None):
        """The runs of these options (:func:`build_runs`), with a scenario's ``rules``."""
        return build_runs(
            self.window,
            self.impute,
            self.records,
            self.location,
            self.power,
            self.speculative,
            rules,
        )


def build_runs(
    window=WINDOW,
    impute=True,
    records=None,
    location="evidence",
    power="evidence",
    speculative=True,
    rules=None,
):
    """The notable models of ``window`` (publication years, inclusive) as runs.

    Parameters
    ----------
    window : (int, int)
    impute : bool
        With False, only complete records enter (hardware, chip count and training time all
        reported), as the study likely did.
    records : sequence of dict, optional
        Records with the columns of ``data/models.csv`` (all strings) to use instead of it;
        they go through the same rules. A record of a user's run (a setup file, an inventory
        row, a codecarbon row: :mod:`mlimpact.runs.setupfile`) may also carry ``region`` and
        ``provider`` (its location, :func:`mlimpact.runs.locations.candidates`),
        ``energy_kwh`` and ``energy_scope`` (a metered energy), ``gpus_per_node``,
        ``custom_hardware`` (a :class:`~mlimpact.tables.hardware.Hardware` built from the
        setup's values), ``stated`` (run field -> value: known, not sampled), ``points`` (run
        field -> point value that stays uncertain) and ``fixed`` (see
        :attr:`NotableRuns.fixed`).
    location : {"evidence", "organisation"}
        ``evidence``: where each run trained, from the best evidence
        (:mod:`mlimpact.runs.locations`), as an uncertain choice among grid regions;
        ``organisation``: the organisation's country, as MLCA and the study did.
    speculative : bool
        With False, records Epoch AI marks ``Speculative`` are excluded.
    power : {"evidence", "mlca"}
        ``evidence``: the point values of the accelerators' draw and of the facility's
        overhead follow the run's accelerator class and its provider's class
        (``data/parameters.toml``); ``mlca``: MLCA's 0.75 x TDP and dynamic ratio 1.835.
    rules : RunRules, optional
        A scenario's hooks (:class:`RunRules`, filled in by :mod:`mlimpact.study.scenarios`);
        by default none: the dataset's own rules.

    Returns
    -------
    NotableRuns
    """
    # the options' checks (window, power model, location rule): DatasetOptions's, the one place
    DatasetOptions(window, impute, records, location, power, speculative)
    first, last = window
    rows = [
        row
        for row in (load_models() if records is None else records)
        if first <= int(row["year"]) <= last
    ]
    context = build_context(rows, impute, rules, location, power, speculative)
    runs, models = [], []
    for record in rows:
        try:
            run = build_run(record, context)
        except Excluded as excluded:
            models.append(excluded_record(record, excluded.reason))
            continue
        runs.append(run)
        models.append(run.record)
    if not runs:
        raise MlimpactError(f"no model of {first}-{last} can enter the run")
    return notable_runs(runs, models, power)
