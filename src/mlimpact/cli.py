"""The ``mlimpact`` command line: a thin layer over the library.

Each subcommand parses its arguments, calls one public function and prints the result. Bad
input of any kind ends with a one-line ``mlimpact: error: ...`` on stderr and exit status 2.
"""

import argparse
import json
import sys

from mlimpact import __version__, output
from mlimpact.errors import MlimpactError


def _estimate(args):
    from mlimpact import model, parameters, propagate, report, setupfile

    setup = setupfile.load_setup(args.setup)
    if args.point:
        result = model.training_impacts(setup.runs)
        if args.format == "json":
            print(json.dumps(report.point_json(result), indent=2))
        else:
            print(report.describe_setup(setup))
            print("point estimate (every input at its given or default value)\n")
            print(report.point_table(result))
        return
    catalogue = parameters.default_catalogue()
    if args.parameters:
        catalogue = {**catalogue, **parameters.load_parameters(args.parameters)}
    if args.out:
        output.check_writable_file(args.out, force=args.force)
    with _Backend(args) as client:
        result = propagate.propagate_setup(setup, args.samples, seed=args.seed,
                                           method=args.method, catalogue=catalogue,
                                           chunk_size=args.chunk_size, client=client)
    if args.out:
        output.write_netcdf(result, args.out)
    if args.format == "json":
        print(json.dumps(report.monte_carlo_json(result), indent=2))
    else:
        print(report.describe_setup(setup))
        print(f"Monte Carlo: {args.samples:,} samples ({args.method}, seed {args.seed}); "
              "median [95 % interval]\n")
        print(report.monte_carlo_table(result))


def _card(args):
    from mlimpact import cards, report

    hardware = cards.find_card(args.name)
    reason = cards.why_not_priced(hardware, args.model)
    if reason and not (reason == "release date unknown" and args.model == "mlca"):
        raise MlimpactError(f"card {hardware.name!r} cannot be priced with {args.model}: {reason}")
    monte_carlo = not args.point
    result = cards.card_estimate([hardware], args.model,
                                 samples=args.samples if monte_carlo else None,
                                 seed=args.seed, method=args.method)
    if args.format == "json":
        print(json.dumps(report.card_json(result, monte_carlo), indent=2))
        return
    what = ("point estimate" if args.point else
            f"Monte Carlo: {args.samples:,} samples ({args.method}, seed {args.seed}); "
            "median [95 % interval]")
    print(f"{hardware.name}: production of one card, model {args.model}; {what}")
    print(f"(die {hardware.die_area_cm2:g} cm2, {hardware.memory_gb:g} GB "
          f"{hardware.memory_type or 'memory of unknown type'}, node "
          f"{hardware.process_node_nm:g} nm, {hardware.foundry or 'foundry unknown'}, "
          f"released {hardware.release_date or 'unknown'})\n")
    print(report.card_table(result, monte_carlo))


def _cards(args):
    from mlimpact import cards, plots
    from mlimpact.sampling import Design

    Design(args.method, args.samples, 1, args.seed)  # bad sampling options fail before writing
    folder = output.prepare_folder(args.out, force=args.force)
    rows, skipped = cards.cards_table(args.models, samples=args.samples, seed=args.seed,
                                      method=args.method)
    output.write_csv(folder / "cards.csv", cards.CARDS_HEADER, rows)
    output.write_csv(folder / "skipped.csv", ("hardware", "model", "reason"), skipped)
    records = [dict(zip(cards.CARDS_HEADER, row)) for row in rows]
    for criterion, unit in (("gwp", "kg CO2eq"), ("adpe", "kg Sb eq"), ("pe", "MJ")):
        output.save_figure(plots.card_timeline(records, criterion, unit),
                           folder / f"cards_{criterion}.png")
    priced = len({row[0] for row in rows})
    print(f"{priced} cards priced with {', '.join(args.models)} ({args.samples:,} samples); "
          f"{len(skipped)} card-model pairs skipped (see skipped.csv)")
    print(f"wrote {folder / 'cards.csv'}, {folder / 'skipped.csv'}, "
          f"{folder / 'cards_gwp.png'} (and ADPe, PE)")


def _data(args):
    from mlimpact import notable, report

    window = (args.first_year, args.last_year)
    runs = notable.build_runs(window=window, impute=not args.complete_only)
    summary = notable.coverage(runs, window)
    if args.format == "json":
        if args.models:
            summary["models"] = [{"model": r.name, "year": r.year, "status": r.status,
                                  "imputed": list(r.imputed), "reason": r.reason,
                                  "notes": list(r.notes)} for r in runs.records]
        print(json.dumps(summary, indent=2))
        return
    print(f"Notable AI models (Epoch AI), publication years {window[0]}-{window[1]}, "
          f"imputation {'off' if args.complete_only else 'on'}")
    print(f"included: {summary['included_total']} ({summary['complete_total']} complete, "
          f"{summary['imputed_total']} imputed); excluded: {summary['excluded_total']}\n")
    print(report.table([[year, *counts.values(), sum(counts.values())]
                        for year, counts in summary["years"].items()],
                       ["year", "complete", "imputed", "excluded", "models"]))
    print("\nexcluded, by reason:")
    for reason, count in summary["excluded_reasons"].items():
        print(f"  {count:4d}  {reason}")
    print("\nimputed fields (a model may have several):")
    for what, count in summary["imputed_fields"].items():
        print(f"  {count:4d}  {what}")
    print("\nhardware names and what they stand for:")
    for name, targets in summary["hardware_mapping"].items():
        arrow = targets[0] if targets == [name] else " | ".join(targets)
        print(f"  {name} -> {'itself' if targets == [name] else arrow}")
    if args.models:
        print("\nper model:")
        for r in runs.records:
            detail = r.reason or "; ".join(r.imputed) or "complete"
            print(f"  {r.year} {r.name}: {r.status}: {detail}")


def _run(args):
    import time
    import tomllib

    from mlimpact import report, study

    options = study.StudyOptions(samples=args.samples, seed=args.seed, method=args.method,
                                 scenarios=tuple(args.scenario), impute=not args.complete_only,
                                 window=(args.first_year, args.last_year),
                                 low_carbon_country=args.low_carbon_country,
                                 sensitivity_samples=args.sensitivity_samples)
    if args.config:
        options = _apply_config(options, args.config, tomllib)
    study.validate_options(options)
    folder = output.prepare_folder(args.out, force=args.force)
    started = time.monotonic()
    with _Backend(args) as client:
        result = study.run_study(options, progress=None if args.quiet else _progress_bar(),
                                 client=client)
    report.write_study(result, folder)
    if not args.quiet:
        print(file=sys.stderr)
    print(f"wrote {folder}/: report.md, claims.csv, trends.csv, models.csv, results.nc and "
          f"figures ({time.monotonic() - started:.0f} s)")
    for row in result.claims:
        what = "FLOP/kWh" if row["quantity"] == "training FLOP per kWh" else row["criterion"]
        print(f"  {row['claim']:<29} {what:<8} {row['scenario']:<20} "
              f"{report.format_number(row['estimate']):>8} [{report.format_number(row['low'])}, "
              f"{report.format_number(row['high'])}]  P = {row['probability']:.3f}")


def _progress_bar():
    def show(fraction, what):
        filled = int(30 * fraction)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f} % "
                         f"{what:<20}")
        sys.stderr.flush()
    return show


_CONFIG_KEYS = {"samples", "seed", "method", "scenarios", "first_year", "last_year",
                "complete_only", "low_carbon_country"}


def _apply_config(options, path, tomllib):
    """Options from a TOML file: a [run] table of options and an [uncertainty] table."""
    import dataclasses
    from pathlib import Path

    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MlimpactError(f"{path}: no such config file") from None
    except tomllib.TOMLDecodeError as error:
        raise MlimpactError(f"{path}: malformed TOML: {error}") from None
    unknown = set(document) - {"run", "uncertainty"}
    if unknown:
        raise MlimpactError(f"{path}: unknown section(s) {', '.join(sorted(unknown))} "
                            "(expected [run], [uncertainty])")
    run = document.get("run", {})
    bad = set(run) - _CONFIG_KEYS
    if bad:
        raise MlimpactError(f"{path}: [run] unknown key(s) {', '.join(sorted(bad))} "
                            f"(known: {', '.join(sorted(_CONFIG_KEYS))})")
    changes = {k: v for k, v in run.items() if k in ("samples", "seed", "method",
                                                       "low_carbon_country")}
    if "scenarios" in run:
        changes["scenarios"] = tuple(run["scenarios"])
    if "complete_only" in run:
        changes["impute"] = not run["complete_only"]
    if "first_year" in run or "last_year" in run:
        changes["window"] = (run.get("first_year", options.window[0]),
                             run.get("last_year", options.window[1]))
    for key, value in changes.items():
        expected = {"samples": int, "seed": int, "method": str, "low_carbon_country": str,
                    "scenarios": tuple, "impute": bool, "window": tuple}[key]
        if not isinstance(value, expected) or isinstance(value, bool) != (expected is bool):
            raise MlimpactError(f"{path}: [run] {key} has the wrong type ({value!r})")
    return dataclasses.replace(options, **changes,
                               uncertainty=document.get("uncertainty", {}))


def _sensitivity(args):
    from mlimpact import plots, sensitivity

    if args.samples < 2 or args.samples & (args.samples - 1):
        raise MlimpactError(f"--samples: Sobol' analysis needs a power of two >= 2 "
                            f"(got {args.samples})")
    folder = output.prepare_folder(args.out, force=args.force)
    with _Backend(args) as client:
        result = sensitivity.impact_sensitivity(
            n=args.samples, seed=args.seed, window=(args.first_year, args.last_year),
            impute=not args.complete_only, per_model=not args.aggregates_only,
            progress=None if args.quiet else _sensitivity_progress(), client=client)
    if not args.quiet:
        print(file=sys.stderr)
    rows = sensitivity.sensitivity_rows(result["models"]) + \
        sensitivity.sensitivity_rows(result["cards"])
    output.write_csv(folder / "sensitivity.csv", sensitivity.SENSITIVITY_HEADER, rows)
    models, card = result["models"], result["cards"]
    figure = plots.sensitivity_figure(
        [(f"growth rate of {c.upper() if c != 'energy' else 'energy'}",
          models.sel(output=f"growth rate | {c}")) for c in ("energy", "gwp", "adpe", "pe")])
    output.save_figure(figure, folder / "sensitivity_growth.png")
    figure = plots.sensitivity_figure(
        [(f"all models, {c.upper() if c != 'energy' else 'energy'}",
          models.sel(output=f"all models | {c}")) for c in ("energy", "gwp", "adpe", "pe")])
    output.save_figure(figure, folder / "sensitivity_totals.png")
    figure = plots.sensitivity_figure(
        [(f"card growth rate, {c.upper()}", card.sel(output=f"card growth rate | {c}"))
         for c in ("gwp", "adpe", "pe")])
    output.save_figure(figure, folder / "sensitivity_cards.png")
    print(f"wrote {folder}/sensitivity.csv ({len(rows):,} rows) and figures "
          f"(N = {args.samples} base points, {len(models.parameter)} inputs)")
    for label, data, key in (("growth of GWP", models, "growth rate | gwp"),
                             ("growth of energy", models, "growth rate | energy"),
                             ("GWP of all models", models, "all models | gwp"),
                             ("production share of ADPe", models, "production share | adpe"),
                             ("growth of card GWP", card, "card growth rate | gwp")):
        top = ", ".join(f"{p} (ST {st:.2f} +/- {c:.2f})"
                        for p, st, c in sensitivity.dominant(data, key))
        print(f"  {label}: {top}")


def _sensitivity_progress():
    bar = _progress_bar()
    return lambda done, total: bar(done / total, "Sobol' design")


def _hardware(args):
    from mlimpact import datasets, report

    rows = []
    for h in datasets.hardware_table():
        if args.search and args.search.lower() not in (h.name + " " + " ".join(h.aliases)).lower():
            continue
        rows.append(h)
    if args.format == "json":
        print(json.dumps([{"name": h.name, "aliases": list(h.aliases), "segment": h.segment,
                           "release_date": h.release_date or None,
                           "die_area_cm2": _json_number(h.die_area_cm2),
                           "memory_gb": _json_number(h.memory_gb),
                           "memory_type": h.memory_type or None, "tdp_w": _json_number(h.tdp_w)}
                          for h in rows], indent=2))
        return
    print(report.table(
        [[h.name, h.release_date or "-", report.format_number(h.die_area_cm2),
          report.format_number(h.memory_gb), h.memory_type or "-", report.format_number(h.tdp_w)]
         for h in rows],
        ["name", "released", "die [cm2]", "memory [GB]", "memory type", "TDP [W]"]))


def _int_at_least(lowest):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number (got {text!r})") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be >= {lowest} (got {text})")
        return value
    return parse


_positive_int, _non_negative_int = _int_at_least(1), _int_at_least(0)


def _json_number(value):
    return None if value != value else value


class _Parser(argparse.ArgumentParser):
    """argparse with the project's one-line errors (no usage dump)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_output_options(parser, default):
    parser.add_argument("--out", metavar="DIR", default=default,
                        help=f"output folder (default: {default})")
    parser.add_argument("--force", action="store_true", help="write into a non-empty folder")


def _add_window_options(parser):
    parser.add_argument("--first-year", type=int, default=2013,
                        help="first publication year of the window (default 2013)")
    parser.add_argument("--last-year", type=int, default=2025,
                        help="last publication year of the window (default 2025)")
    parser.add_argument("--complete-only", action="store_true",
                        help="imputation off: only records with hardware, count and time")


def _add_backend_options(parser):
    parser.add_argument("--scheduler", metavar="local|ADDRESS",
                        help="run the sample chunks on Dask: 'local' starts a local cluster "
                             "of --workers processes, an address (tcp://host:8786) uses an "
                             "existing one (default: no Dask)")
    parser.add_argument("--workers", type=_positive_int, default=2, metavar="N",
                        help="worker processes of --scheduler local (default 2)")


class _Backend:
    """Context manager giving a Dask client or None, closed on exit."""

    def __init__(self, args):
        self.args, self.client = args, None

    def __enter__(self):
        if self.args.scheduler:
            from mlimpact import distributed
            self.client = distributed.connect(self.args.scheduler, self.args.workers)
        return self.client

    def __exit__(self, *exc):
        if self.client is not None:
            from mlimpact import distributed
            distributed.close(self.client)


def _add_sampling_options(parser, default_samples=10_000):
    parser.add_argument("--samples", type=_positive_int, default=default_samples, metavar="N",
                        help=f"Monte Carlo samples (default: {default_samples})")
    parser.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                        help="seed: the same seed gives the same numbers (default: 0)")
    parser.add_argument("--method", choices=("mc", "lhs", "sobol"), default="mc",
                        help="sampling design: plain Monte Carlo, Latin hypercube or "
                             "scrambled Sobol' (power-of-two samples) (default: mc)")


def build_parser():
    """The argument parser (exposed for the docs and the tests)."""
    parser = _Parser(
        prog="mlimpact",
        description="Environmental impacts (energy, GWP, ADPe, PE) of training ML models, "
                    "with their uncertainty.")
    parser.add_argument("--version", action="version", version=f"mlimpact {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    estimate = commands.add_parser(
        "estimate", help="impacts of one training run described in a setup file",
        description="Energy and production/use impacts of the training run described in "
                    "SETUP (a TOML file; see docs/setup.md).")
    estimate.add_argument("setup", metavar="SETUP", help="setup file (TOML)")
    estimate.add_argument("--point", action="store_true",
                          help="deterministic estimate: every input at its given or default value")
    _add_sampling_options(estimate)
    estimate.add_argument("--parameters", metavar="FILE",
                          help="parameters file (TOML) amending the catalogue of uncertain inputs")
    estimate.add_argument("--chunk-size", type=_positive_int, default=16_384, metavar="K",
                          help="samples per chunk: memory vs overhead, never the results")
    estimate.add_argument("--out", metavar="FILE.nc",
                          help="also write the results (xarray Dataset) to this NetCDF file")
    estimate.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    estimate.add_argument("--format", choices=("table", "json"), default="table",
                          help="output format (default: table)")
    _add_backend_options(estimate)
    estimate.set_defaults(handler=_estimate)

    card = commands.add_parser(
        "card", help="production impacts of one graphics card",
        description="Production impacts of one card of the hardware table, split into die, "
                    "memory and the rest, per criterion.")
    card.add_argument("name", metavar="NAME", help="card name or alias (see mlimpact hardware)")
    card.add_argument("--model", choices=("mlca", "act", "mixture"), default="mixture",
                      help="production model of the GWP; mixture samples the choice "
                           "(its point estimate is MLCA's) (default: mixture)")
    card.add_argument("--point", action="store_true",
                      help="deterministic estimate: every input at its default value")
    _add_sampling_options(card)
    card.add_argument("--format", choices=("table", "json"), default="table")
    card.set_defaults(handler=_card)

    many = commands.add_parser(
        "cards", help="production impacts of every data-centre and workstation GPU",
        description="Per-card production impacts of every data-centre and workstation GPU of "
                    "the hardware table, by release date, with intervals: cards.csv, "
                    "skipped.csv and a figure per criterion in DIR.")
    _add_output_options(many, "mlimpact-cards")
    many.add_argument("--models", nargs="+", choices=("mlca", "act", "mixture"),
                      default=["mlca", "act", "mixture"], help="production models to compare")
    _add_sampling_options(many, default_samples=4096)
    many.set_defaults(handler=_cards)

    run = commands.add_parser(
        "run", help="the main job: the study's claims with confidence intervals",
        description="Propagate the uncertain inputs over every notable AI model of the "
                    "window, fit the growth trends per sample, test the study's claims under "
                    "each scenario, and write report.md, claims.csv, trends.csv, models.csv, "
                    "results.nc and figures into DIR.")
    _add_output_options(run, "mlimpact-run")
    _add_sampling_options(run, default_samples=2048)
    run.add_argument("--scenario", nargs="+", choices=("baseline", "location_shifting",
                                                       "hardware_efficiency"),
                     default=["baseline", "location_shifting", "hardware_efficiency"],
                     help="scenarios to run (default: all)")
    run.add_argument("--low-carbon-country", metavar="CODE",
                     help="location shifting to this country's grid (default: the "
                          "lowest-intensity grid of each year)")
    _add_window_options(run)
    run.add_argument("--config", metavar="FILE",
                     help="TOML file: [run] options and [uncertainty] overrides")
    run.add_argument("--sensitivity-samples", type=_non_negative_int, default=128, metavar="N",
                     help="base points of the Sobol' analysis of the report (power of two; "
                          "0 skips it; default 128)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_backend_options(run)
    run.set_defaults(handler=_run)

    sens = commands.add_parser(
        "sensitivity", help="Sobol' indices: which uncertain inputs dominate each result",
        description="Sobol' first- and total-order indices of every uncertain input (grouped "
                    "by input) for each model's impacts, yearly and overall totals, the growth "
                    "rates behind the claims, production shares and per-card production. "
                    "Writes sensitivity.csv and figures into DIR.")
    sens.add_argument("--samples", type=_positive_int, default=512, metavar="N",
                      help="base points, a power of two (default 512); "
                           "N x (inputs + 2) model evaluations")
    sens.add_argument("--seed", type=_non_negative_int, default=0, metavar="S")
    _add_output_options(sens, "mlimpact-sensitivity")
    _add_window_options(sens)
    sens.add_argument("--aggregates-only", action="store_true",
                      help="skip the per-model outputs (faster)")
    sens.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_backend_options(sens)
    sens.set_defaults(handler=_sensitivity)

    data = commands.add_parser(
        "data", help="coverage of the notable-models dataset: included, imputed, excluded",
        description="Which notable AI models (Epoch AI) enter the default run: per year, "
                    "complete, imputed (which fields) and excluded (why), and what every "
                    "hardware name maps to.")
    _add_window_options(data)
    data.add_argument("--models", action="store_true", help="also list every model")
    data.add_argument("--format", choices=("table", "json"), default="table")
    data.set_defaults(handler=_data)

    hardware = commands.add_parser("hardware", help="list the hardware table",
                                   description="List accelerators of the hardware table.")
    hardware.add_argument("search", nargs="?", help="only names containing this text")
    hardware.add_argument("--format", choices=("table", "json"), default="table")
    hardware.set_defaults(handler=_hardware)
    return parser


def main(argv=None):
    """Entry point of the ``mlimpact`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except MlimpactError as error:
        print(f"mlimpact: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlimpact: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
