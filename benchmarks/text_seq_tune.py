"""SASRec against TextSeqRec (text / id+text / id) on Amazon Scientific: a small validation grid, then the cold-item
protocol. Prints a Markdown table (committed as benchmarks/results/text-rec/seq_tuning.md).

Protocol: leave-one-out by position (:func:`fathom.benchmarks.text_data.loo_split`), full ranking over every item,
nothing excluded; validation NDCG@10 drives early stopping and the choice within each model's grid; the test item
is ranked from the train + validation history (:func:`fathom.benchmarks.sequential.for_test`). Cold items
(:func:`~fathom.benchmarks.text_data.cold_item_split`, 20% of the items, seed 0): the chosen configs are trained
on the split's train / valid and NDCG@10 is reported on the test cases whose item is cold and on the others.

    python benchmarks/text_seq_tune.py                     # the whole grid and the cold protocol
    python benchmarks/text_seq_tune.py --only sasrec/a     # chosen rows (labels as in the table)
    python benchmarks/text_seq_tune.py --chosen            # only the committed configs, grid skipped
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fathom.benchmarks.sequential import for_test
from fathom.benchmarks.text_data import cold_item_split, load_text_data, loo_split
from fathom.metrics.evaluator import Evaluator
from fathom.models.registry import get_model_class
from fathom.text.encoders import get_encoder
from fathom.text.item_text import encode_items

CONFIGS = Path(__file__).parent / "configs" / "text"
DATA = "amazon_scientific"
# Common to every run: short histories (about 7 items a user), so 20 items of context; early stopping.
BASE: dict[str, Any] = {"max_len": 20, "epochs": 60, "patience": 6, "progress": False}

#: label -> (registry name, config overrides); each model's grid, in the order run
S64 = {"factors": 64, "dropout": 0.3, "lr": 2e-3, "batch_size": 256}
GRID: dict[str, tuple[str, dict[str, Any]]] = {
    "sasrec/a": ("sasrec", S64),
    "sasrec/b": ("sasrec", {**S64, "dropout": 0.5}),
    "text/a": ("textsasrec", S64),
    "text/t07": ("textsasrec", {**S64, "temperature": 0.07}),
    "idtext/t07": ("textsasrec", {**S64, "item_repr": "id+text", "temperature": 0.07}),
    "idtext/b": ("textsasrec", {**S64, "item_repr": "id+text", "temperature": 0.07, "dropout": 0.5, "lr": 3e-3}),
    "id/a": ("textsasrec", {**S64, "item_repr": "id"}),
    "text/b": ("textsasrec", {**S64, "temperature": 0.07, "text_dropout": 0.4, "n_experts": 4, "lr": 3e-3}),
}
#: the committed configs (each model's best grid row on validation NDCG@10): label -> file in benchmarks/configs/text
CHOSEN = {"sasrec": "amazon_scientific_sasrec.json",
          "textsasrec/text": "amazon_scientific_textsasrec_text.json",
          "textsasrec/id+text": "amazon_scientific_textsasrec_idtext.json",
          "textsasrec/id": "amazon_scientific_textsasrec_id.json"}


def text_vectors(data) -> np.ndarray:
    return encode_items(data.texts(), get_encoder("minilm"), progress=False).vectors  # (n_items, 384)


def fit(name: str, config: dict[str, Any], train, valid, vectors: np.ndarray):
    cls = get_model_class(name)
    model = cls(cls.Config.from_dict(config))
    kwargs = {"item_vectors": vectors} if cls.reads_item_text else {}
    start = time.perf_counter()
    model.fit(train, valid, **kwargs)
    seconds = time.perf_counter() - start
    return model, seconds / max(len(model.meta["history"]), 1)


def log(row: dict[str, Any], path: str | None) -> None:
    print(json.dumps(row), flush=True)
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def run(label: str, name: str, config: dict[str, Any], split, vectors: np.ndarray,
        log_path: str | None = None) -> dict[str, Any]:
    model, per_epoch = fit(name, config, split.train, split.valid, vectors)
    ev = lambda part: Evaluator(part, exclude=(), ks=(10,), metrics=("ndcg", "recall"))  # noqa: E731
    valid, test = ev(split.valid)(model), ev(split.test)(for_test(model, split.valid))
    row = {"label": label, "model": name, "config": config, "valid_ndcg": valid["ndcg@10"],
           "valid_recall": valid["recall@10"], "test_ndcg": test["ndcg@10"], "test_recall": test["recall@10"],
           "best_epoch": model.meta["best_epoch"], "epochs": len(model.meta["history"]), "s_per_epoch": per_epoch}
    log(row, log_path)
    return row


def cold_run(label: str, name: str, config: dict[str, Any], cold, vectors: np.ndarray,
             log_path: str | None = None) -> dict[str, Any]:
    model, _ = fit(name, config, cold.train, cold.valid, vectors)
    scorer = for_test(model, cold.valid)
    ev = lambda part: Evaluator(part, exclude=(), ks=(10,), metrics=("ndcg",))(scorer)["ndcg@10"]  # noqa: E731
    row = {"label": label, "cold_ndcg": ev(cold.cold_test), "warm_ndcg": ev(cold.warm_test),
           "all_ndcg": ev(cold.test), "n_cold": len(cold.cold_test), "n_warm": len(cold.warm_test)}
    log(row, log_path)
    return row


def changed(config: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items() if k not in BASE)


def table(rows: list[dict[str, Any]], cold_rows: list[dict[str, Any]]) -> str:
    out = ["| run | settings (beyond max_len 20, patience 6) | valid NDCG@10 | valid R@10 | test NDCG@10 | "
           "test R@10 | best / run epochs | s / epoch |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['label']} | {changed(r['config'])} | {r['valid_ndcg']:.4f} | {r['valid_recall']:.4f} | "
                   f"{r['test_ndcg']:.4f} | {r['test_recall']:.4f} | {r['best_epoch']} / {r['epochs']} | "
                   f"{r['s_per_epoch']:.1f} |")
    if cold_rows:
        out += ["", "| cold-item protocol (20% of items, seed 0) | NDCG@10 cold test | NDCG@10 warm test | "
                "NDCG@10 all |", "|---|---|---|---|"]
        for r in cold_rows:
            out.append(f"| {r['label']} | {r['cold_ndcg']:.4f} ({r['n_cold']} users) | "
                       f"{r['warm_ndcg']:.4f} ({r['n_warm']} users) | {r['all_ndcg']:.4f} |")
    return "\n".join(out)


def chosen_configs() -> dict[str, tuple[str, dict[str, Any]]]:
    out = {}
    for label, file in CHOSEN.items():
        if not (CONFIGS / file).is_file():
            continue
        spec = json.loads((CONFIGS / file).read_text())
        out[label] = (spec["model"], spec["config"])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="grid labels to run")
    parser.add_argument("--chosen", action="store_true", help="run the committed configs instead of the grid")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-item protocol")
    parser.add_argument("--cold", nargs="*", default=["sasrec", "textsasrec/text", "textsasrec/id+text"],
                        help="committed configs (labels) run on the cold-item protocol")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--log", help="append every row (JSON) to this file")
    parser.add_argument("--report", nargs="*", help="print the table of these row logs and stop")
    args = parser.parse_args(argv)
    if args.report is not None:
        rows = [json.loads(line) for p in args.report for line in Path(p).read_text().splitlines() if line]
        print(table([r for r in rows if "test_ndcg" in r], [r for r in rows if "cold_ndcg" in r]))
        return
    torch.set_num_threads(args.threads)
    data = load_text_data(DATA)
    vectors = text_vectors(data)
    split = loo_split(data.inter)
    runs = chosen_configs() if args.chosen else {k: (m, {**BASE, **c}) for k, (m, c) in GRID.items()}
    runs = {k: v for k, v in runs.items() if not args.only or k in args.only}
    rows = [run(label, name, config, split, vectors, args.log) for label, (name, config) in runs.items()]
    cold_rows = []
    if not args.no_cold:
        cold = cold_item_split(data.inter, share=0.2, seed=0)
        best = chosen_configs()
        for label in args.cold:
            name, config = best[label]
            cold_rows.append(cold_run(label, name, config, cold, vectors, args.log))
    print(table(rows, cold_rows))


if __name__ == "__main__":
    main()
