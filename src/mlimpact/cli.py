"""The ``mlimpact`` command line: a thin layer over the library.

Each subcommand parses its arguments, calls one public function and prints the result. Bad
input of any kind ends with a one-line ``mlimpact: error: ...`` on stderr and exit status 2.
"""

import argparse
import json
import sys

from mlimpact import __version__
from mlimpact.errors import MlimpactError


def _estimate(args):
    from mlimpact import model, report, setupfile

    setup = setupfile.load_setup(args.setup)
    if not args.point:
        raise MlimpactError("Monte Carlo estimation is not available yet; use --point")
    result = model.training_impacts(setup.runs)
    if args.format == "json":
        print(json.dumps(report.point_json(result), indent=2))
    else:
        print(report.describe_setup(setup))
        print("point estimate (every input at its given or default value)\n")
        print(report.point_table(result))


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


def _json_number(value):
    return None if value != value else value


def build_parser():
    """The argument parser (exposed for the docs and the tests)."""
    parser = argparse.ArgumentParser(
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
    estimate.add_argument("--format", choices=("table", "json"), default="table",
                          help="output format (default: table)")
    estimate.set_defaults(handler=_estimate)

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
