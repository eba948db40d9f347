"""The caches of lookups that every run or specification repeats: each keys on everything
its result depends on, hands out what callers may change as a new object, and keeps nothing
between datasets or options."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from mlimpact.errors import MlimpactError
from mlimpact.runs.records import read_models_file
from mlimpact.study.options import (
    Catalogues,
    StudyOptions,
    bound_of,
    catalogue_of,
    content_key,
    dataset_of,
)
from mlimpact.study.scenarios import scenario_runs
from mlimpact.tables import fab
from mlimpact.tables.hardware import hardware_table
from mlimpact.uncertainty.binding import bind
from mlimpact.uncertainty.catalogue import default_catalogue


def test_node_parameters_are_per_node_and_a_new_dict_each_time():
    seven, five = fab.node_parameters(7), fab.node_parameters(5)
    assert seven != five
    assert fab.node_parameters(7.0) == seven
    seven["epa"] = -1.0  # a caller amends its own dict (usable_hardware does)
    again = fab.node_parameters(7)
    assert again["epa"] > 0 and again is not seven
    with pytest.raises(MlimpactError, match="positive number"):
        fab.node_parameters(0)


def test_hardware_find_remembers_found_names_and_never_failures():
    table = hardware_table()
    a100 = table.find("NVIDIA A100 SXM4 80 GB")
    assert table.find("NVIDIA A100 SXM4 80 GB") is a100
    assert table.find("NVIDIA H100 SXM5 80GB").name == "NVIDIA H100 SXM5 80GB"
    for field in ("gpu", "hardware"):  # an unknown name raises every time, with its field
        with pytest.raises(MlimpactError, match=f"^{field}: unknown hardware"):
            table.find("no such accelerator", field=field)


def test_default_catalogue_is_per_power_model_and_a_new_dict_each_time():
    mlca, evidence = default_catalogue("mlca"), default_catalogue("evidence")
    assert set(mlca) != set(evidence)
    first = default_catalogue("evidence")
    assert first == evidence and first is not evidence
    first.pop(next(iter(first)))
    first["made_up"] = None
    assert default_catalogue("evidence") == evidence
    with pytest.raises(MlimpactError, match="power model"):
        default_catalogue("guess")


def test_content_key_tells_apart_what_a_section_could():
    assert content_key({"a": 1, "b": [1, 2]}) == content_key({"a": 1, "b": [1, 2]})
    assert content_key({"a": 1}) != content_key({"a": 1.0})
    assert content_key({"a": 1}) != content_key({"a": True})
    assert content_key({"a": 0.0}) != content_key({"a": -0.0})
    assert content_key({"a": 1, "b": 2}) != content_key({"b": 2, "a": 1})
    assert content_key({"a": {"type": "uniform"}}) != content_key({"a": {"type": "normal"}})


@pytest.fixture(scope="module")
def inventory_runs():
    """Two datasets of the made-up inventory's runs (two power models) and their options."""
    inventory = Path(__file__).resolve().parent.parent / "examples" / "inventory_made_up.csv"
    records, _ = read_models_file(str(inventory))
    options = StudyOptions(window=(2020, 2025), models_file="inventory")
    mlca = dataclasses.replace(options, power="mlca")
    runs = {
        "evidence": scenario_runs("baseline", dataset_of(options, records)),
        "mlca": scenario_runs("baseline", dataset_of(mlca, records)),
    }
    return records, {"evidence": options, "mlca": mlca}, runs


def _same_binding(one, other):
    assert one.columns == other.columns
    assert one.distributions == other.distributions
    for field in ("apply_field", "apply_mode", "apply_column", "factor_column", "variant_column"):
        np.testing.assert_array_equal(getattr(one, field), getattr(other, field))


def test_catalogues_key_on_runs_power_and_section(inventory_runs):
    _, options, runs = inventory_runs
    act = dataclasses.replace(options["evidence"], uncertainty={"production_model": 1})
    cache = Catalogues()
    cases = [
        (options["evidence"], runs["evidence"]),
        (act, runs["evidence"]),
        (options["mlca"], runs["mlca"]),
        (options["evidence"], None),
        (options["mlca"], None),
    ]
    made = [cache.catalogue(o, r) for o, r in cases]
    for (o, r), catalogue in zip(cases, made):
        assert catalogue == catalogue_of(o, {}, r)
    for k, catalogue in enumerate(made):  # different options or runs: different catalogues
        assert all(catalogue != other for other in made[k + 1 :])
    # a repeated call: an equal catalogue, as a new dict the caller may change
    again = cache.catalogue(*cases[0])
    assert again == made[0] and again is not made[0]
    again.clear()
    assert cache.catalogue(*cases[0]) == made[0]
    # the bindings: one per runs and catalogue, as bind makes them
    for o, r in cases[:3]:
        bound = cache.bound(o, r)
        assert cache.bound(o, r) is bound
        _same_binding(
            bound, bind(catalogue_of(o, {}, r), r.runs, r.hardware, r.countries, r.known, r.classes)
        )
    assert cache.bound(*cases[0]) is not cache.bound(*cases[1])
    assert cache.plan(*cases[0]) is cache.plan(*cases[0])
    # another cache makes its own: nothing is kept between studies
    assert Catalogues().bound(*cases[0]) is not cache.bound(*cases[0])


def test_catalogues_tell_equal_runs_of_another_build_apart(inventory_runs):
    records, options, runs = inventory_runs
    other = scenario_runs("baseline", dataset_of(options["evidence"], records))
    cache = Catalogues()
    assert cache.bound(options["evidence"], other) is not cache.bound(
        options["evidence"], runs["evidence"]
    )


def _uncached_evaluations(options, specs, records, n):
    """claim_evaluations as it was before the caches: every catalogue and binding made anew."""
    from mlimpact.study import budget, specifications

    collected = {}
    for spec in specs:
        spec_options = specifications.options_of(options, spec, n)
        runs = scenario_runs("baseline", dataset_of(spec_options, records))
        bound = bound_of(runs, catalogue_of(spec_options, {}, runs))
        evaluated = budget.evaluate_design(runs.runs, bound, n, budget.seed_of(options))
        for claim, statistic in budget.scenario_statistics(
            "baseline", runs, spec_options.fit
        ).items():
            collected.setdefault(claim, []).append(evaluated.pairs(statistic))
        budget.card_evaluations(
            budget.card_design(catalogue_of(spec_options, {})),
            spec_options.fit,
            n,
            budget.seed_of(options),
            collected,
        )
    return collected


def test_claim_evaluations_are_the_same_with_shared_catalogues(inventory_runs):
    from mlimpact.study import specifications
    from mlimpact.study.claims import claim_evaluations

    records, options, _ = inventory_runs
    base = specifications.choices_of(options["evidence"])
    specs = specifications.specification_set(
        base, {"production_model": ("mixture", "act"), "power": ("evidence", "mlca")}
    )
    assert len(specs) == 3
    options = dataclasses.replace(options["evidence"], scenarios=("baseline",))
    reference = _uncached_evaluations(options, specs, records, 16)
    cache = Catalogues()
    shared = claim_evaluations(options, specs, records, n=16, catalogues=cache)
    twice = claim_evaluations(options, specs, records, n=16, catalogues=cache)
    assert list(reference) == list(shared) == list(twice)
    for key in reference:
        assert len(reference[key]) == len(shared[key]) == len(twice[key]) == len(specs)
        for (y, pairs), (y2, pairs2), (y3, pairs3) in zip(reference[key], shared[key], twice[key]):
            np.testing.assert_array_equal(y, y2)
            np.testing.assert_array_equal(y, y3)
            assert list(pairs) == list(pairs2) == list(pairs3)
            for group in pairs:
                np.testing.assert_array_equal(pairs[group], pairs2[group])
                np.testing.assert_array_equal(pairs[group], pairs3[group])
