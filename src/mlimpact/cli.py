"""The ``mlimpact`` command line: a thin layer over the library.

Each subcommand parses its arguments, calls one public function and prints the result. Bad
input of any kind ends with a one-line ``mlimpact: error: ...`` on stderr and exit status 2.
"""

import argparse
import contextlib
import json
import math
import sys
import warnings

from mlimpact._threads import one_blas_thread
from mlimpact._version import __version__
from mlimpact.errors import MlimpactError
from mlimpact.quantities import IMPACT_CRITERIA, UNITS
from mlimpact.render import files


@contextlib.contextmanager
def _naming_files(source, parameters=None):
    """Re-raise the errors of binding the catalogue to the runs, which name a run or the
    parameters but no file (a multiplicative error that can take a run's field out of its
    range; two parameters scaling the same production factors), starting with the runs' file
    and the parameters file."""
    try:
        yield
    except MlimpactError as error:
        message = str(error)
        if not message.startswith(("run ", "parameter")):
            raise
        where = str(source) + (f" with --parameters {parameters}" if parameters else "")
        raise MlimpactError(f"{where}: {message}") from None


def _batch(args):
    from mlimpact.render import text
    from mlimpact.runs.records import read_models_file
    from mlimpact.study.portfolio import BATCH_HEADER, batch_rows, estimate_portfolio
    from mlimpact.uncertainty.catalogue import default_catalogue, merge_catalogue

    flag = "--batch" if args.batch else "--codecarbon"
    if args.setup or args.point or (args.batch and args.codecarbon):
        raise MlimpactError(
            f"{flag} takes a file in place of SETUP, and no --point "
            "(--batch or --codecarbon, not both)"
        )
    if args.group and not args.codecarbon:
        raise MlimpactError("--group applies to --codecarbon")
    if args.out:
        files.check_writable_file(args.out, force=args.force)
    if args.codecarbon:
        from mlimpact.runs.codecarbon import codecarbon_records

        records, digest = codecarbon_records(args.codecarbon, group=args.group)
    else:
        records, digest = read_models_file(args.batch)
    if "stated" not in records[0]:  # only inventories are records of user's runs
        raise MlimpactError(
            f"{args.batch}: --batch takes an inventory (columns name, date, "
            "hardware...), not an Epoch export: use run --models for that"
        )
    catalogue = merge_catalogue(default_catalogue(args.power), args.parameters, args.power)
    if args.parameters:
        from mlimpact.runs.setupfile import check_stated_rows
        from mlimpact.uncertainty.catalogue import load_parameters

        check_stated_rows(load_parameters(args.parameters), records, str(args.parameters))
    with _Backend(args) as client, _naming_files(args.batch or args.codecarbon, args.parameters):
        portfolio = estimate_portfolio(
            records,
            samples=args.samples,
            seed=args.seed,
            chunk_size=args.chunk_size,
            catalogue=catalogue,
            location=args.location,
            power=args.power,
            client=client,
        )
    rows = batch_rows(portfolio)
    _check_batch_rows(rows, args.batch or args.codecarbon)
    if args.out:
        files.write_csv(args.out, BATCH_HEADER, rows)
    source = args.batch or args.codecarbon
    if args.format == "json":
        document = text.batch_json(
            portfolio, rows, BATCH_HEADER, source, digest, args.samples, args.seed
        )
        print(_json(document))
    else:
        print(text.batch_text(portfolio, rows, source, digest, args.samples, args.seed))


def _estimate(args):
    if args.batch or args.codecarbon:
        return _batch(args)
    if not args.setup:
        raise MlimpactError("estimate needs a SETUP file, --batch FILE or --codecarbon FILE")
    _readable_toml((args.setup, "setup file"))
    from mlimpact.runs.setupfile import load_setup

    setup = load_setup(args.setup, power=args.power, location=args.location)
    if args.point:
        return _point_estimate(args, setup)
    return _monte_carlo_estimate(args, setup)


def _point_estimate(args, setup):
    """Print the point estimate of a loaded setup (``estimate --point``); returns None."""
    from mlimpact.engine import model
    from mlimpact.render import text
    from mlimpact.uncertainty.catalogue import apply_uncertainty, default_catalogue

    ignored = [
        flag
        for flag, given in (
            ("--parameters", args.parameters),
            ("--out", args.out),
            ("--scheduler", args.scheduler),
        )
        if given
    ]
    if ignored:
        raise MlimpactError(
            f"--point takes no {', '.join(ignored)}: the point estimate "
            "samples nothing and writes no file"
        )
    apply_uncertainty(
        default_catalogue(args.power),
        setup.uncertainty,
        source=f"{setup.source}: [uncertainty]",
    )  # errors are still errors
    result = model.training_impacts(setup.runs)
    if args.format == "json":
        print(_json({**text.point_json(result), **text.setup_json(setup)}))
    else:
        print(text.describe_setup(setup))
        print("point estimate (every input at its given or default value)\n")
        print(text.point_table(result))


def _check_batch_rows(rows, source):
    """:func:`mlimpact.engine.propagate.check_statistics` for the rows of ``estimate
    --batch``: run, criterion, unit, median, q025, q975, mean (the measured energy is empty
    where none was)."""
    for row in rows:
        for label, value in zip(("median", "q025", "q975", "mean"), row[3:7]):
            if isinstance(value, float) and not math.isfinite(value):
                raise MlimpactError(
                    f"{source}: run {row[0]!r}: the {label} of {row[1]} is not a finite number: "
                    "its samples lie more than a factor 1.7e7 from the point estimate, beyond "
                    "the range quantiles are read in (a --parameters value far from the point "
                    "model's? state it in a column instead)"
                )


def _monte_carlo_estimate(args, setup):
    """Propagate the uncertainty of a loaded setup, write ``--out`` if given and print the
    result; returns None."""
    from mlimpact.engine import propagate
    from mlimpact.render import text
    from mlimpact.uncertainty.catalogue import default_catalogue, merge_catalogue

    catalogue = merge_catalogue(default_catalogue(args.power), args.parameters, args.power)
    if args.parameters:
        from mlimpact._io import load_toml
        from mlimpact.runs.setupfile import check_stated, document_keys, given_fields
        from mlimpact.uncertainty.catalogue import load_parameters

        # the rule of mlimpact.estimate: a field the document gives (hours, say) is stated,
        # though not fixed; replacing it was done without a word
        given = given_fields(document_keys(load_toml(args.setup, "setup file")))
        check_stated(
            load_parameters(args.parameters), setup, given.__contains__, str(args.parameters)
        )
    if args.out:
        files.check_writable_file(args.out, force=args.force)
    with _Backend(args) as client, _naming_files(setup.source, args.parameters):
        result = propagate.propagate_setup(
            setup,
            args.samples,
            seed=args.seed,
            method=args.method,
            catalogue=catalogue,
            chunk_size=args.chunk_size,
            client=client,
        )
        checks = propagate.metered_checks(
            setup.notable,
            args.samples,
            catalogue=catalogue,
            uncertainty=setup.uncertainty,
            seed=args.seed,
            method=args.method,
            chunk_size=args.chunk_size,
            client=client,
        )
    if args.out:
        _write_estimate(args, setup, result, catalogue)
    if args.format == "json":
        print(_json({**text.monte_carlo_json(result), **text.setup_json(setup, checks)}))
    else:
        print(text.describe_setup(setup, checks))
        print(
            f"Monte Carlo: {args.samples:,} samples ({args.method}, seed {args.seed}); "
            "median [95 % interval]\n"
        )
        print(text.monte_carlo_table(result))


def _write_estimate(args, setup, result, catalogue):
    """Write the Monte Carlo estimate of a setup to the NetCDF file ``args.out``; returns
    None."""
    from mlimpact.uncertainty.catalogue import catalogue_hash

    files.write_netcdf(
        files.describe_dataset(
            files.split_point(result),
            f"mlimpact Monte Carlo estimate of {setup.runs.names[0]}",
            catalogue=catalogue_hash(catalogue),
            command=_command(args),
            power_model=args.power,
            location_model=args.location,
        ),
        args.out,
    )


def _card(args):
    from mlimpact.render import text
    from mlimpact.runs.cards import find_card, why_not_priced
    from mlimpact.study.cards import card_estimate

    hardware = find_card(args.name)
    reason = why_not_priced(hardware, args.model)
    if reason and not (reason == "release date unknown" and args.model == "mlca"):
        raise MlimpactError(f"card {hardware.name!r} cannot be priced with {args.model}: {reason}")
    monte_carlo = not args.point
    result = card_estimate(
        [hardware],
        args.model,
        samples=args.samples if monte_carlo else None,
        seed=args.seed,
        method=args.method,
    )
    if args.format == "json":
        print(_json(text.card_json(result, monte_carlo)))
        return
    what = (
        "point estimate"
        if args.point
        else f"Monte Carlo: {args.samples:,} samples ({args.method}, seed {args.seed}); "
        "median [95 % interval]"
    )
    print(text.card_header(hardware, args.model, what) + "\n")
    print(text.card_table(result, monte_carlo))


def _cards(args):
    from mlimpact.render import plots
    from mlimpact.study.cards import CARDS_HEADER, cards_table
    from mlimpact.uncertainty.sampling import Design

    Design(args.method, args.samples, 1, args.seed)  # bad sampling options fail before writing
    folder = files.ResultFolder(args.out, args.force, _metadata(args))
    with folder as directory:
        rows, skipped = cards_table(
            args.models, samples=args.samples, seed=args.seed, method=args.method
        )
        files.write_csv(directory / "cards.csv", CARDS_HEADER, rows)
        files.write_csv(directory / "skipped.csv", ("hardware", "model", "reason"), skipped)
        records = [dict(zip(CARDS_HEADER, row)) for row in rows]
        for criterion in IMPACT_CRITERIA:
            files.save_figure(
                plots.card_timeline(records, criterion, UNITS[criterion]),
                directory / f"cards_{criterion}.png",
            )
    folder = folder.path
    counts = ", ".join(
        f"{len({row[0] for row in rows if row[8] == model})} with {model}" for model in args.models
    )
    print(
        f"cards priced: {counts} ({args.samples:,} samples); {len(skipped)} card-model "
        "pairs skipped (see skipped.csv)"
    )
    print(_cards_count_note())
    print(
        f"wrote {folder / 'cards.csv'}, {folder / 'skipped.csv'}, "
        f"{folder / 'cards_gwp.png'} (and ADPe, PE)"
    )


def _cards_count_note():
    """Why ``run``'s card figure and claims count fewer cards than MLCA prices: they use the
    mixture of MLCA and ACT, and ACT lacks an input for some cards."""
    from mlimpact.study.cards import mlca_only

    only = mlca_only()
    names = ", ".join(name for name, _ in only)
    return (
        f"`mlimpact run` prices the cards with the mixture of MLCA and ACT: the "
        f"{len(only)} card(s) ACT cannot price ({names}) are left out of its card figure "
        "and claims"
    )


def _data(args):
    from mlimpact.render import text
    from mlimpact.study.coverage import coverage, records_json

    records = _records(args)[0]
    dataset = _dataset(args, records)
    runs = dataset.runs()
    summary = coverage(runs, dataset.window, records)
    if args.format == "json":
        if args.per_model:
            summary["models"] = records_json(runs)
        print(json.dumps(summary, indent=2))
        return
    print(text.coverage_text(summary, dataset.impute, runs.records if args.per_model else None))


def _dataset(args, records):
    """The :class:`~mlimpact.runs.notable.DatasetOptions` of a command's options (the
    commands without --location or --power take the dataset's defaults)."""
    from mlimpact.runs.notable import DatasetOptions

    return DatasetOptions(
        window=(args.first_year, args.last_year),
        impute=not args.complete_only,
        records=records,
        location=getattr(args, "location", "evidence"),
        power=getattr(args, "power", "evidence"),
        speculative=not args.exclude_speculative,
    )


def _readable_toml(*files):
    """Read each (path, kind) TOML file once before the heavy imports, so that a missing or
    malformed file is reported in a fraction of a second (it is parsed again where used)."""
    from mlimpact._io import load_toml

    for path, what in files:
        if path:
            load_toml(path, what)


def _study_options(args):
    """The main job's options: those a manifest recorded (``--from-manifest FILE``), or those
    of the command line amended by ``--config FILE``; checked before any work."""
    if args.from_manifest:
        return _manifest_options(args)
    _readable_toml((args.config, "config file"))
    from mlimpact.study import options

    study_options = options.StudyOptions(
        samples=args.samples,
        seed=args.seed,
        method=args.method,
        scenarios=tuple(args.scenario),
        impute=not args.complete_only,
        window=(args.first_year, args.last_year),
        low_carbon_country=args.low_carbon_country,
        sensitivity_samples=args.sensitivity_samples,
        sensitivity_target=args.sensitivity_target,
        sensitivity_max=args.sensitivity_max,
        location=args.location,
        power=args.power,
        speculative=not args.exclude_speculative,
        models_file=args.models_file,
        fit=args.fit,
        specifications=not args.no_specifications,
    )
    if args.config:
        study_options = options.apply_config(study_options, args.config)
    options.validate_options(study_options)
    return study_options


def _run(args):
    import time

    study_options = _study_options(args)
    # the study and the report need the heavy modules: imported once the options are valid, so
    # that a bad option, config file or manifest fails fast
    from mlimpact.render import report, text
    from mlimpact.study import claims, options

    args.seed = study_options.seed  # a --config file or a manifest may set it
    folder = files.ResultFolder(
        args.out,
        args.force,
        _metadata(args, options.catalogue_of(study_options, {}), study_options),
    )
    from mlimpact.study.progress import study_stages

    started = time.monotonic()
    bar = None if args.quiet else _progress_bar()
    stages = study_stages(study_options, bar, figures=True)
    with folder as directory:
        with _Backend(args) as client:
            result = claims.run_study(study_options, client=client, stages=stages)
        folder.metadata.update(_run_metadata(result))
        stages.start("figures")
        from mlimpact.render.figure_worker import FigureWorker

        report.write_study(result, directory, command=_command(args), second=FigureWorker.start)
        stages.step("figures")(1, 1)
    folder = folder.path
    if bar is not None:
        print(file=sys.stderr)
    print(
        f"wrote {folder}/: report.md, claims.csv, trends.csv, models.csv, results.nc and "
        f"figures ({time.monotonic() - started:.0f} s)"
    )
    print(text.claims_lines(result.claims))


#: Options ``run --from-manifest`` takes besides the manifest: where the result goes, and how
#: it is computed, never what (the results do not depend on the chunks' scheduling).
_RERUN_OPTIONS = {"out", "force", "quiet", "scheduler", "workers"}


def _only_rerun_options(args):
    """Refuse ``run --from-manifest`` with an option that the manifest sets (any option of
    ``run`` but :data:`_RERUN_OPTIONS`, given a value other than its default)."""
    defaults = vars(build_parser().parse_args(["run"]))
    given = sorted(
        "--" + {"models_file": "models"}.get(k, k).replace("_", "-")
        for k, value in vars(args).items()
        if k in defaults and k not in _RERUN_OPTIONS | {"from_manifest"} and value != defaults[k]
    )
    if given:
        raise MlimpactError(
            f"--from-manifest takes the run's options from the manifest, not {', '.join(given)} "
            f"(it takes only {', '.join('--' + o for o in sorted(_RERUN_OPTIONS))})"
        )


def _manifest_options(args):
    """The options recorded in the manifest ``args.from_manifest`` (``run --from-manifest``),
    once the manifest is checked against this installation: the same mlimpact version, the
    same packaged tables, the same models file and catalogue; other library versions only
    warn (they may change the last digits)."""
    from mlimpact._io import load_json
    from mlimpact.study import options
    from mlimpact.uncertainty.catalogue import catalogue_hash

    _only_rerun_options(args)
    path = args.from_manifest
    manifest = load_json(path, "manifest")
    if not isinstance(manifest, dict) or not {"mlimpact", "options"} <= set(manifest):
        raise MlimpactError(f"{path}: not the manifest of an mlimpact run (no version or options)")
    if manifest["mlimpact"] != __version__:
        raise MlimpactError(
            f"{path}: written by mlimpact {str(manifest['mlimpact'])[:40]}, this is "
            f"mlimpact {__version__}: install that version to rerun it"
        )
    recorded, here = manifest.get("data_sha256"), files.input_hashes()
    if recorded != here:
        recorded = recorded if isinstance(recorded, dict) else {}
        changed = sorted(n for n in set(here) | set(recorded) if here.get(n) != recorded.get(n))
        raise MlimpactError(
            f"{path}: the packaged tables differ from the run's ({', '.join(map(str, changed))})"
        )
    study_options = options.options_from_document(manifest["options"], f"{path}: options")
    if study_options.models_file is not None:
        digest = options.records_of(study_options)[1]
        if digest != manifest.get("models_sha256"):
            raise MlimpactError(
                f"{path}: {study_options.models_file} has changed since the run (SHA-256)"
            )
    options.validate_options(study_options)
    if catalogue_hash(options.catalogue_of(study_options, {})) != manifest.get("catalogue_sha256"):
        raise MlimpactError(f"{path}: the catalogue of uncertain inputs differs from the run's")
    _warn_versions(path, manifest)
    return study_options


def _warn_versions(path, manifest):
    """One warning line per library whose version differs from the manifest's; returns
    None."""
    recorded = (manifest.get("versions") or {}) if isinstance(manifest, dict) else {}
    here = files.environment()["versions"]
    for name, version in here.items():
        if isinstance(recorded, dict) and name in recorded and recorded[name] != version:
            print(
                f"mlimpact: warning: {path}: the run used {name} {recorded[name]}, this is "
                f"{version}: the last digits may differ",
                file=sys.stderr,
            )


def _command(args):
    import shlex

    return shlex.join(["mlimpact", *args.argv])


def _arguments(args):
    """Every argument of the command line, defaults filled in (for manifests)."""
    return {k: v for k, v in sorted(vars(args).items()) if k not in ("handler", "argv")}


def _metadata(args, catalogue=None, study_options=None):
    """What a result folder's manifest records besides its files: the command and every
    argument (defaults filled in), mlimpact's and its libraries' versions, Python and the
    platform, the hashes of the catalogue and the packaged tables, and for ``run`` the
    resolved options (:func:`mlimpact.study.options.options_document`, the models file's path
    made absolute) that ``run --from-manifest`` reruns."""
    from mlimpact.uncertainty.catalogue import catalogue_hash, default_catalogue

    data = files.input_hashes()
    metadata = {
        "command": _command(args),
        "seed": args.seed,
        "arguments": _arguments(args),
        **files.environment(),
        "catalogue_sha256": catalogue_hash(default_catalogue() if catalogue is None else catalogue),
        "catalogue_file": "parameters.toml",
        "catalogue_file_sha256": data.get("parameters.toml"),
        "data_sha256": data,
    }
    if study_options is not None:
        import dataclasses
        import os

        from mlimpact.study.options import options_document

        if study_options.models_file is not None:
            absolute = os.path.abspath(study_options.models_file)
            study_options = dataclasses.replace(study_options, models_file=absolute)
        metadata["options"] = options_document(study_options)
    return metadata


def _run_metadata(result):
    """What the manifest of ``run`` records once the study is done: the models file's SHA-256
    (None: the embedded snapshot) and the Sobol' analysis's N reached (base points of the
    models' and of the cards' designs, whether every reported interval met the target, the
    widest half-width); None where skipped."""
    sensitivity = None
    if result.sensitivity is not None:
        attrs = [result.sensitivity[name].attrs for name in ("models", "cards")]
        sensitivity = {
            "base_points": int(attrs[0]["base_points"]),
            "card_base_points": int(attrs[1]["base_points"]),
            "converged": (
                None if "converged" not in attrs[0] else all(bool(a["converged"]) for a in attrs)
            ),
            "widest_st_halfwidth": (
                None
                if "widest_st_halfwidth" not in attrs[0]
                else max(float(a["widest_st_halfwidth"]) for a in attrs)
            ),
        }
    return {"models_sha256": result.models_sha256, "sensitivity": sensitivity}


def _progress_bar():
    """``show(fraction done, stage label)``, drawing a bar on one line of stderr; None when
    stderr is not a terminal (a log file or a pipe gets no bar)."""
    if not sys.stderr.isatty():
        return None

    def show(fraction, what):
        filled = int(30 * fraction)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f} % {what:<30}"
        )
        sys.stderr.flush()

    return show


def _sensitivity(args):
    from mlimpact.render import report
    from mlimpact.study.sensitivity import dominant, impact_sensitivity

    if args.samples < 2 or args.samples & (args.samples - 1):
        raise MlimpactError(
            f"--samples: Sobol' analysis needs a power of two >= 2 (got {args.samples})"
        )
    from mlimpact.study.options import check_window

    dataset = _dataset(args, _records(args)[0])
    check_window(dataset)
    target = args.target or None
    if target is not None and (
        args.max_samples < args.samples or args.max_samples & (args.max_samples - 1)
    ):
        raise MlimpactError(
            f"--max-samples: a power of two >= --samples {args.samples} (got {args.max_samples})"
        )
    folder = files.ResultFolder(args.out, args.force, _metadata(args))
    with folder as directory:
        with _Backend(args) as client:
            result = impact_sensitivity(
                n=args.samples,
                seed=args.seed,
                dataset=dataset,
                per_model=not args.aggregates_only,
                progress=None if args.quiet else _sensitivity_progress(target is not None),
                client=client,
                target=target,
                max_n=args.max_samples if target is not None else None,
            )
        count = report.write_sensitivity(result, directory)
    folder = folder.path
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    models, card = result["models"], result["cards"]
    print(
        f"wrote {folder}/sensitivity.csv ({count:,} rows) and figures "
        f"(N = {int(models.attrs['base_points']):,} base points for the models, "
        f"{int(card.attrs['base_points']):,} for the cards, {len(models.parameter)} "
        f"inputs; models {_precision(models.attrs, target)}; cards "
        f"{_precision(card.attrs, target)})"
    )
    for label, data, quantity, criterion, subject in (
        ("growth of GWP", models, "growth rate", "gwp", "all models"),
        ("growth of energy", models, "growth rate", "energy", "all models"),
        ("GWP of all models", models, "impact", "gwp", "all models"),
        ("production share of ADPe", models, "production share", "adpe", "all models"),
        ("growth of card GWP", card, "card growth rate", "gwp", "all cards"),
    ):
        top = ", ".join(
            f"{p} (ST {st:.2f} +/- {c:.2f})"
            for p, st, c in dominant(data, quantity, criterion, subject)
        )
        print(f"  {label}: {top}")


def _precision(attrs, target):
    """The precision a Sobol' analysis reached, in words, from its Dataset's ``attrs``
    (:func:`mlimpact.study.sensitivity.impact_sensitivity`) and the ``target`` half-width."""
    if target is None:
        return "no precision target (--target 0)"
    widest = float(attrs["widest_st_halfwidth"])
    if attrs["converged"]:
        return f"converged: every reported ST interval within +- {target:g} (widest {widest:.3f})"
    return f"NOT converged to +- {target:g}: widest ST interval +- {widest:.3f}"


def _sensitivity_progress(converging):
    """``report(done, total)`` of ``sensitivity``'s base points on the bar (None without a
    bar), monotone while the analysis extends (``converging``) towards its target
    (:func:`mlimpact.study.progress.sobol_progress`)."""
    from mlimpact.study.progress import SOBOL_BASE_POINTS, sobol_progress

    bar = _progress_bar()
    if bar is None:
        return None
    expected = SOBOL_BASE_POINTS if converging else 1
    return sobol_progress(lambda fraction, _: bar(fraction, "Sobol' design"), expected)


def _validate(args):
    from mlimpact.render import report, text
    from mlimpact.study import calibration
    from mlimpact.study.validation import validate
    from mlimpact.tables.validation import read_footprints
    from mlimpact.uncertainty.catalogue import default_catalogue, merge_catalogue

    if args.leave_one_out:
        # the leave-one-out calibrates the default catalogue of the evidence power model, on
        # the runs the sources publish: options that change either do not apply to it
        given = [
            flag
            for flag, on in (
                ("--parameters", args.parameters),
                ("--power mlca", args.power != "evidence"),
                ("--location organisation", args.location != "evidence"),
                ("--models", args.models_file),
                ("--basis derived", args.basis == "derived"),
                ("--table", args.table),
            )
            if on
        ]
        if given:
            raise MlimpactError(
                f"--leave-one-out calibrates the default evidence catalogue on "
                f"the published runs; it takes no {', '.join(given)}"
            )
    catalogue = merge_catalogue(default_catalogue(args.power), args.parameters, args.power)
    from mlimpact.runs.notable import DatasetOptions

    dataset = DatasetOptions(records=_records(args)[0], location=args.location, power=args.power)
    table = read_footprints(args.table) if args.table else None
    folder = (
        files.ResultFolder(args.out, args.force, _metadata(args, catalogue)) if args.out else None
    )

    def compare():
        checked = calibration.validate_out_of_sample if args.leave_one_out else validate
        return checked(
            samples=args.samples,
            seed=args.seed,
            basis=args.basis,
            catalogue=catalogue,
            dataset=dataset,
            table=table,
        )

    if folder is None:
        result = compare()
    else:
        with folder as directory:
            result = compare()
            report.write_validation(result, directory)
        folder = folder.path
    if args.format == "json":
        print(_json(text.validation_json(result)))
    else:
        print(
            text.validate_text(
                result,
                args.basis,
                rows=args.rows,
                folder=folder,
                source=args.table or "data/validation.csv",
            )
        )


def _calibrate(args):
    from mlimpact.render import report, text
    from mlimpact.study.calibration import run_calibration

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_calibration(samples=args.samples, seed=args.seed, basis=args.basis)
    folder = None
    if args.out:
        folder = files.ResultFolder(args.out, args.force, _metadata(args))
        with folder as directory:
            report.write_calibration(result, directory)
        folder = folder.path
    if args.format == "json":
        print(_json(text.calibration_json(result)))
    else:
        print(text.calibration_text(result, folder=folder))
    for warning in caught:
        print(f"mlimpact: warning: {warning.message}", file=sys.stderr)


def _hardware(args):
    from mlimpact.render import text
    from mlimpact.tables.hardware import hardware_table

    table = hardware_table()
    rows = table.search(args.search)
    if not rows:
        # no name contains the text: the lookup rule of setup files (punctuation, the
        # manufacturer, aliases), which raises one line with the closest names if it fails too
        rows = [table.find(args.search, field="hardware")]
    if args.format == "json":
        print(json.dumps(text.hardware_json(rows), indent=2))
    else:
        print(text.hardware_text(rows))


#: Largest whole number an option takes: what the engine's int64 counters and arrays hold
#: (options with a lower limit of their own check it with a message of their own).
MAX_WHOLE = 2**63 - 1
#: ``--workers`` at most this many times the machine's CPUs: more processes than that only
#: wait for each other, and thousands of them exhaust the memory and hang the command.
WORKERS_PER_CPU = 4


def _shown(text):
    """An argument as an error quotes it: a long one cut, with its length."""
    text = str(text)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} characters)"


def _int_at_least(lowest, highest=MAX_WHOLE, why=""):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a whole number (got {_shown(repr(text))})"
            ) from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be >= {lowest} (got {_shown(text)})")
        if value > highest:
            raise argparse.ArgumentTypeError(f"must be <= {highest}{why} (got {_shown(text)})")
        return value

    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)
#: ``--samples`` of a Monte Carlo estimate: an interval needs at least two samples.
_interval_samples = _int_at_least(2)


def _seed(text):
    """A ``--seed``: 0 to :data:`mlimpact.study.options.MAX_SEED`."""
    from mlimpact.study.options import MAX_SEED

    return _int_at_least(0, MAX_SEED)(text)


def _run_samples(text):
    """``run --samples``: 1 to :data:`mlimpact.study.options.MAX_SAMPLES`, as a
    configuration file's ``[run] samples``."""
    from mlimpact.study.options import MAX_SAMPLES

    return _int_at_least(1, MAX_SAMPLES)(text)


def _workers(text):
    """``--workers``: 1 to :data:`WORKERS_PER_CPU` times the machine's CPU count."""
    import os

    cpus = os.cpu_count() or 1
    most = WORKERS_PER_CPU * cpus
    return _int_at_least(1, most, f" ({WORKERS_PER_CPU} x the {cpus} CPU(s) of this machine)")(text)


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number (got {text!r})") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0 (got {text})")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_output_options(parser, default):
    parser.add_argument(
        "--out", metavar="DIR", default=default, help=f"output folder (default: {default})"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="also replace a damaged mlimpact result (a complete earlier "
        "result is always replaced; other folders never are)",
    )


def _records(args):
    """Records and SHA-256 of ``--models FILE`` (None, None: the embedded snapshot)."""
    from mlimpact.runs.records import read_models_file

    return read_models_file(args.models_file) if args.models_file else (None, None)


def _add_window_options(parser):
    from mlimpact.runs.notable import WINDOW

    parser.add_argument(
        "--first-year",
        type=int,
        default=WINDOW[0],
        help=f"first publication year of the window (default {WINDOW[0]})",
    )
    parser.add_argument(
        "--last-year",
        type=int,
        default=WINDOW[1],
        help=f"last publication year of the window (default {WINDOW[1]})",
    )
    parser.add_argument(
        "--complete-only",
        action="store_true",
        help="imputation off: only records with hardware, count and time",
    )
    parser.add_argument(
        "--exclude-speculative",
        action="store_true",
        help="leave out the records Epoch AI marks Speculative",
    )
    parser.add_argument(
        "--models",
        dest="models_file",
        metavar="FILE",
        help="an Epoch AI export (notable or large-scale models, any column "
        "order) or an inventory of your runs (docs/user-guide.md) instead "
        "of the embedded snapshot",
    )


def _add_model_options(parser):
    parser.add_argument(
        "--location",
        choices=("evidence", "organisation"),
        default="evidence",
        help="where runs trained: from evidence (published sites, providers' "
        "regions, the country's regions) or the organisation's country "
        "as MLCA (default: evidence)",
    )
    parser.add_argument(
        "--power",
        choices=("evidence", "mlca"),
        default="evidence",
        help="energy model: measured draws by accelerator class and PUE by "
        "provider class, or MLCA's 0.75 x TDP and dynamic ratio 1.835 "
        "(default: evidence)",
    )


def _add_backend_options(parser):
    parser.add_argument(
        "--scheduler",
        metavar="local|ADDRESS",
        help="run the sample chunks on Dask: 'local' starts a local cluster "
        "of --workers processes, an address (tcp://host:8786) uses an "
        "existing one (default: no Dask)",
    )
    parser.add_argument(
        "--workers",
        type=_workers,
        default=2,
        metavar="N",
        help="worker processes of --scheduler local (default 2)",
    )


class _Backend:
    """Context manager giving a Dask client or None, closed on exit."""

    def __init__(self, args):
        self.args, self.client = args, None

    def __enter__(self):
        if self.args.scheduler:
            from mlimpact.engine import distributed

            self.client = distributed.connect(self.args.scheduler, self.args.workers)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            from mlimpact.engine import distributed

            distributed.close(self.client)


def _add_sampling_options(parser, default_samples=10_000, samples_type=_interval_samples):
    parser.add_argument(
        "--samples",
        type=samples_type,
        default=default_samples,
        metavar="N",
        help=f"Monte Carlo samples (default: {default_samples})",
    )
    parser.add_argument(
        "--seed",
        type=_seed,
        default=0,
        metavar="S",
        help="seed: the same seed gives the same numbers (default: 0)",
    )
    parser.add_argument(
        "--method",
        choices=("mc", "lhs", "sobol"),
        default="mc",
        help="sampling design: plain Monte Carlo, Latin hypercube or "
        "scrambled Sobol' (power-of-two samples) (default: mc)",
    )


def build_parser():
    """The argument parser (exposed for the docs and the tests): one function per command."""
    parser = _Parser(
        prog="mlimpact",
        description="Environmental impacts (energy, GWP, ADPe, PE) of training ML models, "
        "with their uncertainty.",
    )
    parser.add_argument("--version", action="version", version=f"mlimpact {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    _add_estimate_command(commands)
    _add_card_command(commands)
    _add_cards_command(commands)
    _add_run_command(commands)
    _add_sensitivity_command(commands)
    _add_data_command(commands)
    _add_validate_command(commands)
    _add_calibrate_command(commands)
    _add_hardware_command(commands)
    return parser


def _add_estimate_command(commands):
    """The ``estimate`` command (its arguments and handler)."""
    from mlimpact.engine import DEFAULT_CHUNK_SIZE

    estimate = commands.add_parser(
        "estimate",
        help="impacts of one training run described in a setup file",
        description="Energy and production/use impacts of the training run described in "
        "SETUP (a TOML file; see docs/setup.md).",
    )
    estimate.add_argument("setup", metavar="SETUP", nargs="?", help="setup file (TOML)")
    estimate.add_argument(
        "--batch",
        metavar="FILE",
        help="an inventory of training runs (CSV, docs/user-guide.md): every "
        "run and the portfolio's total in one pass",
    )
    estimate.add_argument(
        "--codecarbon",
        metavar="FILE",
        help="codecarbon's emissions.csv in place of SETUP: every run with its "
        "metered energy and logged location, production and all criteria "
        "estimated (docs/user-guide.md)",
    )
    estimate.add_argument(
        "--group",
        choices=("run_id", "project_name"),
        help="with --codecarbon: one run per session (its latest row) or per "
        "project (its sessions summed) (default: one run per row)",
    )
    estimate.add_argument(
        "--point",
        action="store_true",
        help="deterministic estimate: every input at its given or default value",
    )
    _add_sampling_options(estimate)
    estimate.add_argument(
        "--parameters",
        metavar="FILE",
        help="parameters file (TOML) amending the catalogue of uncertain inputs",
    )
    estimate.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=DEFAULT_CHUNK_SIZE,
        metavar="K",
        help="samples per chunk: memory vs overhead, never the results",
    )
    estimate.add_argument(
        "--out",
        metavar="FILE",
        help="also write the results: a NetCDF file (xarray Dataset), or "
        "with --batch a CSV of every run and the total",
    )
    estimate.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    estimate.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="output format (default: table)",
    )
    _add_model_options(estimate)
    _add_backend_options(estimate)
    estimate.set_defaults(handler=_estimate)


def _add_card_command(commands):
    """The ``card`` command (its arguments and handler)."""
    from mlimpact.runs.cards import MODEL_CHOICES

    card = commands.add_parser(
        "card",
        help="production impacts of one graphics card",
        description="Production impacts of one card of the hardware table, split into die, "
        "memory and the rest, per criterion.",
    )
    card.add_argument("name", metavar="NAME", help="card name or alias (see mlimpact hardware)")
    card.add_argument(
        "--model",
        choices=MODEL_CHOICES,
        default="mixture",
        help="production model of the GWP; mixture samples the choice "
        "(its point estimate is MLCA's) (default: mixture)",
    )
    card.add_argument(
        "--point",
        action="store_true",
        help="deterministic estimate: every input at its default value",
    )
    _add_sampling_options(card)
    card.add_argument("--format", choices=("table", "json"), default="table")
    card.set_defaults(handler=_card)


def _add_cards_command(commands):
    """The ``cards`` command (its arguments and handler)."""
    from mlimpact.runs.cards import MODEL_CHOICES

    many = commands.add_parser(
        "cards",
        help="production impacts of every data-centre and workstation GPU",
        description="Per-card production impacts of every data-centre and workstation GPU of "
        "the hardware table, by release date, with intervals: cards.csv, "
        "skipped.csv and a figure per criterion in DIR.",
    )
    _add_output_options(many, "mlimpact-cards")
    many.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_CHOICES,
        default=list(MODEL_CHOICES),
        help="production models to compare",
    )
    _add_sampling_options(many, default_samples=4096)
    many.set_defaults(handler=_cards)


def _add_run_command(commands):
    """The ``run`` command (its arguments and handler)."""
    from mlimpact.study.options import StudyOptions
    from mlimpact.study.scenarios import SCENARIOS

    defaults = StudyOptions()

    run = commands.add_parser(
        "run",
        help="the main job: the study's claims with confidence intervals",
        description="Propagate the uncertain inputs over every notable AI model of the "
        "window, fit the growth trends per sample, test the study's claims under "
        "each scenario, and write report.md, claims.csv, trends.csv, models.csv, "
        "results.nc and figures into DIR.",
    )
    _add_output_options(run, "mlimpact-run")
    _add_sampling_options(run, default_samples=defaults.samples, samples_type=_run_samples)
    run.add_argument(
        "--scenario",
        nargs="+",
        choices=SCENARIOS,
        default=list(SCENARIOS),
        help="scenarios to run (default: all)",
    )
    run.add_argument(
        "--low-carbon-country",
        metavar="CODE",
        help="location shifting to this country's grid (default: the "
        "lowest-intensity grid of each year)",
    )
    _add_window_options(run)
    run.add_argument(
        "--config", metavar="FILE", help="TOML file: [run] options and [uncertainty] overrides"
    )
    run.add_argument(
        "--sensitivity-samples",
        type=_non_negative_int,
        default=defaults.sensitivity_samples,
        metavar="N",
        help="base points the Sobol' analysis of the report starts from (power "
        f"of two; 0 skips it; default {defaults.sensitivity_samples})",
    )
    run.add_argument(
        "--sensitivity-target",
        type=_non_negative_float,
        default=defaults.sensitivity_target,
        metavar="H",
        help="extend the base points until every total-order interval of the "
        "report is at most +- H (0: keep N; default "
        f"{defaults.sensitivity_target})",
    )
    run.add_argument(
        "--sensitivity-max",
        type=_non_negative_int,
        default=defaults.sensitivity_max,
        metavar="N",
        help="most base points of that extension (default "
        f"{defaults.sensitivity_max}; run times: docs/performance.md)",
    )
    _add_rerun_options(run)
    _add_model_options(run)
    run.add_argument(
        "--fit",
        choices=("ols", "huber", "frontier"),
        default="ols",
        help="trend fit: least squares in log space, Huber's robust fit, or least "
        "squares on the 10 largest models of each year (default: ols)",
    )
    run.add_argument(
        "--no-specifications",
        action="store_true",
        help="skip the specification analysis (the claims under other reasonable "
        "analysis choices; most of the main job's time)",
    )
    _add_backend_options(run)
    run.set_defaults(handler=_run)


def _add_rerun_options(run):
    """``run --quiet`` and ``run --from-manifest FILE``."""
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--from-manifest",
        metavar="FILE",
        help="rerun the run whose manifest.json is FILE, with the options it recorded "
        "(the same claims.csv, byte for byte, with the same versions); takes only --out, "
        "--force, --quiet, --scheduler and --workers",
    )


def _add_sensitivity_command(commands):
    """The ``sensitivity`` command (its arguments and handler)."""
    sens = commands.add_parser(
        "sensitivity",
        help="Sobol' indices: which uncertain inputs dominate each result",
        description="Sobol' first- and total-order indices of every uncertain input (grouped "
        "by input) for each model's impacts, yearly and overall totals, the growth "
        "rates behind the claims, production shares and per-card production. "
        "Writes sensitivity.csv and figures into DIR.",
    )
    from mlimpact.study.options import StudyOptions

    defaults = StudyOptions()
    sens.add_argument(
        "--samples",
        type=_positive_int,
        default=defaults.sensitivity_samples,
        metavar="N",
        help="base points to start from, a power of two (default "
        f"{defaults.sensitivity_samples}, as `run`); N x (inputs + 2) model evaluations",
    )
    sens.add_argument(
        "--target",
        type=_non_negative_float,
        default=defaults.sensitivity_target,
        metavar="H",
        help="extend the base points until every total-order interval of the outputs the "
        "report reads is at most +- H (0: keep N; default "
        f"{defaults.sensitivity_target}, the precision of `run`)",
    )
    sens.add_argument(
        "--max-samples",
        type=_positive_int,
        default=defaults.sensitivity_max,
        metavar="N",
        help=f"most base points of that extension (default {defaults.sensitivity_max}, as `run`)",
    )
    sens.add_argument("--seed", type=_seed, default=0, metavar="S")
    _add_output_options(sens, "mlimpact-sensitivity")
    _add_window_options(sens)
    sens.add_argument(
        "--aggregates-only", action="store_true", help="skip the per-model outputs (faster)"
    )
    sens.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_backend_options(sens)
    sens.set_defaults(handler=_sensitivity)


def _add_data_command(commands):
    """The ``data`` command (its arguments and handler)."""
    data = commands.add_parser(
        "data",
        help="coverage of the notable-models dataset: included, imputed, excluded",
        description="Which notable AI models (Epoch AI) enter the default run: per year, "
        "complete, imputed (which fields) and excluded (why), and what every "
        "hardware name maps to.",
    )
    _add_window_options(data)
    data.add_argument("--per-model", action="store_true", help="also list every model")
    data.add_argument("--format", choices=("table", "json"), default="table")
    data.set_defaults(handler=_data)


def _add_validate_command(commands):
    """The ``validate`` command (its arguments and handler)."""
    from mlimpact.study.options import StudyOptions

    defaults = StudyOptions()

    check = commands.add_parser(
        "validate",
        help="published training footprints against our intervals",
        description="Compare every published footprint of data/validation.csv (energy, "
        "operational and embodied GWP of training runs, production GWP of cards) "
        "with our point, median and 95 % interval of the same quantity, from the "
        "dataset's run and from a run built from what the source publishes; "
        "coverage, geometric-mean ratio, interval width and interval score per "
        "quantity and way, against a naive band around our point (skill), for "
        "scored and convention rows, independent and all (docs/validation.md).",
    )
    check.add_argument(
        "--samples",
        type=_positive_int,
        default=defaults.samples,
        metavar="N",
        help=f"Monte Carlo samples (default: {defaults.samples})",
    )
    check.add_argument("--seed", type=_seed, default=0, metavar="S", help="seed (default: 0)")
    check.add_argument(
        "--parameters",
        metavar="FILE",
        help="parameters file (TOML) amending the catalogue of uncertain inputs",
    )
    check.add_argument(
        "--basis",
        choices=("measured", "derived", "all"),
        default="all",
        help="which published rows: metered or measured-power values, values "
        "derived from assumed power, or both (default: all)",
    )
    check.add_argument(
        "--out",
        metavar="DIR",
        help="also write validation.csv, validation_summary.csv and validation.png into DIR",
    )
    check.add_argument(
        "--force", action="store_true", help="also replace a damaged mlimpact result in --out"
    )
    check.add_argument("--rows", action="store_true", help="also print every comparison")
    check.add_argument(
        "--table",
        metavar="FILE",
        help="compare the published footprints of FILE (the columns of data/validation.csv: "
        "a lab's metered runs, a reviewer's own list) instead of data/validation.csv",
    )
    check.add_argument(
        "--leave-one-out",
        action="store_true",
        help="also calibrate without each model in turn and check that model "
        "(way leave-one-out: out-of-sample coverage, with the prior's "
        "interval score; docs/calibration.md)",
    )
    _add_model_options(check)
    check.add_argument(
        "--models",
        dest="models_file",
        metavar="FILE",
        help="an Epoch AI export or an inventory for the dataset way "
        "(default: the embedded snapshot)",
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(handler=_validate)


def _add_calibrate_command(commands):
    """The ``calibrate`` command (its arguments and handler)."""
    calibrate = commands.add_parser(
        "calibrate",
        help="update the power model's class inputs with measured footprints",
        description="Bayesian calibration of the evidence power model's class-level inputs "
        "(accelerators' share of TDP by class, facility PUE by provider class, "
        "non-training overhead, host's share of its node rating) and of the "
        "scatter of runs around them, against the measured footprints of "
        "data/validation.csv (adaptive importance sampling; docs/calibration.md). "
        "Writes a calibrated catalogue usable with "
        "--parameters.",
    )
    calibrate.add_argument(
        "--samples",
        type=_int_at_least(16),
        default=4096,
        metavar="N",
        help="samples per round of adaptive importance sampling (default: 4096)",
    )
    calibrate.add_argument("--seed", type=_seed, default=0, metavar="S", help="seed (default: 0)")
    calibrate.add_argument(
        "--basis",
        choices=("measured", "all"),
        default="measured",
        help="rows read: measured ones, or all (derived rows are then "
        "listed as not informative: their power is assumed)",
    )
    calibrate.add_argument(
        "--out",
        metavar="DIR",
        help="write parameters.toml, calibration.csv and calibration.png into DIR",
    )
    calibrate.add_argument(
        "--force", action="store_true", help="also replace a damaged mlimpact result in --out"
    )
    calibrate.add_argument("--format", choices=("text", "json"), default="text")
    calibrate.set_defaults(handler=_calibrate)


def _add_hardware_command(commands):
    """The ``hardware`` command (its arguments and handler)."""
    hardware = commands.add_parser(
        "hardware",
        help="list the hardware table",
        description="List accelerators of the hardware table.",
    )
    hardware.add_argument("search", nargs="?", help="only names containing this text")
    hardware.add_argument("--format", choices=("table", "json"), default="table")
    hardware.set_defaults(handler=_hardware)


#: Longest error line printed: a message quoting a huge value is cut, never the exit status.
MAX_ERROR_LENGTH = 400


def _one_line(error):
    text = " ".join(str(error).split())
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 3] + "..."


def _json(document):
    """Strict JSON (no NaN or Infinity, which strict parsers reject)."""
    try:
        return json.dumps(document, indent=2, allow_nan=False)
    except ValueError:
        raise MlimpactError("a result is not a finite number; nothing is printed") from None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A library warning as the command shows it: one line on stderr."""
    print(f"mlimpact: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Entry point of the ``mlimpact`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # one line each, for people; the parser's choices import modules that may warn too (a
    # read-only kernel cache)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        args = build_parser().parse_args(argv)
        args.argv = argv
        return _handle(args)


def _handle(args):
    """Run a parsed command; its exit status (errors as one line on stderr)."""
    try:
        one_blas_thread(args.handler)(args)
    except MlimpactError as error:
        print(f"mlimpact: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlimpact: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
