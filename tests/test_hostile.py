"""Hostile input (issue 32): each case ends with one ``mlimpact: error: ...`` line and a
non-zero exit, never a traceback or a hang, and loses nothing already written."""

import csv
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlimpact import _io
from mlimpact.cli import build_parser, main
from mlimpact.errors import MlimpactError
from mlimpact.render import files
from mlimpact.runs.runspec import schema
from mlimpact.runs.table import RUN_FIELDS

SETUP = "examples/bert_base.toml"
#: A quick main job (tests/test_reliability.py): a config file error must come before it.
QUICK = ["--samples", "32", "--scenario", "baseline", "--sensitivity-samples", "0", "--quiet"]
QUICK += ["--no-specifications"]


def one_error_line(capsys, *words):
    """The captured stderr is one ``mlimpact: error:`` line holding each of ``words``."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlimpact: error: "), err
    for word in words:
        assert word in lines[0], err
    return lines[0]


def nested_array(depth):
    return "[" * depth + "1" + "]" * depth


def nested_table(depth):
    return "{ a = " * depth + "1" + " }" * depth


# --- 1. deeply nested TOML -------------------------------------------------------------------

DEEP = {
    "arrays": f"x = {nested_array(3000)}\n",
    "inline tables": f"x = {nested_table(3000)}\n",
    "uncertainty entry": f"[uncertainty]\ngpu_usage = {nested_table(3000)}\n",
    "dotted keys": "[uncertainty]\n" + ".".join(["k"] * 3000) + " = 1\n",
    "headers": "[" + ".".join(["t"] * 3000) + "]\n",
    "just past the limit": f"[uncertainty]\ngpu_usage = {nested_table(40)}\n",
}


@pytest.mark.parametrize("case", sorted(DEEP))
def test_deep_toml_is_refused_by_the_loader(tmp_path, case):
    path = tmp_path / "deep.toml"
    path.write_text(DEEP[case])
    with pytest.raises(MlimpactError, match=r"deep\.toml: setup file nests .* deeper than 32"):
        _io.load_toml(path, "setup file")


def test_toml_within_the_depth_limit_is_read(tmp_path):
    path = tmp_path / "ok.toml"
    path.write_text(f"x = {nested_array(_io.MAX_TOML_DEPTH - 1)}\n")  # the document is level 1
    assert _io.load_toml(path, "setup file")["x"]


@pytest.mark.parametrize("case", ["arrays", "uncertainty entry", "dotted keys"])
def test_deep_toml_is_one_line_in_estimate_validate_and_run(tmp_path, capsys, case):
    deep = tmp_path / "deep.toml"
    deep.write_text(DEEP[case])
    assert main(["estimate", str(deep)]) == 2
    one_error_line(capsys, "deep.toml", "deeper than 32 levels")
    assert main(["validate", "--samples", "64", "--parameters", str(deep)]) == 2
    one_error_line(capsys, "deep.toml", "deeper than 32 levels")
    out = tmp_path / "out"
    assert main(["run", "--config", str(deep), "--out", str(out), *QUICK]) == 2
    one_error_line(capsys, "deep.toml", "deeper than 32 levels")
    assert not out.exists()


# --- 2. samples and seeds out of range ---------------------------------------------------------

CONFIGS = {
    "[run] samples": ("[run]\nsamples = " + str(10**400) + "\n", "[run] samples"),
    "[specifications] samples": (
        "[specifications]\nsamples = " + str(10**400) + "\n",
        "[specifications] samples",
    ),
    "[run] seed": (f"[run]\nseed = {2**70}\n", "[run] seed"),
    "[run] seed, just past": (f"[run]\nseed = {2**31}\n", "[run] seed"),
}


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_config_numbers_out_of_range_are_one_line(tmp_path, capsys, case):
    text, where = CONFIGS[case]
    config = tmp_path / "config.toml"
    config.write_text(text)
    out = tmp_path / "out"
    assert main(["run", "--config", str(config), "--out", str(out), *QUICK]) == 2
    line = one_error_line(capsys, "config.toml", where, "2,147,483,647")
    assert len(line) < 200  # a 401-digit number is not quoted whole
    assert not out.exists()


def test_config_numbers_at_the_limit_are_accepted_and_past_it_refused(tmp_path):
    from mlimpact.study import options

    config = tmp_path / "config.toml"
    for text in (f"[run]\nsamples = {2**31}\n", f"[specifications]\nsamples = {2**31}\n"):
        config.write_text(text)  # refused without running (2**31 samples would fill memory)
        with pytest.raises(MlimpactError, match="samples must be between 1 and 2,147,483,647"):
            options.apply_config(options.StudyOptions(), config)
    config.write_text(f"[run]\nseed = {2**31 - 1}\nsamples = 64\n[specifications]\nsamples = 32\n")
    changed = options.apply_config(options.StudyOptions(), config)
    assert (changed.seed, changed.samples, changed.specification_samples) == (2**31 - 1, 64, 32)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["estimate", SETUP, "--samples", str(10**400)], "argument --samples: must be <="),
        (["estimate", SETUP, "--seed", str(2**70)], "argument --seed: must be <= 2147483647"),
    ],
)
def test_cli_samples_and_seeds_out_of_range_are_one_line(tmp_path, capsys, arguments, message):
    out = tmp_path / "out.nc"
    with pytest.raises(SystemExit) as stop:
        main([*arguments, "--out", str(out)])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mlimpact ") and message in err, err
    assert len(err) < 300
    assert not out.exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["run", "--samples", str(10**400)], "argument --samples: must be <= 2147483647"),
        (["run", "--samples", str(2**31)], "argument --samples: must be <= 2147483647"),
        (["run", "--seed", str(2**70)], "argument --seed: must be <= 2147483647"),
        (["sensitivity", "--seed", str(2**40)], "argument --seed: must be <= 2147483647"),
        (["validate", "--seed", str(2**40)], "argument --seed: must be <= 2147483647"),
        (["calibrate", "--seed", str(2**40)], "argument --seed: must be <= 2147483647"),
        (["cards", "--seed", str(2**31)], "argument --seed: must be <= 2147483647"),
    ],
)
def test_every_command_bounds_samples_and_seeds(capsys, arguments, message):
    # parsed only: before the bound, these would start a run of 2**31 samples or one that
    # fails when it writes its results
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(arguments)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and len(err) < 300, err
    assert build_parser().parse_args(["run", "--seed", str(2**31 - 1)]).seed == 2**31 - 1


# --- 3. --force keeps the files a run did not write ------------------------------------------


def _result(path, force=False, text="result"):
    with files.ResultFolder(path, force) as directory:
        files.write_text(directory / "claims.csv", text)


def test_force_refuses_to_delete_a_file_the_manifest_does_not_list(tmp_path):
    out = tmp_path / "r"
    _result(out)
    (out / "claims.csv").write_text("edited by hand\n")  # a damaged result: --force replaces it
    (out / "notes.txt").write_text("precious")  # but not the user's notes
    (out / "drafts").mkdir()
    with pytest.raises(MlimpactError, match=r"did not write \(drafts, notes\.txt\)"):
        _result(out, force=True, text="new")
    assert (out / "notes.txt").read_text() == "precious" and (out / "drafts").is_dir()
    assert (out / "claims.csv").read_text() == "edited by hand\n"
    (out / "notes.txt").unlink()
    (out / "drafts").rmdir()
    _result(out, force=True, text="new")  # once they are moved away
    assert (out / "claims.csv").read_text() == "new" and files.is_complete_result(out)


def test_a_file_put_there_while_the_run_computes_is_kept(tmp_path):
    out = tmp_path / "r"
    _result(out)
    folder = files.ResultFolder(out, force=True)
    with pytest.raises(MlimpactError, match=r"notes\.txt"):
        with folder as directory:
            files.write_text(directory / "claims.csv", "new")
            (out / "notes.txt").write_text("precious")
    assert (out / "notes.txt").read_text() == "precious"
    assert (out / "claims.csv").read_text() == "result"  # the earlier result, untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no sibling left


def test_run_force_keeps_a_user_file(
    tmp_path, capsys, monkeypatch, quick_study, placeholder_figures
):
    # about the folder, not the payload: the quick study computed once per session, figures as
    # placeholders (tests/conftest.py)
    from mlimpact.study import claims

    monkeypatch.setattr(claims, "run_study", lambda *args, **kwargs: quick_study)
    out = tmp_path / "r"
    assert main(["run", "--out", str(out), *QUICK]) == 0
    capsys.readouterr()
    (out / "notes.txt").write_text("precious")
    assert main(["run", "--out", str(out), *QUICK, "--force"]) == 2
    one_error_line(capsys, "notes.txt", "did not write")
    assert (out / "notes.txt").read_text() == "precious"
    assert (out / "claims.csv").exists()


# --- 4. CSV cells a spreadsheet would run -------------------------------------------------------


def test_csv_cells_that_start_a_formula_are_escaped(tmp_path):
    path = tmp_path / "x.csv"
    rows = [
        ["=cmd()", -0.5, "-0.5"],
        ["+1+cmd|' /C calc'!A0", "+1e-03", -3],
        ["@SUM(A1)", "-inf", "nan"],
        ["-2+3", "\tx", "plain"],
    ]
    files.write_csv(path, ["=name", "value", "text"], rows)
    with open(path, newline="", encoding="utf-8") as handle:
        read = list(csv.reader(handle))
    assert read[0] == ["'=name", "value", "text"]
    assert read[1] == ["'=cmd()", "-0.5", "-0.5"]
    assert read[2] == ["'+1+cmd|' /C calc'!A0", "+1e-03", "-3"]
    assert read[3] == ["'@SUM(A1)", "-inf", "nan"]
    assert read[4] == ["'-2+3", "'\tx", "plain"]


def test_batch_csv_escapes_a_model_named_as_a_formula(tmp_path, capsys):
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(
        "name,date,hardware,accelerators,hours,accelerator_hours,location,provider,"
        "organization,energy_kwh,training_compute_flop\n"
        "=cmd(),2024-02-15,NVIDIA H100 SXM5 80GB,64,120,,US-VA,,,,\n"
    )
    out = tmp_path / "batch.csv"
    assert main(["estimate", "--batch", str(inventory), "--samples", "64", "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = [row[next(iter(row))] for row in rows]
    assert set(names) == {"'=cmd()", "TOTAL"}
    escaped = [v for row in rows for v in row.values() if v.startswith("'")]
    assert escaped == ["'=cmd()"] * names.count("'=cmd()")  # no number was escaped


# --- 5. --workers ---------------------------------------------------------------------------


def test_workers_beyond_the_cpus_are_one_line(capsys):
    most = 4 * (os.cpu_count() or 1)
    with pytest.raises(SystemExit) as stop:
        main(["estimate", SETUP, "--point", "--workers", "1000"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"argument --workers: must be <= {most}" in err, err
    assert main(["estimate", SETUP, "--point", "--workers", str(most)]) == 0


# --- 6. files that are not regular, or too large -----------------------------------------------


def _cli(*arguments, timeout=60, **options):
    return subprocess.run(
        [sys.executable, "-m", "mlimpact", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        **options,
    )


def _limit_memory():  # /dev/zero read without limit must not take the machine with it
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
@pytest.mark.parametrize("arguments", [["estimate", "{}"], ["estimate", "--batch", "{}"]])
def test_a_fifo_is_refused_at_once(tmp_path, arguments):
    fifo = tmp_path / "setup.toml"
    os.mkfifo(fifo)
    done = _cli(*[a.format(fifo) for a in arguments], timeout=30)
    assert done.returncode == 2
    assert done.stderr.startswith("mlimpact: error: ") and done.stderr.count("\n") == 1
    assert "not a regular file" in done.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize(
    "arguments", [["estimate", "/dev/zero"], ["data", "--models", "/dev/zero"]]
)
def test_dev_zero_is_refused_at_once(arguments):
    done = _cli(*arguments, timeout=60, preexec_fn=_limit_memory)
    assert done.returncode == 2, done.stderr[-500:]
    assert done.stderr.startswith("mlimpact: error: ") and done.stderr.count("\n") == 1
    assert "/dev/zero" in done.stderr and "not a regular file" in done.stderr


def test_folders_and_devices_are_refused_by_both_readers(tmp_path):
    for reader, what in ((_io.load_toml, "setup file"), (_io.read_user_csv, "models file")):
        with pytest.raises(MlimpactError, match=r"cannot read .* \(a folder, not a regular file\)"):
            reader(tmp_path, what)
        if os.path.exists("/dev/null"):
            with pytest.raises(MlimpactError, match="/dev/null: .* not a regular file"):
                reader("/dev/null", what)


def test_files_larger_than_the_limit_are_refused(tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as handle:
        handle.truncate(_io.MAX_FILE_BYTES + 1)  # sparse: no disk used
    for reader, what in ((_io.load_toml, "setup file"), (_io.read_user_csv, "models file")):
        with pytest.raises(MlimpactError, match=f"{what} is larger than 64 MiB"):
            reader(big, what)
    assert _io.MAX_FILE_BYTES == 64 * 2**20


def test_regular_files_are_still_read(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_bytes(b"\xef\xbb\xbfx = 1\r\ny = 'a'\r\n")  # a byte-order mark, CRLF
    assert _io.load_toml(toml, "setup file") == {"x": 1, "y": "a"}
    table = tmp_path / "a.csv"
    table.write_bytes(b"\xef\xbb\xbfa,b\r\n1,2\r\n")
    columns, rows, digest = _io.read_user_csv(table, "models file")
    assert columns == ["a", "b"] and rows == [{"a": "1", "b": "2"}] and len(digest) == 64


INVENTORY_HEADER = "name,date,hardware,accelerators,hours,location\n"


@pytest.mark.parametrize("day", ["9999-01-01", "0001-01-01", "1949-12-31"])
def test_an_inventory_date_no_run_can_have_is_one_line(tmp_path, capsys, day):
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY_HEADER + f"a,{day},NVIDIA H100 SXM5 80 GB,8,50,FRA\n")
    assert main(["estimate", "--batch", str(path), "--samples", "64"]) == 2
    err = capsys.readouterr().err
    assert f"line 2, column date: {day} is not a date of a training run" in err
    assert len(err.strip().splitlines()) == 1


def test_runs_outside_the_window_are_named_not_dropped_silently(tmp_path, capsys):
    path = tmp_path / "inventory.csv"
    path.write_text(
        INVENTORY_HEADER
        + "early,2015-01-01,NVIDIA H100 SXM5 80 GB,8,50,FRA\n"
        + "late,2024-01-01,NVIDIA H100 SXM5 80 GB,8,50,FRA\n"
    )
    assert main(["data", "--models", str(path), "--first-year", "2020"]) == 0
    assert "outside the window, left out: 1 (early)" in capsys.readouterr().out
    from mlimpact.render.report import _outside_text

    text = _outside_text({"outside_window": ["early"]}, (2020, 2025))
    assert (
        text.startswith("1 of the file's runs are outside the window 2020-2025") and "early" in text
    )


def test_epoch_rows_without_a_date_are_counted_not_dropped_silently(tmp_path, capsys):
    path = tmp_path / "export.csv"
    path.write_text(
        "Model,Publication date,Organization,Country (of organization),Training hardware,"
        "Training compute (FLOP),Hardware quantity,Training time (hours)\n"
        "A,2024-01-01,X,United States of America,NVIDIA A100,,8,100\n"
        "B,2024-13-45,X,United States of America,NVIDIA A100,,8,100\n"
        "C,,X,United States of America,NVIDIA A100,,8,100\n"
    )
    assert main(["data", "--models", str(path)]) == 0
    err = capsys.readouterr().err
    assert "2 rows without a valid publication date (YYYY-MM-DD) left out (lines 3, 4)" in err


@pytest.mark.parametrize(
    "column, value",
    [
        ("Hardware quantity", "-8"),
        ("Training time (hours)", "1e400"),
        ("Hardware quantity", "lots"),
    ],
)
def test_epoch_numbers_no_run_can_have_are_one_line_not_imputed(tmp_path, capsys, column, value):
    header = "Model,Publication date,Organization,Country (of organization),Training hardware,"
    header += "Training compute (FLOP),Hardware quantity,Training time (hours)\n"
    cells = {"Hardware quantity": "8", "Training time (hours)": "100"} | {column: value}
    path = tmp_path / "export.csv"
    path.write_text(
        header + "A,2024-01-01,X,United States of America,NVIDIA A100,,"
        f"{cells['Hardware quantity']},{cells['Training time (hours)']}\n"
    )
    assert main(["data", "--models", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"line 2: column {column}: must be a finite number > 0 or empty (got {value!r})" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unwritable_kernel_cache_falls_back_to_no_cache_with_one_warning(tmp_path, monkeypatch):
    from mlimpact import _config

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="cannot be written .* without a cache"):
        assert _config.cache_dir.__wrapped__() is None
    # the command line says so in one line and goes on
    done = subprocess.run(
        [sys.executable, "-m", "mlimpact", "hardware", "H100 SXM5"],
        capture_output=True,
        text=True,
        env={**os.environ, "NUMBA_CACHE_DIR": str(blocker / "cache")},
        timeout=120,
    )
    assert done.returncode == 0 and "H100" in done.stdout
    warned = [line for line in done.stderr.splitlines() if "cannot be written" in line]
    assert len(warned) == 1 and warned[0].startswith("mlimpact: warning: numba cache folder")


def test_calibrate_refuses_more_samples_than_its_memory_bound(capsys):
    assert main(["calibrate", "--samples", str(10**8)]) == 2
    err = capsys.readouterr().err
    assert "calibration keeps each round's samples in memory: at most" in err
    assert "(1 GiB; got 100,000,000)" in err and len(err.strip().splitlines()) == 1


def test_estimate_parameters_on_a_stated_field_are_refused_on_the_command_line(
    tmp_path, capsys, repo_root
):
    path = tmp_path / "parameters.toml"
    path.write_text(
        "[my_usage]\n"
        'distribution = { type = "uniform", low = 0.5, high = 0.9 }\n'
        'unit = "1"\nscope = "run"\ntarget = "gpu_usage"\nmode = "replace"\n'
        'source = "a test"\nsources = []\n'
    )
    setup = str(repo_root / "examples" / "bert_base.toml")
    assert main(["estimate", setup, "--parameters", str(path), "--samples", "64"]) == 2
    err = capsys.readouterr().err
    assert "parameter 'my_usage' acts on gpu_usage, which the setup states" in err
    assert len(err.strip().splitlines()) == 1


# --- 7. inventory cells beyond what a run can have ---------------------------------------------

INVENTORY_CELLS = (
    "name,date,hardware,accelerators,hours,location,energy_kwh,training_compute_flop\n"
)


@pytest.mark.parametrize(
    "cells, message",
    [
        # 1e308 kWh used to reach the results as max |x| = 1e+308, then a catalogue error's
        # message; a subnormal energy or time gave results of 1e-322 kWh without a word
        ("64,120,USA,1e308,", "column energy_kwh: 1e+308 is above the accepted 1e+12"),
        ("64,120,USA,5e-324,", "column energy_kwh: must be a number > 0 (at least 2.2e-308)"),
        ("64,5e-324,USA,,", "column hours: must be a number > 0 (at least 2.2e-308)"),
        ("64,1e308,USA,,", "column hours: 1e+308 is above the accepted 1e+06"),
        ("64,120,USA,,1e308", "column training_compute_flop: 1e+308 is above the accepted 1e+32"),
        ("64,120,USA,1e400,", "column energy_kwh: must be a number > 0 (at least 2.2e-308)"),
        ("64,120,USA,-1,", "column energy_kwh: must be a number > 0"),
        ("64,120,USA,nan,", "column energy_kwh: must be a number > 0"),
        ("2.5,120,USA,,", "column accelerators: must be a whole number >= 1"),
        ("1e300,120,USA,,", "line 2, column accelerators: gives nodes = 1.25e+299, outside"),
        ("64,120,=cmd(),,", "column location: unknown region '=cmd()'"),
    ],
)
def test_inventory_cells_no_run_can_have_are_one_line(tmp_path, capsys, cells, message):
    path = tmp_path / "inventory.csv"
    path.write_text(INVENTORY_CELLS + f"a,2024-02-15,NVIDIA H100 SXM5 80GB,{cells}\n")
    assert main(["estimate", "--batch", str(path), "--samples", "64"]) == 2
    one_error_line(capsys, message)


def test_inventory_cells_at_the_limits_are_taken(tmp_path, capsys):
    path = tmp_path / "inventory.csv"
    path.write_text(
        INVENTORY_CELLS + "a,2024-02-15,NVIDIA H100 SXM5 80GB,64,2.3e-308,USA,1e11,1e32\n"
    )
    assert main(["estimate", "--batch", str(path), "--samples", "64", "--format", "json"]) == 0
    assert "NaN" not in capsys.readouterr().out


# --- 8. a statistic that is not a number is never printed as "nan" ---------------------------


def test_a_statistic_that_is_not_a_number_is_a_dash_in_tables_and_refused_in_json(capsys):
    import mlimpact
    from mlimpact.cli import _json
    from mlimpact.render import text

    result = mlimpact.estimate(
        mlimpact.Setup(gpu="H100 SXM", gpus=8, hours=10, country="USA"), samples=64
    )
    result["gwp"].loc[dict(phase="total", statistic="q975")] = float("nan")  # beyond the histogram
    table = text.monte_carlo_table(result)
    assert "nan" not in table.lower() and "[" in table
    gwp = next(line for line in table.splitlines() if line.startswith("GWP"))
    assert gwp.rstrip().endswith(", -]")
    with pytest.raises(MlimpactError, match="a result is not a finite number; nothing is printed"):
        _json(text.monte_carlo_json(result))


# --- 9. generated setups: a finite result or one error line ------------------------------------

#: Values no key of a setup takes, or only some: the edges of double precision, of the whole
#: numbers and of each kind's range, the wrong types.
HOSTILE_VALUES = [0, -1, 0.5, 5e-324, 1e308, -1e308, float("inf"), float("nan"), 2**53 + 1]
HOSTILE_VALUES += [10**30, 1e12, 1.0000001, 99.5, 1989, 2101, True, "", " ", "x", "=cmd()"]
HOSTILE_VALUES += [[1], {"a": 1}, "é" * 300]
#: Names of each text key: known ones, unknown ones, other kinds.
TEXTS = {
    "country": ["USA", "usa", "FRA", "CHN", "unknown", "ISL", "zzz"],
    "region": ["US-VA", "SE3", "gcp:europe-west4", "CA-QC", "zz-zz"],
    "provider": ["Microsoft Azure", "Google", "Nobody"],
    "organization": ["Meta", "OpenAI", "Nobody"],
    "gpu": ["H100 SXM", "A100 SXM4 80 GB", "NVIDIA A100", "Google TPU v4", "MI300X", "my chip"],
    "gpu_memory_type": ["HBM3", "GDDR6", "DDR9"],
}
VALID = {
    "positive": st.floats(1e-3, 1e4),
    "count": st.integers(1, 64),
    "count0": st.integers(0, 64),
    "fraction": st.floats(1e-3, 1),
    "fraction0": st.floats(0, 1),
    "nonnegative": st.floats(0, 1e3),
    "ratio": st.floats(1, 3),
    "year": st.integers(1990, 2100),
    "flag": st.booleans(),
    "percent95": st.floats(95, 99),
}
NUMBERS = st.one_of(st.sampled_from([0, 1, 0.5, -1, 1e308, 5e-324, 1e6]), st.floats(-10, 1e7))
DISTRIBUTION = st.fixed_dictionaries(
    {"type": st.sampled_from(["uniform", "lognormal", "triangular", "discrete", "zzz"])},
    optional={
        **{key: NUMBERS for key in ("low", "high", "mode", "median", "gsd", "x")},
        "values": st.lists(NUMBERS, max_size=3),
    },
)
UNCERTAIN = st.one_of(NUMBERS, DISTRIBUTION)


def _key_value(section, key, kind):
    if kind == "text":
        return st.sampled_from(TEXTS.get(key, ["x"]))
    if kind.startswith("choice:"):
        return st.sampled_from(kind.split(":")[1].split(","))
    return VALID[kind]


@st.composite
def setup_documents(draw):
    """A setup: the required keys, up to four valid keys per section, up to two keys set to a
    hostile value, up to two [uncertainty] entries (catalogue inputs, run fields, unknown)."""
    sections = schema()
    document = {
        "run": {"hours": draw(st.floats(1e-3, 1e4))},
        "node": {"gpu": draw(st.sampled_from(TEXTS["gpu"])), "gpus": draw(st.integers(1, 16))},
    }
    for section, keys in sections.items():
        for key in draw(st.lists(st.sampled_from(sorted(keys)), max_size=4, unique=True)):
            document.setdefault(section, {})[key] = draw(_key_value(section, key, keys[key][0]))
    for _ in range(draw(st.integers(0, 2))):
        section = draw(st.sampled_from(sorted(sections)))
        key = draw(st.sampled_from([*sorted(sections[section]), "zzz"]))
        document.setdefault(section, {})[key] = draw(st.sampled_from(HOSTILE_VALUES))
    names = ["lifetime_years", "gpu_usage", "grid_gwp_error", "hours", "nodes", "zzz"]
    for key in draw(st.lists(st.sampled_from(names + list(RUN_FIELDS[:8])), max_size=2)):
        document.setdefault("uncertainty", {})[key] = draw(UNCERTAIN)
    return document


def _toml(value):
    import json
    import math

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _finite_leaves(node):
    if isinstance(node, dict):
        return [x for value in node.values() for x in _finite_leaves(value)]
    if isinstance(node, list):
        return [x for value in node for x in _finite_leaves(value)]
    return [node] if isinstance(node, float) else []


def write_toml(path, document):
    """Write ``document`` (section -> {key: value}) as a TOML file of sections."""
    path.write_text(
        "\n".join(
            f"[{section}]\n" + "".join(f"{_toml(k)} = {_toml(v)}\n" for k, v in keys.items())
            for section, keys in document.items()
        ),
        encoding="utf-8",
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(document=setup_documents(), mode=st.sampled_from(["point", "sampled", "mlca"]))
def test_generated_setups_give_finite_results_or_one_error_line(tmp_path, document, mode):
    import contextlib
    import io
    import json

    path = tmp_path / "setup.toml"
    write_toml(path, document)
    arguments = ["estimate", str(path), "--format", "json"]
    arguments += {"point": ["--point"], "sampled": ["--samples", "16"]}.get(mode, [])
    arguments += ["--power", "mlca", "--samples", "16"] if mode == "mlca" else []
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)  # any exception fails the test: no traceback may escape
    lines = [line for line in err.getvalue().splitlines() if "mlimpact: warning" not in line]
    if code == 0:
        leaves = _finite_leaves(json.loads(out.getvalue()))
        assert leaves and all(0 <= x < float("inf") for x in leaves), out.getvalue()[:500]
    else:
        assert code == 2 and len(lines) == 1, err.getvalue()
        assert lines[0].startswith("mlimpact: error: ") and "setup.toml" in lines[0], lines


@pytest.mark.parametrize("form", ["table", "json"])
def test_a_statistic_beyond_the_histogram_is_named_not_shown_as_a_dash(tmp_path, capsys, form):
    # found by the test above: a usage of 6e-33 in [uncertainty] leaves the point model's 0.75
    # to the point estimate; the accelerators' energy lies 1e32 below it, its quantiles NaN:
    # the table showed "- [-, -]" and exit 0, the JSON "a result is not a finite number"
    path = tmp_path / "setup.toml"
    path.write_text(
        '[run]\nhours = 1.0\n[node]\ngpu = "H100 SXM"\ngpus = 1\n'
        "[uncertainty]\ngpu_usage = 6.23173688541663e-33\n"
    )
    out = tmp_path / "result.nc"
    arguments = ["estimate", str(path), "--power", "mlca", "--samples", "16", "--out", str(out)]
    assert main([*arguments, "--format", form]) == 2
    one_error_line(capsys, "setup.toml: energy_by_scope (accelerators, q025) is not a finite")
    assert not out.exists()


def test_a_batch_statistic_beyond_the_histogram_is_named(tmp_path, capsys):
    # the same through --parameters in a batch: "- [-, -]" in the table, exit 0
    parameters = tmp_path / "parameters.toml"
    parameters.write_text(
        '[gpu_usage]\ndistribution = { type = "constant", value = 6e-33 }\n'
        'unit = "1"\nscope = "run"\ntarget = "gpu_usage"\nmode = "replace"\n'
    )
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY_HEADER + "a,2024-02-15,NVIDIA H100 SXM5 80GB,64,120,USA\n")
    out = tmp_path / "batch.csv"
    arguments = ["estimate", "--batch", str(inventory), "--samples", "64", "--out", str(out)]
    assert main([*arguments, "--parameters", str(parameters)]) == 2
    one_error_line(capsys, "inventory.csv: run 'a': the median of energy_accelerators is not a")
    assert not out.exists()


def test_a_batch_parameter_replacing_a_field_a_row_gives_is_refused(tmp_path, capsys):
    # a parameters file replacing hours overrode every row's hours without a word (8.2 kWh
    # instead of 120.5 for a row of 10 h): the rule of a setup file holds for inventory rows
    parameters = tmp_path / "parameters.toml"
    entry = 'unit = "h"\nscope = "run"\ntarget = "hours"\n'
    parameters.write_text(
        '[hours_override]\ndistribution = { type = "uniform", low = 0.5, high = 0.9 }\n'
        + entry
        + 'mode = "replace"\n'
    )
    inventory = tmp_path / "inventory.csv"
    inventory.write_text(INVENTORY_HEADER + "a,2024-02-15,NVIDIA H100 SXM5 80GB,8,10,USA\n")
    arguments = ["estimate", "--batch", str(inventory), "--samples", "64"]
    assert main([*arguments, "--parameters", str(parameters)]) == 2
    one_error_line(capsys, "parameter 'hours_override' replaces hours, which run 'a' gives")
    # an error around the row's value (scale) is what a user may add
    parameters.write_text(
        '[hours_error]\ndistribution = { type = "uniform", low = 0.9, high = 1.1 }\n'
        + entry.replace('"h"', '"1"')
        + 'mode = "scale"\n'
    )
    assert main([*arguments, "--parameters", str(parameters)]) == 0
