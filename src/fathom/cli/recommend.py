"""fathom recommend: top-k items for a user of a saved model."""

from __future__ import annotations

import argparse

import numpy as np

from fathom.cli._common import add_run_arguments, positive_int, print_json
from fathom.runs import RunFolder, describe_items, item_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--user", required=True, help="external user id")
    parser.add_argument("-k", type=positive_int, default=10, help="number of items (default 10)")
    parser.add_argument("--include-seen", action="store_true", help="allow items the user already interacted with")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    folder = RunFolder(args.run)
    label, model = folder.load_model(args.model)
    data = folder.data()
    user = folder.user_index(args.user)
    exclude = None if args.include_seen else data.all_interactions()
    ids, scores = model.recommend(np.array([user]), k=args.k, exclude=exclude)
    rows = describe_items(data, ids[0])
    for row, score in zip(rows, scores[0], strict=False):
        row["score"] = round(float(score), 5)
    if args.json:
        print_json({"user": args.user, "model": label, "items": rows})
        return 0
    print(f"top {args.k} for user {args.user} ({label}):")
    for rank, row in enumerate(rows, 1):
        print(f"{rank:>3}. {item_line(row)}  score {row['score']:.4f}")
    return 0
