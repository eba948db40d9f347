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
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from test_hostile import _finite_leaves, _toml, write_toml

from mlimpact.cli import build_parser, main
from mlimpact.errors import MlimpactError
from mlimpact.runs.records import INVENTORY_COLUMNS
from mlimpact.uncertainty.catalogue import default_catalogue


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
@example(  # found after the fact: a range error of a row's pue named no file
    text="name,date,hardware,accelerators,hours,location,provider,organization,lifetime_years,"
    "pue\na,2024-02-15,NVIDIA H100 SXM5 80GB,1,0.5,US-VA,Amazon Web Services,Meta,3,1e308\n",
    form="json",
)
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


def test_a_setup_key_column_beyond_its_range_names_its_line_and_column(tmp_path):
    # found by the generated inventories: a date typed in the cpus column reached the model,
    # which refused "run 'a': cpus = 2.02402e+07 is outside..." without the file or line
    path = tmp_path / "inventory.csv"
    path.write_text(
        "name,date,hardware,accelerator_hours,cpus\n"
        "a,2024-02-15,NVIDIA H100 SXM5 80GB,3000,20240215\n"
    )
    code, _, lines = _cli(["estimate", "--batch", str(path), "--samples", "16"])
    _one_error_line(code, lines, "inventory.csv line 2, column cpus: 2.02402e+07 is outside")
    with pytest.raises(MlimpactError, match="inventory.csv line 2, column cpus"):
        _inventory_runs(path)


def test_an_inventory_with_no_run_in_the_window_names_the_file_and_its_years(tmp_path):
    # found by the tests above: "no model of 2013-2025 can enter the run", no file named
    path = tmp_path / "inventory.csv"
    path.write_text(
        "name,date,hardware,accelerators,hours\na,1950-01-01,NVIDIA H100 SXM5 80GB,8,10\n"
    )
    code, _, lines = _cli(["run", "--models", str(path), "--out", str(tmp_path / "out")])
    _one_error_line(code, lines, "inventory.csv: no run enters the window 2013-2025", "1950")
    assert not (tmp_path / "out").exists()


# --- 2. parameters files -----------------------------------------------------------------------

#: Numbers a distribution's parameter may be given: plausible ones, and the edges of double
#: precision, of the unit interval and of the whole numbers; then the wrong types.
PARAMETER_NUMBERS = st.one_of(
    st.sampled_from([0, 1, 0.5, 0.9, 1.1, 2, 10, 1e6, 1e7, -1, 5e-324, 1e-300, 1e308, -1e308]),
    st.sampled_from([float("inf"), float("nan"), 2**63 - 1, 10**30]),
    st.floats(0.01, 100),
)
PARAMETER_VALUES = st.one_of(
    PARAMETER_NUMBERS, PARAMETER_NUMBERS, st.sampled_from(["", "1", True, [1], {"a": 1}])
)
#: The keys of each kind of distribution (data/parameters.toml, docs/uncertainty.md).
DISTRIBUTION_KEYS = {
    "constant": ["value"],
    "uniform": ["low", "high"],
    "loguniform": ["low", "high"],
    "normal": ["mean", "sd"],
    "truncnormal": ["mean", "sd", "low", "high"],
    "lognormal": ["median", "gsd"],
    "triangular": ["low", "mode", "high"],
    "pert": ["low", "mode", "high"],
    "beta": ["a", "b", "low", "high"],
    "discrete": ["values", "weights"],
    "empirical": ["values"],
}


def _plausible(kind, a, b, c):
    """The keys of a distribution of ``kind`` from three increasing numbers."""
    return {
        "constant": {"value": b},
        "uniform": {"low": a, "high": c},
        "loguniform": {"low": a, "high": c},
        "normal": {"mean": b, "sd": a},
        "truncnormal": {"mean": b, "sd": a, "low": a, "high": c},
        "lognormal": {"median": b, "gsd": 1 + a},
        "triangular": {"low": a, "mode": b, "high": c},
        "pert": {"low": a, "mode": b, "high": c},
        "beta": {"a": 1 + a, "b": 1 + c, "low": a, "high": c},
        "discrete": {"values": [a, b, c], "weights": [1, 2, 1]},
        "empirical": {"values": [a, b, c]},
    }.get(kind, {"low": a})


@st.composite
def distribution_tables(draw):
    """A distribution's table: a known type (rarely an unknown one) with plausible keys, of
    which about one table in two has one set to a hostile value (or a list of them), rarely
    one key missing or one more; or, rarely, a bare number or something else."""
    if _rare(draw, 10):
        return draw(PARAMETER_VALUES)
    kinds = sorted(DISTRIBUTION_KEYS) + (["zzz"] if _rare(draw, 5) else [])
    kind = draw(st.sampled_from(kinds))
    a, b, c = sorted(draw(st.lists(st.floats(0.01, 3), min_size=3, max_size=3)))
    table = {"type": kind, **_plausible(kind, a, b, c)}
    if draw(st.booleans()):
        key = draw(st.sampled_from(sorted(table)[1:] if len(table) > 1 else ["x"]))
        table[key] = (
            draw(st.lists(PARAMETER_NUMBERS, max_size=4))
            if key in ("values", "weights")
            else draw(PARAMETER_VALUES)
        )
    if _rare(draw, 10):
        del table[draw(st.sampled_from(sorted(table)))]
    if _rare(draw, 10):
        table[draw(st.sampled_from(["x", "unit", "mode", "weights"]))] = 1
    return table


#: Names: the catalogue's (changed), a new one, one with characters a table name may hold.
PARAMETER_NAMES = ["gpu_usage", "lifetime_years", "grid_gwp_error", "facility_pue", "mfu"]
PARAMETER_NAMES += ["my_input", "zzz", "é", "a.b", ""]
#: Targets: fields with a range, fraction fields, categories, criteria, unknown names.
TARGETS = ["lifetime_years", "lifetime_usage", "gpu_usage", "dynamic_ratio", "memory_density"]
TARGETS += ["grid_gwp", "production_model", "nodes", "hours", "gpu_tdp_w", "variant", "mfu"]
TARGETS += ["gwp", "adpe", "pe", "water", "zzz", ""]
#: (scope, target, mode) of the catalogue's entries, and of a few more fields.
ROLES = sorted(
    {(p.scope, p.target, p.mode) for p in default_catalogue("evidence").values()}
    | {("run", "hours", "scale"), ("global", "nodes", "scale"), ("hardware", "gpu_tdp_w", "scale")}
)


@st.composite
def parameters_documents(draw):
    """A parameters file: one to three entries of the catalogue's format with a generated
    distribution, scope, target, mode and unit, and now and then a point, members, a power
    model, a class or a key no entry has; rarely an entry that is not a table."""
    document = {}
    for name in draw(
        st.lists(st.sampled_from(PARAMETER_NAMES), min_size=1, max_size=3, unique=True)
    ):
        if _rare(draw, 15):
            document[name] = draw(PARAMETER_VALUES)
            continue
        scope, target, mode = draw(st.sampled_from(ROLES))
        if draw(st.booleans()):  # one of them as random, sometimes not a name at all
            key = draw(st.sampled_from(["scope", "target", "mode"]))
            other = {"scope": ["global", "run", "hardware", "country", "factor", "zzz", 1]}
            other |= {"target": TARGETS, "mode": ["replace", "scale", "zzz", ""]}
            scope, target, mode = (
                {"scope": scope, "target": target, "mode": mode}
                | {key: draw(st.sampled_from(other[key]))}
            ).values()
        entry = {
            "distribution": draw(distribution_tables()),
            "unit": draw(st.sampled_from(["1", "h", "year", ""])),
            "scope": scope,
            "target": target,
            "mode": mode,
        }
        if _rare(draw, 8):
            del entry[draw(st.sampled_from(sorted(entry)))]
        optional = {
            "point": PARAMETER_VALUES,
            "members": st.lists(
                st.sampled_from(["USA", "FRA", "unknown", "NVIDIA H100 SXM5 80GB", "H100", "zzz"]),
                max_size=2,
            ),
            "power_model": st.sampled_from(["mlca", "evidence", "zzz"]),
            "class": st.sampled_from(["accelerator", "provider", "zzz"]),
            "by_class": st.dictionaries(
                st.sampled_from(["GPU", "TPU", "cloud"]), distribution_tables(), max_size=2
            ),
            "sources": st.lists(st.sampled_from(["morand2024", "zzz", ""]), max_size=2),
            "zzz": st.just(1),
        }
        for key in draw(st.lists(st.sampled_from(sorted(optional)), max_size=1)):
            entry[key] = draw(optional[key])
        document[name] = entry
    return document


def _parameters_toml(document):
    return "".join(
        f"[{_toml(name)}]\n" + "".join(f"{_toml(k)} = {_toml(v)}\n" for k, v in entry.items())
        if isinstance(entry, dict)
        else f"{_toml(name)} = {_toml(entry)}\n"
        for name, entry in sorted(document.items(), key=lambda item: isinstance(item[1], dict))
    )


#: A setup that states only what it must: the catalogue's inputs are all sampled.
LEAN_SETUP = '[run]\nhours = 100.0\ncountry = "USA"\n[node]\ngpu = "H100 SXM"\ngpus = 8\n'


@fuzz(60)
@given(document=parameters_documents(), power=st.sampled_from(["mlca", "evidence"]))
def test_generated_parameters_files_give_finite_results_or_one_error_line(
    tmp_path, document, power
):
    setup, path = tmp_path / "setup.toml", tmp_path / "parameters.toml"
    setup.write_text(LEAN_SETUP)
    path.write_text(_parameters_toml(document), encoding="utf-8")
    arguments = ["estimate", str(setup), "--parameters", str(path), "--samples", "16"]
    code, stdout, lines = _cli([*arguments, "--power", power, "--format", "json"])
    event(f"exit {code}")
    if code != 0:
        _one_error_line(code, lines)
        assert "parameters.toml" in lines[0] or "setup.toml" in lines[0], lines
        return
    leaves = _finite_leaves(json.loads(stdout))
    assert leaves and all(0 <= x < math.inf for x in leaves), stdout[:500]


def _parameter_entry(name, distribution, scope, target, mode):
    return (
        f"[{name}]\ndistribution = {distribution}\n"
        f'scope = "{scope}"\ntarget = "{target}"\nmode = "{mode}"\n'
    )


SCALED_USAGE = _parameter_entry(
    "usage_error", '{ type = "uniform", low = 0.5, high = 3 }', "run", "gpu_usage", "scale"
)
SECOND_PE_ERROR = _parameter_entry(
    "e1", '{ type = "uniform", low = 0.5, high = 1.5 }', "factor", "pe", "scale"
)
BATCH_INVENTORY = "name,date,hardware,accelerators,hours\na,2024-02-15,NVIDIA H100 SXM5 80GB,8,10\n"


@pytest.mark.parametrize("entry", [SCALED_USAGE, SECOND_PE_ERROR])
@pytest.mark.parametrize("batch", [False, True])
def test_parameters_the_runs_cannot_take_name_the_files(tmp_path, entry, batch):
    # found by the test above: "run 'setup': the multiplicative error usage_error on gpu_usage
    # can draw 2.76" and "parameters 'e1' and 'production_pe_error' both scale..." named
    # neither the setup (or inventory) nor the parameters file
    (tmp_path / "setup.toml").write_text(LEAN_SETUP)
    (tmp_path / "inventory.csv").write_text(BATCH_INVENTORY)
    (tmp_path / "parameters.toml").write_text(entry)
    runs = ["--batch", str(tmp_path / "inventory.csv")] if batch else [str(tmp_path / "setup.toml")]
    arguments = ["estimate", *runs, "--parameters", str(tmp_path / "parameters.toml")]
    code, _, lines = _cli([*arguments, "--samples", "16"])
    where = "inventory.csv" if batch else "setup.toml"
    _one_error_line(code, lines, f"{where} with --parameters {tmp_path / 'parameters.toml'}: ")


def test_a_parameter_replacing_the_stated_hours_is_refused_naming_the_file(tmp_path):
    # found by the test above: the command line replaced a setup's stated hours = 100 by a
    # parameters file's uniform(0.5, 0.9) without a word (energy 7.8 kWh instead of 1,104),
    # where mlimpact.estimate refused it
    (tmp_path / "setup.toml").write_text(LEAN_SETUP)
    (tmp_path / "parameters.toml").write_text(
        _parameter_entry(
            "u", '{ type = "uniform", low = 0.5, high = 0.9 }', "run", "hours", "replace"
        )
    )
    arguments = ["estimate", str(tmp_path / "setup.toml"), "--samples", "16"]
    code, _, lines = _cli([*arguments, "--parameters", str(tmp_path / "parameters.toml")])
    _one_error_line(
        code, lines, "parameters.toml: parameter 'u' acts on hours, which the setup states"
    )


# --- 3. configuration files ----------------------------------------------------------------------

#: Values of any key: of every TOML type, at the edges of each key's range, names of nothing.
CONFIG_VALUES = st.one_of(
    st.sampled_from([0, 1, -1, 15, 16, 17, 64, 2**31 - 1, 2**31, 2**63 - 1, 1989, 2013, 2025]),
    st.sampled_from([0.5, float("nan"), float("inf"), True, False, "", "x", "=cmd()", "é" * 200]),
    st.sampled_from(["mc", "sobol", "lhs", "evidence", "mlca", "organisation", "FRA", "ISL"]),
    st.sampled_from([[], ["baseline"], ["zzz"], [1], [[1]], {"a": 1}]),
)
RUN_KEYS = ["samples", "seed", "method", "scenarios", "first_year", "last_year"]
RUN_KEYS += ["complete_only", "low_carbon_country", "location", "power", "exclude_speculative"]
RUN_KEYS += ["models", "zzz"]


@st.composite
def config_documents(draw):
    """A configuration file: [run] keys with values of any type, [specifications] keys (mode,
    samples, enabled, axes) and [uncertainty] entries likewise, rarely another section."""
    document = {}
    for key in draw(st.lists(st.sampled_from(RUN_KEYS), max_size=4, unique=True)):
        value = draw(CONFIG_VALUES)
        if key == "models" and draw(st.booleans()):
            value = draw(st.sampled_from(["examples/inventory_made_up.csv", "/dev/null", "."]))
        document.setdefault("run", {})[key] = value
    specification_keys = ["mode", "samples", "enabled", "hardware", "zzz"]
    for key in draw(st.lists(st.sampled_from(specification_keys), max_size=2, unique=True)):
        document.setdefault("specifications", {})[key] = draw(CONFIG_VALUES)
    for key in draw(st.lists(st.sampled_from(["gpu_usage", "lifetime_years", "zzz"]), max_size=1)):
        document.setdefault("uncertainty", {})[key] = draw(
            st.one_of(CONFIG_VALUES, distribution_tables())
        )
    if _rare(draw, 10):
        document[draw(st.sampled_from(["zzz", "Run"]))] = {"samples": 16}
    return document


@fuzz(30)
@given(document=config_documents())
def test_generated_config_files_are_accepted_or_refused_in_one_line(tmp_path, document):
    from mlimpact import cli
    from mlimpact.study.options import StudyOptions

    path = tmp_path / "config.toml"
    write_toml(path, document)
    args = build_parser().parse_args(["run", "--config", str(path), "--samples", "16"])
    try:
        options = cli._study_options(args)  # what `run --config` checks before any work
    except MlimpactError as error:
        assert "\n" not in str(error) and str(error), str(error)
        event("refused")
        return
    event("accepted")
    assert isinstance(options, StudyOptions) and 16 <= options.samples < 2**31
