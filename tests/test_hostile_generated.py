"""Generated hostile input (issue 32) for the entry points other than a setup file: inventories
(``estimate --batch`` and ``run --models``), parameters files (``--parameters``) and
configuration files (``run --config``). Each example ends in a finite, sane result or in one
``mlimpact: error: ...`` line naming the file, never in a traceback (any exception other than
the CLI's own fails the test)."""

import contextlib
import csv
import io
import json
import math

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mlimpact.cli import build_parser, main
from mlimpact.errors import MlimpactError
from mlimpact.runs.records import INVENTORY_COLUMNS


def fuzz(examples):
    """Hypothesis settings of these tests: ``examples`` examples, no deadline (the first
    example may compile the kernels)."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


def _cli(arguments):
    """Run the CLI in-process: (exit code, stdout, the stderr lines that are not warnings)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(arguments)  # any exception fails the test: no traceback may escape
    lines = [line for line in err.getvalue().splitlines() if "mlimpact: warning" not in line]
    return code, out.getvalue(), lines


def _one_error_line(code, lines, *words):
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("mlimpact: error: "), lines
    for word in words:
        assert word in lines[0], lines


# --- 1. inventories --------------------------------------------------------------------------

#: Cells no column takes, or only some: empty, the edges of double precision, text numbers
#: Python reads (nan, inf, 1_000), formula prefixes, unicode, dates that are not, names that
#: name nothing.
HOSTILE_CELLS = ["", " ", "0", "-1", "1e308", "-1e308", "1e400", "5e-324", "2.2e-308", "1e-300"]
HOSTILE_CELLS += ["nan", "NaN", "inf", "-inf", "Infinity", "1_000", "0x10", " 64 ", "1,5", "2.5"]
HOSTILE_CELLS += ["=cmd()", "+1", "-x", "@SUM(A1)", "é" * 40, "日本語", "\u200b", "a\nb", '"q"']
HOSTILE_CELLS += ["9999-01-01", "0001-01-01", "2024-02-30", "2024-13-01", "20240215", "2024"]
HOSTILE_CELLS += ["true", "zzz", "USA", "usa", "H100", "1e12", "1e32", "1e6", "1e-6", "1e15"]
#: Valid cells of each inventory column (and of a few setup keys).
INVENTORY_VALUES = {
    "name": ["a", "b", "c", "=cmd()", "-x", "@y", "+z", "é", "a b", "a,b"],
    "date": ["2024-02-15", "2021-06-30", "2025-01-10", "2019-12-31", "1950-01-01"],
    "hardware": [
        "NVIDIA H100 SXM5 80GB",
        "NVIDIA A100 SXM4 80 GB",
        "Google TPU v4",
        "AMD Instinct MI300X",
    ],
    "accelerators": ["1", "8", "64", "1024", "3", "100000"],
    "hours": ["0.5", "120", "2000", "1e-3", "8760"],
    "accelerator_hours": ["3000", "1", "1e7"],
    "location": ["US-VA", "SE3", "gcp:europe-west4", "FRA", "usa", "CHN", "ISL"],
    "provider": ["Amazon Web Services", "Google", "Microsoft Azure", "Nobody"],
    "organization": ["Meta", "OpenAI", "Nobody"],
    "energy_kwh": ["85000", "1", "1e11", "1e-3"],
    "energy_scope": ["accelerators", "node", "facility"],
    "training_compute_flop": ["1e23", "1e20", "1"],
    "gpu_usage": ["0.5", "1", "0.001"],
    "cpus": ["0", "2"],
    "pue": ["1.1", "1.5", "3"],
    "lifetime_years": ["3", "6", "0.01"],
    "production_model": ["mlca", "act", "mixture"],
    "include": ["true", "false"],
}
#: Cells of a column that a run cannot have but a user may write: unknown names.
WRONG_VALUES = {
    "hardware": ["zzz", "H100", "NVIDIA"],
    "location": ["zz-zz", "XXX", "US"],
    "energy_scope": ["rack", "Node"],
    "production_model": ["zzz"],
    "include": ["yes", "1"],
}
OPTIONAL_COLUMNS = [c for c in INVENTORY_COLUMNS if c not in ("name", "date", "hardware")]
SETUP_COLUMNS = ["gpu_usage", "cpus", "pue", "lifetime_years", "production_model", "include"]


def _rare(draw, odds):
    """True about once in ``odds`` draws (a middle value: hypothesis favours the ends)."""
    return draw(st.integers(0, 2 * odds)) == odds


@st.composite
def inventories(draw):
    """An inventory's text: the required columns (rarely one missing), some optional and
    setup-key columns (rarely an unknown or duplicated one), one to four rows of valid cells
    of which a few are hostile or unknown names (and a row rarely ragged), a BOM or not, CRLF
    line endings or LF."""
    columns = ["name", "date", "hardware"]
    if _rare(draw, 15):
        columns.remove(draw(st.sampled_from(columns)))
    columns += draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS), max_size=5, unique=True))
    if "accelerator_hours" not in columns and not _rare(draw, 6):
        columns += [c for c in ("accelerators", "hours") if c not in columns]
    if "energy_scope" in columns and "energy_kwh" not in columns:
        columns.append("energy_kwh")
    columns += draw(st.lists(st.sampled_from(SETUP_COLUMNS), max_size=2, unique=True))
    if _rare(draw, 10):
        columns.append(draw(st.sampled_from(["zzz", "name", "Hours", " hours", ""])))
    rows = []
    names = draw(st.lists(st.sampled_from(INVENTORY_VALUES["name"]), min_size=1, max_size=4))
    if not _rare(draw, 10):  # the same name twice, rarely
        names = list(dict.fromkeys(names))
    for name in names:
        row = [draw(st.sampled_from(INVENTORY_VALUES.get(c, ["1"]))) for c in columns]
        if "name" in columns:
            row[columns.index("name")] = name
        if "accelerator_hours" in columns and "accelerators" in columns and "hours" in columns:
            row[columns.index(draw(st.sampled_from(["accelerators", "hours"])))] = ""
        if draw(st.booleans()):
            i = draw(st.integers(0, len(columns) - 1))
            row[i] = draw(st.sampled_from([*HOSTILE_CELLS, *WRONG_VALUES.get(columns[i], [])]))
        if _rare(draw, 15):
            row = row[:-1] if draw(st.booleans()) else [*row, "extra"]
        rows.append(row)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerows([columns, *rows])
    return draw(st.sampled_from(["", "\ufeff"])) + buffer.getvalue()


def _numbers(cells):
    """The cells of a CSV that read as numbers."""
    out = []
    for cell in cells:
        try:
            out.append(float(cell))
        except ValueError:
            pass
    return out


@fuzz(60)
@given(text=inventories(), form=st.sampled_from(["json", "csv"]))
def test_generated_inventories_give_finite_batch_results_or_one_error_line(tmp_path, text, form):
    path, out = tmp_path / "inventory.csv", tmp_path / "batch.csv"
    path.write_bytes(text.encode("utf-8"))
    out.unlink(missing_ok=True)
    arguments = ["estimate", "--batch", str(path), "--samples", "16", "--format", "json"]
    arguments += ["--out", str(out), "--force"] if form == "csv" else []
    code, stdout, lines = _cli(arguments)
    event(f"exit {code}")
    if code != 0:
        _one_error_line(code, lines, "inventory.csv")
        assert not out.exists()
        return
    document = json.loads(stdout)
    values = [v for row in document["rows"] for k, v in row.items() if k != "measured"]
    numbers = [v for v in values if isinstance(v, float)]
    assert numbers and all(0 <= v < math.inf for v in numbers), document["rows"][:3]
    if form == "csv":
        with open(out, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        cells = [c for row in rows for c in row.values()]
        for row in rows:  # the statistics' columns: finite numbers >= 0 (measured: or empty)
            stats = [v for k, v in row.items() if k not in ("run", "criterion", "unit")]
            assert all(0 <= v < math.inf for v in _numbers(stats)), row
            assert len(_numbers(stats)) >= len(stats) - 1, row
        # no cell a spreadsheet would run as a formula
        assert not [c for c in cells if c[:1] and c[0] in "=+-@" and not _numbers([c])], cells


def _inventory_runs(path):
    """What ``run --models FILE`` reads before the study: the options the CLI builds and
    validates (:func:`mlimpact.cli._study_options`), then the run table of the window."""
    from mlimpact import cli
    from mlimpact.study.options import dataset_of, records_of

    args = build_parser().parse_args(["run", "--models", str(path), "--samples", "16"])
    options = cli._study_options(args)
    return dataset_of(options, records_of(options)[0]).runs()


@fuzz(80)
@given(text=inventories())
def test_generated_inventories_give_finite_runs_or_one_error(tmp_path, text):
    from mlimpact.engine import model

    path = tmp_path / "inventory.csv"
    path.write_bytes(text.encode("utf-8"))
    try:
        runs = _inventory_runs(path)
    except MlimpactError as error:
        message = str(error)
        assert "\n" not in message and "inventory.csv" in message, message
        event("refused")
        return
    event("runs")
    values = runs.runs.values
    assert len(runs.runs) and np.isfinite(values).all(), values
    result = model.training_impacts(runs.runs)  # the point model on them
    for name in result.data_vars:
        data = np.asarray(result[name])
        if data.dtype.kind == "f":
            assert np.isfinite(data).all() and (data >= 0).all(), name


def test_hours_an_inventory_row_derives_beyond_the_range_name_its_line_and_column(tmp_path):
    # found by the tests above: 1e7 accelerator-hours on one accelerator are 1e7 hours, which
    # the model refused as "run 'a': hours = 1e+07 is outside..." without the file or line
    path = tmp_path / "inventory.csv"
    path.write_text("name,date,hardware,accelerators,accelerator_hours\n")
    with open(path, "a") as handle:
        handle.write("a,2024-02-15,NVIDIA H100 SXM5 80GB,1,1e7\n")
    code, _, lines = _cli(["estimate", "--batch", str(path), "--samples", "16"])
    _one_error_line(code, lines, "inventory.csv line 2, column accelerator_hours: gives hours")


def test_an_inventory_with_no_run_in_the_window_names_the_file_and_its_years(tmp_path):
    # found by the tests above: "no model of 2013-2025 can enter the run", no file named
    path = tmp_path / "inventory.csv"
    path.write_text(
        "name,date,hardware,accelerators,hours\na,1950-01-01,NVIDIA H100 SXM5 80GB,8,10\n"
    )
    code, _, lines = _cli(["run", "--models", str(path), "--out", str(tmp_path / "out")])
    _one_error_line(code, lines, "inventory.csv: no run enters the window 2013-2025", "1950")
    assert not (tmp_path / "out").exists()
