"""The command line: output schemas, exit codes, and one-line errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from mlimpact.cli import main


def run_cli(*args):
    """Run the installed command in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "mlimpact", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_estimate_point_json_schema(repo_root, capsys):
    assert main(["estimate", str(repo_root / "examples/bert_base.toml"), "--point",
                 "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"energy_kwh", "gwp_kgco2eq", "adpe_kgsbeq", "pe_mj"}
    assert result["energy_kwh"] == pytest.approx(2082.5, rel=5e-3)  # MODEL.md section 7
    for key in ("gwp_kgco2eq", "adpe_kgsbeq", "pe_mj"):
        assert set(result[key]) == {"production", "use", "total"}
        assert result[key]["total"] == pytest.approx(result[key]["production"] + result[key]["use"])


def test_estimate_point_table(repo_root, capsys):
    assert main(["estimate", str(repo_root / "examples/bert_base.toml"), "--point"]) == 0
    out = capsys.readouterr().out
    assert "GWP [kg CO2eq]" in out and "831" in out and "BERT_base" in out


@pytest.mark.parametrize("text, message", [
    ("[run\nhours=1", "malformed TOML"),
    ('[run]\nhours = -1\ncountry = "USA"\n[node]\ngpu = "A100 SXM4 40 GB"\ngpus = 1\ngpu_usage = 0.5',
     "[run] hours must be > 0"),
    ('[run]\nhours = 1\ncountry = "USA"\n[node]\ngpu = "A100 SXM4 40GBX"\ngpus = 1\ngpu_usage = 0.5',
     "closest: 'NVIDIA A100 SXM4 40 GB'"),
    ('[run]\nhours = 1\ncountry = "ZZZ"\n[node]\ngpu = "A100 SXM4 40 GB"\ngpus = 1\ngpu_usage = 0.5',
     "[run] country: unknown code 'ZZZ'"),
])
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
    assert any(r["name"] == "NVIDIA H100 SXM5 80GB" and r["die_area_cm2"] == pytest.approx(8.14)
               for r in rows)
