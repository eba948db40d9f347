"""Hostile input (issue 32): each case ends with one ``mlimpact: error: ...`` line and a
non-zero exit, never a traceback or a hang, and loses nothing already written."""

import csv
import os
import subprocess
import sys

import pytest

from mlimpact import _io
from mlimpact.cli import build_parser, main
from mlimpact.errors import MlimpactError
from mlimpact.render import files

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
