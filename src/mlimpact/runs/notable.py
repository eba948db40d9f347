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
"""

import dataclasses
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from mlimpact.errors import MlimpactError
from mlimpact.runs import locations
from mlimpact.runs.defaults import default_row, point
from mlimpact.runs.table import (
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
        names = [self.runs.names[i] for i in indices]
        table = RunTable(
            tuple(names),
            self.runs.values[indices],
            self.runs.variant_values[indices],
            self.runs.variant_cdf[indices],
            tuple(self.runs.variant_labels[i] for i in indices),
        )
        keep = set(names)
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
        facts.update(
            {
                k: v
                for k, v in hardware_act_fields(hardware).items()
                if k
                in (
                    "epa",
                    "gpa_95",
                    "gpa_99",
                    "defect_density_low",
                    "defect_density_high",
                    "fab_intensity",
                    "memory_gwp_low",
                    "memory_gwp_high",
                )
            }
        )
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


def _grid(country, year):
    """GWP, ADPe, PE per kWh of a country's grid in a year, and notes on their sources: the
    OWID/Ember intensity (:func:`mlimpact.tables.grid.intensity`; the world's where the country
    has none) and Boavizta's ADPe and PE factors (the world's where the country has none)."""
    factors = grid.electricity_factors()
    notes = []
    code = country if country else grid.WORLD
    if not grid.has_intensity(code):
        code = grid.WORLD
        notes.append(f"no grid intensity for {country}: world average")
    intensity, _ = grid.intensity(code, year)
    boavizta = factors.get(country) or factors[grid.WORLD]
    if country not in factors:
        notes.append("ADPe and PE factors of the world (no Boavizta factor for the country)")
    return (intensity, boavizta.adpe, boavizta.pe), notes


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


def build_runs(
    window=WINDOW,
    impute=True,
    hardware_rule=None,
    location_rule=None,
    records=None,
    location="evidence",
    power="evidence",
    speculative=True,
):
    """The notable models of ``window`` (publication years, inclusive) as runs.

    Parameters
    ----------
    window : (int, int)
    impute : bool
        With False, only complete records enter (hardware, chip count and training time all
        reported), as the study likely did.
    hardware_rule : callable, optional
        ``hardware_rule(record, candidates)`` for every record with a known training compute:
        ``record`` its row of ``data/models.csv``, ``candidates`` its usable accelerators as
        ``(Hardware, weight, facts)`` (facts of :func:`hardware_facts`). It returns None to keep
        them, or ``(candidates, note)`` to replace them; the run then keeps its chip count and
        its training time is recomputed from its compute. Scenarios use it
        (:mod:`mlimpact.study.scenarios`).
    location_rule : callable, optional
        ``location_rule(country, year)`` -> the code of the grid a run takes, from the
        record's country code ("" if unknown) and the grid year (the year before
        publication). By default the record's country.
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

    Returns
    -------
    NotableRuns
    """
    first, last = window
    if first > last:
        raise MlimpactError(f"window: first year {first} after last year {last}")
    rows = [
        row
        for row in (load_models() if records is None else records)
        if first <= int(row["year"]) <= last
    ]
    ranges = die_ranges()
    reported_times = [float(r["training_time_hours"]) for r in rows if r["training_time_hours"]]
    median_hours = statistics.median(reported_times) if reported_times else math.nan
    usage = defaultdict(Counter)
    for row in rows:
        if row["hardware"] and row.get("custom_hardware") is None:
            names = [n.strip() for n in row["hardware"].split(",")]
            for hardware in _resolve(names):
                usage[int(row["year"]), row["domain"]][hardware.name] += 1
                usage[int(row["year"]), ""][hardware.name] += 1

    records, run_records, variants, known_rows, labels, countries, dates = (
        [],
        [],
        {},
        [],
        [],
        [],
        [],
    )
    variant_labels = {}
    unpublished = {}
    location_choices, location_bases, record_ranges = {}, [], {}
    fixes = record_fixes()
    accelerator_classes, provider_classes = [], []
    fallbacks, fixed = [], {}
    class_points = catalogue.class_points(power) if power == "evidence" else {}
    if power not in catalogue.POWER_MODELS:
        raise MlimpactError(
            f"power model must be one of {', '.join(catalogue.POWER_MODELS)} (got {power!r})"
        )
    by_evidence = location == "evidence"
    if location not in LOCATION_RULES:
        raise MlimpactError(
            f"location must be one of {', '.join(LOCATION_RULES)} (got {location!r})"
        )
    table = hardware_table()
    for row in rows:
        name, year = row["model"], int(row["year"])
        imputed, notes = [], []

        confidence = row.get("confidence", "")

        def exclude(reason, name=name, year=year, row=row, confidence=confidence):
            records.append(
                ModelRecord(
                    name,
                    year,
                    "excluded",
                    reason=reason,
                    hardware=row["hardware"],
                    confidence=confidence,
                )
            )

        if not speculative and confidence == "Speculative":
            exclude("low-confidence record (Epoch AI: Speculative)")
            continue

        quantity, hours = _number(row["hardware_quantity"]), _number(row["training_time_hours"])
        compute, mfu = _number(row["training_compute_flop"]), _number(row["mfu"])
        if not impute and not (
            row["hardware"] and math.isfinite(quantity) and math.isfinite(hours)
        ):
            exclude("incomplete record (imputation off)")
            continue
        # chip count and training time
        imputation = NO_IMPUTATION
        if math.isfinite(quantity) and math.isfinite(hours):
            pass
        elif not math.isfinite(compute):
            missing = [
                f
                for f, v in (("chip count", quantity), ("training time", hours))
                if not math.isfinite(v)
            ]
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
            imputed.append(
                "chip count and training time (from compute; hours at the median reported time)"
            )
        # hardware candidates
        if row.get("custom_hardware") is not None:
            candidates, label = [(row["custom_hardware"], 1.0)], row["hardware"]
        elif row["hardware"]:
            candidates = [
                (h, 1.0) for h in _resolve([n.strip() for n in row["hardware"].split(",")])
            ]
            label = row["hardware"]
        else:
            counts = usage.get((year, row["domain"])) or usage.get((year, ""))
            if not counts:
                exclude("hardware not reported, and none reported in its year")
                continue
            candidates = [(table.find(n), float(c)) for n, c in sorted(counts.items())]
            candidates = [(h, c) for h, c in candidates if fits(h, row, year)]
            if not candidates:
                exclude(
                    "hardware not reported, and none of its year fits it (released "
                    "before publication, usable by the organisation)"
                )
                continue
            label = f"imputed {year} {row['domain'] or 'any domain'}"
            imputed.append("hardware (from the models of its year and domain)")
        usable, problems = [], []
        for hardware, weight in candidates:
            facts, problem = hardware_facts(
                hardware, row["numerical_format"], imputation != NO_IMPUTATION, ranges, power
            )
            if facts:
                usable.append((hardware, weight, facts))
            else:
                problems.append(problem)
        if row.get("act_fields"):
            # the record's own fab inputs make ACT's fields (a setup's fab intensity)
            for _, _, facts in usable:
                facts.update(row["act_fields"], act=True)
        if not usable:
            exclude(f"no usable hardware ({'; '.join(problems)})")
            continue
        if problems:
            notes.append("candidates dropped: " + "; ".join(problems))
        if imputation != NO_IMPUTATION:
            for hardware, _, _ in usable:
                column = peak_rate(hardware, row["numerical_format"])[1]
                why = (
                    "integer-only chip"
                    if column in INTEGER_ONLY
                    else "TPU FP32 work in bfloat16 passes"
                    if column in TPU_FP32 and row["numerical_format"] in ("FP32", "TF32")
                    else ""
                )
                if why:
                    notes.append(f"peak rate of {hardware.name}: {column} ({why})")
        replaced = hardware_rule(row, usable) if hardware_rule and math.isfinite(compute) else None
        if replaced is not None:
            usable, note = replaced
            if imputation == NO_IMPUTATION:
                imputation = IMPUTE_HOURS
            notes.append(note)
        # MFU and country
        if imputation != NO_IMPUTATION and not math.isfinite(mfu):
            imputed.append("MFU (uncertain)")
        country = row["country"] or ""
        organizations = [o.strip() for o in row.get("organization", "").split(",")]
        provider_class = locations.provider_class(
            name, organizations, year, row.get("provider", "")
        )
        if location_rule is not None:
            country = location_rule(country, year - 1)
            choices, basis = ((country, 1.0),), "scenario"
        elif by_evidence:
            choices, basis = locations.candidates(
                name, organizations, country, year, row.get("region", ""), row.get("provider", "")
            )
        else:
            choices, basis = (((country, 1.0),) if country else ()), "organisation"
        if choices:
            intensities = np.array([grid.region_intensity(r, year - 1) for r, _ in choices])
            weights = np.array([w for _, w in choices])
            located = {grid.region_country(r) for r, _ in choices}
            if len(located) == 1:
                country = located.pop()
        grid_factors, grid_notes = _grid(country, year - 1)
        notes.extend(grid_notes)
        if (
            country not in grid.electricity_factors()
            and (country or UNKNOWN_COUNTRY) not in fallbacks
        ):
            fallbacks.append(country or UNKNOWN_COUNTRY)
        if choices:
            point_gwp = float(weights @ intensities)
            grid_factors = (point_gwp, *grid_factors[1:])
            if len(choices) > 1:
                location_choices[name] = (tuple(intensities / point_gwp), tuple(weights))
            notes.append(
                f"location ({basis}): "
                + ", ".join(f"{r} {100 * w:.0f} %" for r, w in choices[:6])
                + (f" and {len(choices) - 6} more" if len(choices) > 6 else "")
            )
        location_bases.append(basis if choices else "unknown")
        if not country:
            imputed.append("country (world average, wide uncertainty)")
        gpus = float(row.get("gpus_per_node") or accelerators_per_node(usable[0][0]))
        point_facts = usable[len(usable) // 2 if len(usable) > 1 else 0][2]
        act_everywhere = all(facts["act"] for _, _, facts in usable)
        fields = default_row(
            power=power,
            **{k: v for k, v in point_facts.items() if k != "act"},
            hours=hours if math.isfinite(hours) else median_hours,
            nodes=(quantity / gpus) if math.isfinite(quantity) else 1.0,
            gpus=float(gpus),
            grid_gwp=grid_factors[0],
            grid_adpe=grid_factors[1],
            grid_pe=grid_factors[2],
            training_compute=compute if math.isfinite(compute) else 0.0,
            mfu=mfu if math.isfinite(mfu) else point("mfu"),
            imputation=float(imputation),
        )
        kind = usable[0][0].type.upper()
        accelerator_class = "TPU" if kind == "TPU" else "GPU" if "GPU" in kind else "other"
        for field, kind_of, run_class in (
            ("gpu_usage", "accelerator", accelerator_class),
            ("dynamic_ratio", "provider", provider_class),
        ):
            if (field, kind_of) in class_points:
                fields[field] = class_points[field, kind_of].get(run_class, point(field, power))
        accelerator_classes.append(accelerator_class)
        provider_classes.append(provider_class)
        known = np.zeros(len(RUN_FIELDS), dtype=bool)
        metered = _metered(row)
        fields.update(metered)
        # a run without a measurement has nothing for the measurement's error to act on
        known[RUN_FIELDS.index("metered_energy_kwh")] = not metered
        known[RUN_FIELDS.index("metered_scope")] = True
        fields.update(row.get("points", {}))
        for field, value in row.get("stated", {}).items():
            fields[field] = value
            known[RUN_FIELDS.index(field)] = True
        if row.get("fixed"):
            fixed[name] = dict(row["fixed"])
        # MFU is known when reported, and irrelevant when nothing is imputed.
        known[RUN_FIELDS.index("mfu")] = math.isfinite(mfu) or imputation == NO_IMPUTATION
        # Unpublished die areas: one uncertain area per accelerator, whether it is the run's
        # only accelerator or one of its variants (parameters of hardware scope act on a
        # run's variants by their names).
        for hardware, _, _ in usable:
            if not math.isfinite(hardware.die_area_cm2):
                die = ranges[hardware.name]
                unpublished[hardware.name] = UnpublishedDie(
                    hardware.name, die.low_cm2, die.high_cm2, die.basis
                )
        if len(usable) == 1:
            known[RUN_FIELDS.index("variant")] = True
            hardware_label = usable[0][0].name
        else:
            hardware_label = label
            variants[name] = [(w, {k: v for k, v in f.items() if k != "act"}) for _, w, f in usable]
            variant_labels[name] = [hardware.name for hardware, _, _ in usable]
        disagreement = fixes.get(name, {}).get("chip_hours")
        if disagreement and math.isfinite(quantity) and math.isfinite(hours):
            ratio = float(disagreement[1]) / (quantity * hours)
            if abs(ratio - 1.0) > DISAGREEMENT:
                record_ranges[name] = (min(1.0, ratio), max(1.0, ratio))
                notes.append(
                    f"chip-hours: the primary source's differ by {100 * (ratio - 1):+.0f} "
                    "% (data/record_fixes.csv); the run spans both"
                )
        if not act_everywhere:
            known[RUN_FIELDS.index("production_model")] = True
            notes.append("production model MLCA only (ACT's inputs missing)")
        run_records.append((name, fields))
        known_rows.append(known)
        labels.append(hardware_label)
        countries.append(country or UNKNOWN_COUNTRY)
        dates.append(np.datetime64(row["publication_date"]))
        if confidence == "Speculative":
            notes.append("low-confidence record (Epoch AI: Speculative)")
        records.append(
            ModelRecord(
                name,
                year,
                "imputed" if imputed else "complete",
                tuple(imputed),
                hardware=row["hardware"],
                notes=tuple(notes),
                confidence=confidence,
            )
        )
    if not run_records:
        raise MlimpactError(f"no model of {first}-{last} can enter the run")
    runs = RunTable.from_records(run_records, variants, variant_labels)
    return NotableRuns(
        runs,
        np.array(known_rows),
        labels,
        countries,
        records,
        tuple(unpublished.values()),
        np.array(dates),
        location_choices,
        record_ranges,
        tuple(location_bases),
        power,
        # classes select distributions of the evidence power model only
        {"accelerator": accelerator_classes, "provider": provider_classes}
        if power == "evidence"
        else None,
        tuple(fallbacks),
        fixed,
    )
