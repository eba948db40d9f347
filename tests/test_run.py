"""The main job end to end, on few samples: files, columns, claims, and the output folder."""

import csv

import pytest
import xarray as xr

from mlimpact.cli import main
from mlimpact.study import claims as study

#: (fraction done, stage) of every call of the progress bar during the run of the fixture.
PROGRESS = []


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    from mlimpact import cli

    folder = tmp_path_factory.mktemp("run") / "out"
    config = folder.parent / "config.toml"
    config.write_text("[specifications]\nsamples = 32\n")  # the specification analysis, quick
    # the report's Sobol' analysis doubles 64 -> 128 base points (the target cannot be met);
    # the progress bar is recorded instead of drawn
    bar = cli._progress_bar
    cli._progress_bar = lambda: lambda fraction, what: PROGRESS.append((fraction, what))
    try:
        status = main(
            [
                "run",
                "--samples",
                "128",
                "--sensitivity-samples",
                "64",
                "--sensitivity-target",
                "0.001",
                "--sensitivity-max",
                "128",
                "--out",
                str(folder),
                "--config",
                str(config),
            ]
        )
    finally:
        cli._progress_bar = bar
    assert status == 0
    return folder


def test_the_progress_bar_names_every_stage_in_order(run_folder):
    stages = list(dict.fromkeys(what for _, what in PROGRESS))
    # the kernels compile on the first run only (an empty numba cache); the rest always
    compiled = ["compiling kernels (first run)"] if stages[0].startswith("compiling") else []
    assert stages == [
        *compiled,
        "sampling: cards",
        "scenario: baseline",
        "scenario: location shifting",
        "scenario: hardware efficiency",
        "sensitivity (Sobol')",
        "validation",
        "specifications",
        "figures and report",
    ]
    fractions = [fraction for fraction, _ in PROGRESS]
    assert fractions[0] == 0 and fractions[-1] == pytest.approx(1)
    assert all(0 <= a <= b <= 1 for a, b in zip(fractions, fractions[1:]))


def test_run_writes_every_file(run_folder):
    expected = {
        "claims.csv",
        "trends.csv",
        "models.csv",
        "results.nc",
        "report.md",
        "impacts_energy.png",
        "impacts_gwp.png",
        "impacts_adpe.png",
        "impacts_pe.png",
        "cards_gwp.png",
        "scenarios.png",
        "sensitivity.csv",
        "sensitivity_growth.png",
        "validation.csv",
        "validation_summary.csv",
        "validation.png",
        "manifest.json",
        "specifications.csv",
        "specifications.png",
        "budget.csv",
        "budget.png",
        "levels.csv",
        "levels.png",
    }
    assert expected <= {p.name for p in run_folder.iterdir()}
    for name in expected:
        assert (run_folder / name).stat().st_size > 500


def test_claims_table(run_folder):
    rows = list(csv.DictReader(open(run_folder / "claims.csv")))
    assert {"claim", "criterion", "scenario", "estimate", "low", "high", "probability"} <= set(
        rows[0]
    )
    assert {r["claim"] for r in rows} == set(study.CLAIMS)
    for scenario in ("baseline", "location_shifting"):
        for criterion in ("energy", "gwp"):
            match = [
                r
                for r in rows
                if r["scenario"] == scenario
                and r["criterion"] == criterion
                and r["quantity"] != "training FLOP per kWh"
            ]
            assert match, (scenario, criterion)
            r = match[0]
            assert float(r["low"]) <= float(r["estimate"]) <= float(r["high"])
            assert 0 <= float(r["probability"]) <= 1


def test_trends_separate_the_sources_of_uncertainty(run_folder):
    rows = list(csv.DictReader(open(run_folder / "trends.csv")))
    assert {r["uncertainty"] for r in rows} == {"input", "dataset", "combined"}
    gwp = {
        r["uncertainty"]: r
        for r in rows
        if r["scenario"] == "baseline"
        and r["criterion"] == "gwp"
        and r["quantity"] == "life-cycle impact per model"
    }
    # growth factors per year sit in growth_*; change_* is only for shares
    assert all(v["growth_per_year"] and not v["change_per_year"] for v in gwp.values())
    width = {k: float(v["growth_high"]) - float(v["growth_low"]) for k, v in gwp.items()}
    # combining both sources cannot give a narrower interval than input uncertainty alone
    assert width["combined"] >= width["input"]


def test_models_and_netcdf(run_folder):
    rows = list(csv.DictReader(open(run_folder / "models.csv")))
    assert len({r["model"] for r in rows}) >= 400
    by_model = {r["model"]: r for r in rows}
    assert by_model["ELMo"]["confidence"] == "Speculative"
    assert "training_compute_flop withdraw" in by_model["ELMo"]["record_fixes"]
    assert by_model["PaLM (540B)"]["record_fixes"] == "chip_hours disagree"
    assert by_model["GPT-3 175B (davinci)"]["record_fixes"] == "hardware replace"
    assert by_model["Llama 2-70B"]["record_fixes"] == ""
    result = xr.load_dataset(run_folder / "results.nc")
    assert set(result.scenario.values) == {"baseline", "location_shifting", "hardware_efficiency"}
    assert result.slope.sizes["sample"] == 128


def test_report_is_plain_words_and_figures(run_folder):
    text = (run_folder / "report.md").read_text()
    assert "## The claims" in text and "![scenarios](scenarios.png)" in text
    assert "## Which uncertain inputs dominate" in text
    assert "Catalogue of uncertain inputs: the prior" in text
    assert "N = 128 base points" in text and "**not reached**" in text
    for claim in study.CLAIMS.values():
        assert claim in text


def test_report_counts_the_cards_and_names_those_act_cannot_price(run_folder):
    from mlimpact.study.cards import mlca_only

    text = (run_folder / "report.md").read_text()
    card_section = text[text.index("### Production of one graphics card") :]
    only = mlca_only()
    assert f"{len(only)} more that MLCA alone can price are left out" in card_section
    assert all(name in card_section for name, _ in only)


def test_report_words_the_baseline_grid_by_the_location_model_used(run_folder):
    from mlimpact.render.report import BASELINE_GRID

    text = (run_folder / "report.md").read_text()
    assert "Location: evidence" in text
    assert f"*baseline* ({BASELINE_GRID['evidence']}" in text
    assert "*baseline* (the organisation's country" not in text


def test_report_names_the_inputs_as_the_sensitivity_figure_does(run_folder):
    from mlimpact.render.report import _parameter_labels

    text = (run_folder / "report.md").read_text()
    section = text[text.index("## Which uncertain inputs dominate") :]
    table = section[section.index("| claim | output |") : section.index("The inputs' keys")]
    labels = _parameter_labels()
    # the table uses the figure's names, never a catalogue key; the keys are listed once
    assert labels["hardware_variant"] in table and "hardware_variant" not in table
    assert f"{labels['hardware_variant']}: `hardware_variant`" in section


def test_run_refuses_a_folder_that_is_not_a_complete_result(run_folder, capsys):
    # a complete earlier result is replaced (tests/test_reliability.py); one with a file the
    # manifest does not list is not, without --force, and is left as it is
    (run_folder / "notes.txt").write_text("mine")
    before = sorted(p.name for p in run_folder.iterdir())
    assert main(["run", "--samples", "32", "--out", str(run_folder), "--quiet"]) == 2
    assert "use --force" in capsys.readouterr().err
    assert sorted(p.name for p in run_folder.iterdir()) == before
    (run_folder / "notes.txt").unlink()


def test_bad_config_exits_2(tmp_path, capsys):
    config = tmp_path / "config.toml"
    config.write_text("[run]\nsamples = 'many'\n")
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "x")]) == 2
    assert "[run] samples must be a whole number" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--first-year", "2030"], "first year 2030 after last year 2025"),
        (["--low-carbon-country", "XXX"], "unknown code 'XXX'"),
        (["--method", "sobol", "--samples", "100"], "power of two"),
        (["--sensitivity-samples", "100"], "sensitivity samples must be 0 or a power of two"),
        (
            ["--sensitivity-samples", "64", "--sensitivity-max", "48"],
            "sensitivity max must be a power of two",
        ),
    ],
)
def test_bad_options_fail_before_writing(tmp_path, capsys, args, message):
    out = tmp_path / "never"
    assert main(["run", "--out", str(out), "--quiet", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_negative_sensitivity_target_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["run", "--out", str(tmp_path / "never"), "--sensitivity-target", "-1"])
    assert stop.value.code == 2
    assert "--sensitivity-target: must be a finite number >= 0" in capsys.readouterr().err


def test_results_nc_is_self_describing_and_rebuilds_a_trend_figure(run_folder):
    import numpy as np

    from mlimpact.analysis.trends import decimal_years
    from mlimpact.render import plots

    data = xr.open_dataset(run_folder / "results.nc")
    assert data.attrs["Conventions"].startswith("CF") and "mlimpact" in data.attrs["source"]
    assert "mlimpact run" in data.attrs["history"]
    for name, variable in data.variables.items():
        assert variable.attrs.get("long_name"), name
        # units on numbers, none on labels; dates carry theirs in the file (CF time)
        has_units = variable.dtype.kind not in "OUSM"
        assert bool(variable.attrs.get("units")) == has_units, name
    assert "point" not in data.statistic.values and "energy_point" in data
    assert data.publication_date.dtype.kind == "M"  # decoded: CF units "days since ..."
    assert data.publication_date.encoding["units"] == "days since 1970-01-01"
    assert list(data.sample.values) == list(range(128))
    # the energy trend figure from the file alone
    baseline = data.sel(scenario="baseline")
    energy = baseline.energy.dropna("model", how="all")
    dates = decimal_years(np.array(energy.publication_date.values, dtype="datetime64[D]"))
    figure = plots.trend_figure(
        dates,
        energy.sel(statistic="median").values,
        energy.sel(statistic="q025").values,
        energy.sel(statistic="q975").values,
        baseline.slope.sel(series="energy", uncertainty="input").values,
        baseline.intercept.sel(series="energy").values,
        "energy",
        "energy [kWh]",
    )
    axis = figure.axes[0]
    assert axis.get_yscale() == "log" and len(axis.lines) >= 1
    assert len(axis.collections) >= 1  # the trend band


def test_results_nc_passes_the_cf_checker(run_folder, cf_check):
    from conftest import CF_LABEL_WARNING

    errors, warnings = cf_check(run_folder / "results.nc")
    assert errors == []
    # one warning per label dimension (scenario, model, statistic, scope, phase, series,
    # uncertainty), the one docs/user-guide.md lists
    assert warnings == [CF_LABEL_WARNING] * 7


def test_results_nc_units_are_udunits_with_the_equivalent_named(run_folder):
    from mlimpact.quantities import CF_UNITS, CRITERIA, UNITS

    data = xr.load_dataset(run_folder / "results.nc")
    for criterion in CRITERIA:
        for name in (criterion, f"{criterion}_point"):
            attrs = data[name].attrs
            assert attrs["units"] == CF_UNITS[criterion], name
    assert data.gwp.attrs["units"] == "kg" and data.energy.attrs["units"] == "kW h"
    assert UNITS["gwp"] in data.gwp.attrs["long_name"] and "equivalent" in data.gwp.attrs["comment"]
    assert "comment" not in data.energy.attrs  # kW h is kWh spelled for UDUNITS
    # NetCDF-4: an HDF5 file (NetCDF3 would start with b"CDF")
    assert (run_folder / "results.nc").read_bytes()[:4] == b"\x89HDF"


def test_specifications_and_robustness(run_folder):
    from mlimpact.study.specifications import HOLDS

    specs = list(csv.DictReader(open(run_folder / "specifications.csv")))
    names = {r["specification"] for r in specs}
    assert len(names) >= 8 and "main" in names
    claims = list(csv.DictReader(open(run_folder / "claims.csv")))
    for claim in claims:
        mine = [
            r
            for r in specs
            if (r["claim"], r["criterion"], r["scenario"], r["quantity"])
            == (claim["claim"], claim["criterion"], claim["scenario"], claim["quantity"])
        ]
        if not mine:
            assert claim["robustness"] == ""  # scenario not re-evaluated
            continue
        held = sum(float(r["probability"]) >= HOLDS for r in mine) / len(mine)
        assert float(claim["robustness"]) == pytest.approx(held)
    assert "Claims under other reasonable choices" in (run_folder / "report.md").read_text()


def test_the_budget_of_every_claim(run_folder):
    from mlimpact.study.budget import SOURCES

    budget = list(csv.DictReader(open(run_folder / "budget.csv")))
    claims = list(csv.DictReader(open(run_folder / "claims.csv")))

    def key(r):
        return r["claim"], r["criterion"], r["scenario"], r["quantity"]

    assert {key(r) for r in budget} == {key(r) for r in claims if r["kind"] != "level"}
    for row in budget:
        # five shares of six significant digits each
        assert sum(float(row[s]) for s in SOURCES) == pytest.approx(1.0, abs=1e-5)
        assert float(row["variance"]) > 0
    for row in claims:  # the verdict rests on the interval over every specification
        if row["kind"] == "level":
            continue
        assert row["verdict_on"] == "total over specifications"
        low, estimate, high = (float(row[f"total_{k}"]) for k in ("low", "estimate", "high"))
        assert low <= estimate <= high
        holds = float(row["total_probability"]) >= 0.95
        if row["kind"] == "check":  # impact shifting of GWP and PE: not claimed by the paper
            assert row["verdict"] == ("check: holds" if holds else "check: does not hold")
        else:
            assert row["verdict"] == ("holds" if holds else "not supported")
    report = (run_folder / "report.md").read_text()
    assert report.index("## Where the uncertainty of each claim comes from") < report.index(
        "## Which uncertain inputs dominate"
    )


def test_a_small_inventory_reports_what_it_can_and_why_not_the_rest(tmp_path, repo_root):
    # 5 runs over 2 years: no trend claim can be evaluated; the report says so, has no "nan",
    # and names the inventory; the per-run shares (impact shifting) are evaluated
    out = tmp_path / "inventory"
    inventory = repo_root / "examples" / "inventory_made_up.csv"
    config = tmp_path / "config.toml"
    config.write_text("[specifications]\nsamples = 32\n")
    arguments = ["run", "--models", str(inventory), "--samples", "64", "--out", str(out)]
    assert main([*arguments, "--sensitivity-samples", "0", "--config", str(config)]) == 0
    report = (out / "report.md").read_text()
    assert "nan" not in report.lower().replace("finance", "")
    assert f"the runs of `{inventory}`" in report.splitlines()[0]
    rows = list(csv.DictReader(open(out / "claims.csv")))
    for row in rows:
        evaluated = row["verdict"] in ("holds", "not supported", "check: holds", "unchanged")
        evaluated = evaluated or row["verdict"] == "check: does not hold"
        evaluated = evaluated or row["verdict"].endswith("the baseline")  # scenario levels
        assert evaluated or row["verdict"].startswith("not evaluable: "), row
        if row["claim"] in ("impacts_grow", "grow_under_location_shifting"):
            assert row["verdict"].startswith("not evaluable: 5 run(s) over 2 publication")
            assert row["estimate"] == row["probability"] == ""
    shifting = {r["criterion"]: r for r in rows if r["claim"] == "impact_shifting"}
    assert shifting["adpe"]["kind"] == "claim" and shifting["gwp"]["kind"] == "check"
    for name in ("claims.csv", "budget.csv", "models.csv", "specifications.csv"):
        assert "nan" not in (out / name).read_text().lower()


def test_the_rebound_is_growth_of_efficiency_and_energy_together():
    import numpy as np

    efficiency = np.array([0.1, 0.2, -0.1, 0.3, np.nan])
    energy = np.array([0.5, -0.2, 0.4, 0.6, 0.1])
    # both grow in samples 0 and 3 of the 4 finite ones
    assert study.rebound_probability(efficiency, energy) == 0.5
    assert np.isnan(study.rebound_probability([np.nan], [1.0]))


def test_scenario_levels_on_common_draws(run_folder):
    # location shifting touches the grid only: the summed energy is the baseline's, sample by
    # sample; its GWP is lower; hardware efficiency lowers the energy
    rows = {
        (r["criterion"], r["scenario"]): r
        for r in csv.DictReader(open(run_folder / "claims.csv"))
        if r["claim"] == "scenario_levels"
    }
    assert rows["energy", "location_shifting"]["verdict"] == "unchanged"
    assert float(rows["energy", "location_shifting"]["high"]) == 0.0
    assert rows["gwp", "location_shifting"]["verdict"] == "lower than the baseline"
    assert float(rows["gwp", "location_shifting"]["high"]) < 0
    assert float(rows["energy", "hardware_efficiency"]["estimate"]) < 0
    levels = list(csv.DictReader(open(run_folder / "levels.csv")))
    energy = [r for r in levels if r["criterion"] == "energy"]
    years = {r["year"] for r in energy if r["scenario"] == "baseline"}
    assert "all" in years and len(years) >= 10
    for r in energy:
        if r["scenario"] == "location_shifting":
            assert float(r["change_low"]) == float(r["change_high"]) == 0.0


def test_manifest_records_versions_platform_and_the_resolved_options(run_folder):
    import json

    from mlimpact.render.files import LIBRARIES

    manifest = json.loads((run_folder / "manifest.json").read_text())
    assert set(manifest["versions"]) == {"mlimpact", *LIBRARIES}
    assert manifest["versions"]["numpy"] and manifest["versions"]["h5netcdf"]
    assert manifest["python"][0].isdigit() and manifest["platform"]
    options = manifest["options"]  # every default filled in, the config file's too
    assert options["samples"] == 128 and options["specification_samples"] == 32
    assert options["window"] == [2013, 2025] and options["method"] == "mc"
    assert options["models_file"] is None and manifest["models_sha256"] is None
    assert manifest["arguments"]["sensitivity_max"] == 128  # the command line, parsed
    # the Sobol' analysis doubled 64 -> 128 base points without meeting its target
    assert manifest["sensitivity"]["base_points"] == 128
    assert manifest["sensitivity"]["converged"] is False
    assert manifest["catalogue_file_sha256"] == manifest["data_sha256"]["parameters.toml"]


def test_from_manifest_reruns_the_run_and_gives_the_same_claims(
    tmp_path, capsys, placeholder_figures
):
    import json

    # a small run (one scenario, 32 samples, no Sobol' analysis nor specifications) whose
    # options come from the command line and a config file; both runs compute their study
    # (the rerun is what is tested), their figures are written as placeholders (the claims
    # compared do not depend on them; tests/conftest.py)
    config = tmp_path / "config.toml"
    config.write_text(
        '[run]\nseed = 7\nscenarios = ["baseline"]\n[specifications]\nenabled = false\n'
    )
    first, again = tmp_path / "first", tmp_path / "again"
    quick = ["--samples", "32", "--sensitivity-samples", "0", "--quiet"]
    assert main(["run", *quick, "--config", str(config), "--out", str(first)]) == 0
    manifest = first / "manifest.json"
    config.unlink()  # the manifest alone reruns it
    assert main(["run", "--from-manifest", str(manifest), "--quiet", "--out", str(again)]) == 0
    assert (again / "claims.csv").read_bytes() == (first / "claims.csv").read_bytes()
    rerun = json.loads((again / "manifest.json").read_text())
    assert rerun["options"] == json.loads(manifest.read_text())["options"]
    assert rerun["seed"] == 7 and "--from-manifest" in rerun["command"]
    assert "warning" not in capsys.readouterr().err  # same versions: nothing to warn about


def _manifest(tmp_path, **changes):
    """A manifest of a run of 32 samples, as ``run`` writes it, with ``changes``; its path."""
    import json

    from mlimpact._version import __version__
    from mlimpact.render.files import input_hashes
    from mlimpact.study.options import StudyOptions, catalogue_of, options_document
    from mlimpact.uncertainty.catalogue import catalogue_hash

    options = StudyOptions(samples=32)
    document = {
        "mlimpact": __version__,
        "options": options_document(options),
        "data_sha256": input_hashes(),
        "catalogue_sha256": catalogue_hash(catalogue_of(options, {})),
        "files": {},
    }
    for key, value in changes.items():
        if key.startswith("option_"):
            document["options"][key.removeprefix("option_")] = value
        else:
            document[key] = value
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "nowhere.json", "no such manifest"),
        (lambda tmp: tmp, "a folder, not a regular file"),
        (lambda tmp: _written(tmp, '{"mlimpact": "0.1.0", "options": {'), "malformed JSON"),
        (lambda tmp: _written(tmp, "[1, 2]"), "not the manifest of an mlimpact run"),
        (lambda tmp: _written(tmp, "[" * 5000 + "]" * 5000), "nests objects or arrays deeper"),
        (lambda tmp: _manifest(tmp, mlimpact="0.0.1"), "written by mlimpact 0.0.1, this is"),
        (lambda tmp: _manifest(tmp, option_banana=1), "unknown option(s) banana"),
        (lambda tmp: _manifest(tmp, option_samples="32"), "option samples must be a whole"),
        (lambda tmp: _manifest(tmp, option_window=5), "option window must be a list"),
        (lambda tmp: _manifest(tmp, option_fit="cubic"), "fit must be one of"),
        (lambda tmp: _manifest(tmp, data_sha256={}), "packaged tables differ"),
        (lambda tmp: _manifest(tmp, catalogue_sha256="0" * 64), "catalogue of uncertain inputs"),
    ],
)
def test_a_bad_manifest_ends_in_one_error_line(tmp_path, capsys, make, message):
    out = tmp_path / "out"
    assert main(["run", "--from-manifest", str(make(tmp_path)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("mlimpact: error:") and err.count("\n") == 1
    assert not out.exists()


def _written(tmp_path, text):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    return path


def test_from_manifest_refuses_the_options_the_manifest_sets(tmp_path, capsys):
    manifest = _manifest(tmp_path)
    assert main(["run", "--from-manifest", str(manifest), "--samples", "64", "--fit", "huber"]) == 2
    err = capsys.readouterr().err
    assert "not --fit, --samples" in err and "takes only --force, --out" in err


def test_other_library_versions_only_warn(tmp_path, capsys):
    from mlimpact import cli

    cli._warn_versions("m.json", {"versions": {"numpy": "0.0.1", "nonexistent": "1"}})
    err = capsys.readouterr().err
    assert err.startswith("mlimpact: warning: m.json: the run used numpy 0.0.1, this is")
    assert err.count("\n") == 1


def test_options_document_round_trips_and_refuses_what_json_cannot_hold():
    import datetime

    from mlimpact.errors import MlimpactError
    from mlimpact.study.options import StudyOptions, options_document, options_from_document

    options = StudyOptions(
        samples=64,
        scenarios=("baseline",),
        specification_axes={"window": ("2015-2025",)},
        uncertainty={"lifetime_years": {"distribution": {"kind": "uniform", "low": 3, "high": 8}}},
    )
    assert options_from_document(options_document(options), "m") == options
    with pytest.raises(MlimpactError, match="expected StudyOptions"):
        options_document({"samples": 64})
    with pytest.raises(MlimpactError, match="does not survive JSON"):
        options_document(StudyOptions(uncertainty={"x": {"since": datetime.date(2020, 1, 1)}}))
    with pytest.raises(MlimpactError, match="m: missing option.s. seed"):
        document = options_document(options)
        options_from_document({k: v for k, v in document.items() if k != "seed"}, "m")
