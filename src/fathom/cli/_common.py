"""Argument helpers shared by the sub-commands."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fathom.data.dataset import Dataset
    from fathom.data.validation import DataValidationError, ValidationReport


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
    parser.add_argument("--catalog", help="item catalogue file (with an events file); a column holding values "
                        "joined by | (Adventure|Animation) is read as a list, one facet value each")
    parser.add_argument("--users", help="user profiles file (with an events file)")
    parser.add_argument("--map", action="append", default=[], metavar="THEIRS=OURS",
                        help="events column mapping, e.g. --map userId=user_id --map rating=value (repeatable; "
                             "without a value column every event is a click of value 1)")
    parser.add_argument("--default", action="append", default=[], metavar="COLUMN=VALUE",
                        help="constant for an events column the file lacks, e.g. --default event=click")
    parser.add_argument("--catalog-map", action="append", default=[], metavar="THEIRS=OURS",
                        help="catalogue column mapping, e.g. --catalog-map movieId=item_id (repeatable)")
    parser.add_argument("--users-map", action="append", default=[], metavar="THEIRS=OURS",
                        help="user file column mapping, e.g. --users-map userId=user_id (repeatable)")
    add_encoding_argument(parser)
    parser.add_argument("--skip-bad-rows", action="store_true",
                        help="leave out the rows with problems (the first few are printed) and go on with the "
                             "valid ones; without it any problem stops the command")


def add_encoding_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", help="text encoding of CSV/TSV/JSON Lines files, e.g. latin-1 (default: "
                                           "UTF-8, or UTF-16/32 when the file starts with a byte-order mark)")


def mapping(pairs: list[str]) -> dict[str, str]:
    """``["userId=user_id"]`` -> ``{"userId": "user_id"}``."""
    from fathom.runs import parse_settings

    return {k: str(v) for k, v in parse_settings(pairs).items()}


def dataset_from_args(source: str, args: argparse.Namespace) -> Dataset:
    """A built-in data set, or the files named by the data arguments. Rows with problems stop the command
    (its error names the first ones, printed above it) unless ``--skip-bad-rows``, which prints them and goes on.
    A missing column's hint and an unmapped rating column's note are worded as the options to pass."""
    from fathom.data.dataset import Dataset
    from fathom.data.loading import DataWarning, LoadConfig, UnmappedColumnWarning
    from fathom.data.sources import builtin_names
    from fathom.data.validation import DataValidationError, MissingColumnError
    from fathom.runs import load_dataset, parse_settings

    columns, catalog_columns, users_columns = mapping(args.map), mapping(args.catalog_map), mapping(args.users_map)
    defaults = parse_settings(args.default)
    if source in builtin_names() or not Path(source).exists():  # a built-in, or load_dataset's error naming them
        return load_dataset(source, args.catalog, args.users, columns, defaults, catalog_columns, users_columns)
    common = LoadConfig(encoding=args.encoding, on_error="skip" if args.skip_bad_rows else "reject")
    try:
        with warnings.catch_warnings():  # the problems and notes are printed below, in the CLI's words
            warnings.simplefilter("ignore", DataWarning)
            warnings.simplefilter("ignore", UnmappedColumnWarning)
            dataset = Dataset.from_files(
                events=source, catalog=args.catalog, users=args.users, name=Path(source).stem,
                events_config=common.replace(columns=columns, defaults=defaults),
                catalog_config=common.replace(columns=catalog_columns),
                users_config=common.replace(columns=users_columns),
            )
    except MissingColumnError as exc:
        raise exc.for_cli(_map_option(exc.file, source, args)) from None
    except DataValidationError as exc:
        if exc.report.rows_read == 0:  # about the whole file (empty, binary): one line already
            raise
        raise _stopped(exc.report, source, args) from None
    for report in dataset.reports.values():
        print_unmapped(report, _map_option(report.file, source, args))
        if report.rows_kept == 0:  # --skip-bad-rows: say what was left out
            raise _stopped(report, source, args)
        if not report.ok:
            print(f"{_counts(report)}: --skip-bad-rows left them out and kept {report.rows_kept}", file=sys.stderr)
            _print_problems(report)
            if len(report) > SHOWN:
                print(f"  ... and {len(report) - SHOWN} more; `{validate_command(report.file, source, args)}` "
                      "lists every problem", file=sys.stderr)
    return dataset


def print_unmapped(report: ValidationReport, option: str = "--map") -> None:
    """One note on stderr per column that looks like one of Fathom's but is not mapped (a rating column)."""
    for unmapped in report.unmapped:
        print(f"note: {unmapped.message('cli', option)}", file=sys.stderr)


def _map_option(file: str, events: str, args: argparse.Namespace) -> str:
    """The option that maps the columns of ``file``, one of the data arguments' files."""
    if args.catalog is not None and file == str(Path(args.catalog)) and file != str(Path(events)):
        return "--catalog-map"
    if args.users is not None and file == str(Path(args.users)) and file != str(Path(events)):
        return "--users-map"
    return "--map"


SHOWN = 5  # problems printed by a command that reads data files (fathom validate prints more)


def _stopped(report: ValidationReport, source: str, args: argparse.Namespace) -> DataValidationError:
    """The error that stops a command on bad rows: the first problems are printed above it, and its one line
    names the file, says that nothing went on, and which option goes on or lists everything."""
    from fathom.data.validation import DataValidationError

    if report.rows_read == 0:
        return DataValidationError(report)  # "FILE: no data rows"
    _print_problems(report)
    go_on = (f"pass --skip-bad-rows to go on with the {report.rows_kept} valid rows" if report.rows_kept
             else "no row is valid")
    return DataValidationError(report, f"{_counts(report)} (the first {min(len(report), SHOWN)} above), so nothing "
                                       f"was done; {go_on}; `{validate_command(report.file, source, args)}` lists "
                                       "every problem")


def _counts(report: ValidationReport) -> str:
    return f"{report.file}: {len(report)} problem(s) in {report.rows_dropped} of {report.rows_read} rows"


def _print_problems(report: ValidationReport) -> None:
    for line in report.messages(limit=SHOWN):
        print(f"  {line}", file=sys.stderr)


def validate_command(file: str, events: str, args: argparse.Namespace) -> str:
    """The ``fathom validate`` command line that lists every problem of one of the data files."""
    argv = ["fathom", "validate", file]
    option = _map_option(file, events, args)
    if option == "--map":
        argv += [a for pair in args.map for a in ("--map", pair)]
        argv += [a for pair in args.default for a in ("--default", pair)]
    else:
        kind, pairs = ("catalog", args.catalog_map) if option == "--catalog-map" else ("users", args.users_map)
        argv += ["--kind", kind, *[a for pair in pairs for a in ("--map", pair)]]
    if args.encoding:
        argv += ["--encoding", args.encoding]
    return shlex.join(argv)
