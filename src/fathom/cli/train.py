"""fathom train: prepare a data set, train one model, save both into a run folder."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from pathlib import Path

from fathom.cli._common import add_data_arguments, dataset_from_args, positive_int, print_metrics
from fathom.data.prepare import prepare
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.registry import get_model_class, model_names
from fathom.runs import PRESETS, RunFolder, describe_preset, item_text_arguments, parse_settings, preset_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", choices=model_names(), help="model to train")
    parser.add_argument("--data", default="movielens-100k", help="built-in data set or events file "
                        "(default: movielens-100k)")
    add_data_arguments(parser)
    parser.add_argument("--preset", choices=sorted(PRESETS), help="cleaning and split settings (default: "
                        "movielens-100k for it; else 'default': rating events below the middle of the file's rating "
                        "scale are left out (>= 3 kept on 1-5 and 0.5-5), other events kept; random 8:1:1 split)")
    parser.add_argument("--config", help="model settings as a JSON or TOML file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a model setting, e.g. --set factors=32 (repeatable)")
    parser.add_argument("--out", help="run folder (default: runs/<data>-<model>)")
    parser.add_argument("--text-fields", help="text-aware models: catalogue columns that make an item's text, in "
                        "order, e.g. title,brand,description (default: the usual text columns the catalogue has)")
    parser.add_argument("--encoder", choices=["minilm", "e5"], default="minilm", help="text-aware models: the "
                        "encoder of item text (e5 for Chinese or mixed catalogues; default minilm)")
    parser.add_argument("--nproc", type=positive_int, default=1, help="neural models: train data-parallel in this "
                        "many processes on this machine (torchrun, torch.distributed; default 1)")


def _launch(args: argparse.Namespace) -> int:
    """This command again in ``args.nproc`` processes on this machine, under torchrun (run in this process:
    ``torchrun --standalone --nproc-per-node N -m fathom.cli.main ...`` without ``--nproc``)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    argv, skip = [], False
    for arg in args.argv:
        if skip or arg == "--nproc" or arg.startswith("--nproc="):
            skip = arg == "--nproc"
            continue
        argv.append(arg)
    launch = ["--standalone", "--nnodes", "1", "--nproc-per-node", str(args.nproc), "-m", "fathom.cli.main", *argv]
    print(f"training in {args.nproc} processes: torchrun {' '.join(launch)}", flush=True)
    # torch's C++ log below errors is left out: each process would print DDP's note that every parameter took
    # part in the step (it looks for unused ones, for the models that have them)
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.nproc)))  # cores shared out
    try:
        torchrun(launch)
    except ChildFailedError as exc:
        failed = ", ".join(f"process {rank} exit code {f.exitcode}" for rank, f in sorted(exc.failures.items()))
        raise RuntimeError(f"distributed training failed ({failed}); its output is above") from None
    return 0


def launched() -> bool:
    """True in a process ``torchrun`` started as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def run(args: argparse.Namespace) -> int:
    cls = get_model_class(args.model)
    if args.nproc > 1 or launched():
        from fathom.models.distributed import init_from_env, shutdown
        from fathom.models.torch_base import TorchRecommender

        if not issubclass(cls, TorchRecommender):
            neural = ", ".join(n for n in model_names() if issubclass(get_model_class(n), TorchRecommender))
            raise SystemExit(f"--nproc: {args.model} is not trained by the shared training loop; the models that "
                             f"are: {neural}")
        if not launched():
            return _launch(args)
        rank, _ = init_from_env()
        try:
            if rank != 0:  # one process reports and saves; the others train their share quietly
                with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
                    _train(args, cls)
                return 0
            return _train(args, cls)
        finally:
            shutdown()
    return _train(args, cls)


def _train(args: argparse.Namespace, cls: type) -> int:
    config = cls.Config.from_file(args.config) if args.config else cls.Config()
    overrides = parse_settings(args.set)
    if overrides:
        config = config.replace(**overrides)
    out = RunFolder(args.out or Path("runs") / f"{Path(args.data).stem}-{args.model}")
    dataset = dataset_from_args(args.data, args)
    prepared = prepare(dataset, preset_for(args.data, args.preset))
    print(describe_preset(args.data, args.preset, dataset, prepared))
    print(f"data: {json.dumps({k: v for k, v in prepared.summary().items() if k != 'steps'})}")
    fields = [f.strip() for f in args.text_fields.split(",") if f.strip()] if args.text_fields else None
    text, text_meta = item_text_arguments(cls, prepared, fields, args.encoder)
    if text_meta:
        print(f"item text: {text_meta['template']['fields']} encoded by {args.encoder} "
              f"({text_meta['items_per_second']} items/s; {text_meta['empty']} items without text)")
    model = cls(config).fit(prepared.train, prepared.valid, **text)
    if text_meta:
        model.meta["item_text"] = text_meta
    if launched():
        from fathom.models.distributed import backend, world

        rank, size = world()
        model.meta["distributed"] = {"processes": size, "backend": backend()}
        if rank != 0:
            return 0
    valid = evaluate_ranking(model, prepared.valid, exclude=(prepared.train,), ks=(10,))
    out.save_data(prepared)
    folder = out.save_model(args.model, model, {"valid": valid})
    print(f"validation (full ranking, {valid['n_users']} users):")
    print_metrics({k: v for k, v in valid.items() if k != "n_users"})
    print(f"saved to {folder}")
    return 0
