"""fathom benchmark: run a named benchmark protocol and print its comparison table."""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.evaluate.protocols import protocol_names, run_protocol


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=protocol_names(), help="benchmark to run")
    parser.add_argument("--out", default="runs/benchmarks", help="folder for the table, JSON and picture")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="run only these models (labels as in the table)")
    parser.add_argument("--no-spread", action="store_true", help="skip re-running cheap models on other splits")


def run(args: argparse.Namespace) -> int:
    run_protocol(args.protocol, out_dir=Path(args.out), only=args.only, spread=not args.no_spread)
    return 0
