"""Which documents feed the inputs of a run: what makes a validation row in-sample.

Every source of ``data/`` carries keys of ``data/sources.csv`` (its ``source_key`` column, or
an entry's ``sources`` in ``data/parameters.toml``; :mod:`mlimpact.tables.sources`). The
sources of a run's inputs are:

- the catalogue's entries (every entry acts on every run of its power model: the power draw,
  the PUE, the host, the production factors...);
- the node rating of its accelerators (``node_configurations.csv``);
- for a run of the dataset (an Epoch record): its record's fixes (``record_fixes.csv``) and
  the evidence of its location (its published sites, ``locations.csv``, or its organisation's
  providers and their sites, ``providers.csv`` and ``provider_sites.csv``:
  :func:`mlimpact.runs.locations.candidate_keys`).

A run built from what a row publishes (validate's ``setup`` way) takes the row's own setup
(accelerator, count, hours, site): that is the question asked, not an input fitted to it. A
validation row is **in-sample** when one of its own keys is among the sources of the run it
checks: its figure may have shaped the estimate it is compared with (docs/validation.md).
"""

from mlimpact.runs.locations import candidate_keys
from mlimpact.tables.models import fix_keys, load_models
from mlimpact.tables.nodes import node_configurations


def catalogue_keys(catalogue):
    """The keys of every entry of ``catalogue`` (their ``sources``)."""
    return {key for entry in catalogue.values() for key in getattr(entry, "sources", ()) or ()}


def node_keys(hardware_names):
    """The keys of the node ratings of the accelerators named in ``hardware_names``."""
    configurations = node_configurations()
    return {
        key
        for name in hardware_names
        if name in configurations
        for key in configurations[name].source_keys
    }


def record_keys(model):
    """The keys of what the dataset's run of ``model`` takes from its record: the record's
    fixes and the evidence of its location (the location rule ``evidence``)."""
    record = next((r for r in load_models() if r["model"] == model), None)
    if record is None:
        return set()
    organizations = [o.strip() for o in record["organization"].split(",")]
    year = int(record["year"]) if record["year"] else 0
    location = candidate_keys(model, organizations, record["country"], year)
    return {*fix_keys(model), *location}


class RunSources:
    """The sources of the runs that validation rows check, under ``catalogue``."""

    def __init__(self, catalogue):
        self.common = catalogue_keys(catalogue)

    def of(self, hardware_names, model=None):
        """The keys of the inputs of a run on ``hardware_names``: the dataset's run of
        ``model``, or with ``model`` None a run built from a row (or a card)."""
        keys = self.common | node_keys(hardware_names)
        return keys if model is None else keys | record_keys(model)

    def in_sample(self, row, hardware_names, model=None):
        """Whether one of ``row``'s keys (:class:`mlimpact.tables.validation.Published`) is
        a source of the run it checks (:meth:`of`)."""
        return bool(set(row.source_keys) & self.of(hardware_names, model))
