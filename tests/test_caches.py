"""The caches of lookups that every run or specification repeats: each keys on everything
its result depends on, hands out what callers may change as a new object, and keeps nothing
between datasets or options."""

import pytest

from mlimpact.errors import MlimpactError
from mlimpact.tables import fab
from mlimpact.tables.hardware import hardware_table
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
