"""The public API, used as a notebook would: this module imports nothing of mlimpact but the
package itself."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mlimpact

ROOT = Path(__file__).resolve().parent.parent
BERT = ROOT / "examples" / "bert_base.toml"


def test_the_api_is_listed_and_documented():
    for name in mlimpact.__all__:
        assert hasattr(mlimpact, name), name
    for name in (
        "Setup",
        "estimate",
        "run_study",
        "hardware",
        "models",
        "load_parameters",
        "sobol",
        "Parameter",
        "MlimpactError",
    ):
        assert name in mlimpact.__all__ and getattr(mlimpact, name).__doc__
    text = subprocess.run(
        [sys.executable, "-c", "import mlimpact; help(mlimpact)"],
        capture_output=True,
        text=True,
        check=True,
        env={"PAGER": "cat", "PATH": "/usr/bin:/bin"},
    ).stdout
    for name in ("Setup", "estimate", "run_study", "hardware", "models"):
        assert name in text


def test_importing_mlimpact_changes_nothing_for_other_libraries():
    code = (
        "import os, matplotlib, numba; before = (matplotlib.get_backend(), "
        "numba.config.CACHE_DIR, dict(os.environ)); import mlimpact; "
        "r = mlimpact.estimate(mlimpact.Setup(gpu='H100 SXM', gpus=8, hours=10, "
        "country='USA', gpu_usage=0.7), samples=64); "
        "after = (matplotlib.get_backend(), numba.config.CACHE_DIR, dict(os.environ)); "
        "print(before == after)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip().endswith("True")


def _cli_json(*arguments):
    out = subprocess.run(
        [sys.executable, "-m", "mlimpact", "estimate", *arguments, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_estimate_from_a_dict_and_a_path_equals_the_command_line():
    import tomllib

    document = tomllib.loads(BERT.read_text())
    from_dict = mlimpact.estimate(document, samples=2048, seed=3)
    from_path = mlimpact.estimate(str(BERT), samples=2048, seed=3)
    cli = _cli_json(str(BERT), "--samples", "2048", "--seed", "3")
    for result in (from_dict, from_path):
        assert float(result.energy.sel(statistic="median")[0]) == cli["energy_kwh"]["median"]
        for phase in ("production", "use", "total"):
            assert (
                float(result.gwp.sel(statistic="q975", phase=phase)[0])
                == cli["gwp_kgco2eq"][phase]["q975"]
            )


def test_five_lines_from_hardware_count_hours_and_country():
    run = mlimpact.Setup(
        gpu="NVIDIA V100 SXM2 32 GB",
        gpus=16,
        nodes=4,
        hours=79.2,
        country="USA",
        gpu_usage=0.75259,
        gpu_tdp_w=250,
        gpu_die_area_cm2=8.15,
        cpu_tdp_w=205,
        cpu_die_area_cm2=6.94,
        ram_module_gb=64,
    )
    result = mlimpact.estimate(run, point=True, power="mlca")
    # MLCA's reference case (Morand et al., ICT4S 2024): 2082.5 kWh, 831 kg CO2eq
    assert float(result.energy_point[0]) == pytest.approx(2082.5, rel=5e-3)
    assert float(result.gwp_point.sel(phase="total")[0]) == pytest.approx(831, rel=5e-3)
    assert result.attrs["Conventions"].startswith("CF") and result.energy_point.attrs["units"]


def test_gpu_hours_is_the_same_run():
    common = dict(gpu="H100 SXM", country="FRA", gpu_usage=0.7)
    by_hours = mlimpact.estimate(mlimpact.Setup(gpus=8, nodes=16, hours=240, **common), point=True)
    by_gpu_hours = mlimpact.estimate(mlimpact.Setup(gpu_hours=8 * 16 * 240, **common), point=True)
    for name in ("energy_point", "gwp_point", "adpe_point", "pe_point"):
        assert float(by_hours[name].sum()) == pytest.approx(
            float(by_gpu_hours[name].sum()), rel=1e-12
        )


def test_setup_rules_and_messages_are_the_toml_readers():
    with pytest.raises(mlimpact.MlimpactError, match=r"\[run\] hours must be > 0"):
        mlimpact.Setup(gpu="H100 SXM", gpus=8, hours=-1, country="USA", gpu_usage=0.7)
    with pytest.raises(mlimpact.MlimpactError, match="unknown key 'gpu_count'"):
        mlimpact.Setup(gpu="H100 SXM", gpu_count=8, hours=1, country="USA", gpu_usage=0.7)
    with pytest.raises(mlimpact.MlimpactError, match="not both"):
        mlimpact.Setup(gpu="H100 SXM", gpu_hours=10, hours=1, country="USA", gpu_usage=0.7)
    with pytest.raises(mlimpact.MlimpactError, match="matches several accelerators"):
        mlimpact.Setup(gpu="H100", gpus=8, hours=1, country="USA", gpu_usage=0.7)
    with pytest.raises(mlimpact.MlimpactError, match="setup must be a Setup, a dict or the path"):
        mlimpact.estimate(42)


def test_tables():
    cards = mlimpact.hardware("A100")
    assert {"name", "die_area_cm2", "memory_gb", "tdp_w"} <= set(cards.columns)
    assert "NVIDIA A100 SXM4 80 GB" in set(cards.name)
    models = mlimpact.models()
    assert len(models) > 1000 and {"model", "publication_date", "hardware"} <= set(models)


def test_run_study_returns_tables_without_writing(tmp_path, monkeypatch, placeholder_figures):
    # the figures written by study.write are placeholders (tests/conftest.py): what is checked
    # here is what the library returns and where it writes, not pixels
    monkeypatch.chdir(tmp_path)
    study = mlimpact.run_study(
        samples=32,
        scenarios=("baseline",),
        sensitivity_samples=0,
        validate=False,
        specifications=False,
    )
    assert list(tmp_path.iterdir()) == []  # nothing written unless asked
    assert {"claim", "criterion", "estimate", "low", "high", "probability"} <= set(study.claims)
    assert "growth_per_year" not in study.trends  # the library's names, not the CSV's
    assert len(study.models.model) > 400
    folder = study.write(tmp_path / "report")
    assert (folder / "report.md").exists() and (folder / "manifest.json").exists()
    with pytest.raises(mlimpact.MlimpactError, match="unknown option"):
        mlimpact.run_study(samples=32, sensitivity=3)


def test_the_notebook_style_example_runs():
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "from_python.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "GWP median" in out and "from accelerator-hours" in out
