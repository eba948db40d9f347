"""Published footprints of training runs and of accelerator cards: ``data/validation.csv``.

Each row is one published number: the energy, operational (use-phase) GWP, use-phase water or
embodied GWP of a training run, or the production GWP of one accelerator card, with its source
(citation and table or section), its **basis** (``measured``: metered energy or measured mean power
x time; ``derived``: chip-hours x an assumed power, or an estimate) and, for emissions, its
accounting (``location`` or ``market``). Columns, units and provenance are in ``data/README.md``.
The table only states what was published; :mod:`mlimpact.study.validation` compares it with our
estimates.
"""

import math
from dataclasses import dataclass
from functools import cache

from mlimpact._io import packaged_csv, read_user_csv
from mlimpact.errors import MlimpactError
from mlimpact.tables.sources import split_keys

#: Quantities of the table and their units.
QUANTITY_UNITS = {
    "energy": "kWh",
    "operational_gwp": "kg CO2eq",
    "embodied_gwp": "kg CO2eq",
    "card_gwp": "kg CO2eq",
    "water": "L",
    "onsite_water": "L",
    "offsite_water": "L",
}
#: Quantities of a training run's use phase (energy and what follows from it): they state the
#: scope of their power and of their facility (``power_scope``, ``pue_basis``).
USE_QUANTITIES = ("energy", "operational_gwp", "water", "onsite_water", "offsite_water")
#: Water of a run's use phase: on site and off site (``water``), the facility's cooling alone
#: (``onsite_water``), the grid's generation alone (``offsite_water``).
WATER_QUANTITIES = ("water", "onsite_water", "offsite_water")
BASES = ("measured", "derived")
ACCOUNTINGS = ("location", "market")
#: What the power of a published energy or operational GWP counts: the whole node
#: (accelerators and host, measured at the system or as system power per chip) or the
#: accelerators alone (their TDP, or their own meters); "" where the source does not say.
POWER_SCOPES = ("node", "accelerators")
#: Where the PUE of a published energy or operational GWP comes from: ``site`` (the operator's
#: published PUE of the site or fleet: what we estimate), ``assumed`` (a PUE the authors
#: assumed: ours is set to it), ``none`` (the figure leaves the facility out: so does ours),
#: ``unstated`` (included, its value not published: ours is drawn).
PUE_BASES = ("site", "assumed", "none", "unstated")


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
    pue_basis : str
        Where the PUE comes from (:data:`PUE_BASES`), "" for other quantities.
    power_scope : str
        What the published power counts (:data:`POWER_SCOPES`), "" if unstated.
    energy_kwh : float
        The facility's energy [kWh] that a published water figure rests on, where the source
        gives it (NaN otherwise): the run is then estimated at that energy, so that the row
        tests the water per kWh, not the energy.
    not_scored : str
        Why the row is listed but not compared, "" if it is.
    source_keys : tuple of str
        Keys of ``data/sources.csv`` of the documents the row was read in (provenance).
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
    pue_basis: str
    grid: float
    power_w: float
    power_scope: str
    energy_kwh: float
    not_scored: str
    source_keys: tuple
    source: str
    url: str
    notes: str

    @property
    def convention(self):
        """Why the row rests on a publisher's convention rather than on a measurement of the
        run, "" if it does not (data/README.md, "Scored rows"): a training figure derived
        from an assumed power (a nameplate TDP, a borrowed measurement) or estimated, or an
        operational GWP whose site is not published (a national or other average factor).
        Card estimates are never conventions."""
        if self.quantity == "card_gwp":
            return ""
        reasons = []
        if self.basis == "derived":
            reasons.append("assumed power" if self.quantity != "embodied_gwp" else "estimate")
        if self.quantity in ("operational_gwp", *WATER_QUANTITIES) and not self.country:
            reasons.append("unpublished site")
        return "; ".join(reasons)


#: Columns a table of published footprints must have; the others of ``data/validation.csv``
#: may be absent (empty).
REQUIRED_COLUMNS = ("id", "model", "quantity", "value", "unit", "basis", "source")
#: Columns of ``data/validation.csv``, in order.
COLUMNS = (
    "id",
    "model",
    "epoch_model",
    "year",
    "quantity",
    "value",
    "unit",
    "basis",
    "accounting",
    "hardware",
    "chips",
    "chip_hours",
    "hours",
    "location",
    "country",
    "region",
    "provider",
    "pue",
    "pue_basis",
    "grid_kgco2eq_per_kwh",
    "power_w",
    "power_scope",
    "energy_kwh",
    "not_scored",
    "source_key",
    "source",
    "url",
    "notes",
)


class _Row:
    """A row of a table of published footprints being parsed: its cells and where it is, for
    errors that name the line and the column."""

    def __init__(self, cells, where):
        self.cells, self.where = cells, where

    def __getitem__(self, key):
        return (self.cells.get(key) or "").strip()

    def error(self, column, message):
        return MlimpactError(f"{self.where}, column {column}: {message}")

    def number(self, key):
        text = self[key]
        if not text:
            return math.nan
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0:
            raise self.error(key, f"must be a number >= 0 (got {text!r})")
        return value

    def choice(self, key, allowed, what):
        if self[key] not in ("", *allowed):
            raise self.error(key, f"{what} must be {' or '.join(allowed)} (got {self[key]!r})")
        return self[key]


def _check_training_columns(row):
    """The columns that only the use-phase rows (energy, operational GWP, water) state,
    checked."""
    quantity = row["quantity"]
    training = quantity in USE_QUANTITIES
    if (quantity == "operational_gwp") != bool(row["accounting"]):
        raise row.error("accounting", "stated for operational GWP, and only there")
    if row["power_scope"] and not training:
        raise row.error("power_scope", "stated for energy, operational GWP and water only")
    if training != bool(row["pue_basis"]):
        raise row.error("pue_basis", "stated for energy, operational GWP and water, and only there")
    if row["energy_kwh"] and quantity not in WATER_QUANTITIES:
        raise row.error("energy_kwh", "stated for water only")
    if row["energy_kwh"] and not row.number("energy_kwh") > 0:
        raise row.error("energy_kwh", f"must be a number > 0 (got {row['energy_kwh']!r})")
    if row["pue_basis"] in ("site", "assumed") and not row.number("pue") >= 1:
        raise row.error("pue", f"a PUE >= 1 is needed where pue_basis is {row['pue_basis']}")


def parse_row(cells, where=None):
    """A :class:`Published` from a row of a table of published footprints (dict of strings),
    checked; ``where`` names the row in errors (default: its id in ``data/validation.csv``)."""
    row = _Row(cells, where or f"data/validation.csv row {cells.get('id')!r}")
    quantity = row["quantity"]
    if not row["id"]:
        raise row.error("id", "no row id")
    if quantity not in QUANTITY_UNITS:
        raise row.error("quantity", f"unknown quantity {quantity!r}")
    if row["unit"] != QUANTITY_UNITS[quantity]:
        raise row.error("unit", f"must be {QUANTITY_UNITS[quantity]} for {quantity}")
    row.choice("basis", BASES, "basis")
    if not row["basis"]:
        raise row.error("basis", "must be measured or derived")
    row.choice("accounting", ACCOUNTINGS, "accounting")
    row.choice("power_scope", POWER_SCOPES, "power_scope")
    row.choice("pue_basis", PUE_BASES, "pue_basis")
    _check_training_columns(row)
    if not row["source"]:
        raise row.error("source", "no source")
    year = row["year"]
    if year and not (year.isdigit() and 1950 <= int(year) <= 2100):
        raise row.error("year", f"must be a year (got {year!r})")
    return Published(
        id=row["id"],
        model=row["model"],
        epoch_model=row["epoch_model"],
        year=int(year) if year else None,
        quantity=quantity,
        value=row.number("value"),
        basis=row["basis"],
        accounting=row["accounting"],
        hardware=row["hardware"],
        chips=row.number("chips"),
        chip_hours=row.number("chip_hours"),
        hours=row.number("hours"),
        country=row["country"],
        region=row["region"],
        provider=row["provider"],
        pue=row.number("pue"),
        pue_basis=row["pue_basis"],
        grid=row.number("grid_kgco2eq_per_kwh"),
        power_w=row.number("power_w"),
        power_scope=row["power_scope"],
        energy_kwh=row.number("energy_kwh"),
        not_scored=row["not_scored"],
        source_keys=split_keys(row["source_key"]),
        source=row["source"],
        url=row["url"],
        notes=row["notes"],
    )


def parse_rows(rows, name):
    """:class:`Published` rows of a table (dicts of strings) read from ``name``, checked: each
    error names the line and column; ids are unique."""
    out = tuple(parse_row(cells, f"{name} line {line}") for line, cells in enumerate(rows, 2))
    seen = set()
    for line, row in enumerate(out, 2):
        if row.id in seen:
            raise MlimpactError(f"{name} line {line}, column id: {row.id!r} is not unique")
        seen.add(row.id)
    return out


def read_footprints(path):
    """The published footprints of a user's table in the format of ``data/validation.csv``
    (``mlimpact validate --table``): columns :data:`REQUIRED_COLUMNS` at least; every bad
    cell is reported by line and column."""
    columns, rows, _ = read_user_csv(path, "table of published footprints")
    absent = [c for c in REQUIRED_COLUMNS if c not in columns]
    if absent:
        raise MlimpactError(f"{path}: no column {', '.join(absent)} (see data/validation.csv)")
    if not rows:
        raise MlimpactError(f"{path}: no row")
    out = parse_rows(rows, str(path))
    for line, row in enumerate(out, 2):
        _check_names(row, f"{path} line {line}")
    return out


def _check_names(row, where):
    """Check that the accelerator, country and grid region a row names are known (the table
    of published footprints that ships is checked by its tests)."""
    from mlimpact.tables import grid
    from mlimpact.tables.hardware import hardware_table

    if row.hardware:
        hardware_table().find(row.hardware, field=f"{where}, column hardware")
    if row.region and not grid.is_region(row.region):
        raise MlimpactError(f"{where}, column region: unknown grid region {row.region!r}")
    if row.country and not grid.has_intensity(row.country):
        raise MlimpactError(
            f"{where}, column country: no grid intensity for {row.country!r} (ISO 3166 alpha-3)"
        )


@cache
def published_footprints():
    """Every row of ``data/validation.csv`` as :class:`Published`, in file order."""
    return parse_rows(packaged_csv("validation.csv"), "data/validation.csv")
