"""fathom validate: check a data file and report every bad value."""

from __future__ import annotations

import argparse
import warnings

from fathom.cli._common import add_encoding_argument, mapping
from fathom.data.loading import DataWarning, UnmappedColumnWarning, load_catalog, load_events, load_users
from fathom.data.validation import MissingColumnError
from fathom.runs import parse_settings

LOADERS = {"events": load_events, "catalog": load_catalog, "users": load_users}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="CSV, TSV, Parquet or JSON Lines file")
    parser.add_argument("--kind", choices=sorted(LOADERS), default="events", help="what the file holds")
    parser.add_argument("--map", action="append", default=[], metavar="THEIRS=OURS",
                        help="column mapping, e.g. --map userId=user_id (repeatable)")
    parser.add_argument("--default", action="append", default=[], metavar="COLUMN=VALUE",
                        help="constant for a column the file lacks, e.g. --default event=click")
    add_encoding_argument(parser)
    parser.add_argument("--report", help="write every problem to this .csv or .json file")
    parser.add_argument("--show", type=int, default=20, help="problems to print (default 20)")


def run(args: argparse.Namespace) -> int:
    columns = mapping(args.map)
    defaults = parse_settings(args.default)
    with warnings.catch_warnings():  # the problems and notes are printed below
        warnings.simplefilter("ignore", DataWarning)
        warnings.simplefilter("ignore", UnmappedColumnWarning)
        try:
            result = LOADERS[args.kind](args.file, columns=columns, defaults=defaults, on_error="skip",
                                        report_path=args.report, encoding=args.encoding)
        except MissingColumnError as exc:
            raise exc.for_cli("--map") from None
    report = result.report
    print(f"{args.file}: {report.rows_read} rows read, {report.rows_kept} valid, {report.rows_dropped} with problems")
    for unmapped in report.unmapped:
        print(f"note: {unmapped.message('cli')}")
    if not report.ok:
        print("problems per column: " + ", ".join(f"{c or '(whole record)'} {n}"
                                                  for c, n in report.problems_per_column().items()))
    for line in report.messages(limit=args.show):
        print(f"  {line}")
    if len(report) > args.show:
        print(f"  ... and {len(report) - args.show} more" + (f" (all in {args.report})" if args.report else ""))
    if args.report:  # the loader writes one only when there is a problem to list
        print(f"no problems, so {args.report} was not written" if report.ok
              else f"report written to {args.report}")
    return 0 if report.ok else 1
