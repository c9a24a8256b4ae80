"""fathom demo: the main job (prepare MovieLens-100K, train every model, leaderboard, example recommendations)."""

from __future__ import annotations

import argparse

from fathom.quickstart import run_demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="runs/demo", help="run folder for data, models and leaderboard "
                        "(default: runs/demo)")


def run(args: argparse.Namespace) -> int:
    run_demo(args.out)
    return 0
