"""fathom inspect: summarise a data set."""

from __future__ import annotations

import argparse

from fathom.cli._common import add_data_arguments, dataset_from_args, print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="built-in name (movielens-100k, movielens-1m) or an events file")
    add_data_arguments(parser)


def run(args: argparse.Namespace) -> int:
    dataset = dataset_from_args(args.dataset, args)
    summary = dataset.summary()
    events = dataset.events.frame
    summary["value"] = {k: round(float(v), 3) for k, v in events["value"].describe().items()}
    if events["timestamp"].gt(0).any():
        import pandas as pd

        ts = pd.to_datetime(events["timestamp"], unit="s")
        summary["time_range"] = [str(ts.min()), str(ts.max())]
    n_users, n_items = summary.get("users", 0), summary.get("items", 0)
    if n_users and n_items:
        summary["density"] = round(summary["events"] / (n_users * n_items), 6)
    print_json(summary)
    return 0
