"""The public face of mlimpact for Python users (re-exported at the package's top level).

Estimating a training run from a notebook::

    >>> import mlimpact
    >>> run = mlimpact.Setup(gpu="H100 SXM5", gpus=8, nodes=4, hours=100, country="USA",
    ...                      gpu_usage=0.7)
    >>> result = mlimpact.estimate(run, samples=2048, seed=0)
    >>> float(result.gwp.sel(phase="total", statistic="median")) > 0
    True

Everything here validates its inputs with the rules and one-line messages of the command line
(:class:`mlimpact.MlimpactError`) and returns labelled objects: xarray Datasets and pandas
DataFrames, with units in their attributes.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import xarray as xr

from mlimpact._threads import one_blas_thread
from mlimpact.engine import model
from mlimpact.engine.propagate import DEFAULT_CHUNK_SIZE, propagate_setup
from mlimpact.errors import (
    MlimpactError,
    check_choice,
    check_flag,
    check_path,
    check_text,
    check_whole,
)
from mlimpact.quantities import UNITS
from mlimpact.render.files import describe_dataset, split_point
from mlimpact.runs import setupfile
from mlimpact.runs.notable import LOCATION_RULES
from mlimpact.runs.table import RUN_FIELDS
from mlimpact.tables.catalogue import POWER_MODELS
from mlimpact.tables.hardware import hardware_table
from mlimpact.tables.models import load_models
from mlimpact.uncertainty import METHODS
from mlimpact.uncertainty.catalogue import (
    Parameter,
    catalogue_hash,
    default_catalogue,
    load_parameters,
    merge_catalogue,
)
from mlimpact.uncertainty.sampling import MAX_SAMPLES

#: Largest seed (the main job's, :data:`mlimpact.study.options.MAX_SEED`: 2**31 - 1).
MAX_SEED = 2**31 - 1
#: Largest count of a setup (accelerators per node...), as the run table bounds it.
_MAX_COUNT = 10**6

#: Setup keys, by the section of the setup file (``docs/setup.md``) they belong to.
_SECTION_OF = {key: section for section, keys in setupfile.schema().items() for key in keys}


class Setup:
    """A training run to estimate: validated with the rules of the setup file.

    Parameters
    ----------
    name : str, optional
        Label of the run.
    gpu_hours : float, optional
        Accelerator-hours [h], instead of ``hours`` (with ``nodes`` and ``gpus``): the run
        is then one node of ``gpus`` accelerators (8 unless given) for gpu_hours / gpus hours,
        which gives the same impacts (they depend on accelerators x hours).
    **keys
        Any key of the setup file, without its section: ``hours`` [h], ``nodes``,
        ``country`` (ISO 3166 alpha-3), ``year``, ``gpu`` (a name or alias of the hardware
        table), ``gpus`` (per node), ``gpu_usage`` (mean fraction of TDP), ``gpu_tdp_w``,
        ``cpus``, ``lifetime_years``, ``production_model``... (``docs/setup.md``), and
        ``uncertainty`` (a dict: the ``[uncertainty]`` section).

    Examples
    --------
    >>> import mlimpact
    >>> run = mlimpact.Setup(gpu="NVIDIA V100 SXM2 32 GB", gpus=16, nodes=4, hours=79.2,
    ...                      country="USA", gpu_usage=0.75259, gpu_tdp_w=250)
    >>> run.name
    'run'
    >>> mlimpact.Setup(gpu="A100", gpus=8, gpu_hours=-5, country="USA", gpu_usage=0.7)
    Traceback (most recent call last):
    mlimpact.errors.MlimpactError: <setup>: gpu_hours must be > 0 (got -5)
    """

    def __init__(
        self, name: str | None = None, gpu_hours: float | None = None, **keys: Any
    ) -> None:
        check_text("<setup>", "name", name, optional=True)
        document: dict[str, Any] = {} if name is None else {"name": name}
        uncertainty = keys.pop("uncertainty", None)
        if uncertainty is not None and not isinstance(uncertainty, dict):
            raise MlimpactError(
                f"<setup>: uncertainty must be a dict like the [uncertainty] section "
                f"(got {uncertainty!r:.60})"
            )
        if gpu_hours is not None:
            if (
                isinstance(gpu_hours, bool)
                or not isinstance(gpu_hours, (int, float))
                or not gpu_hours > 0
                or not np.isfinite(gpu_hours)
            ):
                raise MlimpactError(f"<setup>: gpu_hours must be > 0 (got {gpu_hours!r})")
            if "hours" in keys or "nodes" in keys:
                raise MlimpactError("<setup>: give gpu_hours or hours and nodes, not both")
            keys.setdefault("gpus", 8)
            # checked here, before it divides: the setup's own check comes after
            check_whole("<setup>", "[node] gpus", keys["gpus"], 1, _MAX_COUNT)
            keys.update(nodes=1, hours=gpu_hours / keys["gpus"])
        for key, value in keys.items():
            if key not in _SECTION_OF:
                raise MlimpactError(
                    f"<setup>: unknown key {key!r} (known: "
                    f"{', '.join(sorted(_SECTION_OF))}, gpu_hours, uncertainty)"
                )
            document.setdefault(_SECTION_OF[key], {})[key] = value
        if uncertainty is not None:
            document["uncertainty"] = uncertainty
        self._set(document, "<setup>")

    def _set(self, document, source):
        self.document, self.source = document, source
        self.parsed = setupfile.parse_setup(document, source=source)

    @classmethod
    def from_dict(cls, document: dict[str, Any], source: str = "<setup>") -> Self:
        """A setup from a dict shaped like the TOML file (sections ``run``, ``node``...)."""
        check_text("Setup.from_dict", "source", source)
        setup = cls.__new__(cls)
        setup._set(document, source)
        return setup

    @classmethod
    def from_toml(cls, path: os.PathLike[str] | str) -> Self:
        """A setup from a TOML file (``docs/setup.md``)."""
        from mlimpact._io import load_toml

        check_path("Setup.from_toml", "path", path)
        return cls.from_dict(load_toml(path, "setup file"), source=str(Path(path)))

    @property
    def name(self) -> str:
        return self.parsed.runs.names[0]

    def __repr__(self) -> str:
        return f"Setup({self.name!r}: {self.parsed.gpu_label}, grid {self.parsed.country})"


def _as_setup(setup: Setup | dict[str, Any] | str | Path | None) -> Setup:
    if isinstance(setup, Setup):
        return setup
    if isinstance(setup, dict):
        return Setup.from_dict(setup)
    if isinstance(setup, (str, Path)):
        return Setup.from_toml(setup)
    raise MlimpactError(
        f"estimate: setup must be a Setup, a dict or the path of a setup file "
        f"(got {type(setup).__name__})"
    )


def _extra_parameters(parameters, power):
    """The user's ``parameters`` of :func:`estimate` (None, a dict of Parameter or the path of
    a parameters file) as a dict of Parameter, checked."""
    if parameters is None:
        return None
    if isinstance(parameters, dict):
        for name, parameter in parameters.items():
            if not isinstance(name, str) or not isinstance(parameter, Parameter):
                raise MlimpactError(
                    f"estimate: parameters must map names to mlimpact.Parameter "
                    f"(got {name!r:.40}: {parameter!r:.40})"
                )
        return parameters
    check_path("estimate", "parameters", parameters)
    return load_parameters(parameters)


def _states(setup, field):
    """Whether the setup document gives run field ``field`` (through one of its keys)."""
    return field in setupfile.given_fields(setupfile.document_keys(setup.document))


@one_blas_thread
def estimate(
    setup: Setup | dict[str, Any] | str | Path | None = None,
    samples: int = 10_000,
    seed: int = 0,
    method: str = "mc",
    parameters: dict[str, Parameter] | os.PathLike[str] | str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    point: bool = False,
    power: str = "evidence",
    location: str = "evidence",
    codecarbon: os.PathLike[str] | str | None = None,
    group: str | None = None,
) -> xr.Dataset:
    """Energy and impacts of one training run, with their uncertainty.

    Parameters
    ----------
    setup : Setup, dict or path
        The run (a :class:`Setup`, a dict shaped like the setup file, or its path).
    samples, seed : int
        Monte Carlo samples and seed (the same seed gives the same numbers).
    method : {"mc", "lhs", "sobol"}
    parameters : path or dict, optional
        A parameters file (or a dict of :class:`mlimpact.Parameter`) amending the catalogue.
    point : bool
        Only the deterministic estimate (every input at its point value).
    power : {"evidence", "mlca"}
        Power model, as ``mlimpact run`` and ``validate``: measured draws by accelerator
        class, host power of rated nodes and PUE by provider class (``evidence``), or MLCA's
        (``mlca``: with ``point``, MLCA's published cases exactly).
    location : {"evidence", "organisation"}
        Location rule (only a run located by its organisation or provider differs).
    codecarbon : path, optional
        codecarbon's ``emissions.csv`` instead of ``setup``: every run (or ``group``:
        ``run_id``, ``project_name``) with its metered energy and logged location
        (:mod:`mlimpact.runs.codecarbon`); the result has one ``model`` per run.

    Returns
    -------
    xarray.Dataset
        ``energy`` [kWh] (model, statistic), ``energy_by_scope`` [kWh] (model, scope,
        statistic; scopes ``accelerators``, ``host``, ``overhead``, which add up to the
        energy) and ``gwp`` [kg CO2eq], ``adpe`` [kg Sb eq], ``pe`` [MJ] over (model, phase,
        statistic), statistics ``mean``, ``std``, ``q025``, ``q05``, ``median``, ``q95``,
        ``q975``; the point estimate as separate variables ``energy_point``,
        ``energy_by_scope_point``, ``gwp_point``... With ``point``, only those.

    Examples
    --------
    >>> import mlimpact
    >>> result = mlimpact.estimate({"run": {"hours": 79.2, "nodes": 4, "country": "USA"},
    ...                             "node": {"gpu": "NVIDIA V100 SXM2 32 GB", "gpus": 16,
    ...                                      "gpu_usage": 0.75259, "gpu_tdp_w": 250,
    ...                                      "gpu_die_area_cm2": 8.15}}, point=True, power="mlca")
    >>> round(float(result.energy_point.squeeze()))
    2082
    """
    check_whole("estimate", "samples", samples, 2, MAX_SAMPLES)
    check_whole("estimate", "seed", seed, 0, MAX_SEED)
    check_choice("estimate", "method", method, METHODS)
    check_whole("estimate", "chunk_size", chunk_size, 1, MAX_SAMPLES)
    check_flag("estimate", "point", point)
    check_choice("estimate", "power", power, POWER_MODELS)
    check_choice("estimate", "location", location, LOCATION_RULES)
    check_path("estimate", "codecarbon", codecarbon, optional=True)
    check_text("estimate", "group", group, optional=True)
    extra = _extra_parameters(parameters, power)
    if codecarbon is not None:
        return _codecarbon(
            codecarbon, group, samples, seed, extra, chunk_size, point, power, location, setup
        )
    setup = _as_setup(setup)
    parsed = (
        setup.parsed
        if (power, location) == ("evidence", "evidence")
        else setupfile.parse_setup(setup.document, setup.source, power=power, location=location)
    )
    notes = list(parsed.notes)
    if extra:
        setupfile.check_stated(extra, parsed, lambda field: _states(setup, field))
    for name in parsed.uncertainty:
        if name in RUN_FIELDS and _states(setup, name):
            notes.append(f"[uncertainty] {name} overrides the setup's stated {name}")
    attrs = {"power_model": power, "location_model": location, "notes": "; ".join(notes)}
    if point:
        result = model.training_impacts(parsed.runs)
        data = result.rename({name: f"{name}_point" for name in result.data_vars})
        return describe_dataset(
            data, "mlimpact point estimate of a training run", catalogue=None, **attrs
        )
    catalogue = merge_catalogue(default_catalogue(power), extra, power)
    result = propagate_setup(
        parsed, samples, seed=seed, method=method, catalogue=catalogue, chunk_size=chunk_size
    )
    return describe_dataset(
        split_point(result),
        "mlimpact Monte Carlo estimate of a training run",
        catalogue=catalogue_hash(catalogue),
        **attrs,
    )


def _codecarbon(path, group, samples, seed, parameters, chunk_size, point, power, location, setup):
    from mlimpact.runs.codecarbon import codecarbon_records
    from mlimpact.study.portfolio import estimate_portfolio

    if setup is not None or point:
        raise MlimpactError("estimate: codecarbon takes the place of setup, and no point")
    records, digest = codecarbon_records(path, group=group)
    catalogue = merge_catalogue(default_catalogue(power), parameters, power)
    portfolio = estimate_portfolio(
        records,
        samples=samples,
        seed=seed,
        chunk_size=chunk_size,
        catalogue=catalogue,
        location=location,
        power=power,
    )
    return describe_dataset(
        split_point(portfolio.runs),
        f"mlimpact Monte Carlo estimate of the runs of {Path(path).name}",
        catalogue=catalogue_hash(catalogue),
        power_model=power,
        location_model=location,
        file_sha256=digest,
    )


@dataclass
class Study:
    """The main job's results, as the report is made from them.

    Attributes
    ----------
    claims, trends : pandas.DataFrame
        The claims table (``claims.csv``) and every growth rate (``trends.csv``).
    models : xarray.Dataset
        Per-model statistics of the baseline scenario.
    validation : pandas.DataFrame or None
        Published footprints against our intervals (``validation.csv``).
    result : mlimpact.study.claims.StudyResult
        Everything, for :meth:`write`.
    """

    claims: pd.DataFrame
    trends: pd.DataFrame
    models: xr.Dataset
    validation: pd.DataFrame | None
    result: Any

    def write(self, folder: os.PathLike[str] | str, force: bool = False) -> Path:
        """Write the report folder (``report.md``, tables, figures, ``manifest.json``)."""
        from mlimpact.render import files, report
        from mlimpact.render.figure_worker import FigureWorker

        target = files.ResultFolder(
            folder, force, {"command": "mlimpact.run_study", "seed": self.result.options.seed}
        )
        with target as directory:
            report.write_study(self.result, directory, second=FigureWorker.start)
        return Path(folder)


@one_blas_thread
def run_study(samples: int = 2048, seed: int = 0, **options: Any) -> Study:
    """The main job (``mlimpact run``) without writing files: claims, trends and per-model
    results of the notable AI models.

    Parameters
    ----------
    samples, seed : int
    **options
        Any field of :class:`mlimpact.study.options.StudyOptions` (``scenarios``,
        ``window``, ``impute``, ``location``, ``power``, ``sensitivity_samples``...).

    Returns
    -------
    Study
    """
    import dataclasses

    from mlimpact.study import claims as study_claims
    from mlimpact.study.options import StudyOptions, check_option_types

    fields = {f.name: f for f in dataclasses.fields(StudyOptions)}
    unknown = set(options) - set(fields)
    if unknown:
        raise MlimpactError(
            f"run_study: unknown option(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(fields))})"
        )
    # a list where the options hold a tuple (window, scenarios) is taken as that tuple
    options = {
        name: tuple(value) if fields[name].type is tuple and isinstance(value, list) else value
        for name, value in options.items()
    }
    study_options = StudyOptions(samples=samples, seed=seed, **options)
    check_option_types(study_options, "run_study")
    result = study_claims.run_study(study_options)
    baseline = result.scenarios.get("baseline") or next(iter(result.scenarios.values()))
    validation = pd.DataFrame(result.validation.rows) if result.validation is not None else None
    return Study(
        pd.DataFrame(result.claims),
        pd.DataFrame(result.trends),
        baseline.summary,
        validation,
        result,
    )


def hardware(query: str | None = None) -> pd.DataFrame:
    """Accelerators of the hardware table whose name or alias contains ``query`` (all
    without one), as a DataFrame: die area [cm2], memory [GB], TDP [W], release date...

    Examples
    --------
    >>> import mlimpact
    >>> "NVIDIA H100 SXM5 80GB" in set(mlimpact.hardware("H100").name)
    True
    """
    check_text("hardware", "query", query, optional=True)
    rows = hardware_table().search(query)
    return pd.DataFrame(
        [
            {
                "name": h.name,
                "aliases": "; ".join(h.aliases),
                "manufacturer": h.manufacturer,
                "type": h.type,
                "segment": h.segment,
                "release_date": h.release_date or None,
                "die_area_cm2": h.die_area_cm2,
                "memory_gb": h.memory_gb,
                "memory_type": h.memory_type or None,
                "tdp_w": h.tdp_w,
                "peak_flops_tensor_fp16_bf16": h.peak_flops.get("tensor_fp16_bf16"),
            }
            for h in rows
        ]
    )


def models() -> pd.DataFrame:
    """The notable AI models of Epoch AI as the run reads them (``data/models.csv``).

    Examples
    --------
    >>> import mlimpact
    >>> "GPT-3 175B (davinci)" in set(mlimpact.models().model)
    True
    """
    return pd.DataFrame(load_models())


#: Units of the criteria, for users: ``{"energy": "kWh", "gwp": "kg CO2eq", ...}``.
CRITERION_UNITS = dict(UNITS)
