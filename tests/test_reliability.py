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
from conftest import QUICK_RUN

from mlimpact.cli import main
from mlimpact.errors import MlimpactError
from mlimpact.render import files

#: The quick main job (tests/conftest.py): one scenario, few samples, no Sobol' analysis, no
#: specifications.
QUICK = QUICK_RUN


def quick_config(tmp_path, seed):
    config = tmp_path / f"quick{seed}.toml"
    config.write_text(f"[run]\nseed = {seed}\n")
    return config


def run(out, *extra):
    return main(["run", "--out", str(out), *QUICK, *extra])


@pytest.fixture
def study_once(monkeypatch, quick_study, placeholder_figures):
    """Runs of the command whose study is the quick one already computed (tests/conftest.py,
    once per session, a real run end to end): these tests are about result folders
    (replacing, refusing, manifests, permissions), which the payload does not change; the
    computation itself is tested end to end elsewhere (tests/test_run.py). The figures'
    pixels are not what these tests are about either (tests/test_run.py and tests/test_plots.py
    draw them): each is written as a small file, by the same atomic path."""
    from mlimpact.study import claims

    monkeypatch.setattr(claims, "run_study", lambda *args, **kwargs: quick_study)


def test_a_second_run_replaces_a_complete_result(study_once, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    first = json.loads((out / "manifest.json").read_text())
    assert files.is_complete_result(out)
    assert run(out, "--seed", "5") == 0
    second = json.loads((out / "manifest.json").read_text())
    assert (first["seed"], second["seed"]) == (0, 5)
    assert files.is_complete_result(out)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no siblings left


def test_a_folder_that_is_not_ours_is_refused_even_with_force(study_once, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    for force in ([], ["--force"]):
        assert run(out, *force) == 2
        assert "not an mlimpact result" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_damaged_result_needs_force(study_once, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(out) == 0
    (out / "claims.csv").write_text("edited by hand\n")
    assert run(out) == 2
    assert "damaged mlimpact result: use --force" in capsys.readouterr().err
    assert run(out, "--force") == 0
    assert files.is_complete_result(out)


def test_manifest_lists_every_file_with_its_hash(study_once, tmp_path):
    out = tmp_path / "r"
    assert run(out) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert files.sha256(out / name) == digest
    assert manifest["seed"] == 0 and manifest["command"].startswith("mlimpact run")
    assert len(manifest["catalogue_sha256"]) == 64 and "parameters.toml" in manifest["data_sha256"]


def test_files_follow_the_users_umask(study_once, tmp_path):
    previous = os.umask(0o027)
    try:
        assert run(tmp_path / "r") == 0
        files.write_text(tmp_path / "one.txt", "x")
    finally:
        os.umask(previous)
    for path in [*(tmp_path / "r").iterdir(), tmp_path / "one.txt"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == 0o750


def test_a_run_killed_mid_write_leaves_the_old_or_the_new_result(study_once, tmp_path):
    # the runs in this process (the old result, and the one that cleans up) take the quick
    # study already computed; the killed runs are real commands in subprocesses
    out = tmp_path / "r"
    assert run(out) == 0
    old = json.loads((out / "manifest.json").read_text())["seed"]
    command = [sys.executable, "-m", "mlimpact", "run", "--out", str(out), *QUICK, "--seed", "7"]
    # kill as soon as the new files start to appear in the hidden sibling, then at later
    # moments: each time the target must be one complete result
    for delay in (0.0, 0.05, 0.2):
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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


def test_a_failure_during_a_run_leaves_the_earlier_result(
    study_once, tmp_path, monkeypatch, capsys
):
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
    assert (
        main(["estimate", "examples/bert_base.toml", "--out", str(tmp_path / "missing" / "r.nc")])
        == 2
    )
    assert "no such folder" in capsys.readouterr().err
    assert time.monotonic() - started < 30  # no Monte Carlo ran before the errors


# --- Results that are not numbers ---------------------------------------------------------

SETUP = """name = "x"
[run]
hours = 10
country = "USA"
[node]
gpu = "NVIDIA V100 SXM2 32 GB"
gpus = 8
gpu_usage = 0.75
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (("hours = 10", "hours = 1e308"), r"\[run\] hours = 1e\+308 is outside the accepted range"),
        (("gpu_usage = 0.75", "gpu_usage = 0.75\ngpu_tdp_w = 1e308"), r"\[node\] gpu_tdp_w"),
        (
            ("gpus = 8", "gpus = " + "9" * 400),
            r"\[node\] gpus is too large \(a whole number of 400",
        ),
        (("hours = 10", "hours = 10\nnodes = " + "9" * 400), r"\[run\] nodes is too large"),
        # a whole float: as a count, 1e308 nodes overflowed the product with the node's gpus
        (("hours = 10", "hours = 10\nnodes = 1e308"), r"\[run\] nodes is too large \(got 1e\+308"),
        (
            ("[node]", "[assumptions]\nlifetime_years = 1e-300\n[node]"),
            r"\[assumptions\] lifetime_years = 1e-300 is outside",
        ),
    ],
)
def test_huge_inputs_are_refused_by_name(example_setup, capsys, edit, message):
    path = example_setup(SETUP.replace(*edit))
    assert main(["estimate", str(path), "--samples", "64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and __import__("re").search(message, err), err


@pytest.mark.parametrize(
    "section, message",
    [
        ('grid_gwp_error = { type = "lognormal", median = 1, gsd = 1e300 }', "is not finite"),
        ('grid_gwp_error = { type = "lognormal", median = 1, gsd = 1e4 }', "at most 1e\\+06"),
        ("production_model = 0.5", "valid range of production_model"),
        ('yield_model = { type = "uniform", low = 0, high = 2 }', "valid range of yield_model"),
        ('gpu_usage = { type = "uniform", low = 0, high = 1 }', "valid range of gpu_usage"),
        ("nodes = 2.5", "nodes counts things"),
        ('lifetime_years = { type = "uniform", low = ' + "1" * 400 + ", high = 2 }", "400 digits"),
        (
            '[uncertainty.x]\ndistribution = { type = "uniform", low = 100, high = 200 }\n'
            'scope = "hardware"\ntarget = "gpu_tdp_w"\nmode = "replace"\nmembers = ["No Such GPU"]',
            "unknown hardware 'No Such GPU'",
        ),
    ],
)
def test_uncertain_inputs_are_checked_as_strictly_as_set_values(
    example_setup, capsys, section, message
):
    path = example_setup(SETUP + "[uncertainty]\n" + section + "\n")
    assert main(["estimate", str(path), "--samples", "64"]) == 2
    assert __import__("re").search(message, capsys.readouterr().err)


def test_discrete_with_huge_weights_draws_both_values():
    from mlimpact.uncertainty.distributions import Discrete

    d = Discrete([1.0, 2.0], [1e308, 1e308])
    assert list(d.probabilities) == [0.5, 0.5]
    assert list(d.ppf([0.25, 0.75])) == [1.0, 2.0]


def test_json_output_is_strict_and_finite(example_setup, capsys):
    assert main(["estimate", str(example_setup(SETUP)), "--samples", "64", "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-finite {c}"))


# --- Options and configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("run = 5\n", r"\[run\] must be a table"),
        ("[run]\nscenarios = [1, 2]\n", r"scenarios must be a list of strings"),
        ('[run]\nscenarios = "baseline"\n', r"scenarios must be a list of strings"),
        ('[run]\nfirst_year = "2016"\n', r"first_year must be a whole number"),
        ("[run]\nsamples = true\n", r"samples must be a whole number"),
    ],
)
def test_bad_config_values_are_one_line(tmp_path, capsys, text, message):
    config = tmp_path / "c.toml"
    config.write_text(text)
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and __import__("re").search(message, err), err
    assert not (tmp_path / "o").exists()


def test_config_that_is_a_folder_or_binary(tmp_path, capsys):
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(256)))
    for path in (tmp_path, binary):
        assert main(["run", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
        assert "cannot read config file" in capsys.readouterr().err


def test_a_byte_order_mark_is_accepted(example_setup, capsys):
    path = example_setup("\ufeff" + SETUP)
    assert main(["estimate", str(path), "--point"]) == 0


def test_point_refuses_what_it_would_ignore(example_setup, tmp_path, capsys):
    path = example_setup(SETUP)
    for extra in (["--parameters", "missing.toml"], ["--out", str(tmp_path / "x.nc")]):
        assert main(["estimate", str(path), "--point", *extra]) == 2
        assert "--point takes no" in capsys.readouterr().err
    bad = example_setup(SETUP + "[uncertainty]\nbanana = 1\n", name="bad.toml")
    assert main(["estimate", str(bad), "--point"]) == 2
    assert "banana" in capsys.readouterr().err


def test_huge_sample_counts_are_refused_at_once(capsys):
    started = time.monotonic()
    assert main(["estimate", "examples/bert_base.toml", "--samples", str(10**14)]) == 2
    assert "at most 1e+12" in capsys.readouterr().err
    assert time.monotonic() - started < 20
    from mlimpact.uncertainty.sampling import chunks

    ranges = chunks(10**12, 16384)  # made as taken: no list of 61 million ranges
    assert len(ranges) == -(-(10**12) // 16384) and ranges[-1][1] == 10**12


def test_a_window_too_small_for_a_trend_is_one_line(tmp_path, capsys):
    assert (
        main(["run", "--first-year", "2026", "--last-year", "2026", "--out", str(tmp_path / "o")])
        == 2
    )
    assert "trends need at least" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_country_codes_are_case_insensitive(example_setup, capsys):
    assert main(["estimate", str(example_setup(SETUP.replace('"USA"', '"usa"'))), "--point"]) == 0
    from mlimpact.study.scenarios import check_low_carbon_country

    check_low_carbon_country("fra")
    with pytest.raises(MlimpactError):
        check_low_carbon_country("xxx")


def test_error_lines_are_cut_to_a_sane_length(example_setup, capsys):
    path = example_setup(SETUP.replace('name = "x"', 'name = "x"\n' + "k" * 5000 + " = 1"))
    assert main(["estimate", str(path), "--point"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) < 500


def test_library_errors_say_what_is_wrong():
    from mlimpact.analysis.sobol import sobol
    from mlimpact.engine.propagate import propagate_setup
    from mlimpact.uncertainty.sampling import Design

    params = {
        "a": {"type": "uniform", "low": 0, "high": 1},
        "b": {"type": "uniform", "low": 0, "high": 1},
    }
    with pytest.raises(ValueError, match="not finite"):
        sobol(lambda v: v["a"] * np.nan, params, 64)
    for kwargs, match in (
        (dict(resamples=0), "resamples"),
        (dict(resamples=1), "resamples"),
        (dict(confidence=1.5), "confidence"),
    ):
        with pytest.raises(ValueError, match=match):
            sobol(lambda v: v["a"], params, 64, **kwargs)
    with pytest.raises(ValueError, match="number of columns"):
        Design("mc", 10, 2.5)
    with pytest.raises(TypeError, match="needs a Setup"):
        propagate_setup(None, 64)


@pytest.mark.slow
@pytest.mark.parametrize("answer", [None, b"HTTP/1.1 200 OK\r\n\r\n" + bytes(range(256)) * 64])
def test_a_scheduler_that_never_answers_or_answers_garbage(answer):
    import socket
    import threading

    from mlimpact.engine import distributed

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve():
        server.settimeout(0.2)
        held = []
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)
            if answer is not None:
                try:
                    connection.sendall(answer)
                except OSError:
                    pass
        for connection in held:
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(MlimpactError, match="cannot reach the Dask scheduler"):
            distributed.connect(f"tcp://127.0.0.1:{port}", timeout=2)
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert time.monotonic() - started < 30
    # the failed client leaves dask's defaults alone: NetCDF written next still works
    import dask

    assert dask.config.get("scheduler", None) is None


# --- Fuzzing the readers -----------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st

from mlimpact.quantities import CRITERIA

SCALARS = st.one_of(
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=12),
    st.just(0),
    st.just(1),
    st.just(-1),
    st.just(0.5),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "hours",
        "nodes",
        "country",
        "year",
        "gpu",
        "gpus",
        "gpu_usage",
        "gpu_tdp_w",
        "gpu_die_area_cm2",
        "include",
        "cpus",
        "lifetime_years",
        "dynamic_ratio",
        "production_model",
        "fab_yield",
        "distribution",
        "scope",
        "target",
        "mode",
        "members",
        "type",
        "low",
        "high",
        "median",
        "gsd",
        "values",
        "weights",
        "point",
    ]
)


def _valid_setup():
    import tomllib

    return tomllib.loads(SETUP)


def _outcome_is_finite_or_error(call):
    """Every outcome is a result with finite numbers or an MlimpactError: nothing else."""
    from mlimpact.engine.model import training_impacts

    try:
        result = call()
    except MlimpactError as error:
        assert "\n" not in str(error)
        return
    if hasattr(result, "runs"):  # a setup
        assert np.isfinite(result.runs.values).all()
        impacts = training_impacts(result.runs)
        for name in CRITERIA:
            assert np.isfinite(impacts[name].values).all()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.dictionaries(
        st.sampled_from(["name", "run", "node", "server", "assumptions", "uncertainty", "other"]),
        st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=6)),
        max_size=6,
    )
)
def test_arbitrary_setup_documents(document):
    from mlimpact.runs.setupfile import parse_setup

    _outcome_is_finite_or_error(lambda: parse_setup(document))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(["run", "node", "server", "assumptions"]), key=KEYS, value=VALUES)
def test_arbitrary_values_in_a_valid_setup(section, key, value):
    from mlimpact.runs.setupfile import parse_setup

    document = _valid_setup()
    document.setdefault(section, {})[key] = value
    _outcome_is_finite_or_error(lambda: parse_setup(document))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.dictionaries(
        st.text(max_size=10),
        st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=7)),
        max_size=4,
    ),
    uncertainty=st.dictionaries(KEYS, VALUES, max_size=3),
)
def test_arbitrary_catalogues_and_uncertainty_sections(document, uncertainty):
    from mlimpact.uncertainty.catalogue import (
        apply_uncertainty,
        default_catalogue,
        parse_parameters,
    )

    _outcome_is_finite_or_error(lambda: parse_parameters(document))
    _outcome_is_finite_or_error(lambda: apply_uncertainty(default_catalogue(), uncertainty))
