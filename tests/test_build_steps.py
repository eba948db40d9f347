"""The steps of the dataset's builder (:mod:`mlimpact.runs.notable`), each on its own, on small
hand-built records; and the scenario hooks (:class:`~mlimpact.runs.notable.RunRules`)."""

import math

import numpy as np
import pytest

from mlimpact.engine.model import training_impacts
from mlimpact.runs import notable
from mlimpact.runs.notable import Excluded, RunRules
from mlimpact.runs.table import IMPUTE_CHIPS, IMPUTE_HOURS, NO_IMPUTATION, RUN_FIELDS
from mlimpact.study import scenarios
from mlimpact.tables import catalogue, grid
from mlimpact.tables.hardware import die_ranges, hardware_table

A100 = "NVIDIA A100 SXM4 40 GB"
#: Peak rate of the A100 SXM4 at 16 bits on its tensor cores [FLOP/s] (``data/hardware.csv``).
A100_PEAK = 312e12


def record(**fields):
    """A record with the columns of ``data/models.csv``: 16 A100s for 100 h in France, 2022."""
    row = {
        "model": "m",
        "year": "2022",
        "publication_date": "2022-06-01",
        "organization": "Some Lab",
        "country": "FRA",
        "domain": "Language",
        "hardware": A100,
        "hardware_quantity": "16",
        "training_time_hours": "100",
        "training_compute_flop": "",
        "mfu": "",
        "numerical_format": "",
        "confidence": "Confident",
    }
    row.update(fields)
    return row


def hardware(name):
    return hardware_table().find(name, field="hardware")


def context(**options):
    """The :class:`~mlimpact.runs.notable.BuildContext` of a few records, MLCA's power model."""
    rows = options.pop("rows", [record()])
    settings = dict(
        impute=True, rules=None, location="organisation", power="mlca", speculative=True
    )
    settings.update(options)
    return notable.build_context(rows, **settings)


# facts of a record, admission


def test_record_facts_are_numbers_and_nan_where_blank():
    facts = notable.record_facts(record(training_compute_flop="1e22", mfu=""))
    assert (facts.name, facts.year, facts.quantity, facts.hours) == ("m", 2022, 16.0, 100.0)
    assert facts.compute == 1e22
    assert math.isnan(facts.mfu)
    assert facts.reports_chip_hours
    assert not notable.record_facts(record(hardware_quantity="")).reports_chip_hours


def test_speculative_records_are_excluded_only_on_request():
    speculative = record(confidence="Speculative")
    with pytest.raises(Excluded) as excluded:
        notable.admitted_facts(speculative, speculative=False)
    assert excluded.value.reason == "low-confidence record (Epoch AI: Speculative)"
    assert notable.admitted_facts(speculative).confidence == "Speculative"


def test_incomplete_records_are_excluded_without_imputation():
    for incomplete in (record(hardware=""), record(training_time_hours="")):
        with pytest.raises(Excluded, match=r"^incomplete record \(imputation off\)$"):
            notable.admitted_facts(incomplete, impute=False)
        assert notable.admitted_facts(incomplete, impute=True).name == "m"
    assert notable.admitted_facts(record(), impute=False).quantity == 16.0


# chips and hours


def test_chips_and_hours_of_a_complete_record_are_its_own():
    facts = notable.record_facts(record())
    assert notable.chips_and_hours(facts, 7.0) == (NO_IMPUTATION, 100.0, ())


def test_missing_hours_or_chips_come_from_compute():
    no_hours = notable.record_facts(record(training_time_hours="", training_compute_flop="1e22"))
    imputation, hours, imputed = notable.chips_and_hours(no_hours, 7.0)
    assert imputation == IMPUTE_HOURS and math.isnan(hours)
    assert imputed == ("training time (from compute)",)
    no_chips = notable.record_facts(record(hardware_quantity="", training_compute_flop="1e22"))
    assert notable.chips_and_hours(no_chips, 7.0) == (
        IMPUTE_CHIPS,
        100.0,
        ("chip count (from compute)",),
    )


def test_neither_chips_nor_hours_takes_the_median_time():
    facts = notable.record_facts(
        record(hardware_quantity="", training_time_hours="", training_compute_flop="1e22")
    )
    imputation, hours, imputed = notable.chips_and_hours(facts, 7.0)
    assert (imputation, hours) == (IMPUTE_CHIPS, 7.0)
    assert imputed[0].startswith("chip count and training time (from compute")


def test_missing_figures_without_compute_exclude_the_record():
    with pytest.raises(Excluded) as excluded:
        notable.chips_and_hours(notable.record_facts(record(training_time_hours="")), 7.0)
    assert excluded.value.reason == "no training time and no training compute"
    both = record(hardware_quantity="", training_time_hours="")
    with pytest.raises(Excluded) as excluded:
        notable.chips_and_hours(notable.record_facts(both), 7.0)
    assert excluded.value.reason == "no chip count or training time and no training compute"


def test_median_reported_hours():
    rows = [record(training_time_hours=h) for h in ("10", "", "30", "20")]
    assert notable.median_reported_hours(rows) == 20.0
    assert math.isnan(notable.median_reported_hours([record(training_time_hours="")]))


def test_imputed_hours_follow_compute_in_the_engine():
    # chips * hours = C / (peak * MFU * 3600): a run whose hours are imputed has the energy of
    # the same run with those hours reported
    compute, mfu = 1e22, 0.4
    hours = compute / (16 * A100_PEAK * mfu * 3600)
    rows = [
        record(model="imputed", training_time_hours="", training_compute_flop="1e22", mfu="0.4"),
        record(model="reported", training_time_hours=repr(hours), training_compute_flop="1e22"),
    ]
    runs = notable.build_runs((2022, 2022), records=rows, location="organisation", power="mlca")
    imputed = dict(zip(RUN_FIELDS, runs.runs.values[0]))
    assert imputed["imputation"] == IMPUTE_HOURS
    assert imputed["peak_flops"] == A100_PEAK
    assert runs.records[0].imputed == ("training time (from compute)",)
    energy = training_impacts(runs.runs).energy.values
    assert energy[0] == pytest.approx(energy[1], rel=1e-12)


# hardware candidates


def test_reported_hardware_is_its_table_rows():
    candidates, label, imputed = notable.hardware_candidates(record(), 2022, {})
    assert [(h.name, w) for h, w in candidates] == [(A100, 1.0)]
    assert (label, imputed) == (A100, ())
    generic, _, _ = notable.hardware_candidates(record(hardware="NVIDIA A100"), 2022, {})
    assert [h.name for h, _ in generic] == list(hardware("NVIDIA A100").variants)


def test_custom_hardware_is_the_only_candidate():
    custom = hardware(A100)
    candidates, label, _ = notable.hardware_candidates(
        record(hardware="my card", custom_hardware=custom), 2022, {}
    )
    assert candidates == [(custom, 1.0)] and label == "my card"


def test_unreported_hardware_is_a_choice_among_the_hardware_of_its_year():
    usage = notable.hardware_usage(
        [record(), record(), record(hardware="Google TPU v4"), record(domain="Vision")]
    )
    assert usage[2022, "Language"] == {A100: 2, "Google TPU v4": 1}
    assert usage[2022, ""] == {A100: 3, "Google TPU v4": 1}
    candidates, label, imputed = notable.hardware_candidates(record(hardware=""), 2022, usage)
    # a TPU only for an organisation on Google's cloud
    assert [(h.name, w) for h, w in candidates] == [(A100, 2.0)]
    assert label == "imputed 2022 Language"
    assert imputed == ("hardware (from the models of its year and domain)",)


def test_unreported_hardware_without_a_fitting_one_is_excluded():
    with pytest.raises(Excluded) as excluded:
        notable.hardware_candidates(record(hardware=""), 2022, {})
    assert excluded.value.reason == "hardware not reported, and none reported in its year"
    # an H100 (released 2022-09-20) cannot stand for a model published before it
    usage = notable.hardware_usage([record(hardware="NVIDIA H100 SXM5 80GB")])
    early = record(hardware="", publication_date="2022-06-01")
    with pytest.raises(Excluded, match="none of its year fits it"):
        notable.hardware_candidates(early, 2022, usage)


# usable hardware and peak rates


def test_peak_rate_reasons():
    assert notable.peak_rate_reason(hardware("Google TPU v4"), "FP32") == (
        "TPU FP32 work in bfloat16 passes",
        "tensor_fp16_bf16",
    )
    assert notable.peak_rate_reason(hardware("Google TPU v1"), "FP16") == (
        "integer-only chip",
        "int8",
    )
    assert notable.peak_rate_reason(hardware(A100), "FP16") == ("", "tensor_fp16_bf16")


def test_usable_hardware_drops_candidates_without_facts():
    candidates = [(hardware(A100), 1.0), (hardware("Cerebras CS-2"), 1.0)]
    usable, notes = notable.usable_hardware(record(), candidates, False, die_ranges(), "mlca")
    assert [h.name for h, _, _ in usable] == [A100]
    assert usable[0][2]["gpu_tdp_w"] == 400.0
    assert notes == ["candidates dropped: Cerebras CS-2: die area not published and no range"]
    with pytest.raises(Excluded, match=r"^no usable hardware \(Cerebras CS-2: die area"):
        notable.usable_hardware(record(), candidates[1:], False, die_ranges(), "mlca")


def test_usable_hardware_made_once_per_build_gives_each_record_its_own_facts():
    # the facts of one build's accelerators are made once; a record's own ACT inputs go into
    # its copy alone, and a record after it gets the accelerator's facts unchanged
    made, ranges = {}, die_ranges()
    candidates = [(hardware(A100), 1.0), (hardware("Cerebras CS-2"), 1.0)]
    alone, alone_notes = notable.usable_hardware(record(), candidates, False, ranges, "mlca")
    own = record(act_fields={"epa": 123.0})
    first, _ = notable.usable_hardware(own, candidates, False, ranges, "mlca", made)
    second, notes = notable.usable_hardware(record(), candidates, False, ranges, "mlca", made)
    assert len(made) == 2  # the A100's facts and the Cerebras' problem, each once
    assert first[0][2]["epa"] == 123.0 and first[0][2]["act"] is True
    assert second[0][2] == alone[0][2] and second[0][2] is not first[0][2]
    assert notes == alone_notes


def test_usable_hardware_notes_peak_rates_only_when_imputing():
    tpu = [(hardware("Google TPU v4"), 1.0)]
    fp32 = record(numerical_format="FP32")
    _, notes = notable.usable_hardware(fp32, tpu, True, die_ranges(), "mlca")
    assert notes == [
        "peak rate of Google TPU v4: tensor_fp16_bf16 (TPU FP32 work in bfloat16 passes)"
    ]
    assert notable.usable_hardware(fp32, tpu, False, die_ranges(), "mlca")[1] == []


def test_hardware_rule_acts_only_with_a_known_compute():
    usable = [(hardware(A100), 1.0, {"act": True})]
    other = [(hardware("Google TPU v4"), 1.0, {"act": True})]
    calls = []

    def rule(row, candidates):
        calls.append(row["model"])
        return other, "scenario: on Google TPU v4"

    assert notable.apply_hardware_rule(rule, record(), usable, math.nan, NO_IMPUTATION) == (
        usable,
        NO_IMPUTATION,
        (),
    )
    assert calls == []
    assert notable.apply_hardware_rule(rule, record(), usable, 1e22, NO_IMPUTATION) == (
        other,
        IMPUTE_HOURS,
        ("scenario: on Google TPU v4",),
    )
    # chips imputed stay imputed; a rule that keeps the candidates changes nothing
    assert notable.apply_hardware_rule(rule, record(), usable, 1e22, IMPUTE_CHIPS)[1] == (
        IMPUTE_CHIPS
    )
    keep = notable.apply_hardware_rule(lambda r, c: None, record(), usable, 1e22, NO_IMPUTATION)
    assert keep == (usable, NO_IMPUTATION, ())
    assert notable.apply_hardware_rule(None, record(), usable, 1e22, IMPUTE_CHIPS)[1] == (
        IMPUTE_CHIPS
    )


# location and grid


def test_location_choices_by_rule():
    facts = notable.record_facts(record())
    assert notable.location_choices(record(), facts, "organisation") == (
        "FRA",
        (("FRA", 1.0),),
        "organisation",
    )
    assert notable.location_choices(record(country=""), facts, "organisation") == (
        "",
        (),
        "organisation",
    )
    seen = []

    def rule(country, year):
        seen.append((country, year))
        return "SWE"

    assert notable.location_choices(record(), facts, "evidence", rule) == (
        "SWE",
        (("SWE", 1.0),),
        "scenario",
    )
    assert seen == [("FRA", 2021)]  # the grid year is the year before publication
    _, choices, basis = notable.location_choices(record(), facts, "evidence")
    assert basis in ("published", "provider", "country", "unknown")
    assert sum(w for _, w in choices) == pytest.approx(1.0)


def test_run_grid_of_one_country():
    where = notable.run_grid("FRA", (("FRA", 1.0),), "organisation", 2022)
    assert where.country == "FRA" and where.basis == "organisation"
    assert where.factors[0] == grid.region_intensity("FRA", 2021)
    assert where.factors[1:] == (
        grid.electricity_factors()["FRA"].adpe,
        grid.electricity_factors()["FRA"].pe,
        grid.water_of("FRA")[0].water,
    )
    assert where.hydro_share == grid.water_of("FRA")[0].hydro_share
    assert where.spread is None and where.fallback == ""
    assert where.notes == ("location (organisation): FRA 100 %",)


def test_run_grid_of_several_regions_is_their_weighted_mean():
    where = notable.run_grid("FRA", (("FRA", 0.25), ("DEU", 0.75)), "provider", 2022)
    fra, deu = grid.region_intensity("FRA", 2021), grid.region_intensity("DEU", 2021)
    mean = 0.25 * fra + 0.75 * deu
    assert where.factors[0] == pytest.approx(mean)
    assert where.country == "FRA"  # the regions lie in two countries: the record's stays
    ratios, weights = where.spread
    assert ratios == pytest.approx((fra / mean, deu / mean)) and weights == (0.25, 0.75)


def test_run_grid_of_an_unknown_country_is_the_worlds():
    where = notable.run_grid("", (), "organisation", 2022)
    assert where.basis == "unknown" and where.country == ""
    assert where.fallback == notable.UNKNOWN_COUNTRY
    assert where.factors[0] == grid.intensity(grid.WORLD, 2021)[0]
    assert where.notes == ("ADPe and PE factors of the world (no Boavizta factor for the country)",)


# classes, fields, variants


def test_accelerator_class():
    assert notable.accelerator_class(hardware("Google TPU v4")) == "TPU"
    assert notable.accelerator_class(hardware(A100)) == "GPU"
    assert notable.accelerator_class(hardware("Biren BR100")) == "GPU"  # a GPGPU
    assert notable.accelerator_class(hardware("Cerebras CS-2")) == "other"
    assert notable.accelerator_class(hardware("Cambricon Siyuan 690")) == "other"  # no type


def test_class_points():
    points = catalogue.class_points("evidence")
    assert notable.class_points_of(points, "TPU", "hyperscale") == {
        "gpu_usage": points["gpu_usage", "accelerator"]["TPU"],
        "dynamic_ratio": points["dynamic_ratio", "provider"]["hyperscale"],
        "wue": points["wue", "provider"]["hyperscale"],
    }
    # a class without its own value takes the field's point value
    others = notable.class_points_of(points, "other", "unknown")
    assert others == {
        "gpu_usage": notable.point("gpu_usage", "evidence"),
        "dynamic_ratio": notable.point("dynamic_ratio", "evidence"),
        "wue": notable.point("wue", "evidence"),
    }
    assert notable.class_points_of({}, "TPU", "hyperscale", "mlca") == {}


def test_point_fields_of_a_record():
    facts = notable.record_facts(record(hardware_quantity="", mfu="0.3"))
    usable = [(hardware(A100), 1.0, notable.hardware_facts(hardware(A100), "", True, {})[0])]
    fields = notable.point_fields(
        record(), facts, usable, math.nan, IMPUTE_CHIPS, (0.1, 2e-8, 11.0), context()
    )
    assert fields["hours"] == 100.0  # the median reported time of the context's one record
    assert (fields["nodes"], fields["gpus"]) == (1.0, 8.0)
    assert (fields["grid_gwp"], fields["grid_adpe"], fields["grid_pe"]) == (0.1, 2e-8, 11.0)
    assert (fields["mfu"], fields["imputation"], fields["gpu_tdp_w"]) == (0.3, IMPUTE_CHIPS, 400.0)


def test_known_fields():
    usable = [(hardware(A100), 1.0, {"act": True})]
    stated = record(stated={"gpu_usage": 0.8})
    known = dict(zip(RUN_FIELDS, notable.known_fields(stated, math.nan, IMPUTE_HOURS, {}, usable)))
    assert known["gpu_usage"] and known["metered_energy_kwh"] and known["variant"]
    assert not known["mfu"] and not known["production_model"] and not known["hours"]
    two = usable + [(hardware("Google TPU v4"), 1.0, {"act": False})]
    known = dict(
        zip(RUN_FIELDS, notable.known_fields(record(), math.nan, NO_IMPUTATION, {"x": 1}, two))
    )
    assert known["mfu"] and known["production_model"]
    assert not known["variant"] and not known["metered_energy_kwh"]


def test_variants_of():
    one = [(hardware(A100), 1.0, {"gpu_tdp_w": 400.0, "act": True})]
    assert notable.variants_of(one, "label") == (A100, None, None)
    two = one + [(hardware("Google TPU v4"), 3.0, {"gpu_tdp_w": 340.0, "act": False})]
    assert notable.variants_of(two, "label") == (
        "label",
        [(1.0, {"gpu_tdp_w": 400.0}), (3.0, {"gpu_tdp_w": 340.0})],
        [A100, "Google TPU v4"],
    )


def test_unpublished_dies():
    usable = [(hardware(A100), 1.0, {}), (hardware("Google TPU v3"), 1.0, {})]
    dies = notable.unpublished_dies(usable, die_ranges())
    assert list(dies) == ["Google TPU v3"]
    assert (dies["Google TPU v3"].low_cm2, dies["Google TPU v3"].high_cm2) == (3.25, 8.58)


def test_chip_hours_range():
    fixes = {"m": {"chip_hours": ("disagree", "1200", "a paper")}}
    assert notable.chip_hours_range(fixes, "m", 10.0, 100.0) == (
        (1.0, 1.2),
        "chip-hours: the primary source's differ by +20 % (data/record_fixes.csv); the run "
        "spans both",
    )
    assert notable.chip_hours_range(fixes, "m", 10.0, 115.0) == (None, "")  # within 10 %
    assert notable.chip_hours_range(fixes, "m", math.nan, 100.0) == (None, "")
    assert notable.chip_hours_range(fixes, "other", 10.0, 100.0) == (None, "")


# one record, and the whole builder


def test_build_run_of_a_complete_record():
    run = notable.build_run(record(), context())
    assert run.name == "m" and run.label == A100 and run.country == "FRA"
    assert run.fields["nodes"] * run.fields["gpus"] == 16.0
    assert run.fields["hours"] == 100.0
    assert run.record.status == "complete" and run.record.imputed == ()
    assert run.grid.basis == "organisation" and run.classes[0] == "GPU"
    assert run.date == np.datetime64("2022-06-01")


def test_build_run_excludes_with_a_reason():
    with pytest.raises(Excluded, match="no training time and no training compute"):
        notable.build_run(record(training_time_hours=""), context())


def test_build_runs_records_every_exclusion():
    rows = [
        record(model="ok"),
        record(model="no hours", training_time_hours=""),
        record(model="guess", confidence="Speculative"),
    ]
    runs = notable.build_runs((2022, 2022), records=rows, speculative=False, power="mlca")
    assert runs.runs.names == ("ok",)
    assert [(r.name, r.status, r.reason) for r in runs.records] == [
        ("ok", "complete", ""),
        ("no hours", "excluded", "no training time and no training compute"),
        ("guess", "excluded", "low-confidence record (Epoch AI: Speculative)"),
    ]


def test_run_rules_hand_a_scenario_in():
    assert RunRules() == RunRules(hardware_rule=None, location_rule=None)
    with pytest.raises(AttributeError):
        RunRules().location_rule = print  # frozen: a scenario's rules are fixed
    rules = RunRules(location_rule=lambda country, year: "SWE")
    runs = notable.build_runs(
        (2022, 2022), records=[record()], location="organisation", power="mlca", rules=rules
    )
    assert runs.countries == ["SWE"] and runs.location_bases == ("scenario",)
    assert runs.runs.values[0, RUN_FIELDS.index("grid_gwp")] == grid.region_intensity("SWE", 2021)


def test_scenarios_fill_in_run_rules():
    assert scenarios.scenario_of("baseline").rules_for() == RunRules()
    shifting = scenarios.scenario_of("location_shifting").rules_for("SWE")
    assert shifting.hardware_rule is None and shifting.location_rule("FRA", 2021) == "SWE"
    efficiency = scenarios.scenario_of("hardware_efficiency").rules_for(None, "mlca")
    assert efficiency.location_rule is None and callable(efficiency.hardware_rule)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"window": (2024, 2020)}, "window: first year 2024 after last year 2020"),
        ({"location": "moon"}, "location must be one of"),
        ({"power": "nameplate"}, "power model must be one of"),
    ],
)
def test_dataset_options_are_checked_once_when_made(fields, message):
    from mlimpact.errors import MlimpactError

    with pytest.raises(MlimpactError, match=message):
        notable.DatasetOptions(**fields)


def test_dataset_options_build_the_same_runs_as_build_runs():
    options = notable.DatasetOptions(window=(2021, 2021), impute=False, power="mlca")
    built = notable.build_runs((2021, 2021), impute=False, power="mlca")
    assert options.runs().runs.names == built.runs.names
    np.testing.assert_array_equal(options.runs().runs.values, built.runs.values)
