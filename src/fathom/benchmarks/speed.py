"""Like-for-like speed against RecBole on the ml-1m general split: the same work per epoch, timed alone.

See ``INTRO`` (written above the table) for what is timed and why.

    python benchmarks/speed.py               # writes benchmarks/results/ml1m-speed/speed.{md,json}
    python benchmarks/speed.py --epochs 8 --only BPR NeuMF
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fathom.benchmarks.protocols import get_protocol
from fathom.data.interactions import Interactions
from fathom.evaluate.experiment import PeakMemory
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.registry import get_model_class

INTRO = (
    "The leaderboard (`benchmarks/results/ml1m-general`) reports seconds per epoch of each model's *chosen* "
    "settings, which may do more work per epoch than RecBole's timing runs (BPR's chosen setting samples four "
    "negatives per positive, LightGCN's takes 16,384 pairs per step). Here every pairwise model trains with "
    "RecBole's default training setup instead: 2,048 positive pairs per batch, one uniformly sampled negative each, "
    "embedding size 64 (NeuMF also with RecBole's default tower, 128 and 64 units with dropout 0.1), so one epoch is "
    "the same amount of work in both libraries. Mult-VAE trains as RecBole's user data loader feeds it, every user's "
    "row once per epoch in batches of 2,048 users, with RecBole's default network (one hidden layer of 600, latent "
    "size 128, input dropout 0.5). Each model trains for `epochs` epochs without validation; the first "
    "epoch is a warm-up and the median of the others is reported. One full-ranking evaluation (the test users, "
    "training and validation items excluded) and EASE's fit (RecBole's default L2 of 250) are timed the same way."
)
RECBOLE_PAIRS = {"batch_size": 2048, "progress": False}


@dataclass(frozen=True)
class SpeedSpec:
    label: str
    model: str
    settings: dict[str, Any]
    recbole: dict[str, float] = field(default_factory=dict)  # RecBole 1.2.1 on this CPU: "s/epoch", "fit s", "eval s"


def _recbole_timings(label: str) -> dict[str, float]:
    """RecBole's timings for ``label`` as the ml1m-general protocol publishes them ("RecBole s/epoch" -> "s/epoch")."""
    published = get_protocol("ml1m-general").published.get(label, {})
    return {key: published[f"RecBole {key}"] for key in ("s/epoch", "fit s", "eval s") if f"RecBole {key}" in published}


SPEED_SPECS = [
    SpeedSpec(label, model, settings, _recbole_timings(label))
    for label, model, settings in (
        ("BPR", "bpr", {**RECBOLE_PAIRS, "n_neg": 1}),
        ("NeuMF", "neumf", {**RECBOLE_PAIRS, "neg_ratio": 1, "layers": (128, 64), "dropout": 0.1}),
        ("LightGCN", "lightgcn", {**RECBOLE_PAIRS, "n_neg": 1, "layers": 2}),
        ("MultVAE", "multvae", {**RECBOLE_PAIRS, "hidden": (600,), "latent": 128, "dropout": 0.5}),
        ("EASE", "ease", {"reg": 250.0}),
    )
]


def time_model(spec: SpeedSpec, train: Interactions, valid: Interactions, test: Interactions,
               epochs: int) -> dict[str, Any]:
    """One table row: the median seconds of epochs 2..``epochs`` (or the fit, for models without epochs), one
    full-ranking evaluation of ``test`` and the peak resident memory above the start."""
    cls = get_model_class(spec.model)
    settings = dict(spec.settings)
    if "batch_size" in settings:  # a model trained by epochs
        settings["epochs"] = epochs
    with PeakMemory() as mem:
        start = time.perf_counter()
        model = cls(**settings).fit(train)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        evaluate_ranking(model, test, exclude=(train, valid), ks=(10,), metrics=("ndcg",))
        eval_seconds = time.perf_counter() - start
    seconds = [h["seconds"] for h in model.meta.get("history", []) if "seconds" in h]
    per_epoch = float(np.median(seconds[1:] if len(seconds) > 1 else seconds)) if seconds else None
    row: dict[str, Any] = {"model": spec.label, "settings": _describe(spec.settings)}
    row["epochs timed"] = max(len(seconds) - 1, 1) if seconds else None
    row["s/epoch"] = None if per_epoch is None else round(per_epoch, 2)
    row["RecBole s/epoch"] = spec.recbole.get("s/epoch")
    row["fit s"] = None if seconds else round(fit_seconds, 2)
    row["RecBole fit s"] = spec.recbole.get("fit s")
    row["eval s"] = round(eval_seconds, 2)
    row["RecBole eval s"] = spec.recbole.get("eval s")
    ours = {"s/epoch": row["s/epoch"], "fit s": row["fit s"], "eval s": row["eval s"]}
    ratios = [f"{key} x{spec.recbole[key] / ours[key]:.1f}" for key in ("s/epoch", "fit s", "eval s")
              if key in spec.recbole and ours[key]]
    row["RecBole time / ours"] = ", ".join(ratios) or None
    row["peak MB"] = round(mem.peak_mb)
    return row


def _describe(settings: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in settings.items() if k != "progress")


def time_models(
    specs: Sequence[SpeedSpec], train: Interactions, valid: Interactions, test: Interactions, epochs: int = 5,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    rows = []
    for spec in specs:
        log(f"timing {spec.label} ({_describe(spec.settings)})")
        rows.append(time_model(spec, train, valid, test, epochs))
        log(f"  {rows[-1]}")
    return rows


def write_speed_table(rows: Sequence[dict[str, Any]], out_dir: Path, meta: dict[str, Any]) -> dict[str, Path]:
    from fathom.evaluate.report import markdown_table

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "speed.json", "markdown": out_dir / "speed.md"}
    paths["json"].write_text(json.dumps({**meta, "rows": list(rows)}, indent=2))
    paths["markdown"].write_text(
        f"# MovieLens-1M general split: speed at RecBole's training settings\n\n{INTRO}\n\n{markdown_table(rows)}\n\n"
        f"RecBole figures: RecBole 1.2.1 measured on this same CPU. Run: {meta['epochs']} epochs per model, "
        f"{meta['seconds']:.0f} s in all on {meta['machine']}, Python {meta['python']}, torch threads "
        f"{meta['threads']}.\n"
    )
    return paths


def main(argv: Sequence[str] | None = None) -> dict[str, Path]:
    import torch

    from fathom.data.prepare import PrepareConfig, prepare
    from fathom.runs import load_dataset

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per model; the first is a warm-up (default 5)")
    parser.add_argument("--only", nargs="+", metavar="LABEL", help="time only these models")
    parser.add_argument("--out", required=True, help="folder for speed.md and speed.json")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is a warm-up)")
    specs = [s for s in SPEED_SPECS if not args.only or s.label in args.only]
    if not specs:
        parser.error(f"no model matches --only {args.only}; known: {', '.join(s.label for s in SPEED_SPECS)}")
    start = time.perf_counter()
    data = prepare(load_dataset("movielens-1m"), PrepareConfig.recbole_general())
    rows = time_models(specs, data.train, data.valid, data.test, args.epochs)
    meta = {"epochs": args.epochs, "seconds": time.perf_counter() - start, "machine": platform.machine(),
            "python": platform.python_version(), "threads": torch.get_num_threads()}
    paths = write_speed_table(rows, Path(args.out), meta)
    print(paths["markdown"].read_text())
    return paths
