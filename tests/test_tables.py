"""The tables in data/: rebuilt identically from the raw public files, and complete enough."""

import csv
import filecmp
import math
import subprocess
import sys

import pytest

from mlimpact.tables import grid
from mlimpact.tables.hardware import hardware_table


def test_build_script_reproduces_committed_tables(repo_root, raw_dir, tmp_path):
    # Deterministic build: the committed tables are exactly what the script makes today.
    subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "build_tables.py"),
            "--raw",
            str(raw_dir),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [
            sys.executable,
            str(repo_root / "scripts" / "build_models.py"),
            "--raw",
            str(raw_dir),
            "--out",
            str(tmp_path),
            "--countries",
            str(tmp_path / "countries.csv"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    built = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv")
    assert built == [
        "countries.csv",
        "electricity_factors.csv",
        "grid_intensity.csv",
        "hardware.csv",
        "models.csv",
    ]
    for name in built:
        assert filecmp.cmp(tmp_path / name, repo_root / "data" / name, shallow=False), name


def test_every_notable_model_accelerator_resolves(raw_dir):
    table = hardware_table()
    names = set()
    with open(raw_dir / "epoch" / "notable_ai_models.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            year = row["Publication date"][:4]
            if year.isdigit() and 2013 <= int(year) <= 2025 and row["Training hardware"]:
                names.update(n.strip() for n in row["Training hardware"].split(","))
    assert len(names) >= 60  # 66 distinct names in 2012-2025 (shared/data/README.md)
    for name in sorted(names):
        assert table.find(name) is not None


def test_electricity_factors_are_those_of_mlca():
    # Boavizta factors as used by MLCA (docs/methodology.md section 3)
    usa = grid.electricity_factors()["USA"]
    assert (usa.gwp, usa.adpe, usa.pe) == (0.37, 9.86e-8, 11.358)
    assert len(grid.electricity_factors()) == 13


def test_grid_intensity_is_owid_over_1000():
    # OWID/Ember USA 2019: 439.45 g CO2eq/kWh in the raw file
    assert grid.intensity("USA", 2019)[0] == pytest.approx(0.43945)


def test_unpublished_facts_stay_empty():
    # Google has never published TPU v2-v4 die areas (shared/data/README.md): never invented.
    for name in ("Google TPU v2", "Google TPU v3", "Google TPU v4"):
        assert math.isnan(hardware_table().find(name).die_area_cm2)
