"""fathom search-eval: evaluate search methods on a BEIR-format collection and print a table."""

from __future__ import annotations

import argparse
import sys

from fathom.cli._common import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from fathom.retrieval.evaluation import ALL_METHODS, RERANK_METHODS

    parser.add_argument("collection", help="collection folder, or a name under $FATHOM_SEARCH_DATA / ../shared/data")
    parser.add_argument("--methods", nargs="+", choices=ALL_METHODS + RERANK_METHODS,
                        help="default: bm25 dense-minilm hybrid-minilm, plus hybrid-minilm+rerank with --reranker")
    parser.add_argument("--split", choices=["auto", "all", "train", "test"], default="auto",
                        help="query split (auto: crowdflower's test half, all queries elsewhere)")
    parser.add_argument("--fusion", choices=["convex", "rrf"], default="convex")
    parser.add_argument("--bm25-weight", type=float, help="hybrid BM25 weight (dense gets 1 - w); default tuned or .5")
    parser.add_argument("--max-queries", type=int, help="evaluate only the first N queries")
    parser.add_argument("--reranker", metavar="DIR", help="a trained cross-encoder folder for the +rerank methods")
    parser.add_argument("--rerank-depth", type=positive_int, default=20, help="hybrid hits the cross-encoder reorders")
    parser.add_argument("--rerank-fused-weight", type=float, default=0.0,
                        help="0: order by the cross-encoder alone; w: mix w of the min-max hybrid score in")
    parser.add_argument("--rerank-mix", type=float,
                        help="also report the +rerank methods with this fused weight, from the same model scores")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")


def run(args: argparse.Namespace) -> int:
    import json

    from fathom.retrieval.evaluation import SearchEvalConfig, evaluate_collection, results_table
    from fathom.retrieval.hybrid import HybridConfig
    from fathom.retrieval.rerank import CrossEncoder, RerankConfig

    hybrid = HybridConfig(fusion=args.fusion)
    tune: bool | str = "auto"
    if args.bm25_weight is not None:
        hybrid = hybrid.replace(weights={"bm25": args.bm25_weight, "dense": 1.0 - args.bm25_weight})
        tune = False
    methods = args.methods or ["bm25", "dense-minilm", "hybrid-minilm"] + (
        ["hybrid-minilm+rerank"] if args.reranker else [])
    reranker = CrossEncoder.load(args.reranker) if args.reranker else None
    rerank = RerankConfig(depth=args.rerank_depth, fused_weight=args.rerank_fused_weight)
    config = SearchEvalConfig(hybrid=hybrid, split=args.split, tune_weights=tune, max_queries=args.max_queries,
                              rerank=rerank, rerank_mix=args.rerank_mix)
    results = evaluate_collection(
        args.collection, methods, config, progress=True, log=lambda m: print(m, file=sys.stderr), reranker=reranker
    )
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print(results_table(results))
    return 0
