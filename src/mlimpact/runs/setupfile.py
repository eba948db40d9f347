"""Setup files: one training run described in TOML, validated into a one-row run table.

A setup file has the sections ``[run]``, ``[node]``, optional ``[server]`` and optional
``[assumptions]`` (see ``docs/setup.md`` and ``examples/bert_base.toml``). Every key is checked:
an unknown key, a wrong type or a value out of range raises :class:`MlimpactError` with a
one-line message naming the file, section and key.

Hardware values come from the hardware table unless the setup overrides them; a value the table
does not have (a TPU die area, say) must be given, never guessed. Grid factors come from the
Boavizta electricity table by country, the GWP factor from the country's year-specific intensity
(OWID / Ember) when ``year`` is given, and any ``grid_*`` assumption overrides both.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlimpact._io import load_toml
from mlimpact.errors import MlimpactError
from mlimpact.runs import notable
from mlimpact.runs.runspec import _FIELDS_OF_KEY, run_record, schema, validated_keys
from mlimpact.runs.table import RUN_FIELDS, bounds_text, out_of_bounds
from mlimpact.tables.catalogue import POWER_MODELS

__all__ = ["Setup", "build_setup", "check_power", "load_setup", "parse_setup", "schema"]


@dataclass(frozen=True)
class Setup:
    """A validated setup: the one-row run table and where each input came from.

    Attributes
    ----------
    runs : RunTable
        One row (see :mod:`mlimpact.runs`) with every input at its point value in the power
        model.
    hardware : mlimpact.tables.hardware.Hardware or None
        The table row of the accelerator, or None for a label with all values given.
    gpu_label : str
        The accelerator name as resolved (table name) or as given.
    country, year : str, int or None
        The grid location and year.
    provenance : dict
        For hardware and grid inputs, ``"table"``, ``"setup"`` or a source description.
    given_fields : frozenset of str
        Run-table fields the setup states explicitly: known, so not sampled unless the
        ``[uncertainty]`` section gives them a distribution.
    uncertainty : dict
        The raw ``[uncertainty]`` section, validated by :mod:`mlimpact.uncertainty.catalogue`.
    """

    runs: object
    hardware: object
    gpu_label: str
    country: str
    year: object
    provenance: dict = field(default_factory=dict)
    given_fields: frozenset = frozenset()
    uncertainty: dict = field(default_factory=dict)
    source: str = "<setup>"
    #: The run as the dataset's rules build it (:class:`mlimpact.runs.notable.NotableRuns`):
    #: its known fields, classes and parameters of location, die area and grid.
    notable: object = None
    #: Power model (``evidence`` or ``mlca``) and location rule of the run.
    power: str = "evidence"
    location: str = "evidence"
    #: What the rules decided that a user should read (location, world factors, imputed...).
    notes: tuple = ()


def parse_setup(document, source="<setup>", power="evidence", location="evidence"):
    """Validate a setup given as a dict (the parsed TOML) and build its run with the rules of
    the dataset (:func:`mlimpact.runs.notable.build_runs`) in the power model ``power``
    (``evidence`` or ``mlca``) and the location rule ``location``."""
    values, name = validated_keys(document, source)
    record, provenance, hardware = run_record(values, name, source)
    return build_setup(
        record,
        provenance,
        hardware,
        source,
        power,
        location,
        uncertainty=dict(document.get("uncertainty", {})),
    )


def check_power(record, power, source):
    """Refuse a record that states inputs the power model ``power`` does not have."""
    if power not in POWER_MODELS:
        raise MlimpactError(f"power model must be one of {', '.join(POWER_MODELS)} (got {power!r})")
    if power == "mlca" and (record["fixed"] or "host_usage" in record["stated"]):
        raise MlimpactError(
            f"{source}: pue and host_usage belong to the evidence power model "
            "(MLCA's has one dynamic ratio: give dynamic_ratio)"
        )


def build_setup(
    record, provenance, hardware, source, power="evidence", location="evidence", uncertainty=None
):
    """A :class:`Setup` from a record of :func:`run_record`: the run built by the dataset's
    rules; an excluded run is an error saying why."""
    check_power(record, power, source)
    year = int(record["year"])
    runs = notable.build_runs((year, year), records=[record], location=location, power=power)
    if runs.records[0].status == "excluded":
        raise MlimpactError(f"{source}: {runs.records[0].reason}")
    row = dict(zip(RUN_FIELDS, runs.runs.values[0]))
    _check_bounds(source, row, record)
    label = runs.hardware[0]
    return Setup(
        runs=runs.runs,
        hardware=hardware,
        gpu_label=label,
        country=runs.countries[0],
        year=record["grid_year"],
        provenance=provenance,
        given_fields=frozenset(f for f, k in zip(RUN_FIELDS, runs.known[0]) if k),
        uncertainty=dict(uncertainty or {}),
        source=source,
        notable=runs,
        power=power,
        location=location,
        notes=runs.records[0].notes,
    )


def _check_bounds(source, row, record):
    """Every field of the row within :data:`mlimpact.runs.table.FIELD_BOUNDS` (physical
    limits, docs/setup.md), the message naming the setup key that set it."""
    keys = {}
    for section, key in record["given_keys"]:
        for name in _FIELDS_OF_KEY.get(key, (key,)):
            keys[name] = f"[{section}] {key}"
    for name, value in row.items():
        if out_of_bounds(name, value):
            where = keys.get(name, f"{name} (from the hardware or grid tables)")
            raise MlimpactError(
                f"{source}: {where} = {value:g} is outside the accepted range "
                f"{bounds_text(name)} (docs/setup.md)"
            )


def load_setup(path, power="evidence", location="evidence"):
    """Read and validate a setup file; errors name the file and the field."""
    return parse_setup(
        load_toml(path, "setup file"), source=str(Path(path)), power=power, location=location
    )


#: Keys of a setup or an inventory row that give a run field of another name, beyond
#: :data:`mlimpact.runs.runspec._FIELDS_OF_KEY` (a metered energy).
_MORE_FIELDS_OF_KEY = {"energy_kwh": ("metered_energy_kwh",)}


def given_fields(keys):
    """The run fields that ``(section, key)`` pairs of a setup document or an inventory row
    (its ``given_keys``) give."""
    fields = set()
    for _, key in keys:
        named = _MORE_FIELDS_OF_KEY.get(key) or _FIELDS_OF_KEY.get(key, (key,))
        fields.update(f for f in named if f in RUN_FIELDS)
    return fields


def document_keys(document):
    """The ``(section, key)`` pairs a setup document gives (its ``[uncertainty]`` aside)."""
    return [
        (section, key)
        for section, values in document.items()
        if section != "uncertainty" and isinstance(values, dict)
        for key in values
    ]


def _acting_on(extra, hardware, country, run):
    """The ``(name, parameter)`` of ``extra`` that act on a field of one run (its hardware,
    country and name): a run field's, not the production factors', with no members or the
    run's among them."""
    members = {"global": "", "hardware": hardware, "country": country, "run": run}
    for name, parameter in extra.items():
        if parameter.scope == "factor" or parameter.target not in RUN_FIELDS:
            continue
        if parameter.members and members[parameter.scope] not in parameter.members:
            continue
        yield name, parameter


def check_stated_rows(extra, records, source):
    """:func:`check_stated` for the rows of an inventory (``records`` with their
    ``given_keys``): a user's parameter (``extra``) that replaces a field a row gives (its
    ``hours``, say) would override the row's value without a word."""
    for record in records:
        given = given_fields(record.get("given_keys", ()))
        run = (record.get("hardware", ""), record.get("country", ""), record["model"])
        for name, parameter in _acting_on(extra, *run):
            if parameter.mode == "replace" and parameter.target in given:
                raise MlimpactError(
                    f"{source}: parameter {name!r} replaces {parameter.target}, which run "
                    f"{record['model']!r} gives: its value would be overridden; drop the "
                    f"parameter, or restrict it (members) to runs that do not give "
                    f"{parameter.target}"
                )


def check_stated(extra, setup, states=None, source="estimate"):
    """Refuse a parameter of ``extra`` (the user's, not the catalogue's defaults) that acts on a
    field the setup (:class:`Setup`) states: on a field the setup fixes (``hours``,
    ``gpu_usage``, say) the parameter would be ignored without a word, and a replacing one on a
    field the document gives (``states(field)``; by default the fixed fields) would override
    the stated value without one. The setup's ``[uncertainty]`` section is the way to make a
    stated field uncertain. ``source`` (the parameters file, say) starts the message."""
    runs = setup.notable
    known = np.asarray(runs.known, bool)[0]
    states = states or (lambda field: field in setup.given_fields)
    for name, parameter in _acting_on(
        extra, runs.hardware[0], runs.countries[0], runs.runs.names[0]
    ):
        field = parameter.target
        fixed = bool(known[RUN_FIELDS.index(field)])
        if fixed or (states(field) and parameter.mode == "replace"):
            effect = "would be ignored" if fixed else "would replace the stated value"
            raise MlimpactError(
                f"{source}: parameter {name!r} acts on {field}, which the setup states, and "
                f"{effect}; drop {field} from the setup, or give its distribution in the "
                f"setup's uncertainty section, which overrides the stated value"
            )
