"""fathom benchmark: run a named benchmark protocol and print its comparison table.

``ml1m-general`` (Pop ... ADMM-SLIM, NDCG@10), ``ml1m-seq`` (SASRec, GRU4Rec) and ``ml1m-context`` (FM / DeepFM,
the multi-task comparison and the imbalance experiment) reproduce RecBole's MovieLens-1M protocols;
``ml1m-speed`` times the pairwise models, Mult-VAE and EASE at RecBole's own training settings. Each writes its
tables into ``--out``. ``benchmarks/`` has the same commands as scripts writing into ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.benchmarks import BENCHMARKS, BenchmarkOptions, configs_dir, run_benchmark


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=list(BENCHMARKS), help="benchmark to run")
    parser.add_argument("--out", default="runs/benchmarks", help="tables, JSON and pictures go into OUT/PROTOCOL "
                        "(default runs/benchmarks)")
    parser.add_argument("--only", nargs="+", metavar="LABEL",
                        help="run only these models (labels as in the table; for ml1m-context: context, "
                             "multitask or imbalance)")
    parser.add_argument("--no-spread", action="store_true", help="skip re-running cheap models on other splits")
    parser.add_argument("--quick", action="store_true", help="ml1m-seq / ml1m-context: a small fast smoke run")
    parser.add_argument("--timestamps", choices=["float32", "exact"], default="float32",
                        help="ml1m-seq: float32 is RecBole's own split (default); exact orders by exact time")
    parser.add_argument("--configs", default=None,
                        help="ml1m-seq / ml1m-context: folder of the tuned model configs (default "
                             "$FATHOM_BENCHMARK_CONFIGS or the checkout's benchmarks/configs)")


def run(args: argparse.Namespace) -> int:
    configs = Path(args.configs) if args.configs else configs_dir()
    options = BenchmarkOptions(only=args.only, quick=args.quick, spread=not args.no_spread,
                               timestamps=args.timestamps, configs=configs)
    run_benchmark(args.protocol, Path(args.out), options)
    return 0
