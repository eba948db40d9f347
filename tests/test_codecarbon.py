"""codecarbon's emissions.csv read as inventory rows: the mapping, the grouping of sessions,
and one-line errors naming the file, line and column."""

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from mlimpact.errors import MlimpactError
from mlimpact.runs import records
from mlimpact.runs.codecarbon import (
    COLUMNS,
    EMISSIONS_COLUMNS,
    NVIDIA_SMI_NAMES,
    codecarbon_rows,
)
from mlimpact.tables.hardware import hardware_table

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "emissions_made_up.csv"
#: One session of 2 h on 8 A100 in Virginia, as codecarbon 2.8 writes it.
ROW = {
    "timestamp": "2024-05-01T12:34:56",
    "project_name": "llm",
    "run_id": "run-a",
    "experiment_id": "5b0fa12a-3dd7-45bb-9766-cc326314d9f1",
    "duration": "7200.0",
    "emissions": "2.1",
    "emissions_rate": "0.00029",
    "cpu_power": "140.0",
    "gpu_power": "2600.0",
    "ram_power": "377.9",
    "cpu_energy": "0.28",
    "gpu_energy": "5.2",
    "ram_energy": "0.7558",
    "energy_consumed": "6.2358",
    "country_name": "United States",
    "country_iso_code": "USA",
    "region": "virginia",
    "cloud_provider": "",
    "cloud_region": "",
    "os": "Linux-5.15.0-105-generic-x86_64-with-glibc2.35",
    "python_version": "3.10.12",
    "codecarbon_version": "2.8.3",
    "cpu_count": "256",
    "cpu_model": "AMD EPYC 7742 64-Core Processor",
    "gpu_count": "8",
    "gpu_model": "8 x NVIDIA A100-SXM4-40GB",
    "longitude": "-77.49",
    "latitude": "39.04",
    "ram_total_size": "1007.7",
    "tracking_mode": "machine",
    "on_cloud": "N",
    "pue": "1.0",
}


def write(folder, *rows, columns=EMISSIONS_COLUMNS, name="emissions.csv"):
    """An emissions.csv of ``ROW`` updated by each of ``rows`` (dicts)."""
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**ROW, **row} for row in rows)
    return path


def one(tmp_path, group=None, **changes):
    rows, _, _ = codecarbon_rows(write(tmp_path, changes), group=group)
    assert len(rows) == 1
    return rows[0]


def as_records(rows, columns, source="<codecarbon>"):
    """The records of the rows through the inventory reader."""
    return records.inventory_records(rows, columns, source)


def test_one_row_maps_to_one_inventory_row(tmp_path):
    row = one(tmp_path)
    assert tuple(row) == COLUMNS
    assert row == {
        "name": "llm/run-a",
        "date": "2024-05-01",
        "hardware": "NVIDIA A100 SXM4 40 GB",
        "accelerators": "8",
        "hours": "2.0",
        "location": "US-VA",
        "provider": "",
        "energy_kwh": "6.2358",
        "energy_scope": "node",
    }


@pytest.mark.parametrize(
    "timestamp, day",
    [
        ("2024-05-01T12:34:56", "2024-05-01"),  # what codecarbon writes
        ("2024-05-01 23:59:59.123456", "2024-05-01"),
        ("2024-12-31T23:00:00+01:00", "2024-12-31"),  # the local date, as written
    ],
)
def test_date_is_the_date_part_of_the_timestamp(tmp_path, timestamp, day):
    assert one(tmp_path, timestamp=timestamp)["date"] == day


@pytest.mark.parametrize("seconds, hours", [("3600", 1.0), ("5400.0", 1.5), ("90", 0.025)])
def test_hours_are_the_duration_in_seconds_over_3600(tmp_path, seconds, hours):
    assert float(one(tmp_path, duration=seconds)["hours"]) == pytest.approx(hours, rel=1e-15)


@pytest.mark.parametrize(
    "gpu_model, gpu_count, hardware, accelerators",
    [
        ("8 x NVIDIA A100-SXM4-40GB", "8", "NVIDIA A100 SXM4 40 GB", "8"),
        ("4 x Tesla V100-SXM2-32GB", "", "NVIDIA Tesla V100 SXM2 32 GB", "4"),
        ("1 x NVIDIA GeForce RTX 3090", "1.0", "NVIDIA GeForce RTX 3090", "1"),
        # nvidia-smi's names that our lookup does not resolve (NVIDIA_SMI_NAMES)
        ("8 x NVIDIA H100 80GB HBM3", "8", "NVIDIA H100 SXM5 80GB", "8"),
        ("2 x NVIDIA A10", "2", "NVIDIA A10 PCIe", "2"),
        # no "N x": the count is gpu_count
        ("NVIDIA A100-SXM4-40GB", "2", "NVIDIA A100 SXM4 40 GB", "2"),
        # codecarbon 2.x with gpu_ids: gpu_model lists the machine's 8 cards, gpu_count the 2
        # tracked, whose energy the row holds
        ("8 x NVIDIA A100-SXM4-40GB", "2", "NVIDIA A100 SXM4 40 GB", "2"),
        # one kind of card written twice (not codecarbon's output, but not ambiguous)
        ("4 x NVIDIA A100-SXM4-40GB, 4 x NVIDIA A100-SXM4-40GB", "", "NVIDIA A100 SXM4 40 GB", "8"),
    ],
)
def test_n_x_name(tmp_path, gpu_model, gpu_count, hardware, accelerators):
    row = one(tmp_path, gpu_model=gpu_model, gpu_count=gpu_count)
    assert (row["hardware"], row["accelerators"]) == (hardware, accelerators)


def test_every_nvidia_smi_name_mapped_needs_it_and_names_a_row():
    # a mapping the table's own lookup (names, aliases) makes needless should be removed
    table = hardware_table()
    for smi, ours in NVIDIA_SMI_NAMES.items():
        assert table.find(ours).name == ours
        with pytest.raises(MlimpactError):
            table.find(smi)


@pytest.mark.parametrize(
    "changes, location",
    [
        ({"country_iso_code": "USA", "region": "virginia"}, "US-VA"),
        ({"country_iso_code": "CAN", "region": "quebec"}, "CA-QC"),
        ({"country_iso_code": "CAN", "region": "british columbia"}, "CA-BC"),
        (
            {
                "country_iso_code": "USA",
                "region": "iowa",
                "cloud_provider": "gcp",
                "cloud_region": "us-central1",
            },
            "gcp:us-central1",
        ),
        # a Google Cloud region without a factor of its own: its state
        (
            {
                "country_iso_code": "USA",
                "region": "ohio",
                "cloud_provider": "gcp",
                "cloud_region": "us-east99",
            },
            "US-OH",
        ),
        # other clouds: the state codecarbon places the region in
        (
            {
                "country_iso_code": "USA",
                "region": "virginia",
                "cloud_provider": "aws",
                "cloud_region": "us-east-1",
            },
            "US-VA",
        ),
        ({"country_iso_code": "USA", "region": ""}, "USA"),
        ({"country_iso_code": "USA", "region": "atlantis"}, "USA"),
        ({"country_iso_code": "FRA", "region": "île-de-france"}, "FRA"),
        ({"country_iso_code": "swe", "region": ""}, "SWE"),
        ({"country_iso_code": "", "region": ""}, ""),
    ],
)
def test_location(tmp_path, changes, location):
    assert one(tmp_path, **changes)["location"] == location


@pytest.mark.parametrize(
    "pue, scope", [("1.0", "node"), ("1", "node"), ("", "node"), ("1.2", "facility")]
)
def test_scope_is_node_unless_codecarbon_applied_a_pue(tmp_path, pue, scope):
    assert one(tmp_path, pue=pue)["energy_scope"] == scope


def test_files_before_pue_and_experiment_id_are_read(tmp_path):
    old = [c for c in EMISSIONS_COLUMNS if c not in ("pue", "experiment_id")]
    rows, _, _ = codecarbon_rows(write(tmp_path, {}, columns=old))
    assert rows[0]["energy_scope"] == "node"


def test_an_empty_run_id_is_named_by_its_line(tmp_path):
    rows, _, _ = codecarbon_rows(write(tmp_path, {"run_id": ""}, {"run_id": ""}))
    assert [r["name"] for r in rows] == ["llm/line 2", "llm/line 3"]


def test_sessions_of_a_project_are_summed(tmp_path):
    # a training resumed in a new process: codecarbon gives the new tracker a new run_id
    path = write(
        tmp_path,
        {
            "run_id": "a",
            "timestamp": "2024-05-01T10:00:00",
            "duration": "7200",
            "energy_consumed": "6.0",
        },
        {
            "run_id": "b",
            "timestamp": "2024-05-03T10:00:00",
            "duration": "3600",
            "energy_consumed": "3.5",
        },
        {"project_name": "other", "run_id": "c"},
    )
    rows, _, _ = codecarbon_rows(path, group="project_name")
    assert [r["name"] for r in rows] == ["llm", "other"]
    assert rows[0]["date"] == "2024-05-03"
    assert float(rows[0]["hours"]) == 3.0
    assert float(rows[0]["energy_kwh"]) == pytest.approx(9.5, rel=1e-15)
    assert rows[0]["accelerators"] == "8"
    ungrouped, _, _ = codecarbon_rows(path)
    assert [r["name"] for r in ungrouped] == ["llm/a", "llm/b", "other/c"]


def test_sessions_on_different_counts_keep_their_accelerator_hours(tmp_path):
    path = write(
        tmp_path,
        {"run_id": "a", "duration": "36000", "gpu_model": "8 x NVIDIA A100-SXM4-40GB"},
        {"run_id": "b", "duration": "36000", "gpu_model": "4 x NVIDIA A100-SXM4-40GB"},
    )
    row = codecarbon_rows(path, group="project_name")[0][0]
    # 8 x 10 h + 4 x 10 h = 120 accelerator-hours: 8 accelerators for 15 h
    assert row["accelerators"] == "8"
    assert float(row["hours"]) == pytest.approx(15.0, rel=1e-15)


def test_snapshots_of_one_session_are_not_summed(tmp_path):
    # codecarbon's flush() and stop() write the running totals of one tracker (one run_id):
    # the later row contains the earlier
    path = write(
        tmp_path,
        {"timestamp": "2024-05-01T10:00:00", "duration": "3600", "energy_consumed": "3.0"},
        {"timestamp": "2024-05-01T12:00:00", "duration": "10800", "energy_consumed": "9.0"},
        {
            "run_id": "run-b",
            "timestamp": "2024-05-02T12:00:00",
            "duration": "3600",
            "energy_consumed": "3.0",
        },
    )
    rows, _, _ = codecarbon_rows(path, group="run_id")
    assert [(r["name"], float(r["hours"]), float(r["energy_kwh"])) for r in rows] == [
        ("llm/run-a", 3.0, 9.0),
        ("llm/run-b", 1.0, 3.0),
    ]
    (project,), _, _ = codecarbon_rows(path, group="project_name")
    assert (float(project["hours"]), float(project["energy_kwh"])) == (4.0, 12.0)
    with pytest.raises(
        MlimpactError,
        match=r"line 3, column run_id: 'run-a' also on line 2.*"
        "group by run_id",
    ):
        codecarbon_rows(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"gpu_model": "8 x NVIDIA H100 80GB HBM3"}, "line 3, column gpu_model: hardware "),
        (
            {"country_iso_code": "FRA", "region": ""},
            "line 3, column country_iso_code, region or cloud_region: location 'FRA' differs",
        ),
        ({"pue": "1.3"}, "line 3, column pue: scope 'facility' differs"),
    ],
)
def test_the_sessions_of_one_run_must_agree(tmp_path, changes, message):
    path = write(tmp_path, {"run_id": "a"}, {"run_id": "b", **changes})
    with pytest.raises(MlimpactError) as error:
        codecarbon_rows(path, group="project_name")
    assert f"{path} {message}" in str(error.value)


@pytest.mark.parametrize("group, runs", [(None, 4), ("run_id", 4), ("project_name", 3)])
def test_the_made_up_example_passes_the_inventory_reader(group, runs):
    rows, columns, digest = codecarbon_rows(EXAMPLE, group=group)
    assert digest == hashlib.sha256(EXAMPLE.read_bytes()).hexdigest()
    found = as_records(rows, columns, str(EXAMPLE))
    assert len(found) == runs
    by_name = {r["model"]: r for r in found}
    vit = by_name[next(n for n in by_name if n.startswith("made-up-vit"))]
    assert (vit["region"], vit["country"], vit["hardware"]) == (
        "gcp:us-central1",
        "USA",
        "NVIDIA H100 SXM5 80GB",
    )
    bert = next(r for r in rows if r["name"].startswith("made-up-bert"))
    assert (bert["location"], bert["energy_scope"]) == ("FRA", "facility")
    if group == "project_name":
        llm = by_name["made-up-llm-pretrain"]
        # the two sessions of the example: 86,400.512 s + 43,187.904 s; 75.031345 + 37.067068 kWh
        assert float(llm["training_time_hours"]) == pytest.approx(
            (86400.512 + 43187.904) / 3600, rel=1e-12
        )
        assert float(llm["energy_kwh"]) == pytest.approx(75.031345 + 37.067068, rel=1e-12)
        assert (llm["region"], llm["publication_date"]) == ("US-VA", "2025-03-11")


def test_the_example_has_codecarbons_columns_in_order():
    with EXAMPLE.open(encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == EMISSIONS_COLUMNS


@pytest.mark.parametrize(
    "changes, column, message",
    [
        ({"duration": "abc"}, "duration", "must be a number > 0"),
        ({"duration": "0"}, "duration", "must be a number > 0"),
        ({"duration": "-60"}, "duration", "must be a number > 0"),
        ({"duration": "inf"}, "duration", "must be a number > 0"),
        ({"energy_consumed": "0"}, "energy_consumed", "must be a number > 0"),
        ({"energy_consumed": "-1.5"}, "energy_consumed", "must be a number > 0"),
        ({"energy_consumed": "nan"}, "energy_consumed", "must be a number > 0"),
        ({"energy_consumed": ""}, "energy_consumed", "must be a number > 0"),
        ({"gpu_count": "1.5"}, "gpu_count", "must be a whole number >= 0"),
        ({"gpu_count": "-8"}, "gpu_count", "must be a whole number >= 0"),
        ({"gpu_model": "NVIDIA A100-SXM4-40GB", "gpu_count": ""}, "gpu_count", "needed when"),
        ({"gpu_model": ""}, "gpu_model", "no GPU: mlimpact estimates accelerator training runs"),
        ({"gpu_count": "0"}, "gpu_model", "no GPU: mlimpact estimates accelerator training runs"),
        # codecarbon joins the entries with nothing between them; ", " is read too
        (
            {"gpu_model": "4 x NVIDIA A100-SXM4-40GB4 x NVIDIA H100 80GB HBM3"},
            "gpu_model",
            "several kinds of card",
        ),
        ({"gpu_model": "2 x Tesla T4, 1 x NVIDIA L4"}, "gpu_model", "several kinds of card"),
        ({"gpu_model": "about 2 x Tesla T4"}, "gpu_model", 'must be "N x NAME"'),
        ({"gpu_model": "8 x NVIDIA Imaginary X1"}, "gpu_model", "unknown hardware"),
        ({"timestamp": "yesterday"}, "timestamp", "ISO 8601"),
        ({"timestamp": ""}, "timestamp", "ISO 8601"),
        ({"country_iso_code": "XXX", "region": ""}, "country_iso_code", "unknown country 'XXX'"),
        ({"pue": "0.9"}, "pue", "must be a number >= 1"),
        ({"pue": "high"}, "pue", "must be a number >= 1"),
        ({"project_name": ""}, "project_name", "empty"),
    ],
)
def test_a_bad_row_is_one_line_naming_file_line_and_column(tmp_path, changes, column, message):
    path = write(tmp_path, {"run_id": "fine"}, changes)
    with pytest.raises(MlimpactError) as error:
        codecarbon_rows(path)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"{path} line 3, column {column}: ") and message in text, text


def test_line_numbers_count_multiline_fields(tmp_path):
    path = write(tmp_path, {"cpu_model": "a model\nover two lines"}, {"duration": "x"})
    with pytest.raises(MlimpactError, match=r"line 4, column duration"):
        codecarbon_rows(path)


def test_missing_columns_are_listed(tmp_path):
    columns = [c for c in EMISSIONS_COLUMNS if c not in ("gpu_model", "duration")]
    path = write(tmp_path, {}, columns=columns)
    with pytest.raises(MlimpactError, match=r"columns duration, gpu_model missing"):
        codecarbon_rows(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty file"),
        (b"\n\n", "empty file"),
        (",".join(EMISSIONS_COLUMNS).encode() + b"\n", "no row"),
        (b"\xff\xfe\x00garbage", "cannot read"),
    ],
)
def test_a_bad_file_is_one_line_naming_it(tmp_path, content, message):
    path = tmp_path / "emissions.csv"
    path.write_bytes(content)
    with pytest.raises(MlimpactError, match=f"^{re.escape(str(path))}: {message}"):
        codecarbon_rows(path)


def test_a_row_with_more_fields_than_the_header(tmp_path):
    path = write(tmp_path, {})
    path.write_text(path.read_text() + ",".join(ROW.values()) + ",extra\n")
    with pytest.raises(MlimpactError, match=r"line 3: more fields than the header's 32"):
        codecarbon_rows(path)


def test_malformed_csv(tmp_path):
    # the csv module's field limit (131,072 characters) is the error it can raise here
    path = write(tmp_path, {}, {"cpu_model": "x" * 200_000})
    with pytest.raises(MlimpactError, match=r"line 3: malformed CSV \(field larger"):
        codecarbon_rows(path)


def test_a_missing_file_or_a_folder(tmp_path):
    with pytest.raises(MlimpactError, match="no such codecarbon file"):
        codecarbon_rows(tmp_path / "absent.csv")
    with pytest.raises(MlimpactError, match="not a regular file"):
        codecarbon_rows(tmp_path)


def test_an_unknown_group(tmp_path):
    with pytest.raises(MlimpactError, match="group: must be one of"):
        codecarbon_rows(write(tmp_path, {}), group="experiment_id")


def test_a_bom_is_read(tmp_path):
    path = write(tmp_path, {})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert codecarbon_rows(path)[0][0]["name"] == "llm/run-a"


def test_ten_thousand_rows(tmp_path):
    rng = np.random.default_rng(0)
    cards = ("NVIDIA A100-SXM4-40GB", "NVIDIA H100 80GB HBM3", "Tesla V100-SXM2-32GB")
    path = write(
        tmp_path,
        *(
            {
                "run_id": f"run-{i}",
                "project_name": f"project-{i % 50}",
                "duration": repr(float(rng.uniform(600, 300_000))),
                "energy_consumed": repr(float(rng.uniform(0.5, 2000))),
                "gpu_model": f"{rng.choice([1, 2, 4, 8])} x {cards[i % 50 % 3]}",
                "gpu_count": "",
            }
            for i in range(10_000)
        ),
    )
    rows, _, _ = codecarbon_rows(path)
    assert len(rows) == 10_000 and len({r["name"] for r in rows}) == 10_000
    assert len(as_records(rows, COLUMNS)) == 10_000
    grouped, _, _ = codecarbon_rows(path, group="project_name")
    assert len(grouped) == 50
