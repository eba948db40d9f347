"""Options of the main job: their defaults, their checks, and a run configuration file.

A configuration file (``mlimpact run --config FILE``) is TOML with a ``[run]`` table of options
(the keys of :data:`CONFIG_KEYS`) and an ``[uncertainty]`` table that amends the catalogue as a
setup file's does (``docs/setup.md``).
"""

import dataclasses
import functools
import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from mlimpact._io import load_toml
from mlimpact.analysis import trends
from mlimpact.errors import MlimpactError
from mlimpact.runs.notable import WINDOW, DatasetOptions
from mlimpact.runs.records import read_models_file
from mlimpact.study.scenarios import SCENARIOS, check_low_carbon_country
from mlimpact.uncertainty import METHODS

#: Fits of the trends (mlimpact.analysis.trends; frontier: least squares on the frontier).
FITS = ("ols", "huber", "frontier")


@dataclass
class StudyOptions:
    """Options of the main job (``mlimpact run``)."""

    samples: int = 2048
    seed: int = 0
    window: tuple = WINDOW
    scenarios: tuple = SCENARIOS
    impute: bool = True
    low_carbon_country: str = None
    method: str = "mc"
    chunk_size: int = 2048
    uncertainty: dict = field(default_factory=dict)
    #: Base points the Sobol' analysis behind the report's "dominant inputs" section starts
    #: from (a power of two; 0 skips it); it doubles them until every total-order interval
    #: the report reads is at most +- ``sensitivity_target`` (0: no doubling), up to
    #: ``sensitivity_max`` base points. The N reached depends on the data and the seed only,
    #: not on the machine's speed (the cap bounds the time: about 70 s at 32,768 on 2 cores);
    #: ``sensitivity_budget`` [s], None by default, would also stop it by wall-clock time.
    sensitivity_samples: int = 1024
    sensitivity_target: float = 0.05
    sensitivity_max: int = 32768
    sensitivity_budget: float = None
    #: Compare published footprints with our intervals (the report's "how far to trust
    #: this"; needs the baseline scenario).
    validate: bool = True
    #: Where runs trained: ``evidence`` (published sites, providers, within-country spread)
    #: or ``organisation`` (the organisation's country, as MLCA).
    location: str = "evidence"
    #: Energy model: ``evidence`` (measured draws by accelerator class, PUE by provider
    #: class, non-training share) or ``mlca`` (0.75 x TDP and a dynamic ratio of 1.835).
    power: str = "evidence"
    #: Whether records Epoch AI marks Speculative enter.
    speculative: bool = True
    #: A user's models file (an Epoch AI export or an inventory) instead of the embedded
    #: snapshot (:mod:`mlimpact.runs.records`).
    models_file: str = None
    #: Fit of the trends: ``ols`` (least squares in log space), ``huber`` (robust) or
    #: ``frontier`` (least squares on the largest models of each year by compute).
    fit: str = "ols"
    #: Re-evaluate the claims under other reasonable analysis choices (specification
    #: analysis, :mod:`mlimpact.study.specifications`): samples per specification, the axes
    #: (axis -> options; None: every axis of AXES) and how they combine.
    specifications: bool = True
    specification_samples: int = 256
    specification_axes: dict = None
    specification_mode: str = "one-at-a-time"


def options_document(options):
    """The options as a JSON document (field -> value, every default filled in, tuples as
    lists), which :func:`options_from_document` turns back into the same options; a
    manifest records it so that ``mlimpact run --from-manifest`` reruns the run."""
    import json

    if not isinstance(options, StudyOptions):
        raise MlimpactError(f"options_document: expected StudyOptions (got {options!r:.60})")
    lost = MlimpactError(
        "options: a value does not survive JSON (a date, NaN or infinity in the [uncertainty] "
        "section?), so the run could not be rerun from its manifest"
    )
    try:
        document = json.loads(json.dumps(dataclasses.asdict(options), allow_nan=False))
    except (TypeError, ValueError):
        raise lost from None
    if options_from_document(document, "options") != options:
        raise lost
    return document


#: The JSON type of each kind of option field, and its name in messages.
_JSON_KINDS = {
    int: ((int,), "whole number"),
    float: ((int, float), "number"),
    str: ((str,), "string"),
    bool: ((bool,), "true or false"),
    tuple: ((list,), "list"),
    dict: ((dict,), "object"),
}


def _option_value(source, name, value, kind, default):
    """One option of a document, checked against its field's type and turned back into it
    (lists into tuples, dicts of lists into dicts of tuples)."""
    if value is None and default is None:
        return None
    accepted, what = _JSON_KINDS[kind]
    if not isinstance(value, accepted) or (isinstance(value, bool) and kind is not bool):
        raise MlimpactError(f"{source}: option {name} must be a {what} (got {value!r:.60})")
    if kind is tuple:
        return tuple(value)
    if name == "specification_axes":
        return {axis: tuple(v) if isinstance(v, list) else v for axis, v in value.items()}
    return float(value) if kind is float else value


def options_from_document(document, source):
    """The :class:`StudyOptions` of a document of :func:`options_document` (``source`` names
    it in messages): every field present, no other, each of its field's type; the values
    themselves are checked by :func:`validate_options`."""
    if not isinstance(document, dict):
        raise MlimpactError(f"{source}: options must be a JSON object (got {document!r:.60})")
    fields = {f.name: f for f in dataclasses.fields(StudyOptions)}
    unknown, missing = set(document) - set(fields), set(fields) - set(document)
    if unknown:
        raise MlimpactError(f"{source}: unknown option(s) {', '.join(sorted(map(str, unknown)))}")
    if missing:
        raise MlimpactError(f"{source}: missing option(s) {', '.join(sorted(missing))}")
    defaults = StudyOptions()
    return StudyOptions(
        **{
            name: _option_value(source, name, document[name], f.type, getattr(defaults, name))
            for name, f in fields.items()
        }
    )


def records_of(options):
    """``(records, sha256)`` of the options' models file, or ``(None, None)`` for the
    embedded snapshot."""
    if options.models_file is None:
        return None, None
    return read_models_file(options.models_file)


def dataset_of(options, records=None):
    """The :class:`~mlimpact.runs.notable.DatasetOptions` of the main job's options, with the
    ``records`` of its models file (:func:`records_of`) or the embedded snapshot."""
    return DatasetOptions(
        window=options.window,
        impute=options.impute,
        records=records,
        location=options.location,
        power=options.power,
        speculative=options.speculative,
    )


def catalogue_of(options, extra, runs=None):
    """The default catalogue with the ``extra`` parameters and those of ``runs``
    (:func:`mlimpact.uncertainty.catalogue.with_runs`, if given), amended by the options'
    ``[uncertainty]`` section."""
    from mlimpact.uncertainty.catalogue import apply_uncertainty

    catalogue = _runs_catalogue(options.power, extra, runs)
    return apply_uncertainty(catalogue, options.uncertainty, source="[uncertainty]")


def _runs_catalogue(power, extra, runs):
    """:func:`catalogue_of` before the ``[uncertainty]`` section."""
    from mlimpact.uncertainty.catalogue import default_catalogue, merge_catalogue, with_runs

    catalogue = merge_catalogue(default_catalogue(power), extra, power)
    return catalogue if runs is None else with_runs(catalogue, runs)


class Catalogues:
    """The catalogues of one study (:func:`catalogue_of` without ``extra``) and their bindings
    to runs, each made once per distinct (runs, power model, ``[uncertainty]`` section): a
    study asks for the same ones for its scenarios, their levels, the validation and every
    specification that shares the runs. The runs are told apart by identity (the entry holds
    them, so that their id is not reused), the section by its content; a catalogue is handed
    out as a new dict (the parameters are frozen), a binding and a plan as they are (nothing
    writes to them). Make one per study: nothing is kept between studies."""

    def __init__(self):
        self._with_runs = {}  # (id(runs), power) -> (runs, catalogue before the section)
        self._made = {}  # (id(runs), power, section) -> [runs, catalogue, bound, plan]

    def _made_of(self, options, runs):
        key = (id(runs), options.power, content_key(options.uncertainty))
        made = self._made.get(key)
        if made is None:
            from mlimpact.uncertainty.catalogue import apply_uncertainty

            source = self._with_runs.get(key[:2])
            if source is None:
                source = self._with_runs[key[:2]] = (runs, _runs_catalogue(options.power, {}, runs))
            catalogue = apply_uncertainty(source[1], options.uncertainty, source="[uncertainty]")
            made = self._made[key] = [runs, catalogue, None, None]
        return made

    def catalogue(self, options, runs=None):
        """:func:`catalogue_of` ``(options, {}, runs)``."""
        return dict(self._made_of(options, runs)[1])

    def bound(self, options, runs):
        """The catalogue of ``runs`` (NotableRuns) bound to them
        (:func:`mlimpact.uncertainty.binding.bind`)."""
        made = self._made_of(options, runs)
        if made[2] is None:
            made[2] = bound_of(runs, made[1])
        return made[2]

    def plan(self, options, runs):
        """:func:`mlimpact.engine.propagate.stage_plan` of ``runs`` and :meth:`bound`."""
        made = self._made_of(options, runs)
        if made[3] is None:
            from mlimpact.engine.propagate import stage_plan

            made[3] = stage_plan(runs.runs, self.bound(options, runs))
        return made[3]


def bound_of(runs, catalogue):
    """``runs`` (NotableRuns) bound to ``catalogue``
    (:func:`mlimpact.uncertainty.binding.bind`)."""
    from mlimpact.uncertainty.binding import bind

    return bind(catalogue, runs.runs, runs.hardware, runs.countries, runs.known, runs.classes)


def content_key(value):
    """A hashable key of a TOML-like value (dicts, lists, scalars) that tells apart what
    :func:`catalogue_of` could tell apart: the order of a dict's entries, types, and floats by
    their repr (-0.0 is not 0.0)."""
    if isinstance(value, dict):
        return ("dict", tuple((repr(k), content_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(content_key(v) for v in value))
    return (type(value).__qualname__, repr(value))


#: The Python types each kind of option field accepts (a list for a tuple, from the API).
_PYTHON_KINDS = {
    int: (numbers.Integral,),
    float: (numbers.Real,),
    str: (str,),
    bool: (bool, np.bool_),
    tuple: (tuple, list),
    dict: (dict,),
}

_PYTHON_NAMES = {
    int: "a whole number",
    float: "a finite number",
    str: "a string",
    bool: "True or False",
    tuple: "a tuple or list",
    dict: "a dict",
}


def check_option_types(options, where="options"):
    """Check that every field of ``options`` has its field's type (a whole number for an
    ``int``, True or False for a ``bool``: never a truthy string), finite numbers, and a
    ``window`` of two years; the values' ranges, choices and the window's order are
    :func:`validate_options`'s."""
    if not isinstance(options, StudyOptions):
        raise MlimpactError(f"{where}: expected StudyOptions (got {options!r:.60})")
    defaults = StudyOptions()
    for f in dataclasses.fields(StudyOptions):
        value = getattr(options, f.name)
        if value is None and getattr(defaults, f.name) is None:
            continue
        kind = f.type
        wrong = not isinstance(value, _PYTHON_KINDS[kind]) or (
            kind is not bool and isinstance(value, (bool, np.bool_))
        )
        if not wrong and kind is float:
            wrong = not math.isfinite(float(value))
        if wrong:
            raise MlimpactError(
                f"{where}: {f.name} must be {_PYTHON_NAMES[kind]} (got {value!r:.60})"
            )
    window = options.window
    if (
        len(window) != 2
        or any(isinstance(y, bool) or not isinstance(y, numbers.Integral) for y in window)
        or not (1 <= window[0] <= 9999 and 1 <= window[1] <= 9999)
    ):
        raise MlimpactError(
            f"{where}: window must be two years (first, last) from 1 to 9999 (got {window!r:.60})"
        )


def validate_options(options):
    """Check the options before any work (and before any folder is written)."""
    check_option_types(options)
    dataset = dataset_of(options, records_of(options)[0])  # window, location, power
    if not 16 <= options.samples <= MAX_SAMPLES:
        raise MlimpactError(
            f"samples: at least 16 are needed for intervals, at most {MAX_SAMPLES:,} are "
            f"taken (got {options.samples})"
        )
    if not 0 <= options.seed <= MAX_SEED:
        raise MlimpactError(f"seed must be between 0 and {MAX_SEED:,} (got {options.seed})")
    if options.method not in METHODS:
        raise MlimpactError(f"method must be one of {', '.join(METHODS)} (got {options.method!r})")
    if options.method == "sobol" and options.samples & (options.samples - 1):
        raise MlimpactError(f"sobol sampling needs a power of two samples (got {options.samples})")
    unknown = set(options.scenarios) - set(SCENARIOS)
    if unknown or not options.scenarios:
        raise MlimpactError(
            f"scenarios must be among {', '.join(SCENARIOS)} "
            f"(got {', '.join(sorted(map(str, unknown))) or 'none'})"
        )
    check_low_carbon_country(options.low_carbon_country)
    if options.fit not in FITS:
        raise MlimpactError(f"fit must be one of {', '.join(FITS)} (got {options.fit!r})")
    _check_sensitivity(options)
    catalogue_of(options, {})  # a bad [uncertainty] section fails here
    if options.specifications:
        from mlimpact.study.specifications import choices_of, specification_set

        if not 16 <= options.specification_samples <= MAX_SAMPLES:
            raise MlimpactError(
                f"specification samples: at least 16 are needed, at most {MAX_SAMPLES:,} are "
                f"taken (got {options.specification_samples})"
            )
        specification_set(
            choices_of(options), options.specification_axes, options.specification_mode
        )
    if options.models_file is None:
        check_window(dataset)
    else:  # a user's runs: too few for a trend leave the trend claims not evaluable
        first, last = options.window
        years = sorted({int(r["year"]) for r in dataset.records})
        if not any(first <= year <= last for year in years):
            # build_runs's own message names neither the file nor the years it holds
            raise MlimpactError(
                f"{options.models_file}: no run enters the window {first}-{last} (the file's "
                f"runs are of {years[0]}-{years[-1]}: give --first-year/--last-year)"
            )
        runs = dataset.runs()
        if not runs or not len(runs.runs):
            raise MlimpactError(f"{options.models_file}: no run enters the window")


def _check_sensitivity(options):
    """Check the options of the report's Sobol' analysis (samples, target, budget, max)."""
    n = options.sensitivity_samples
    if n and (n < 2 or n & (n - 1)):
        raise MlimpactError(f"sensitivity samples must be 0 or a power of two >= 2 (got {n})")
    if not options.sensitivity_target >= 0:
        raise MlimpactError(
            f"sensitivity target must be a half-width >= 0 (got {options.sensitivity_target})"
        )
    budget = options.sensitivity_budget
    if budget is not None and not (isinstance(budget, (int, float)) and budget > 0):
        raise MlimpactError(f"sensitivity budget must be a number of seconds > 0 (got {budget!r})")
    most = options.sensitivity_max
    if n and options.sensitivity_target and (most < n or most & (most - 1)):
        raise MlimpactError(
            f"sensitivity max must be a power of two >= the sensitivity samples {n} (got {most})"
        )


# Fewest models, and distinct publication years, a trend is fitted on (analysis.trends).
MIN_MODELS, MIN_YEARS = trends.MIN_MODELS, trends.MIN_YEARS


def check_window(dataset):
    """Raise unless the notable models of ``dataset`` (a
    :class:`~mlimpact.runs.notable.DatasetOptions`) that enter a run are enough to fit a
    trend: at least :data:`MIN_MODELS` models over :data:`MIN_YEARS` publication years. The
    message names only the options that would let more models in (:func:`_more_models`)."""
    window = dataset.window
    if dataset.records is None:  # the embedded dataset: checked once per set of options
        included, count = _embedded_entering(
            tuple(window), dataset.impute, dataset.location, dataset.power, dataset.speculative
        )
    else:
        included, count = _entering(dataset)
    years = set(included)
    if not trends.enough_for_trend(included):
        raise MlimpactError(
            f"window {window[0]}-{window[1]}: {count} model(s) over {len(years)} publication "
            f"year(s) enter the run; trends need at least {MIN_MODELS} models over "
            f"{MIN_YEARS} years ({_more_models(dataset)})"
        )


def _entering(dataset):
    """The publication years of the models of ``dataset`` that enter a run, and the number
    of its runs."""
    runs = dataset.runs()
    included = [r.year for r in runs.records if r.status != "excluded"] if runs else []
    return included, len(runs.runs) if runs else 0


@functools.lru_cache(maxsize=8)
def _embedded_entering(window, impute, location, power, speculative):
    """:func:`_entering` of the embedded dataset under these options (the command line and
    :func:`mlimpact.study.claims.run_study` both check the window: the runs are built once)."""
    included, count = _entering(DatasetOptions(window, impute, None, location, power, speculative))
    return tuple(included), count


def _more_models(dataset):
    """What would let more models into the run of ``dataset``, in words: a window widened
    towards the years the records hold, imputation, the Speculative records; else a models
    file with more runs."""
    from mlimpact.tables.models import load_models

    records = load_models() if dataset.records is None else dataset.records
    years = sorted({int(row["year"]) for row in records})
    first, last = dataset.window
    helps = []
    if years and (years[0] < first or years[-1] > last):
        helps.append(f"a wider --first-year/--last-year: the records span {years[0]}-{years[-1]}")
    if not dataset.impute:
        helps.append("no --complete-only")
    if not dataset.speculative:
        helps.append("no --exclude-speculative")
    if not helps:
        source = "the embedded snapshot" if dataset.records is None else "the models file"
        return f"{source} holds no more: give --models FILE with more runs over more years"
    return "; ".join(helps)


#: Keys of a configuration file's [run] table, and the type each must have.
CONFIG_KEYS = {
    "samples": int,
    "seed": int,
    "method": str,
    "scenarios": list,
    "first_year": int,
    "last_year": int,
    "complete_only": bool,
    "low_carbon_country": str,
    "location": str,
    "power": str,
    "exclude_speculative": bool,
    "models": str,
}
#: Largest samples (``[run] samples``, ``[specifications] samples``, ``--samples`` of ``run``)
#: and seed a run takes: 2**31 - 1, set when results.nc was NetCDF3, whose integer attributes
#: are 32-bit, and kept now that it is NetCDF-4 (64-bit attributes): the samples are far beyond
#: what a run's memory holds long before, and the seed is hashed by numpy's ``SeedSequence``,
#: so no randomness is lost.
MAX_SAMPLES = MAX_SEED = 2**31 - 1
#: Ranges of the whole numbers of a configuration file.
_INT_RANGES = {
    "samples": (1, MAX_SAMPLES),
    "seed": (0, MAX_SEED),
    "first_year": (1, 9999),
    "last_year": (1, 9999),
}
_TYPE_NAMES = {
    int: "a whole number",
    str: "a string",
    list: "a list of strings",
    bool: "true or false",
}


def _check_sections(path, document):
    """Check that a configuration file has only [run], [uncertainty] and [specifications]
    tables."""
    unknown = set(document) - {"run", "uncertainty", "specifications"}
    if unknown:
        raise MlimpactError(
            f"{path}: unknown section(s) {', '.join(sorted(unknown))} "
            "(expected [run], [uncertainty], [specifications])"
        )
    for section in ("run", "uncertainty", "specifications"):
        if not isinstance(document.get(section, {}), dict):
            raise MlimpactError(f"{path}: [{section}] must be a table")


def _check_range(path, where, value, lowest, highest):
    """Refuse a whole number of the configuration file outside ``[lowest, highest]``."""
    if not lowest <= value <= highest:
        shown = str(value) if len(str(value)) <= 24 else f"a number of {len(str(value))} digits"
        raise MlimpactError(
            f"{path}: {where} must be between {lowest} and {highest:,} (got {shown})"
        )


def _check_run_table(path, run):
    """Check that the [run] table has only keys of :data:`CONFIG_KEYS`, of their types and
    whole numbers within :data:`_INT_RANGES`."""
    bad = set(run) - set(CONFIG_KEYS)
    if bad:
        raise MlimpactError(
            f"{path}: [run] unknown key(s) {', '.join(sorted(bad))} "
            f"(known: {', '.join(sorted(CONFIG_KEYS))})"
        )
    for key, value in run.items():
        expected = CONFIG_KEYS[key]
        wrong = (
            not isinstance(value, expected)
            or (isinstance(value, bool) and expected is int)
            or (expected is list and not all(isinstance(v, str) for v in value))
        )
        if wrong:
            raise MlimpactError(
                f"{path}: [run] {key} must be {_TYPE_NAMES[expected]} (got {value!r})"
            )
        if key in _INT_RANGES:
            _check_range(path, f"[run] {key}", value, *_INT_RANGES[key])


def _run_changes(options, run):
    """The options' changes (field -> value) that the [run] table asks for."""
    changes = {
        k: v
        for k, v in run.items()
        if k in ("samples", "seed", "method", "low_carbon_country", "location", "power")
    }
    if "scenarios" in run:
        changes["scenarios"] = tuple(run["scenarios"])
    if "complete_only" in run:
        changes["impute"] = not run["complete_only"]
    if "models" in run:
        changes["models_file"] = run["models"]
    if "exclude_speculative" in run:
        changes["speculative"] = not run["exclude_speculative"]
    if "first_year" in run or "last_year" in run:
        changes["window"] = (
            run.get("first_year", options.window[0]),
            run.get("last_year", options.window[1]),
        )
    return changes


def _specification_changes(path, specs):
    """The options' changes (field -> value) that the [specifications] table ``specs`` asks
    for (its mode, samples and enabled keys are popped from ``specs``)."""
    changes = {}
    for key in ("mode", "samples", "enabled"):
        value = specs.pop(key, None)
        if value is None:
            continue
        expected = {"mode": str, "samples": int, "enabled": bool}[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise MlimpactError(
                f"{path}: [specifications] {key} must be {_TYPE_NAMES[expected]} (got {value!r})"
            )
        if key == "samples":
            _check_range(path, "[specifications] samples", value, 1, MAX_SAMPLES)
        changes[
            {
                "mode": "specification_mode",
                "samples": "specification_samples",
                "enabled": "specifications",
            }[key]
        ] = value
    for axis, values in specs.items():
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise MlimpactError(f"{path}: [specifications] {axis} must be a list of strings")
    if specs:
        changes["specification_axes"] = {a: tuple(v) for a, v in specs.items()}
    return changes


def apply_config(options, path):
    """Options updated from the configuration file ``path`` (see the module's docstring)."""
    document = load_toml(path, "config file")
    _check_sections(path, document)
    run = document.get("run", {})
    _check_run_table(path, run)
    changes = _run_changes(options, run)
    changes.update(_specification_changes(path, dict(document.get("specifications", {}))))
    return dataclasses.replace(options, **changes, uncertainty=document.get("uncertainty", {}))
