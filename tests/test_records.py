"""A user's own runs: an Epoch AI export or a lab's inventory, through the same engine."""

import csv
import json

import numpy as np
import pytest

from mlimpact.cli import main
from mlimpact.errors import MlimpactError
from mlimpact.quantities import CRITERIA
from mlimpact.runs import notable
from mlimpact.runs.records import country_codes, read_models_file
from mlimpact.study.portfolio import estimate_portfolio
from mlimpact.tables.models import load_models

#: Epoch's column of each column of data/models.csv that comes from one.
EPOCH = {
    "model": "Model",
    "organization": "Organization",
    "publication_date": "Publication date",
    "domains": "Domain",
    "parameters": "Parameters",
    "training_compute_flop": "Training compute (FLOP)",
    "hardware": "Training hardware",
    "hardware_quantity": "Hardware quantity",
    "training_time_hours": "Training time (hours)",
    "mfu": "Hardware utilization (MFU)",
    "numerical_format": "Numerical format",
    "training_power_draw_w": "Training power draw (W)",
    "confidence": "Confidence",
}


@pytest.fixture(scope="module")
def epoch_export(tmp_path_factory):
    """An Epoch-format export of the embedded snapshot, its columns in another order, with
    extra columns Epoch has and we do not read."""
    names = {}
    for epoch_name, code in country_codes().items():
        names.setdefault(code, epoch_name)
    columns = [
        "Notability criteria",
        *reversed(list(EPOCH.values())),
        "Country (of organization)",
        "Abstract",
    ]
    path = tmp_path_factory.mktemp("epoch") / "notable_ai_models.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in load_models():
            out = {epoch: row[ours] for ours, epoch in EPOCH.items()}
            out["Country (of organization)"] = (
                names.get(row["country"], "") if row["country"] else ""
            )
            out["Notability criteria"] = "Highly cited"
            out["Abstract"] = "a text, with a comma\nand a newline"
            writer.writerow(out)
    return path


def test_an_epoch_export_gives_the_embedded_run_table(epoch_export):
    records, digest = read_models_file(epoch_export)
    assert len(digest) == 64
    mine = notable.build_runs(records=records)
    embedded = notable.build_runs()
    assert mine.runs.names == embedded.runs.names
    np.testing.assert_array_equal(mine.runs.values, embedded.runs.values)
    np.testing.assert_array_equal(mine.runs.variant_values, embedded.runs.variant_values)
    assert [r.status for r in mine.records] == [r.status for r in embedded.records]


def test_run_on_an_export_reproduces_the_default_claims(
    epoch_export, quick_run, placeholder_figures, tmp_path, capsys
):
    # the quick main job on the export gives byte for byte the claims of the same job on the
    # embedded snapshot (run once per session, tests/conftest.py): the claims do not depend
    # on the number of samples being 64 rather than 32, only on both runs drawing the same; the
    # figures are written as placeholders (they are drawn from the same tables, and the
    # snapshot's are drawn end to end by the quick job itself)
    from conftest import QUICK_RUN

    out = tmp_path / "b"
    assert main(["run", "--out", str(out), "--models", str(epoch_export), *QUICK_RUN]) == 0
    assert (quick_run.folder / "claims.csv").read_bytes() == (out / "claims.csv").read_bytes()
    assert str(epoch_export) in (out / "report.md").read_text()


def test_data_command_on_a_file(epoch_export, capsys):
    assert main(["data", "--models", str(epoch_export), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["included_total"] >= 400


INVENTORY = (
    "name,date,hardware,accelerators,hours,accelerator_hours,location\n"
    "a,2024-03-01,H100 SXM,256,300,,US-VA\n"
    "b,2024-03-01,H100 SXM,256,300,,US-VA\n"
)


@pytest.mark.parametrize(
    "row, message",
    [
        ("c,2024-13-01,H100 SXM,8,10,,", "line 4, column date"),
        ("c,2024-01-01,H100 SXM,eight,10,,", "line 4, column accelerators"),
        ("c,2024-01-01,H100 SXM,8.5,10,,", "line 4, column accelerators"),
        ("c,2024-01-01,H100 SXM,8,-10,,", "line 4, column hours"),
        ("c,2024-01-01,No Such GPU,8,10,,", "line 4, column hardware: unknown hardware"),
        ("c,2024-01-01,H100 SXM,8,,,", "line 4, column hours: give accelerators and hours"),
        ("c,2024-01-01,H100 SXM,8,10,,Atlantis", "line 4, column location: unknown region"),
        ("a,2024-01-01,H100 SXM,8,10,,", "line 4, column name: 'a' appears twice"),
    ],
)
def test_a_bad_inventory_row_is_one_line_naming_line_and_column(tmp_path, capsys, row, message):
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY + row + "\n")
    assert main(["estimate", "--batch", str(path), "--samples", "64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_a_file_that_is_neither(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(MlimpactError, match="neither an Epoch AI export"):
        read_models_file(path)


def test_portfolio_total_of_identical_runs_is_a_perfectly_correlated_sum(tmp_path):
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY)
    records, _ = read_models_file(path)
    portfolio = estimate_portfolio(records, samples=4096, seed=1)
    for criterion in CRITERIA:
        one = portfolio.runs[criterion].sel(model="a")
        if criterion != "energy":
            one = one.sel(phase="total")
        width_one = float(one.sel(statistic="q975") - one.sel(statistic="q025"))
        total = portfolio.total[criterion]
        width_total = total["q975"] - total["q025"]
        # perfectly correlated: twice one run's width (the runs' quantiles come from
        # histograms of relative resolution 1/128); independent would give about sqrt(2) x
        assert width_total == pytest.approx(2 * width_one, rel=0.03), criterion
        assert total["mean"] == pytest.approx(2 * float(one.sel(statistic="mean")), rel=1e-9)


def test_the_made_up_inventory_example(capsys):
    assert (
        main(
            [
                "estimate",
                "--batch",
                "examples/inventory_made_up.csv",
                "--samples",
                "256",
                "--format",
                "json",
            ]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    runs = {row["run"] for row in document["rows"]}
    assert "TOTAL" in runs and len(runs) == 6
    measured = [row for row in document["rows"] if row["measured_energy_kwh"] != ""]
    assert measured and measured[0]["criterion"] == "energy"
