"""Published footprints of training runs and of accelerator cards: ``data/validation.csv``.

Each row is one published number: the energy, operational (use-phase) GWP or embodied GWP of a
training run, or the production GWP of one accelerator card, with its source (citation and table
or section), its **basis** (``measured``: metered energy or measured mean power x time;
``derived``: chip-hours x an assumed power, or an estimate) and, for emissions, its accounting
(``location`` or ``market``). Columns, units and provenance are in ``data/README.md``. The table
only states what was published; :mod:`mlimpact.study.validation` compares it with our estimates.
"""

import math
from dataclasses import dataclass
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError

#: Quantities of the table and their units.
QUANTITY_UNITS = {
    "energy": "kWh",
    "operational_gwp": "kg CO2eq",
    "embodied_gwp": "kg CO2eq",
    "card_gwp": "kg CO2eq",
}
BASES = ("measured", "derived")
ACCOUNTINGS = ("location", "market")
#: What the power of a published energy or operational GWP counts: the whole node
#: (accelerators and host, measured at the system or as system power per chip) or the
#: accelerators alone (their TDP, or their own meters); "" where the source does not say.
POWER_SCOPES = ("node", "accelerators")


@dataclass(frozen=True)
class Published:
    """One published number (``data/validation.csv``); unknown numbers are NaN.

    Attributes
    ----------
    id, model : str
        Row id; the model (or accelerator) as the source names it.
    epoch_model : str
        The same model's name in ``data/models.csv``, "" where Epoch has no such model.
    year : int or None
        Publication year of the model (the grid of the year before is used, as for the dataset).
    quantity : str
        A key of :data:`QUANTITY_UNITS`; value [that unit].
    basis, accounting : str
    hardware : str
        Accelerator as published (a name of the hardware table).
    chips, chip_hours, hours : float
        Accelerators, accelerator-hours [h], wall-clock hours [h].
    country : str
        ISO 3166 alpha-3 code of where the run trained, "" where not published.
    region, provider : str
        The grid region (:mod:`mlimpact.tables.grid`) and the compute provider where
        published, else "".
    pue, grid, power_w : float
        As the source used them: PUE, grid intensity [kg CO2eq/kWh], power per chip [W].
    power_scope : str
        What the published power counts (:data:`POWER_SCOPES`), "" if unstated.
    not_scored : str
        Why the row is listed but not compared, "" if it is.
    source, url, notes : str
    """

    id: str
    model: str
    epoch_model: str
    year: int
    quantity: str
    value: float
    basis: str
    accounting: str
    hardware: str
    chips: float
    chip_hours: float
    hours: float
    country: str
    region: str
    provider: str
    pue: float
    grid: float
    power_w: float
    power_scope: str
    not_scored: str
    source: str
    url: str
    notes: str


def _number(row, key):
    text = row[key].strip()
    if not text:
        return math.nan
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise MlimpactError(
            f"data/validation.csv row {row['id']!r}: {key} must be a number >= 0 (got {text!r})"
        )
    return value


def parse_row(row):
    """A :class:`Published` from a row of the CSV (dict of strings), checked."""
    where = f"data/validation.csv row {row.get('id')!r}"
    if row["quantity"] not in QUANTITY_UNITS:
        raise MlimpactError(f"{where}: unknown quantity {row['quantity']!r}")
    if row["unit"] != QUANTITY_UNITS[row["quantity"]]:
        raise MlimpactError(f"{where}: unit must be {QUANTITY_UNITS[row['quantity']]}")
    if row["basis"] not in BASES:
        raise MlimpactError(f"{where}: basis must be measured or derived")
    if row["accounting"] not in ("", *ACCOUNTINGS):
        raise MlimpactError(f"{where}: accounting must be location or market")
    if (row["quantity"] == "operational_gwp") != bool(row["accounting"]):
        raise MlimpactError(f"{where}: accounting is stated for operational GWP, and only there")
    if row["power_scope"] not in ("", *POWER_SCOPES):
        raise MlimpactError(f"{where}: power_scope must be node or accelerators")
    if row["power_scope"] and row["quantity"] not in ("energy", "operational_gwp"):
        raise MlimpactError(f"{where}: power_scope is stated for energy and operational GWP only")
    if not row["source"].strip():
        raise MlimpactError(f"{where}: no source")
    return Published(
        id=row["id"],
        model=row["model"],
        epoch_model=row["epoch_model"],
        year=int(row["year"]) if row["year"] else None,
        quantity=row["quantity"],
        value=_number(row, "value"),
        basis=row["basis"],
        accounting=row["accounting"],
        hardware=row["hardware"],
        chips=_number(row, "chips"),
        chip_hours=_number(row, "chip_hours"),
        hours=_number(row, "hours"),
        country=row["country"],
        region=row["region"],
        provider=row["provider"],
        pue=_number(row, "pue"),
        grid=_number(row, "grid_kgco2eq_per_kwh"),
        power_w=_number(row, "power_w"),
        power_scope=row["power_scope"],
        not_scored=row["not_scored"],
        source=row["source"],
        url=row["url"],
        notes=row["notes"],
    )


@cache
def published_footprints():
    """Every row of ``data/validation.csv`` as :class:`Published`, in file order."""
    rows = tuple(parse_row(row) for row in packaged_csv("validation.csv"))
    ids = [r.id for r in rows]
    if len(set(ids)) != len(ids):
        raise MlimpactError("data/validation.csv: row ids are not unique")
    return rows
