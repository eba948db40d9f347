"""The command line: output schemas, exit codes, and one-line errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from mlimpact.cli import main


def run_cli(*args):
    """Run the installed command in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "mlimpact", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_estimate_point_json_schema(repo_root, capsys):
    assert (
        main(
            [
                "estimate",
                str(repo_root / "examples/bert_base.toml"),
                "--point",
                "--power",
                "mlca",
                "--format",
                "json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {
        "energy_kwh",
        "energy_by_scope_kwh",
        "gwp_kgco2eq",
        "adpe_kgsbeq",
        "pe_mj",
        "water_l",
        "power_model",
        "location_model",
        "notes",
        "metered",
    }
    assert set(result["energy_by_scope_kwh"]) == {"accelerators", "host", "overhead"}
    assert result["energy_kwh"] == pytest.approx(
        2082.5, rel=5e-3
    )  # MLCA's published BERT_base result (docs/methodology.md, section 5)
    for key in ("gwp_kgco2eq", "adpe_kgsbeq", "pe_mj"):
        assert set(result[key]) == {"production", "use", "total"}
        assert result[key]["total"] == pytest.approx(result[key]["production"] + result[key]["use"])


def test_estimate_point_table(repo_root, capsys):
    assert (
        main(["estimate", str(repo_root / "examples/bert_base.toml"), "--point", "--power", "mlca"])
        == 0
    )
    out = capsys.readouterr().out
    assert "GWP [kg CO2eq]" in out and "831" in out and "BERT_base" in out
    assert "power model: MLCA" in out


@pytest.mark.parametrize(
    "text, message",
    [
        ("[run\nhours=1", "malformed TOML"),
        (
            '[run]\nhours = -1\ncountry = "USA"\n[node]\ngpu = "A100 SXM4 40 GB"'
            "\ngpus = 1\ngpu_usage = 0.5",
            "[run] hours must be > 0",
        ),
        (
            '[run]\nhours = 1\ncountry = "USA"\n[node]\ngpu = "A100 SXM4 40GBX"'
            "\ngpus = 1\ngpu_usage = 0.5",
            "closest: 'NVIDIA A100 SXM4 40 GB'",
        ),
        (
            '[run]\nhours = 1\ncountry = "ZZZ"\n[node]\ngpu = "A100 SXM4 40 GB"'
            "\ngpus = 1\ngpu_usage = 0.5",
            "[run] country: unknown code 'ZZZ'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(example_setup, text, message):
    done = run_cli("estimate", example_setup(text), "--point")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr


def test_missing_file_exits_2(tmp_path):
    done = run_cli("estimate", tmp_path / "nope.toml", "--point")
    assert done.returncode == 2 and "no such setup file" in done.stderr


def test_console_script_help():
    done = run_cli("estimate", "--help")
    assert done.returncode == 0 and "--point" in done.stdout


def test_hardware_listing(capsys):
    assert main(["hardware", "H100", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(
        r["name"] == "NVIDIA H100 SXM5 80GB" and r["die_area_cm2"] == pytest.approx(8.14)
        for r in rows
    )
    # the rated node of the evidence model's host: (10,200 W - 8 x 700 W) / 8 for the SXM part
    by_name = {r["name"]: r for r in rows}
    assert by_name["NVIDIA H100 SXM5 80GB"]["node"] == "NVIDIA DGX H100"
    assert by_name["NVIDIA H100 SXM5 80GB"]["host_rated_w_per_gpu"] == 575.0
    assert by_name["NVIDIA H100 PCIe"]["node"] is None  # no rated node: MLCA's host terms
    assert main(["hardware", "A100 SXM4 80"]) == 0
    assert "NVIDIA DGX A100, 412.5" in capsys.readouterr().out


def test_estimate_monte_carlo_json_schema(repo_root, capsys):
    assert (
        main(
            [
                "estimate",
                str(repo_root / "examples/bert_base.toml"),
                "--samples",
                "4096",
                "--seed",
                "3",
                "--format",
                "json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    statistics = {"mean", "median", "q025", "q975", "q05", "q95"}
    assert set(result["energy_kwh"]) == statistics
    for scope in ("accelerators", "host", "overhead"):
        assert set(result["energy_by_scope_kwh"][scope]) == statistics
    for key in ("gwp_kgco2eq", "adpe_kgsbeq", "pe_mj"):
        assert set(result[key]) == {"production", "use", "total"}
        for phase in result[key].values():
            assert set(phase) == statistics
            assert phase["q025"] <= phase["q05"] <= phase["median"] <= phase["q95"] <= phase["q975"]


def test_estimate_monte_carlo_is_reproducible(repo_root, capsys):
    args = [
        "estimate",
        str(repo_root / "examples/bert_base.toml"),
        "--samples",
        "2048",
        "--format",
        "json",
        "--seed",
        "5",
    ]
    main(args)
    first = capsys.readouterr().out
    main([*args, "--chunk-size", "300"])
    again = flatten(json.loads(capsys.readouterr().out))
    expected = flatten(json.loads(first))
    assert again.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert again[key] == pytest.approx(value, rel=1e-12), key
        else:  # the model's names, notes, flags: the same
            assert again[key] == value, key


def flatten(tree, prefix=""):
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {k: v for key, sub in tree.items() for k, v in flatten(sub, f"{prefix}/{key}").items()}


def test_estimate_netcdf_passes_the_cf_checker(repo_root, tmp_path, cf_check):
    from conftest import CF_LABEL_WARNING

    out = tmp_path / "estimate.nc"
    setup = str(repo_root / "examples/bert_base.toml")
    assert main(["estimate", setup, "--samples", "256", "--out", str(out)]) == 0
    errors, warnings = cf_check(out)
    assert errors == [] and warnings == [CF_LABEL_WARNING] * 4  # model, statistic, scope, phase


def test_estimate_writes_netcdf_and_keeps_existing_files(repo_root, tmp_path, capsys):
    import xarray as xr

    out = tmp_path / "results.nc"
    setup = str(repo_root / "examples/bert_base.toml")
    assert main(["estimate", setup, "--samples", "1024", "--out", str(out)]) == 0
    saved = xr.load_dataset(out)
    assert saved.gwp.attrs["units"] == "kg" and "kg CO2eq" in saved.gwp.attrs["long_name"]
    assert saved.attrs["samples"] == 1024 and "units" not in saved.model.attrs
    before = out.read_bytes()
    assert main(["estimate", setup, "--samples", "1024", "--out", str(out)]) == 2
    assert "exists; use --force" in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    "text, message",
    [
        ("[lifetime_years\n", "malformed TOML"),
        (
            '[x]\ndistribution = { type = "normal", mean = 5, sd = 1 }\nscope = "run"\n'
            'target = "hours"\nmode = "replace"\n',
            "can leave the valid range of hours",
        ),
        (
            '[lifetime_years]\ndistribution = { type = "uniform", low = 5, high = 1 }\n'
            'scope = "global"\ntarget = "lifetime_years"\nmode = "replace"\n',
            "low must be < high",
        ),
    ],
)
def test_bad_parameters_file_exits_2(repo_root, example_setup, text, message):
    done = run_cli(
        "estimate",
        repo_root / "examples/bert_base.toml",
        "--samples",
        "64",
        "--parameters",
        example_setup(text, "params.toml"),
    )
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_bad_uncertainty_section_exits_2(example_setup):
    text = (
        '[run]\nhours = 10\ncountry = "USA"\n[node]\ngpu = "A100 SXM4 40 GB"\ngpus = 1\n'
        'gpu_usage = 0.5\n[uncertainty]\ngpu_usage = { type = "uniform", low = 0.5, high = 1.5 }\n'
    )
    done = run_cli("estimate", example_setup(text), "--samples", "64")
    assert done.returncode == 2 and "valid range of gpu_usage" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--samples", "-5", "argument --samples: must be >= 2 (got -5)"),
        ("--samples", "1", "argument --samples: must be >= 2 (got 1)"),  # no interval from one
        ("--seed", "-1", "argument --seed: must be >= 0 (got -1)"),
        ("--samples", "ten", "argument --samples: must be a whole number (got 'ten')"),
    ],
)
def test_bad_counts_exit_2_naming_the_bound(repo_root, option, value, message):
    done = run_cli("estimate", repo_root / "examples" / "bert_base.toml", option, value)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
