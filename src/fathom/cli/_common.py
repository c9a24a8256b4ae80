"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", default="runs/demo", help="run folder written by `fathom train` or `fathom demo` "
                        "(default: runs/demo)")
    parser.add_argument("--model", default=None, help="model label inside the run (needed when it holds several)")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def print_json(payload: Any) -> None:
    json.dump(payload, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_metrics(metrics: dict[str, float]) -> None:
    width = max(len(k) for k in metrics)
    for name, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {name:<{width}}  {shown}")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", help="item catalogue file (with an events file)")
    parser.add_argument("--users", help="user profiles file (with an events file)")
    parser.add_argument("--map", action="append", default=[], metavar="THEIRS=OURS",
                        help="events column mapping, e.g. --map userId=user_id (repeatable)")
    parser.add_argument("--default", action="append", default=[], metavar="COLUMN=VALUE",
                        help="constant for an events column the file lacks, e.g. --default event=click")


def dataset_from_args(source: str, args: argparse.Namespace):
    from fathom.runs import load_dataset, parse_settings

    columns = {k: str(v) for k, v in parse_settings(args.map).items()}
    return load_dataset(source, args.catalog, args.users, columns, parse_settings(args.default))
