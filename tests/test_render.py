"""The views of ``calibrate``, ``estimate --batch`` and ``validate`` (mlimpact.render.text),
the calibration folder (mlimpact.render.report) and the TOML writer (mlimpact._io), on small
hand-made results: nothing here computes an estimate."""

import json
import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from mlimpact._io import toml_text
from mlimpact.render import report, text
from mlimpact.study.portfolio import BATCH_HEADER


def _calibration_result(skipped=(("row-9", "hours not published"),)):
    prepared = SimpleNamespace(
        rows=[SimpleNamespace(id="row-1"), SimpleNamespace(id="row-2")],
        history=[10.4, 1234.0],
        inputs={"host_usage": np.linspace(0.5, 0.8, 64)},
        skipped=list(skipped),
    )
    cards = SimpleNamespace(
        cards=[
            {
                "id": "card-1",
                "hardware": "NVIDIA H100 SXM5 80GB",
                "basis": "measured",
                "published": 164.0,
                "prior_low": 68.47,
                "prior_median": 101.7,
                "prior_high": 325.2,
                "posterior_low": 81.89,
                "posterior_median": 196.5,
                "posterior_high": 531.0,
            }
        ],
        skipped=[],
    )
    inputs = [
        {
            "input": "host_usage",
            "prior_q025": 0.517,
            "prior_median": 0.652,
            "prior_q975": 0.777,
            "posterior_q025": np.float64(0.513),
            "posterior_median": 0.631,
            "posterior_q975": 0.783,
        }
    ]
    weights = np.full(64, 1 / 64)
    return SimpleNamespace(
        prepared=prepared,
        cards=cards,
        inputs=inputs,
        ess=1234.0,
        samples=4096,
        seed=3,
        basis="measured",
        skipped=prepared.skipped + cards.skipped,
        document={"host_usage": {"label": "host", "distribution": {"type": "discrete"}}},
        prior_weights=weights,
        weights=weights,
    )


def test_calibration_text_lists_inputs_cards_and_what_was_left_out():
    lines = text.calibration_text(_calibration_result(), folder="/tmp/cal").splitlines()
    assert lines[0] == (
        "Calibration of the evidence power model on 2 measured footprints; 4,096 samples per "
        "round, seed 3; effective sample size 1,234 (by round: 10, 1,234)"
    )
    assert lines[1] == ""
    assert lines[4].split() == [
        "host_usage",
        "0.652",
        "[0.517,",
        "0.777]",
        "0.631",
        "[0.513,",
        "0.783]",
    ]
    card = next(line for line in lines if line.startswith("NVIDIA H100"))
    assert "164.0" in card and "101.7 [68.47, 325.2]" in card and "196.5 [81.89, 531.0]" in card
    assert lines[-3:] == [
        "1 rows not used (--format json lists why)",
        "",
        "wrote /tmp/cal/parameters.toml (use it with --parameters), calibration.csv, "
        "calibration_cards.csv, calibration.png",
    ]


def test_calibration_text_without_folder_or_skipped_rows_ends_with_the_cards():
    lines = text.calibration_text(_calibration_result(skipped=())).splitlines()
    assert lines[-1].startswith("NVIDIA H100")


def test_calibration_json_is_strict_json_with_numbers_as_floats():
    document = text.calibration_json(_calibration_result())
    assert document["rows_used"] == ["row-1", "row-2"]
    assert document["skipped"] == [{"id": "row-9", "reason": "hours not published"}]
    assert type(document["inputs"][0]["posterior_q025"]) is float  # not numpy's
    assert document["cards"][0]["hardware"] == "NVIDIA H100 SXM5 80GB"
    assert json.loads(json.dumps(document, allow_nan=False)) == document


def test_write_calibration_only_writes_what_it_is_given(tmp_path):
    result = _calibration_result()
    report.write_calibration(result, tmp_path)
    parameters = tomllib.loads((tmp_path / "parameters.toml").read_text())
    assert parameters == result.document
    assert (tmp_path / "calibration.csv").read_text().splitlines() == [
        ",".join(report.CALIBRATION_HEADER),
        "host_usage,0.517,0.652,0.777,0.513,0.631,0.783",
    ]
    cards = (tmp_path / "calibration_cards.csv").read_text().splitlines()
    assert cards[0] == ",".join(report.CALIBRATION_CARDS_HEADER) and len(cards) == 2
    assert (tmp_path / "calibration.png").stat().st_size > 1000


def _portfolio():
    return SimpleNamespace(
        runs=SimpleNamespace(model=["a", "b"]),
        excluded=[("c", "no hardware")],
        checks=[
            {
                "run": "a",
                "metered": 100.0,
                "scope": "node",
                "inside": True,
                "median": 90.0,
                "q025": 70.0,
                "q975": 120.0,
            }
        ],
        power="evidence",
        location="evidence",
    )


ROWS = [
    ["a", "energy", "kWh", 1234.5, 1000.0, 1500.0, 1250.0, 1200.0],
    ["TOTAL", "gwp", "kgCO2eq", 0.5, 0.25, 1.0, 0.6, ""],
]


def test_batch_text_names_the_file_the_models_and_every_row():
    lines = text.batch_text(_portfolio(), ROWS, "inv.csv", "0123456789abcdef99", 512, 7)
    lines = lines.splitlines()
    assert lines[0] == (
        "inv.csv (SHA-256 0123456789abcdef...): 2 runs, 512 samples (seed 7); median [95 % "
        "interval]; the total's interval keeps shared inputs shared"
    )
    assert lines[1] == f"power model: {text.POWER_MODEL_WORDS['evidence']}; location: evidence"
    assert lines[2] == ""
    assert lines[5].split() == ["a", "energy", "[kWh]", "1,234", "[1,000,", "1,500]", "1,200"]
    assert lines[6].split() == ["TOTAL", "gwp", "[kgCO2eq]", "0.5000", "[0.2500,", "1.000]", "-"]
    assert lines[7] == "excluded: c: no hardware"
    assert lines[8] == text.metered_text(_portfolio().checks[0])


def test_batch_json_keys_every_row_by_the_header():
    document = text.batch_json(_portfolio(), ROWS, BATCH_HEADER, "inv.csv", "ff", 512, 7)
    assert document["file"] == "inv.csv" and document["sha256"] == "ff"
    assert document["rows"][0] == dict(zip(BATCH_HEADER, ROWS[0]))
    assert document["excluded"] == [{"run": "c", "reason": "no hardware"}]
    assert document["power_model"] == "evidence" and len(document["metered"]) == 1


def test_validate_text_frames_the_validation_tables():
    result = SimpleNamespace(
        samples=2048,
        seed=1,
        rows=[],
        skipped=[("r", "setup", "why")],
        summary=[
            {
                "quantity": "energy",
                "way": "setup",
                "rows": "scored",
                "sample": "all",
                "n": 3,
                "coverage": 2 / 3,
                "geometric_mean_ratio": 1.1,
                "median_width": 3.0,
                "interval_score": 0.5,
                "reference_band": 1.5,
                "reference_interval_score": 1.0,
                "skill": 0.5,
            }
        ],
    )
    lines = text.validate_text(result, "all", folder="/tmp/v").splitlines()
    assert lines[0] == (
        "Published footprints (data/validation.csv) against our 95 % intervals; 2,048 "
        "samples, seed 1, basis all"
    )
    assert "\n".join(lines[2:7]) == text.validation_text(result)
    assert lines[4].split()[-3:] == ["x/÷", "1.50", "+0.50"]  # the naive band and the skill
    assert lines[-3:] == [
        "1 row-way pairs not compared (--format json lists why)",
        "",
        "wrote /tmp/v/validation.csv, validation_summary.csv, validation.png",
    ]


def test_toml_text_round_trips_a_parameters_document():
    document = {
        "a": {"label": 'quote " and \\ backslash', "flag": True, "n": 3, "x": 0.1},
        "b": {"values": [1.0, 2, "s"], "distribution": {"type": "discrete", "weights": [0.5]}},
    }
    written = toml_text(document, ("first", "second"))
    assert written.startswith("# first\n# second\n\n[a]\n")
    assert tomllib.loads(written) == document
    assert not toml_text(document).startswith("\n")
    with pytest.raises(TypeError, match="cannot write"):
        toml_text({"a": {"b": None}})


def test_cf_units_name_every_criterion_in_udunits_spelling():
    from mlimpact.quantities import CF_UNITS, CRITERIA, UNITS

    # a new criterion adds its entry, or its files would keep a unit UDUNITS may not parse
    assert set(CF_UNITS) == set(CRITERIA)
    assert CF_UNITS["energy"] == "kW h" and UNITS["energy"] == "kWh"  # UDUNITS has no "kWh"
    cfunits = pytest.importorskip("cfunits", exc_type=Exception)
    for criterion, unit in CF_UNITS.items():
        assert cfunits.Units(unit).isvalid, criterion


def _labelled_dataset():
    import xarray as xr

    return xr.Dataset(
        {
            "gwp": (("model", "sample"), np.ones((2, 3)), {"units": "kg CO2eq"}),
            "energy": (("model",), [1.0, 2.0], {"units": "kWh", "long_name": "energy"}),
            "share": (("model",), [0.5, 0.25]),
        },
        coords={
            "model": ["Pangu-\u03b1", "=cmd()"],
            "publication_date": ("model", np.array(["2021-04-26", "NaT"], dtype="datetime64[ns]")),
            "country": ("model", ["CHN", ""], {"units": "1"}),
        },
    )


def test_describe_dataset_writes_cf_attributes():
    from mlimpact.render.files import describe_dataset

    data = describe_dataset(_labelled_dataset(), "test")
    assert data.attrs["Conventions"] == "CF-1.8" and data.attrs["title"] == "test"
    assert data.gwp.attrs["units"] == "kg" and "[kg CO2eq]" in data.gwp.attrs["long_name"]
    assert "kg CO2eq" in data.gwp.attrs["comment"]
    assert data.energy.attrs == {"units": "kW h", "long_name": "energy"}
    assert data.share.attrs["units"] == "1"
    for label in ("model", "country", "publication_date"):  # strings and dates: no units
        assert "units" not in data[label].attrs and data[label].attrs["long_name"], label
    assert list(data.sample.values) == [0, 1, 2] and data.sample.attrs["units"] == "1"


def test_write_netcdf_round_trips_labels_dates_and_samples(tmp_path):
    import xarray as xr

    from mlimpact.render.files import describe_dataset, write_netcdf

    data = describe_dataset(_labelled_dataset(), "test")
    write_netcdf(data, tmp_path / "r.nc")
    assert (tmp_path / "r.nc").read_bytes()[:4] == b"\x89HDF"  # NetCDF-4
    back = xr.load_dataset(tmp_path / "r.nc")
    assert list(back.model.values) == ["Pangu-\u03b1", "=cmd()"]  # UTF-8 char arrays
    assert back.publication_date.dtype.kind == "M" and bool(back.publication_date[1].isnull())
    assert str(back.publication_date.values[0])[:10] == "2021-04-26"
    assert back.publication_date.encoding["units"] == "days since 1970-01-01"
    xr.testing.assert_identical(back.drop_attrs(), data.drop_attrs())


@pytest.mark.parametrize("bad", [None, "results", np.zeros(3)])
def test_describe_and_encode_refuse_what_is_not_a_dataset(bad):
    from mlimpact.errors import MlimpactError
    from mlimpact.render.files import describe_dataset, netcdf_encoding

    with pytest.raises(MlimpactError, match="expected an xarray Dataset"):
        describe_dataset(bad, "title")
    with pytest.raises(MlimpactError, match="expected an xarray Dataset"):
        netcdf_encoding(bad)
