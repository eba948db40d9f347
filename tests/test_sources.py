"""Provenance: every curated row and every catalogue entry names its documents by keys of
``data/sources.csv``, and every document there is used."""

import csv
import re
import unicodedata
from importlib import resources

import pytest

from mlimpact.errors import MlimpactError
from mlimpact.tables.catalogue import catalogue_document, catalogue_sources
from mlimpact.tables.sources import KEY_PATTERN, check_key, source_table, split_keys

#: The curated tables whose rows carry a ``source_key`` column (right before ``source``).
TABLES = (
    "accelerator_power.csv",
    "facility_pue.csv",
    "locations.csv",
    "providers.csv",
    "provider_sites.csv",
    "record_fixes.csv",
    "node_configurations.csv",
    "facility_wue.csv",
    "water_generation.csv",
)
#: Documents that rows cite by the name of their model rather than by their first author.
CITED_AS = {"groeneveld2024": "olmo"}


def _rows(name):
    path = resources.files("mlimpact.data").joinpath(name)
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _plain(text):
    """Lowercase ASCII letters and digits only (accents, punctuation and spaces dropped)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", ascii_text.lower())


def _name(key):
    """The surname or organisation of a key: its first hyphen-separated word before the year."""
    return re.fullmatch(r"([a-z][a-z0-9-]*?)-?[0-9]{4}[a-z]?", key).group(1).split("-")[0]


def _validation_keys():
    """Keys of ``data/validation.csv``'s ``source_key`` column (None while it has none)."""
    rows = _rows("validation.csv")
    if not rows or "source_key" not in rows[0]:
        return None
    keys = [k for row in rows for k in split_keys(row["source_key"])]
    return keys or None


def test_sources_table_is_sorted_unique_and_well_formed():
    rows = _rows("sources.csv")
    keys = [row["key"] for row in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert list(rows[0]) == ["key", "citation", "url"]
    for row in rows:
        assert KEY_PATTERN.fullmatch(row["key"]), row["key"]
        assert row["citation"].strip(), row["key"]
        assert not row["url"] or row["url"].startswith(("http://", "https://")), row["key"]
    assert set(source_table()) == set(keys)
    text = resources.files("mlimpact.data").joinpath("sources.csv").read_bytes()
    assert b"\r" not in text and text.endswith(b"\n")


@pytest.mark.parametrize(
    "key, good",
    [
        ("patterson2021", True),
        ("touvron2023b", True),
        ("meta-llama3-card2024", True),
        ("google-cloud-tpu-v3-2026", True),
        ("Patterson2021", False),
        ("patterson", False),
        ("2021patterson", False),
        ("patterson21", False),
        ("patterson2021ab", False),
    ],
)
def test_key_form(key, good):
    if good:
        assert check_key(key) == key
    else:
        with pytest.raises(MlimpactError, match="not a source key"):
            check_key(key)


def test_split_keys():
    assert split_keys("a2020; b2021;;") == ("a2020", "b2021")
    assert split_keys("") == () and split_keys(None) == ()


@pytest.mark.parametrize("table", TABLES)
def test_every_row_names_known_documents_that_its_source_cites(table):
    rows = _rows(table)
    columns = list(rows[0])
    assert columns.index("source_key") == columns.index("source") - 1
    known = source_table()
    previous = ""
    for line, row in enumerate(rows, start=2):
        keys = split_keys(row["source_key"])
        assert keys, f"{table} line {line}: no source_key"
        assert len(set(keys)) == len(keys), f"{table} line {line}"
        text = _plain(row["source"] + " " + row["url"])
        if row["source"].lower().startswith("same"):  # "same source as the row above"
            text += previous
        for key in keys:
            assert key in known, f"{table} line {line}: {key!r} is not in data/sources.csv"
            name = _name(key)
            assert name in text or CITED_AS.get(key, name) in text, (
                f"{table} line {line}: {key!r} ({name}) is not what the row's source cites"
            )
        previous = text


def test_every_catalogue_entry_names_known_documents():
    known = source_table()
    for name, spec in catalogue_document().items():
        assert isinstance(spec.get("sources"), list), name
        assert all(key in known for key in spec["sources"]), name
        assert catalogue_sources()[name] == tuple(spec["sources"])
        if not spec["sources"]:  # only an assumption that names no document has none
            assert "our assumption" in spec["source"], name


def test_every_validation_key_is_known():
    keys = _validation_keys()
    if keys is None:
        pytest.skip("data/validation.csv has no source keys yet")
    assert set(keys) <= set(source_table())


def test_every_document_is_used():
    used = {k for table in TABLES for row in _rows(table) for k in split_keys(row["source_key"])}
    used |= {k for keys in catalogue_sources().values() for k in keys}
    validation = _validation_keys()
    if validation is None:
        pytest.skip("data/validation.csv has no source keys yet: its documents look unused")
    used |= set(validation)
    assert set(source_table()) - used == set()


def test_loaders_keep_the_keys():
    from mlimpact.runs.locations import candidate_keys
    from mlimpact.tables.locations import location_keys, providers, site_keys
    from mlimpact.tables.models import fix_keys, record_fix_keys
    from mlimpact.tables.nodes import node_configurations
    from mlimpact.uncertainty.catalogue import default_catalogue, record_parameters

    assert location_keys("PaLM (540B)") == ("chowdhery2022",)
    assert location_keys("not a model") == ()
    assert providers()["Google"][0].source_keys == ("patterson2021",)
    assert site_keys("Google", 2020) == ("patterson2021", "rae2021")
    assert site_keys("Google", 1990) == ()
    assert record_fix_keys()["PaLM (540B)"] == {"chip_hours": ("chowdhery2022",)}
    assert fix_keys("GPT-3 175B (davinci)") == ("brown2020", "patterson2021")
    assert "latif2024" in node_configurations()["NVIDIA H100 SXM5 80GB"].source_keys
    # the evidence a run's location rests on: published site, or providers and their sites
    assert candidate_keys("PaLM (540B)", ["Google"], "USA", 2022) == ("chowdhery2022",)
    assert candidate_keys("x", ["Google"], "USA", 2020) == ("patterson2021", "rae2021")
    assert candidate_keys("x", ["nobody"], "USA", 2020) == ()
    catalogue = default_catalogue("evidence")
    assert catalogue["host_usage"].sources == ("latif2024", "newkirk2025", "dodge2022")
    chip_hours = record_parameters({"PaLM (540B)": (0.89, 1.0)})["record_chip_hours"]
    assert chip_hours.sources == ("chowdhery2022",)


def test_a_users_parameters_file_may_give_sources_or_not():
    from mlimpact.uncertainty.catalogue import parse_parameters

    spec = {
        "distribution": {"type": "uniform", "low": 1.1, "high": 1.3},
        "scope": "global",
        "target": "dynamic_ratio",
        "mode": "replace",
    }
    assert parse_parameters({"mine": spec})["mine"].sources == ()
    mine = parse_parameters({"mine": {**spec, "sources": ["our lab report"]}})["mine"]
    assert mine.sources == ("our lab report",)
    with pytest.raises(MlimpactError, match="sources must be a list"):
        parse_parameters({"mine": {**spec, "sources": "patterson2021"}})
