"""fathom benchmark: run a named benchmark protocol and print its comparison table.

``ml1m-general`` (Pop ... ADMM-SLIM, NDCG@10), ``ml1m-seq`` (SASRec, GRU4Rec) and ``ml1m-context`` (FM / DeepFM,
the multi-task comparison and the imbalance experiment) reproduce RecBole's MovieLens-1M protocols;
``ml1m-speed`` times the pairwise models, Mult-VAE and EASE at RecBole's own training settings. Each writes its
tables into ``--out``. ``benchmarks/`` has the same commands as scripts writing into ``benchmarks/results``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.evaluate.protocols import protocol_names, run_protocol

OTHER = ("ml1m-seq", "ml1m-context", "ml1m-speed")
CONFIGS = Path(__file__).resolve().parents[3] / "benchmarks" / "configs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=[*protocol_names(), *OTHER], help="benchmark to run")
    parser.add_argument("--out", default="runs/benchmarks", help="tables, JSON and pictures go into OUT/PROTOCOL "
                        "(default runs/benchmarks)")
    parser.add_argument("--only", nargs="+", metavar="LABEL",
                        help="run only these models (labels as in the table; for ml1m-context: context, "
                             "multitask or imbalance)")
    parser.add_argument("--no-spread", action="store_true", help="skip re-running cheap models on other splits")
    parser.add_argument("--quick", action="store_true", help="ml1m-seq / ml1m-context: a small fast smoke run")
    parser.add_argument("--timestamps", choices=["float32", "exact"], default="float32",
                        help="ml1m-seq: float32 is RecBole's own split (default); exact orders by exact time")
    parser.add_argument("--configs", default=str(CONFIGS),
                        help="ml1m-seq / ml1m-context: folder of the tuned model configs (default benchmarks/configs)")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) / args.protocol
    if args.protocol == "ml1m-seq":
        from fathom.evaluate.sequential import main

        if args.timestamps == "exact":
            out = out.with_name("ml1m-seq-exact-time")
        main(["--out", str(out), "--configs", args.configs, "--timestamps", args.timestamps,
              *(["--quick"] if args.quick else []), *(["--only", *args.only] if args.only else [])])
    elif args.protocol == "ml1m-context":
        from fathom.evaluate.context import main as context_main

        only = [a for part in args.only or [] for a in ("--only", part)]
        context_main(["--out", str(out), "--configs", args.configs, *(["--quick"] if args.quick else []), *only])
    elif args.protocol == "ml1m-speed":
        from fathom.evaluate.speed import main as speed_main

        speed_main(["--out", str(out), *(["--only", *args.only] if args.only else [])])
    else:
        run_protocol(args.protocol, out_dir=out, only=args.only, spread=not args.no_spread)
    return 0
