"""The catalogue of uncertain inputs.

Each :class:`Parameter` has a distribution (:mod:`mlimpact.uncertainty.distributions`), a unit,
a *scope* that fixes how many random columns it needs, a *target* (the run-table field it acts
on, or a criterion for production-factor errors), a *mode* (``replace`` the field, or ``scale``
it by a multiplicative error) and, where the point model needs it, a *point* value. The defaults
are in ``data/parameters.toml``, argued in ``docs/uncertainty.md``; a setup's ``[uncertainty]``
section or a parameters file can change any of them. :mod:`mlimpact.uncertainty.binding` binds
them to the runs of a run table.
"""

import math
import warnings
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from types import MappingProxyType

from mlimpact._io import load_toml
from mlimpact.errors import MlimpactError, check_path
from mlimpact.quantities import IMPACT_CRITERIA, LABELS
from mlimpact.runs.table import CATEGORIES, FIELD_BOUNDS, RUN_FIELDS, bounds_text
from mlimpact.tables.catalogue import POWER_MODELS, SOURCE, catalogue_document
from mlimpact.uncertainty import distributions
from mlimpact.uncertainty.distributions import (
    Constant,
    Discrete,
    LogNormal,
    Uniform,
    sampled_range,
)

SCOPES = ("global", "hardware", "country", "run", "factor")
#: Largest multiplicative error a ``scale`` parameter may draw (keeps every result finite).
MAX_SCALE = 1e6


def drawn_values(distribution):
    """The values a constant, discrete or empirical distribution can draw; None for a
    continuous one."""
    if distribution.kind == "constant":
        return (distribution.value,)
    if distribution.kind in ("discrete", "empirical"):
        return tuple(distribution.values)
    return None


MODES = ("replace", "scale")
_KEYS = {
    "distribution",
    "unit",
    "scope",
    "target",
    "mode",
    "source",
    "description",
    "members",
    "label",
    "point",
    "class",
    "by_class",
    "class_points",
    "power_model",
    "sources",
}
#: Kinds of class a run-scope parameter's distribution may depend on.
CLASS_KINDS = ("accelerator", "provider")
_REQUIRED = ("distribution", "scope", "target", "mode")


@dataclass(frozen=True)
class Parameter:
    """One uncertain input.

    Attributes
    ----------
    name : str
    distribution : mlimpact.uncertainty.distributions.Distribution
    scope : str
        ``global``, ``hardware``, ``country``, ``run`` or ``factor``.
    target : str
        A field of :data:`mlimpact.runs.table.RUN_FIELDS`, or for scope ``factor`` a criterion
        (``gwp``, ``adpe``, ``pe``) whose production factors are scaled.
    mode : str
        ``replace`` or ``scale``.
    unit, source, description : str
    sources : tuple of str
        Keys of ``data/sources.csv`` of the documents the parameter was taken or argued from
        (``sources`` of its entry; required in ``data/parameters.toml``, optional in a user's
        file).
    members : tuple of str
        If not empty, the parameter acts only on these members of its scope (one accelerator,
        say); otherwise on every member.
    point : float or None
        The value of the point (deterministic) estimate, for a ``replace`` parameter whose
        point value is not stated by the runs; it must lie in the distribution's support.
    member_distributions : dict, optional
        Member -> its own distribution (a run's choice among locations, say); the others
        take ``distribution``.
    class_kind : str, optional
        ``accelerator`` or ``provider``: a run-scope parameter whose distribution depends on
        the run's class of that kind (``by_class``; other classes take ``distribution``).
    by_class : dict, optional
        Class label -> distribution.
    power_model : str, optional
        ``mlca`` or ``evidence``: the power model the parameter belongs to (both if None).
    """

    name: str
    distribution: object
    scope: str
    target: str
    mode: str
    unit: str = ""
    source: str = ""
    description: str = ""
    sources: tuple = ()
    members: tuple = ()
    point: float = None
    member_distributions: dict = None
    class_kind: str = None
    by_class: dict = None
    power_model: str = None
    #: Short name for figures and tables (default: the name, underscores as spaces).
    label: str = ""

    @property
    def display_name(self):
        return self.label or self.name.replace("_", " ")

    def distribution_of(self, member, label=None):
        """The distribution of one member of the scope: its own (``member_distributions``),
        its class's (``label``, in ``by_class``), or the parameter's."""
        if self.member_distributions and member in self.member_distributions:
            return self.member_distributions[member]
        if self.by_class and label in self.by_class:
            return self.by_class[label]
        return self.distribution

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise MlimpactError(f"Parameter: name must be a string (got {self.name!r:.60})")
        where = f"parameter {self.name!r}"
        if not isinstance(self.distribution, distributions.Distribution):
            raise MlimpactError(
                f"{where}: distribution must be a Distribution of "
                f"mlimpact.uncertainty.distributions (got {self.distribution!r:.60})"
            )
        for key in ("scope", "target", "mode", "unit", "source", "description", "label"):
            if not isinstance(getattr(self, key), str):
                raise MlimpactError(
                    f"{where}: {key} must be a string (got {getattr(self, key)!r:.60})"
                )
        object.__setattr__(self, "members", tuple(self.members))
        object.__setattr__(self, "sources", tuple(self.sources))
        own = dict(self.member_distributions or {})
        object.__setattr__(self, "member_distributions", own or None)
        for member, distribution in own.items():
            Parameter(
                f"{self.name}[{member}]", distribution, self.scope, self.target, self.mode
            )  # each member's distribution is checked like the parameter
        classes = dict(self.by_class or {})
        object.__setattr__(self, "by_class", classes or None)
        if classes or self.class_kind is not None:
            _check_class_kind(where, self.class_kind, self.scope)
            for label, distribution in classes.items():
                Parameter(f"{self.name}[{label}]", distribution, self.scope, self.target, self.mode)
        _check_kinds(where, self.power_model, self.scope, self.mode)
        _check_target(where, self.scope, self.target, self.mode)
        low, high = self.distribution.support()
        drawn_low, drawn_high = sampled_range(self.distribution)
        if self.mode == "scale":
            _check_scale_range(where, self.distribution, low, drawn_high)
        else:
            _check_field_range(where, self.distribution, self.target, low, drawn_low, drawn_high)
        if self.point is not None:
            _check_point(where, self.point, self.mode, self.distribution, low, high)


def _check_class_kind(where, class_kind, scope):
    """Check that a by-class parameter has a known class kind and scope run."""
    if class_kind not in CLASS_KINDS or scope != "run":
        raise MlimpactError(
            f"{where}: class must be one of {', '.join(CLASS_KINDS)}, with scope run and by_class"
        )


def _check_kinds(where, power_model, scope, mode):
    """Check that a parameter's power model, scope and mode are known ones."""
    if power_model not in (None, *POWER_MODELS):
        raise MlimpactError(f"{where}: power_model must be one of {', '.join(POWER_MODELS)}")
    if scope not in SCOPES:
        raise MlimpactError(f"{where}: scope must be one of {', '.join(SCOPES)} (got {scope!r})")
    if mode not in MODES:
        raise MlimpactError(f"{where}: mode must be replace or scale (got {mode!r})")


def _check_target(where, scope, target, mode):
    """Check that a parameter targets a criterion's factors (scaled) or a run field."""
    if scope == "factor":
        if target not in IMPACT_CRITERIA or mode != "scale":
            raise MlimpactError(
                f"{where}: a factor-scope parameter scales the production "
                f"factors of one criterion: target in {IMPACT_CRITERIA}, "
                "mode scale"
            )
    elif target not in RUN_FIELDS:
        raise MlimpactError(
            f"{where}: unknown target {target!r} (a run field: {', '.join(RUN_FIELDS)})"
        )


def _check_scale_range(where, distribution, low, drawn_high):
    """Check that a multiplicative error is >= 0 and draws at most :data:`MAX_SCALE`."""
    if low < 0:
        raise MlimpactError(
            f"{where}: a multiplicative error must be >= 0, but {distribution} reaches {low:g}"
        )
    if not drawn_high <= MAX_SCALE:
        raise MlimpactError(
            f"{where}: {distribution} draws multiplicative errors "
            f"up to {drawn_high:g}; at most {MAX_SCALE:g} is accepted"
        )


def _check_field_range(where, distribution, target, low, drawn_low, drawn_high):
    """Check that a replacing distribution stays in the valid range (or categories) of its
    run field."""
    bound_low, low_ok, bound_high = FIELD_BOUNDS[target]
    # an exclusive lower bound must not be in the support (a lognormal's 0 is not)
    reaches = low <= bound_low and distribution.kind != "lognormal"
    below = drawn_low < bound_low or (not low_ok and (drawn_low <= bound_low or reaches))
    values = drawn_values(distribution)
    if (
        below
        or drawn_high > bound_high
        or (target in CATEGORIES and (values is None or not set(values) <= set(CATEGORIES[target])))
    ):
        raise MlimpactError(
            f"{where}: {distribution} can leave the valid range of {target} ({bounds_text(target)})"
        )


def _check_point(where, point, mode, distribution, low, high):
    """Check that a point value belongs to a replace parameter and is a finite number in the
    support [low, high]."""
    if mode != "replace":
        raise MlimpactError(f"{where}: only a replace parameter has a point value")
    if not (
        isinstance(point, (int, float))
        and not isinstance(point, bool)
        and math.isfinite(point)
        and low <= point <= high
    ):
        raise MlimpactError(
            f"{where}: point {point!r} is outside the support [{low:g}, {high:g}] of {distribution}"
        )


def _check_members(where, scope, members):
    """Members of hardware and country scope name an accelerator of the hardware table or a
    country code of the grid tables (or ``unknown``)."""
    from mlimpact.tables.grid import country_names
    from mlimpact.tables.hardware import hardware_table

    for member in members:
        if scope == "hardware":
            if member not in hardware_table().names:
                hardware_table().find(member, field=f"{where}: members")  # suggests names
                raise MlimpactError(
                    f"{where}: members: {member!r} is an alias; name "
                    f"{hardware_table().find(member).name!r}"
                )
        elif member != "unknown" and member not in country_names():
            raise MlimpactError(f"{where}: members: unknown country code {member!r}")


#: Run fields that count things: an input given for them must draw whole numbers.
COUNT_FIELDS = ("nodes", "repetitions", "gpus", "cpus", "ram_modules", "psus")


def _parameter(name, spec, source):
    where = f"{source}: parameter {name!r}"
    if not isinstance(spec, dict):
        raise MlimpactError(f"{where} must be a table with distribution, scope, target, mode")
    unknown = set(spec) - _KEYS
    if unknown:
        raise MlimpactError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(_KEYS))})"
        )
    for key in _REQUIRED:
        if key not in spec:
            raise MlimpactError(f"{where}: {key} is required")
    for key in _KEYS - {"distribution", "members", "point", "by_class", "class_points", "sources"}:
        if key in spec and not isinstance(spec[key], str):
            raise MlimpactError(f"{where}: {key} must be a string")
    by_class = spec.get("by_class", {})
    if not isinstance(by_class, dict):
        raise MlimpactError(f"{where}: by_class must be a table of distributions")
    if not isinstance(spec.get("label", ""), str):
        raise MlimpactError(f"{where}: label must be a string")
    members = spec.get("members", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise MlimpactError(f"{where}: members must be a list of names")
    sources = spec.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) and s.strip() for s in sources):
        raise MlimpactError(f"{where}: sources must be a list of source keys")
    if members and spec["scope"] in ("hardware", "country"):
        _check_members(where, spec["scope"], members)
    try:
        return Parameter(
            name=name,
            distribution=distributions.from_spec(spec["distribution"], name=name),
            scope=spec["scope"],
            target=spec["target"],
            mode=spec["mode"],
            unit=spec.get("unit", ""),
            source=spec.get("source", ""),
            description=spec.get("description", ""),
            sources=tuple(sources),
            members=tuple(members),
            point=spec.get("point"),
            class_kind=spec.get("class"),
            by_class={
                label: distributions.from_spec(d, name=f"{name}[{label}]")
                for label, d in by_class.items()
            }
            or None,
            power_model=spec.get("power_model"),
            label=spec.get("label", ""),
        )
    except MlimpactError as error:
        message = str(error)
        raise MlimpactError(
            message if message.startswith(source) else f"{source}: {message}"
        ) from None


def parse_parameters(document, source="<parameters>"):
    """Parameters from a parsed TOML document: ``{name: {distribution, scope, ...}}``."""
    if not isinstance(document, dict):
        raise MlimpactError(f"{source}: a parameters file must be a TOML table")
    return {name: _parameter(name, spec, source) for name, spec in document.items()}


def load_parameters(path):
    """Read a parameters file (the format of ``data/parameters.toml``)."""
    check_path("load_parameters", "path", path)
    return parse_parameters(load_toml(path, "parameters file"), source=str(path))


def default_catalogue(power_model="mlca"):
    """The default catalogue of ``data/parameters.toml`` for a power model: MLCA's (its
    dynamic ratio; setups and cards) or ``evidence`` (PUE by provider class and the
    cluster's non-training share)."""
    if power_model not in POWER_MODELS:
        raise MlimpactError(
            f"power model must be one of {', '.join(POWER_MODELS)} (got {power_model!r})"
        )
    return dict(_default_catalogue(power_model))  # a new dict: callers amend theirs


@cache
def _default_catalogue(power_model):
    """:func:`default_catalogue` of a known power model, read-only: parsed and checked once
    (a study asks for it for every scenario and specification). Its parameters are frozen."""
    parameters = parse_parameters(dict(catalogue_document()), source=SOURCE)
    check_sources(catalogue_document(), SOURCE)
    return MappingProxyType(
        {name: p for name, p in parameters.items() if p.power_model in (None, power_model)}
    )


def check_sources(document, source=SOURCE):
    """Check that every entry of a catalogue document (the packaged one) has a ``sources``
    list of keys of ``data/sources.csv`` (empty only for an entry that is our assumption)."""
    from mlimpact.tables.sources import known_keys

    for name, spec in document.items():
        if "sources" not in spec:
            raise MlimpactError(f"{source}: parameter {name!r}: sources is required")
        known_keys(spec["sources"], f"{source}: parameter {name!r}: sources")


def merge_catalogue(base, extra, power_model, source="parameters"):
    """``base`` amended by the parameters of ``extra`` (a dict of :class:`Parameter`, or the
    path of a parameters file), the one rule of every command: an entry of the other power
    model (tagged ``power_model``, or named like such an entry of ``data/parameters.toml``: a
    calibrated catalogue's ``facility_pue`` under MLCA's model, say) has no effect there; it is
    left out with a warning, never applied silently."""
    if extra is None:
        return dict(base)
    if not isinstance(extra, dict):
        source = str(extra)
        extra = load_parameters(extra)
    models = {
        name: spec.get("power_model")
        for name, spec in catalogue_document().items()
        if isinstance(spec, dict)
    }
    merged = dict(base)
    for name, parameter in extra.items():
        model = parameter.power_model or models.get(name)
        if model not in (None, power_model):
            warnings.warn(
                f"{source}: {name} is an input of the {model} power model; it has no effect "
                f"under the {power_model} power model and is left out",
                stacklevel=2,
            )
            continue
        merged[name] = parameter
    return merged


def run_parameters(runs):
    """The parameters a run table of notable models brings with it
    (:class:`mlimpact.runs.notable.NotableRuns`): its unpublished die areas
    (:func:`die_area_parameters`), its runs' choices of location
    (:func:`location_parameters`), the chip-hours its records and their sources disagree on
    (:func:`record_parameters`) and the world's ADPe and PE factors standing for a country's
    (:func:`fallback_parameters`)."""
    return {
        **die_area_parameters(runs.unpublished_dies),
        **location_parameters(runs.location_choices or {}),
        **record_parameters(runs.record_ranges or {}),
        **fallback_parameters(getattr(runs, "grid_fallbacks", ())),
    }


def with_runs(catalogue, runs):
    """The catalogue for the runs of ``runs`` (:class:`mlimpact.runs.notable.NotableRuns`):
    ``catalogue`` with :func:`run_parameters`, and the run-scope inputs that a run states
    (:attr:`~mlimpact.runs.notable.NotableRuns.fixed`) fixed at their value for that run."""
    catalogue = {**catalogue, **run_parameters(runs)}
    for name, values in (getattr(runs, "fixed", None) or {}).items():
        for parameter, value in values.items():
            if parameter not in catalogue:
                continue
            own = dict(catalogue[parameter].member_distributions or {})
            own[name] = Constant(float(value), unit=catalogue[parameter].unit)
            catalogue[parameter] = replace(catalogue[parameter], member_distributions=own)
    return catalogue


def fallback_parameters(countries):
    """``grid_<criterion>_world`` (``grid_adpe_world``, ``grid_pe_world``) for each criterion
    whose grid factor is Boavizta's (every one but the GWP, which has every country's
    intensity): for the grids whose factors are the world's (no factor for the country,
    ``unknown`` included), a multiplicative error of the spread of countries' factors around
    the world's
    (:func:`mlimpact.tables.grid.world_fallback_gsd`), on top of the factor's own error."""
    if not countries:
        return {}
    from mlimpact.tables.grid import BOAVIZTA_CRITERIA, world_fallback_gsd

    out = {}
    for criterion, what in ((c, LABELS[c]) for c in BOAVIZTA_CRITERIA):
        gsd = world_fallback_gsd(criterion)
        if not gsd > 1.0:  # every country's factor is the world's: nothing to stand for
            continue
        out[f"grid_{criterion}_world"] = Parameter(
            f"grid_{criterion}_world",
            LogNormal(1.0, gsd, unit="1"),
            scope="country",
            target=f"grid_{criterion}",
            mode="scale",
            unit="1",
            source="data/electricity_factors.csv: root-mean-square log ratio of its countries' "
            f"factors to the world's (gsd {gsd:.2f})",
            sources=("boavizta-boaviztapi2026",),
            description=f"the world's {what} factor of electricity standing for a country's",
            members=tuple(sorted(countries)),
            label=f"grid {what} (world's for the country)",
        )
    return out


def record_parameters(ranges):
    """``record_chip_hours``: for each run whose record and primary source disagree on
    chip-hours by more than 10 % (``data/record_fixes.csv``), a uniform factor on its training
    time between the two (1 = the record's)."""
    if not ranges:
        return {}
    from mlimpact.tables.models import record_fix_keys

    own = {name: Uniform(low, high, unit="1") for name, (low, high) in ranges.items()}
    fixes = record_fix_keys()
    keys = (k for name in sorted(own) for k in fixes.get(name, {}).get("chip_hours", ()))
    return {
        "record_chip_hours": Parameter(
            "record_chip_hours",
            Constant(1.0),
            scope="run",
            target="hours",
            mode="scale",
            unit="1",
            source="data/record_fixes.csv (action disagree)",
            sources=tuple(dict.fromkeys(keys)),
            description="chip-hours where the record and its primary source disagree",
            members=tuple(sorted(own)),
            label="chip-hours (record vs source)",
            member_distributions=own,
        )
    }


def location_parameters(choices):
    """``location``: for each run whose grid is a choice among regions, a discrete
    multiplicative factor on its grid GWP (each region's intensity / the run's point value,
    weighted by the evidence: ``mlimpact.runs.locations``)."""
    if not choices:
        return {}
    own = {
        name: _location_factor(tuple(map(float, ratios)), tuple(map(float, weights)))
        for name, (ratios, weights) in choices.items()
    }
    return {
        "location": Parameter(
            "location",
            Constant(1.0),
            scope="run",
            target="grid_gwp",
            mode="scale",
            unit="1",
            source="data/locations.csv, data/providers.csv, data/provider_sites.csv, "
            "data/grid_regions.csv (docs/dataset.md, Location)",
            description="where the run trained: its grid region among the candidates the "
            "evidence leaves",
            members=tuple(sorted(own)),
            label="grid region of the run",
            member_distributions=own,
        )
    }


@lru_cache(maxsize=4096)
def _location_factor(ratios, weights):
    """The discrete factor of :func:`location_parameters` for these candidates: one object
    for every run (and every dataset of a run) with the same, built and checked once (the
    main job built 2,076, 15 datasets of a few hundred runs, of far fewer distinct ones)."""
    return Discrete(list(ratios), list(weights), unit="1")


def die_area_parameters(unpublished_dies):
    """One uniform die-area parameter of hardware scope per accelerator whose die area is not
    published (:class:`mlimpact.runs.notable.UnpublishedDie`), acting on that accelerator
    alone, whether it is a run's only accelerator or one of its variants."""
    return {
        f"die_area[{die.hardware}]": Parameter(
            f"die_area[{die.hardware}]",
            Uniform(die.low_cm2, die.high_cm2, unit="cm2"),
            scope="hardware",
            target="gpu_die_area_cm2",
            mode="replace",
            unit="cm2",
            source=die.basis,
            description=f"die area of {die.hardware}",
            members=(die.hardware,),
            label=f"die area of {die.hardware}",
        )
        for die in unpublished_dies
    }


def apply_uncertainty(catalogue, section, source="[uncertainty]"):
    """Apply a setup's ``[uncertainty]`` section to a catalogue; return the new catalogue.

    Each key is either a catalogue parameter (its distribution is replaced: a table is a
    distribution spec, a number fixes it), a run field not in the catalogue (a new run-scope
    parameter that replaces that field), or a new parameter given in full (a table with
    ``distribution``, ``scope``, ``target`` and ``mode``).
    """
    catalogue = dict(catalogue)
    if not isinstance(section, dict):
        raise MlimpactError(f"{source} must be a section")
    for name, spec in section.items():
        if isinstance(spec, dict) and "distribution" in spec:
            catalogue[name] = _parameter(name, spec, source)
            continue
        where = f"{source} {name}"
        if name not in catalogue and name not in RUN_FIELDS:
            raise MlimpactError(
                f"{where}: not a parameter of the catalogue "
                f"({', '.join(sorted(catalogue))}) nor a run field"
            )
        distribution = distributions.from_spec(spec, name=where)
        target = catalogue[name].target if name in catalogue else name
        if target in COUNT_FIELDS:
            drawn = drawn_values(distribution)
            if drawn is None or any(v != int(v) for v in drawn):
                raise MlimpactError(
                    f"{where}: {target} counts things: give a whole number or "
                    "a discrete distribution of whole numbers"
                )
        try:
            if name in catalogue:
                # the point model keeps its own point value (a setup's [assumptions])
                catalogue[name] = replace(
                    catalogue[name],
                    distribution=distribution,
                    source="setup file",
                    sources=(),
                    point=None,
                )
            else:
                catalogue[name] = Parameter(
                    name=name,
                    distribution=distribution,
                    scope="run",
                    target=name,
                    mode="replace",
                    source="setup file",
                )
        except MlimpactError as error:
            raise MlimpactError(f"{source}: {error}") from None
    return catalogue


def catalogue_hash(catalogue):
    """SHA-256 of a catalogue's content (every parameter's distribution, scope, target, mode,
    members and point), independent of the order of its entries: for manifests."""
    import hashlib
    import json

    content = {
        name: {
            "distribution": p.distribution.to_spec(),
            "scope": p.scope,
            "target": p.target,
            "mode": p.mode,
            "members": list(p.members),
            "point": p.point,
            "class": p.class_kind,
            "by_class": {k: d.to_spec() for k, d in (p.by_class or {}).items()},
            "by_member": {k: d.to_spec() for k, d in (p.member_distributions or {}).items()},
        }
        for name, p in sorted(catalogue.items())
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=float).encode()).hexdigest()
