"""fathom evaluate: test metrics of a saved model (full ranking, training and validation items excluded)."""

from __future__ import annotations

import argparse

from fathom.cli._common import add_run_arguments, positive_int, print_metrics
from fathom.metrics.evaluator import KNOWN_METRICS, evaluate_ranking
from fathom.runs import RunFolder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("-k", type=positive_int, nargs="+", default=[10, 20], help="cut-offs (default: 10 20)")
    parser.add_argument("--metrics", nargs="+", default=["precision", "recall", "f1", "ndcg", "mrr", "hit", "map",
                                                          "coverage"], choices=sorted(KNOWN_METRICS))
    parser.add_argument("--split", choices=["test", "valid"], default="test")


def run(args: argparse.Namespace) -> int:
    folder = RunFolder(args.run)
    label, model = folder.load_model(args.model)
    data = folder.data()
    target, exclude = (data.test, (data.train, data.valid)) if args.split == "test" else (data.valid, (data.train,))
    metrics = evaluate_ranking(model, target, exclude=exclude, ks=tuple(args.k), metrics=tuple(args.metrics))
    print(f"{label} on the {args.split} split of {data.name} ({metrics['n_users']} users, all {data.n_items} items "
          "ranked):")
    print_metrics({k: v for k, v in metrics.items() if k != "n_users"})
    return 0
