"""Setup files: the reference example, table lookups, and one-line errors on bad input."""

import math

import pytest

from mlimpact.engine.model import training_impacts
from mlimpact.errors import MlimpactError
from mlimpact.runs.setupfile import load_setup, parse_setup
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.tables import grid
from mlimpact.tables.hardware import hardware_table

MINIMAL = {
    "run": {"hours": 10.0, "country": "FRA"},
    "node": {"gpu": "NVIDIA A100 SXM4 80 GB", "gpus": 8, "gpu_usage": 0.7},
}


def field(setup, name):
    return setup.runs.values[0, RUN_FIELDS.index(name)]


def with_(section, **changes):
    document = {key: dict(value) for key, value in MINIMAL.items()}
    document.setdefault(section, {}).update(changes)
    return document


def test_shipped_example_reproduces_reference(repo_root):
    setup = load_setup(repo_root / "examples" / "bert_base.toml", power="mlca")
    result = training_impacts(setup.runs).isel(model=0)
    # MLCA's published BERT_base result (docs/methodology.md, section 5), in MLCA's power model
    assert float(result.gwp.sel(phase="total")) == pytest.approx(831, rel=5e-3)
    assert setup.runs.names == ("BERT_base",)


def test_hardware_values_come_from_the_table():
    setup = parse_setup(MINIMAL)
    a100 = hardware_table().find("NVIDIA A100 SXM4 80 GB")
    assert field(setup, "gpu_die_area_cm2") == pytest.approx(a100.die_area_cm2)
    assert field(setup, "gpu_memory_gb") == pytest.approx(80)
    assert setup.provenance["gpu_tdp_w"] == "table"
    # MLCA's defaults (docs/methodology.md sections 2-4)
    assert field(setup, "lifetime_years") == 6 and field(setup, "lifetime_usage") == 0.85
    assert field(setup, "cpus") == 2 and field(setup, "ram_module_gb") == 32
    # Boavizta factor of France
    assert field(setup, "grid_gwp") == pytest.approx(0.098)


def test_overrides_win_over_the_table():
    setup = parse_setup(with_("node", gpu_tdp_w=123.0))
    assert field(setup, "gpu_tdp_w") == 123.0 and setup.provenance["gpu_tdp_w"] == "setup"


def test_hardware_not_in_table_with_all_values():
    setup = parse_setup(
        with_("node", gpu="my prototype", gpu_tdp_w=300, gpu_memory_gb=48, gpu_die_area_cm2=6.0)
    )
    assert setup.gpu_label == "my prototype" and setup.hardware is None


def test_year_uses_year_specific_intensity():
    setup = parse_setup(with_("run", year=2020))
    assert field(setup, "grid_gwp") == pytest.approx(grid.intensity("FRA", 2020)[0])
    # ADPe and PE stay at the Boavizta factors (no year-specific source)
    assert field(setup, "grid_pe") == pytest.approx(11.289)


def test_grid_assumptions_override_everything():
    setup = parse_setup(with_("assumptions", grid_gwp_kgco2eq_per_kwh=0.5))
    assert field(setup, "grid_gwp") == 0.5


def test_server_can_be_dropped():
    assert field(parse_setup(with_("server", include=False)), "server") == 0.0


@pytest.mark.parametrize(
    "name", ["H100 SXM5 80GB", "nvidia h100-sxm5-80gb", "NVIDIA H100 SXM5 80 GB"]
)
def test_names_match_ignoring_case_spacing_punctuation(name):
    assert hardware_table().find(name).name == "NVIDIA H100 SXM5 80GB"


@pytest.mark.parametrize(
    "document, message",
    [
        (with_("run", hours=-5.0), r"\[run\] hours must be > 0"),
        (with_("run", hours=0), r"\[run\] hours must be > 0"),
        (with_("run", nodes=2.5), r"\[run\] nodes must be a whole number"),
        (with_("run", hours="ten"), r"\[run\] hours must be a number"),
        (with_("run", country="XYZ"), r"\[run\] country: unknown code 'XYZ'"),
        (with_("run", year=1950), r"\[run\] year must be between"),
        (with_("node", gpu_usage=1.2), r"\[node\] gpu_usage must be in \(0, 1\]"),
        (
            with_("node", gpu="H100 SMX5 80 GB"),
            r"unknown hardware 'H100 SMX5 80 GB'; closest: 'NVIDIA H100 SXM5 80GB'",
        ),
        (with_("node", gpus=0), r"\[node\] gpus must be >= 1"),
        (with_("node", colour="red"), r"\[node\] unknown key 'colour'"),
        (
            with_("assumptions", lifetime_usage=1.5),
            r"\[assumptions\] lifetime_usage must be in \(0, 1\]",
        ),
        (with_("assumptions", dynamic_ratio=0.5), r"\[assumptions\] dynamic_ratio must be >= 1"),
        (with_("server", include="yes"), r"\[server\] include must be true or false"),
        ({**MINIMAL, "extra": {}}, r"unknown section or key 'extra'"),
        ({"node": MINIMAL["node"]}, r"\[run\] hours is required"),
    ],
)
def test_bad_setups_raise_one_line_errors(document, message):
    with pytest.raises(MlimpactError, match=message) as error:
        parse_setup(document, source="setup.toml")
    assert "\n" not in str(error.value)


def test_unknown_hardware_without_values_suggests_how_to_describe_it():
    with pytest.raises(
        MlimpactError, match="or give gpu_tdp_w, gpu_memory_gb and gpu_die_area_cm2"
    ):
        parse_setup(with_("node", gpu="my prototype", gpu_tdp_w=300))


def test_malformed_and_missing_files(example_setup, tmp_path):
    with pytest.raises(MlimpactError, match="malformed TOML"):
        load_setup(example_setup("[run\nhours = 3"))
    with pytest.raises(MlimpactError, match="no such setup file"):
        load_setup(tmp_path / "absent.toml")


def test_empty_table_cells_are_nan_not_zero():
    tpu = hardware_table().find("Google TPU v3")
    assert math.isnan(tpu.die_area_cm2)


def test_an_unpublished_die_area_takes_its_range_like_the_dataset():
    # TPU v3's die area is not published: data/die_areas.csv gives the range the dataset samples
    setup = parse_setup(with_("node", gpu="Google TPU v3"))
    assert setup.provenance["gpu_die_area_cm2"].startswith("uncertain")
    assert [d.hardware for d in setup.notable.unpublished_dies] == ["Google TPU v3"]
