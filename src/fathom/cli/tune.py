"""fathom tune: hyper-parameter search on the validation split, writing the best config file."""

from __future__ import annotations

import argparse
from pathlib import Path

from fathom.cli._common import add_data_arguments, dataset_from_args, print_metrics
from fathom.data.prepare import prepare
from fathom.evaluate.tuning import default_space, load_space, tune
from fathom.models.registry import model_names
from fathom.runs import PRESETS, parse_settings, preset_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=model_names(), help="model to tune")
    parser.add_argument("--data", default="movielens-100k", help="built-in data set or events file")
    add_data_arguments(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="cleaning and split settings")
    parser.add_argument("--space", help="search space file (JSON/TOML); default: the model's built-in space")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a fixed setting for every trial (repeatable)")
    parser.add_argument("--trials", type=int, default=30, help="most trials (default 30)")
    parser.add_argument("--budget", type=float, default=600, help="time budget in seconds (default 600)")
    parser.add_argument("--metric", default="ndcg@10", help="validation metric to maximise (default ndcg@10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="best config file (default: runs/tune/<data>-<model>.json)")


def run(args: argparse.Namespace) -> int:
    space = load_space(args.space) if args.space else default_space(args.model)
    prepared = prepare(dataset_from_args(args.data, args), preset_for(args.data, args.preset))
    print(f"tuning {args.model} on {prepared.name}: {len(space)} settings, up to {args.trials} trials / "
          f"{args.budget:.0f} s, validation split only")
    result = tune(args.model, prepared.train, prepared.valid, space, parse_settings(args.set), args.trials,
                  args.budget, args.metric, args.seed)
    out = result.write(args.out or Path("runs/tune") / f"{Path(args.data).stem}-{args.model}.json")
    print(f"best validation {result.metric} {result.best_value:.4f} after {len(result.trials)} trials:")
    print_metrics({k: v for k, v in result.best_settings.items()})
    print(f"config written to {out} (replay: fathom train {args.model} --config {out})")
    return 0
