"""fathom benchmark: run a named benchmark protocol and print its comparison table."""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.evaluate.protocols import protocol_names, run_protocol


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=protocol_names(), help="benchmark to run")
    parser.add_argument("--out", default="runs/benchmarks", help="folder for the table, JSON and picture")


def run(args: argparse.Namespace) -> int:
    run_protocol(args.protocol, out_dir=Path(args.out))
    return 0
