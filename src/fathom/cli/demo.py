"""fathom demo: the main job (prepare MovieLens-100K, train every model, leaderboard, example recommendations),
then, with ``--serve``, the real-time service with its web page on the same data. A run folder that already holds
the main job's models is reused unless ``--retrain``."""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.quickstart import run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="run folder for data, models and leaderboard "
                        "(default: runs/demo); when it already holds the main job's trained models they are reused")
    parser.add_argument("--retrain", action="store_true", help="train every model again even when --out holds them")
    parser.add_argument("--serve", action="store_true",
                        help="afterwards start `fathom serve` (MovieLens-100K, EASE, hybrid BM25 + MiniLM search, "
                             "online learning every minute) and keep serving the web page until Ctrl-C")
    parser.add_argument("--port", type=int, default=8000, help="port of the service with --serve (default 8000)")
    parser.add_argument("--data-dir", help="store folder of the service with --serve (default: service/ in the run "
                        "folder, runs/demo/service; kept between runs)")


def run(args: argparse.Namespace) -> int:
    run_demo(args.out, retrain=args.retrain)
    if not args.serve:
        return 0
    from fathom.cli import serve

    print("\nstarting the service (its first start prepares the store, the default model and the search index)",
          flush=True)
    return serve.run(argparse.Namespace(
        host="127.0.0.1", port=args.port, workers=1, data_dir=args.data_dir or str(Path(args.out) / "service"),
        api_key=None, encoder="minilm-int8",
        model="ease", log_level="warning", learn_every=60.0,
    ))
