"""Runs metered with codecarbon: its ``emissions.csv`` as rows of an inventory.

codecarbon [1]_ appends a row to ``emissions.csv`` each time a tracker saves: the columns of
its ``EmissionsData`` dataclass (32 from 2.7 to 3.0, ``timestamp, project_name, run_id,
experiment_id, duration, emissions, ..., tracking_mode, on_cloud, pue``; 3.1 and later add
water and utilisation columns). Any column order is read and extra columns are ignored; older
files lack some columns (``experiment_id`` before 2.7, ``pue`` before 2.2.3), so only the
columns below are required, ``pue`` being optional; files of codecarbon 1.x, without
``run_id`` and GPU columns, are refused.
:func:`codecarbon_rows` turns the rows into rows of an inventory, which
:func:`mlimpact.runs.records.inventory_records` reads like a lab's own file.

============  ================================================  ===============================
inventory     from codecarbon                                   units, rule
============  ================================================  ===============================
name          ``project_name/run_id``                           ``project_name/line N`` when
                                                                run_id is empty; with
                                                                ``group="project_name"``,
                                                                ``project_name``
date          date part of ``timestamp``                        ISO 8601 -> YYYY-MM-DD
hardware      ``gpu_model``, "N x NAME"                         NAME looked up in the hardware
                                                                table (:data:`NVIDIA_SMI_NAMES`
                                                                first)
accelerators  N of ``gpu_model``, else ``gpu_count``            a smaller ``gpu_count`` wins
hours         ``duration``                                      [s] / 3600 -> [h]
location      ``gcp:`` + ``cloud_region``, else ``region``      grid key of
              (USA, CAN), else ``country_iso_code``             :mod:`mlimpact.tables.grid`
provider      (empty)
energy_kwh    ``energy_consumed``                               [kWh], > 0
energy_scope  ``node``; ``facility`` when ``pue`` > 1
============  ================================================  ===============================

Units in codecarbon's file: ``duration`` [s]; ``energy_consumed``, ``cpu_energy``,
``gpu_energy``, ``ram_energy`` [kWh]; ``emissions`` [kg CO2eq] (not read: our grid factors
replace codecarbon's). ``gpu_model`` lists the cards of the machine as ``"N x NAME"`` with
the names of nvidia-smi (NVML). A machine with several kinds of card has several entries
(codecarbon 2.x and 3.x write them one after the other with nothing between; ", " is read
too), which is refused: a run of the inventory has one kind of accelerator. A row without
GPU is refused too.

**Scope of the energy.** ``energy_consumed`` is ``cpu_energy + gpu_energy + ram_energy``,
measured or estimated on the node (codecarbon's "Methodology" [2]_: GPUs read through
NVML, CPUs through RAPL or, without it, an estimate from their TDP and load, RAM estimated
from its size), without the facility's overhead and without disks, network, fans or power
supply losses. It is therefore scope ``node``, which our model completes to the facility with
its PUE. codecarbon multiplies every measured energy by its ``pue`` setting (default 1.0): a
row with ``pue`` > 1 already includes the user's facility overhead and has scope ``facility``.

**Rows of one run.** codecarbon writes the *running totals* of a tracker (duration and
energies since the tracker started) each time it saves: at ``stop()`` and at every
``flush()``, under the tracker's ``run_id`` (a new UUID for each tracker). Two rows with the
same ``run_id`` are therefore two snapshots of one session, the later containing the earlier
(codecarbon's ``on_csv_write="update"`` keeps only the latest); a training resumed in a new
process gets a new ``run_id``. With ``group=None`` every row is
one run and a repeated ``run_id`` is an error (summing snapshots would count them twice);
with ``group="run_id"`` a session is its latest snapshot (the largest duration); with
``group="project_name"`` the sessions of a project are summed into one run.

References
----------
.. [1] codecarbon, https://github.com/mlco2/codecarbon (``EmissionsData`` in
   ``codecarbon/output_methods/emissions_data.py``; the file output in
   ``codecarbon/output_methods/file.py``).
.. [2] codecarbon documentation, "Methodology",
   https://docs.codecarbon.io/latest/explanation/methodology/
"""

import csv
import hashlib
import io
import math
import re
from datetime import datetime
from functools import cache
from pathlib import Path

from mlimpact.errors import MlimpactError
from mlimpact.tables import grid
from mlimpact.tables.hardware import hardware_table, normalize_name

#: Columns of the inventory rows, in order (``energy_scope``: ``node`` or ``facility``).
COLUMNS = (
    "name",
    "date",
    "hardware",
    "accelerators",
    "hours",
    "location",
    "provider",
    "energy_kwh",
    "energy_scope",
)
#: codecarbon columns read (and ``pue``, optional: codecarbon added it in 2.2.3).
REQUIRED = (
    "timestamp",
    "project_name",
    "run_id",
    "duration",
    "energy_consumed",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "gpu_count",
    "gpu_model",
)
#: Every column of codecarbon 2.7 to 3.0's file, in the order of its ``EmissionsData``
#: dataclass (what a real file holds; :data:`REQUIRED` is what is read).
EMISSIONS_COLUMNS = (
    "timestamp",
    "project_name",
    "run_id",
    "experiment_id",
    "duration",
    "emissions",
    "emissions_rate",
    "cpu_power",
    "gpu_power",
    "ram_power",
    "cpu_energy",
    "gpu_energy",
    "ram_energy",
    "energy_consumed",
    "country_name",
    "country_iso_code",
    "region",
    "cloud_provider",
    "cloud_region",
    "os",
    "python_version",
    "codecarbon_version",
    "cpu_count",
    "cpu_model",
    "gpu_count",
    "gpu_model",
    "longitude",
    "latitude",
    "ram_total_size",
    "tracking_mode",
    "on_cloud",
    "pue",
)
#: Groupings of :func:`codecarbon_rows`.
GROUPS = (None, "run_id", "project_name")
#: nvidia-smi names that the hardware table's lookup does not resolve -> the table's name.
NVIDIA_SMI_NAMES = {
    # the SXM5 card: the H100 PCIe has HBM2e and the H100 NVL 94 GB; in our table the
    # name fits no row (only the generic "Nvidia H100 80G" comes close)
    "NVIDIA H100 80GB HBM3": "NVIDIA H100 SXM5 80GB",
    # what some HGX A100 80 GB boards report (Dell XE8545, for example): the only A100 with
    # 80 GB on an SXM module is the SXM4 one
    "NVIDIA A100-SXM-80GB": "NVIDIA A100 SXM4 80 GB",
    # the A10 is made only as a PCIe card; "A10" alone starts every A100 name of the table
    "NVIDIA A10": "NVIDIA A10 PCIe",
    # the table holds this card twice (two source rows, same card); either is right
    "Tesla P100-PCIE-16GB": "NVIDIA Tesla P100 PCIe 16GB",
    # the SXM2 P100 was made with 16 GB only, the one SXM2 row of the table
    "Tesla P100-SXM2-16GB": "NVIDIA Tesla P100 SXM2",
    # the Grace Hopper superchip: 480 GB is the Grace CPU's LPDDR5X; one GH200 row
    "NVIDIA GH200 480GB": "NVIDIA GH200",
}
_SMI = {normalize_name(smi): ours for smi, ours in NVIDIA_SMI_NAMES.items()}
#: One "N x NAME" entry of gpu_model; codecarbon may join several with or without ", ".
_ENTRY = re.compile(r"(\d+) x ")


@cache
def _state_regions(country):
    """Lower-case region name (``data/grid_regions.csv``) -> key, for the states or
    provinces of ``country`` (codecarbon writes these names in lower case)."""
    return {grid.regions()[key].name.lower(): key for key in grid.country_regions(country)}


def _location(row, where):
    """Grid key of a row: its Google Cloud region, its US state or Canadian province, or its
    country (ISO 3166 alpha-3); empty when the row names none."""
    provider = row["cloud_provider"].lower()
    cloud_key = f"{provider}:{row['cloud_region']}"
    if provider == "gcp" and cloud_key in grid.regions():
        return cloud_key
    country = row["country_iso_code"].upper()
    region = (
        _state_regions(country).get(row["region"].lower()) if country in ("USA", "CAN") else None
    )
    if region:
        return region
    if country and not grid.is_region(country):
        raise MlimpactError(
            f"{where}, column country_iso_code: unknown country {country!r} "
            "(ISO 3166 alpha-3 with a grid intensity)"
        )
    return country


def _number(row, column, where, valid, expected):
    """A finite number of a row for which ``valid`` holds, else an error saying ``expected``."""
    value = row[column]
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not (math.isfinite(parsed) and valid(parsed)):
        raise MlimpactError(f"{where}, column {column}: must be {expected} (got {value!r})")
    return parsed


def _positive(row, column, where):
    return _number(row, column, where, lambda x: x > 0, "a number > 0")


def _gpus(row, where, found):
    """``(hardware name, accelerators)`` of a row's ``gpu_model`` and ``gpu_count``;
    ``found`` caches the lookups of card names."""
    model = row["gpu_model"]
    count = (
        _number(row, "gpu_count", where, lambda x: x >= 0 and x == int(x), "a whole number >= 0")
        if row["gpu_count"]
        else None
    )
    if not model or count == 0:
        raise MlimpactError(
            f"{where}, column gpu_model: no GPU: mlimpact estimates accelerator training runs"
        )
    parts = _ENTRY.split(model)
    if len(parts) == 1:
        name, listed = model, count
    else:
        if parts[0].strip():
            raise MlimpactError(
                f'{where}, column gpu_model: must be "N x NAME" or a name (got {model!r})'
            )
        names = [p.strip(" ,") for p in parts[2::2]]
        if len({normalize_name(n) for n in names}) > 1:
            raise MlimpactError(
                f"{where}, column gpu_model: several kinds of card "
                f"({model!r}); a run has one kind of accelerator"
            )
        name, listed = names[0], sum(int(n) for n in parts[1::2])
    if listed is None:
        raise MlimpactError(
            f"{where}, column gpu_count: needed when gpu_model has no "
            f'"N x" (got gpu_model {model!r})'
        )
    if name not in found:
        key = normalize_name(name)
        found[name] = (
            hardware_table().find(_SMI.get(key, name), field=f"{where}, column gpu_model").name
        )
    # codecarbon 2.x lists every card of the machine in gpu_model but counts in gpu_count
    # only the cards it tracks (the tracker's gpu_ids), whose energy the row holds
    return found[name], int(min(listed, count) if count else listed)


def _date(row, where):
    try:
        return datetime.fromisoformat(row["timestamp"]).date()
    except ValueError:
        raise MlimpactError(
            f"{where}, column timestamp: must be an ISO 8601 date and time "
            f"(got {row['timestamp']!r})"
        ) from None


def _session(row, line, where, found):
    """The fields of one row of codecarbon's file (strings stripped)."""
    if not row["project_name"]:
        raise MlimpactError(f"{where}, column project_name: empty")
    # codecarbon multiplies the energies by its pue setting, 1.0 unless the user gave one
    facility = (
        bool(row.get("pue"))
        and _number(row, "pue", where, lambda x: x >= 1, "a number >= 1 (a PUE)") > 1
    )
    hardware, accelerators = _gpus(row, where, found)
    return {
        "line": line,
        "project": row["project_name"],
        "run_id": row["run_id"],
        "date": _date(row, where),
        "hardware": hardware,
        "accelerators": accelerators,
        "seconds": _positive(row, "duration", where),
        "energy_kwh": _positive(row, "energy_consumed", where),
        "location": _location(row, where),
        "scope": "facility" if facility else "node",
    }


#: Fields that the rows of one run must share, and the codecarbon columns they come from.
_SHARED = {
    "hardware": "gpu_model",
    "location": "country_iso_code, region or cloud_region",
    "scope": "pue",
}


def _inventory_row(name, sessions, path):
    """One inventory row of the sessions of one run: energies and accelerator-hours summed
    (the impacts depend on accelerator-hours; hours are their sum over the largest count,
    the sum of the durations when every session had the same count)."""
    first = sessions[0]
    for session in sessions[1:]:
        for field, column in _SHARED.items():
            if session[field] != first[field]:
                raise MlimpactError(
                    f"{path} line {session['line']}, column {column}: {field} "
                    f"{session[field]!r} differs from {first[field]!r} of line {first['line']} "
                    f"(one run of {name!r})"
                )
    accelerators = max(s["accelerators"] for s in sessions)
    # a session's share a/max is exactly 1 when every session had the same count
    hours = math.fsum(s["seconds"] * (s["accelerators"] / accelerators) for s in sessions) / 3600
    return {
        "name": name,
        "date": max(s["date"] for s in sessions).isoformat(),
        "hardware": first["hardware"],
        "accelerators": str(accelerators),
        "hours": repr(hours),
        "location": first["location"],
        "provider": "",
        "energy_kwh": repr(math.fsum(s["energy_kwh"] for s in sessions)),
        "energy_scope": first["scope"],
    }


def _read(path):
    """Raw bytes, columns and ``(line, row)`` pairs of a CSV file (values stripped)."""
    path = Path(path)
    if not path.exists():
        raise MlimpactError(f"{path}: no such codecarbon file")
    if not path.is_file():
        raise MlimpactError(f"{path}: not a regular file (codecarbon's emissions.csv expected)")
    try:
        raw = path.read_bytes()
        content = raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise MlimpactError(f"{path}: cannot read ({error.__class__.__name__})") from None
    reader = csv.DictReader(io.StringIO(content, newline=""))
    rows = []
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        for row in reader:
            if None in row:
                raise MlimpactError(
                    f"{path} line {reader.line_num}: more fields than the header's {len(columns)}"
                )
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    except csv.Error as error:
        # line_num counts the lines of the records read whole: the bad one starts after them
        raise MlimpactError(f"{path} line {reader.line_num + 1}: malformed CSV ({error})") from None
    return raw, columns, rows


def codecarbon_rows(path, group=None):
    """Rows of an inventory from codecarbon's ``emissions.csv``.

    Parameters
    ----------
    path : str or Path
        codecarbon's CSV file (UTF-8, with or without BOM).
    group : {None, "run_id", "project_name"}
        None: one run per row; ``"run_id"``: one run per session (its latest row: codecarbon
        writes running totals); ``"project_name"``: one run per project, its sessions summed
        (energy [kWh] and accelerator-hours [h]; the latest date, the largest accelerator
        count; hardware, location and energy scope must agree).

    Returns
    -------
    rows : list of dict
        Inventory rows (strings) with the columns :data:`COLUMNS`, in the order of the file
        (a group at its first row): hours [h], energy_kwh [kWh].
    columns : tuple of str
        :data:`COLUMNS`.
    sha256 : str
        SHA-256 of the file's bytes.

    Raises
    ------
    MlimpactError
        One line naming the file, line and column: missing, unreadable or empty file, no
        row, missing columns, a value that is not a number, not > 0 (duration, energy_consumed)
        or not a whole number (gpu_count), a bad timestamp, a row without GPU or with several
        kinds of card, unknown hardware or country, rows of one run that disagree, a
        ``run_id`` repeated with ``group=None``.
    """
    if group not in GROUPS:
        raise MlimpactError(f"group: must be one of {', '.join(map(str, GROUPS))} (got {group!r})")
    raw, columns, lines = _read(path)
    if not columns:
        raise MlimpactError(f"{path}: empty file (codecarbon's emissions.csv expected)")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise MlimpactError(
            f"{path}: not codecarbon's emissions.csv: columns {', '.join(missing)} missing"
        )
    if not lines:
        raise MlimpactError(f"{path}: no row")
    found, sessions = {}, {}
    for line, row in lines:
        where = f"{path} line {line}"
        session = _session(row, line, where, found)
        # a row without run_id is a session of its own
        key = (session["project"], session["run_id"] or f"line {line}")
        if group is None and key in sessions:
            raise MlimpactError(
                f"{where}, column run_id: {key[1]!r} also on line "
                f"{sessions[key][0]['line']}: codecarbon writes the running "
                "totals of a session at each flush() under one run_id; group "
                "by run_id"
            )
        sessions.setdefault(key, []).append(session)
    runs = {}
    for (project, run_id), snapshots in sessions.items():
        name = project if group == "project_name" else f"{project}/{run_id}"
        if group != "project_name" and name in runs:
            raise MlimpactError(
                f"{path} line {snapshots[0]['line']}, column run_id: the name "
                f"{name!r} is also that of line {runs[name][0]['line']}"
            )
        # a session is its latest snapshot: the running totals of the longest duration
        runs.setdefault(name, []).append(max(snapshots, key=lambda s: s["seconds"]))
    rows = [_inventory_row(name, group_sessions, path) for name, group_sessions in runs.items()]
    return rows, COLUMNS, hashlib.sha256(raw).hexdigest()


def codecarbon_records(path, group=None):
    """Records of the runs of codecarbon's ``emissions.csv`` (:func:`codecarbon_rows`), read
    as the rows of an inventory (:func:`mlimpact.runs.records.inventory_records`), and the
    file's SHA-256."""
    from mlimpact.runs.records import inventory_records

    rows, columns, digest = codecarbon_rows(path, group)
    return inventory_records(rows, columns, source=str(path)), digest
