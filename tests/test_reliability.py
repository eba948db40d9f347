"""Nothing lost, nothing silently wrong: result folders as transactions, finite results or an
error, one-line errors for bad options and files."""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mlimpact.cli import main
from mlimpact.errors import MlimpactError
from mlimpact.render import files

#: A quick main job: one scenario, few samples, no Sobol' analysis, no validation.
QUICK = ["--samples", "32", "--scenario", "baseline", "--sensitivity-samples", "0", "--quiet"]


def quick_config(tmp_path, seed):
    config = tmp_path / f"quick{seed}.toml"
    config.write_text(f"[run]\nseed = {seed}\n")
    return config


def run(out, *extra):
    return main(["run", "--out", str(out), *QUICK, *extra])


def test_a_second_run_replaces_a_complete_result(tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    first = json.loads((out / "manifest.json").read_text())
    assert files.is_complete_result(out)
    assert run(out, "--seed", "5") == 0
    second = json.loads((out / "manifest.json").read_text())
    assert (first["seed"], second["seed"]) == (0, 5)
    assert files.is_complete_result(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no siblings left


def test_a_folder_that_is_not_ours_is_refused_even_with_force(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    for force in ([], ["--force"]):
        assert run(out, *force) == 2
        assert "not an mlimpact result" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_damaged_result_needs_force(tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    (out / "claims.csv").write_text("edited by hand\n")
    assert run(out) == 2
    assert "damaged mlimpact result: use --force" in capsys.readouterr().err
    assert run(out, "--force") == 0
    assert files.is_complete_result(out)


def test_manifest_lists_every_file_with_its_hash(tmp_path):
    out = tmp_path / "r"
    assert run(out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert files.sha256(out / name) == digest
    assert manifest["seed"] == 0 and manifest["command"].startswith("mlimpact run")
    assert len(manifest["catalogue_sha256"]) == 64 and "parameters.toml" in manifest["data_sha256"]


def test_files_follow_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        assert run(tmp_path / "r") == 0
        files.write_text(tmp_path / "one.txt", "x")
    finally:
        os.umask(previous)
    for path in [*(tmp_path / "r").iterdir(), tmp_path / "one.txt"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o750


def test_a_run_killed_mid_write_leaves_the_old_or_the_new_result(tmp_path):
    out = tmp_path / "r"
    assert run(out) == 0
    old = json.loads((out / "manifest.json").read_text())["seed"]
    command = [sys.executable, "-m", "mlimpact", "run", "--out", str(out), *QUICK,
               "--seed", "7"]
    # kill as soon as the new files start to appear in the hidden sibling, then at later
    # moments: each time the target must be one complete result
    for delay in (0.0, 0.05, 0.2):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            siblings = [p for p in tmp_path.glob(".r.new-*") if any(p.iterdir())]
            if siblings:
                break
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert files.is_complete_result(out)
        assert json.loads((out / "manifest.json").read_text())["seed"] in (old, 7)
    # the next run cleans what the killed ones left behind
    assert run(out) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    import xarray as xr

    def full(self, path, **kwargs):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full)
    with pytest.raises(MlimpactError, match="no space left on the device"):
        files.write_netcdf(xr.Dataset({"a": ("x", np.zeros(3))}), tmp_path / "a.nc")
    assert list(tmp_path.iterdir()) == []


def test_a_failure_during_a_run_leaves_the_earlier_result(tmp_path, monkeypatch, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    before = (out / "manifest.json").read_text()
    from mlimpact.render import report

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "no space")

    monkeypatch.setattr(report, "write_study", broken)
    with pytest.raises(OSError):
        run(out, "--seed", "9")
    assert (out / "manifest.json").read_text() == before and files.is_complete_result(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_unwritable_targets_are_found_before_any_computation(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    started = time.monotonic()
    assert run(blocker / "sub") == 2
    assert "cannot create folder" in capsys.readouterr().err
    assert main(["estimate", "examples/bert_base.toml", "--out",
                 str(tmp_path / "missing" / "r.nc")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert time.monotonic() - started < 30  # no Monte Carlo ran before the errors
