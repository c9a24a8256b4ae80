"""fathom search-eval: evaluate search methods on a BEIR-format collection and print a table."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fathom.retrieval.evaluation import ALL_METHODS

    parser.add_argument("collection", help="collection folder, or a name under $FATHOM_SEARCH_DATA / ../shared/data")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS, default=["bm25", "dense-minilm", "hybrid-minilm"])
    parser.add_argument("--split", choices=["auto", "all", "train", "test"], default="auto",
                        help="query split (auto: crowdflower's test half, all queries elsewhere)")
    parser.add_argument("--fusion", choices=["convex", "rrf"], default="convex")
    parser.add_argument("--bm25-weight", type=float, help="hybrid BM25 weight (dense gets 1 - w); default tuned or .5")
    parser.add_argument("--max-queries", type=int, help="evaluate only the first N queries")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from fathom.retrieval.evaluation import SearchEvalConfig, evaluate_collection, results_table
    from fathom.retrieval.hybrid import HybridConfig

    hybrid = HybridConfig(fusion=args.fusion)
    tune: bool | str = "auto"
    if args.bm25_weight is not None:
        hybrid = hybrid.replace(weights={"bm25": args.bm25_weight, "dense": 1.0 - args.bm25_weight})
        tune = False
    config = SearchEvalConfig(hybrid=hybrid, split=args.split, tune_weights=tune, max_queries=args.max_queries)
    results = evaluate_collection(
        args.collection, args.methods, config, progress=True, log=lambda m: print(m, file=sys.stderr)
    )
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(results_table(results))
    return 0
