"""fathom similar: the items most similar to an item, from a saved model."""

from __future__ import annotations

import argparse

import numpy as np

from fathom.cli._common import add_run_arguments, positive_int, print_json
from fathom.runs import RunFolder, describe_items, item_line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--item", required=True, help="external item id")
    parser.add_argument("-k", type=positive_int, default=10, help="number of items (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    folder = RunFolder(args.run)
    label, model = folder.load_model(args.model)
    data = folder.data()
    item = folder.item_index(args.item)
    ids, scores = model.similar_items(np.array([item]), k=args.k)
    query = describe_items(data, np.array([item]))[0]
    rows = describe_items(data, ids[0])
    for row, score in zip(rows, scores[0], strict=False):
        row["score"] = round(float(score), 5)
    if args.json:
        print_json({"item": query, "model": label, "similar": rows})
        return 0
    print(f"items similar to {item_line(query)} ({label}):")
    for rank, row in enumerate(rows, 1):
        print(f"{rank:>3}. {item_line(row)}  score {row['score']:.4f}")
    return 0
