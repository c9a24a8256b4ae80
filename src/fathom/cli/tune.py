"""fathom tune: hyper-parameter search on the validation split, writing the best config file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fathom.benchmarks import configs_dir
from fathom.cli._common import add_data_arguments, dataset_from_args, print_metrics
from fathom.data.prepare import prepare
from fathom.evaluate.tuning import SearchSpace, TuneResult, default_space, load_space, tune
from fathom.models.registry import model_names
from fathom.runs import PRESETS, describe_preset, parse_settings, preset_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=model_names(), help="model to tune")
    parser.add_argument("--data", help="built-in data set or events file (default movielens-100k)")
    add_data_arguments(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="cleaning and split settings")
    parser.add_argument("--space", help="search space file (JSON/TOML); default: the model's built-in space")
    parser.add_argument("--show-space", action="store_true",
                        help="print the search space (the built-in one, or --space's) as JSON and exit; save it "
                             "to a file, edit it and pass it back with --space")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a fixed setting for every trial (repeatable)")
    parser.add_argument("--trials", type=int, default=30, help="most trials (default 30)")
    parser.add_argument("--budget", type=float, default=600, help="time budget in seconds (default 600)")
    parser.add_argument("--protocol", choices=("ml1m-context", "ml1m-seq"),
                        help="tune on a benchmark protocol's validation part instead of --data, writing the file "
                             "that benchmark replays: ml1m-context (fm / deepfm on validation AUC; "
                             "benchmarks/configs/ml1m_context_<model>.json) or ml1m-seq (sasrec / gru4rec on "
                             "validation NDCG@10, trials starting from the committed config; "
                             "benchmarks/configs/ml1m_seq_<model>.json)")
    parser.add_argument("--metric", help="validation metric to maximise (default ndcg@10; auc with "
                                         "--protocol ml1m-context)")
    parser.add_argument("--quick", action="store_true",
                        help="with --protocol: a smoke run on a sample of the users with few epochs "
                             "(checks a search space; not a config to commit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="best config file (default: runs/tune/<data>-<model>.json)")


def run(args: argparse.Namespace) -> int:
    try:
        space = load_space(args.space) if args.space else default_space(args.model)
    except KeyError as exc:
        raise SystemExit(exc.args[0]) from None
    if args.show_space:
        print(json.dumps({name: dist.model_dump(exclude_none=True) for name, dist in space.items()}, indent=2))
        return 0
    if args.quick and args.protocol is None:
        raise SystemExit("--quick samples a benchmark protocol's data; give --protocol ml1m-context or ml1m-seq")
    if args.protocol is not None:
        result = _tune_protocol(args, space)
        out = Path(args.out or Path("runs/tune") / f"{args.protocol}-{args.model}.json")
        if args.protocol == "ml1m-seq":
            from fathom.benchmarks.sequential import write_seq_config

            out = write_seq_config(result, out)
        else:
            out = result.write(out)
    else:
        args.data = args.data or "movielens-100k"
        dataset = dataset_from_args(args.data, args)
        prepared = prepare(dataset, preset_for(args.data, args.preset))
        print(describe_preset(args.data, args.preset, dataset, prepared))
        print(f"tuning {args.model} on {prepared.name}: {len(space)} settings, up to {args.trials} trials / "
              f"{args.budget:.0f} s, validation split only")
        result = tune(args.model, prepared.train, prepared.valid, space, parse_settings(args.set), args.trials,
                      args.budget, args.metric or "ndcg@10", args.seed)
        out = result.write(args.out or Path("runs/tune") / f"{Path(args.data).stem}-{args.model}.json")
    print(f"best validation {result.metric} {result.best_value:.4f} after {len(result.trials)} trials:")
    print_metrics({k: f"{v:.4g}" if isinstance(v, float) else v for k, v in result.best_settings.items()})
    if args.protocol == "ml1m-context":
        print(f"config written to {out} (the benchmark replays it from <configs>/ml1m_context_{args.model}.json: "
              f"python benchmarks/context.py --only context --configs <configs>)")
    elif args.protocol == "ml1m-seq":
        print(f"config written to {out} (the benchmark replays it from <configs>/ml1m_seq_{args.model}.json: "
              f"python benchmarks/seq.py --only {_seq_label(args.model)} "
              f"--configs <configs>)")
    else:
        print(f"config written to {out} (replay: fathom train {args.model} --config {out})")
    return 0


def _seq_label(model: str) -> str:
    from fathom.benchmarks.sequential import SEQ_LABELS

    return SEQ_LABELS.get(model, model)


def _tune_protocol(args: argparse.Namespace, space: SearchSpace) -> TuneResult:
    given = [f"--{name.replace('_', '-')}" for name in ("data", "catalog", "users", "map", "default", "catalog_map",
                                                        "users_map", "preset") if getattr(args, name)]
    if given:  # the protocol fixes its data, cleaning and split
        raise SystemExit(f"--protocol {args.protocol} brings its own data and split; drop {', '.join(given)}")
    if args.protocol == "ml1m-seq":
        from fathom.benchmarks.sequential import SEQ_LABELS, tune_seq

        if args.model not in SEQ_LABELS:
            raise SystemExit(f"--protocol {args.protocol} tunes {' or '.join(SEQ_LABELS)}, not {args.model}")
        metric = args.metric or "ndcg@10"
        if metric.split("@")[0] not in ("ndcg", "recall", "mrr", "hit", "precision") or "@" not in metric:
            raise SystemExit(f"--protocol {args.protocol} maximises a ranking metric such as ndcg@10, not {metric}")
        print(f"tuning {args.model} on {args.protocol}: {len(space)} settings, up to {args.trials} trials / "
              f"{args.budget:.0f} s, validation {metric} only (each trial is a whole training run)")
        return tune_seq(args.model, space, parse_settings(args.set), args.trials, args.budget, args.seed,
                        quick=args.quick, metric=metric, configs=configs_dir())
    from fathom.benchmarks.context import CONTEXT_MODELS, tune_context

    if args.model not in CONTEXT_MODELS:
        raise SystemExit(f"--protocol {args.protocol} tunes {' or '.join(CONTEXT_MODELS)}, not {args.model}")
    if args.metric not in (None, "auc"):
        raise SystemExit(f"--protocol {args.protocol} maximises validation auc, not {args.metric}")
    print(f"tuning {args.model} on {args.protocol}: {len(space)} settings, up to {args.trials} trials / "
          f"{args.budget:.0f} s, validation AUC only")
    return tune_context(args.model, space, parse_settings(args.set), args.trials, args.budget, args.seed,
                        quick=args.quick)
