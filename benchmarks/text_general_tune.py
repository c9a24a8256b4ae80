"""General (non-sequential) recommenders with item text: Pop, TextMean, EASE, TextEASE and TwoTower compared.

    python benchmarks/text_general_tune.py                              # amazon_scientific and ml100k_imdb
    python benchmarks/text_general_tune.py --datasets amazon_scientific
    python benchmarks/text_general_tune.py --quick                      # one setting per model (a smoke run)

Protocol (:mod:`fathom.benchmarks.text_data`): leave-one-out by time, every model fitted once on train; the
validation item is ranked from the train history and the test item from train + validation, both through
``score_history`` (:class:`HistoryScorer`, no refit); full ranking over every item, nothing excluded; NDCG@10 and
Recall@10. Each model's settings are chosen on validation NDCG@10 only.

Cold items: :func:`cold_item_split` (20% of the items out of train and valid, seed 0), the chosen settings fitted
on its train, NDCG@10 on the test cases whose item is cold and on those whose item is warm. TextEASE's
``cold_weight`` (how much a never-seen item's text counts) is chosen on a nested cold split of that train +
valid (another 20% of items held out, seed 1, its validation cases as test), on the mixed NDCG@10 of all its
cases; nothing of the real test is read.

Writes ``benchmarks/results/text-rec/general_tuning.md`` (``--out``) and the chosen configs as
``benchmarks/configs/text/<dataset>_<model>.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fathom.benchmarks.text_data import HistoryScorer, cold_item_split, load_text_data, loo_split
from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import Evaluator
from fathom.models.registry import get_model_class

HERE = Path(__file__).parent
DATASETS = ("amazon_scientific", "ml100k_imdb")
TORCH = {"progress": False}
GRIDS: dict[str, list[dict[str, Any]]] = {
    "pop": [{}],
    "textmean": [{}, {"half_life": 3.0}],
    "ease": [{"reg": r} for r in (100.0, 200.0, 400.0, 800.0)],
    # reg is EASE's chosen value (filled in at run time); the text part's two settings are a grid
    "textease": [{"text_reg": r, "text_weight": w} for r in (1e-5, 1e-4) for w in (1.0, 2.0)],
    "twotower": [{**TORCH, **g} for g in (
        {}, {"temperature": 0.05}, {"id_embeddings": False})],
}
COLD_WEIGHTS = (1.0, 1.5, 2.0, 3.0)  # multiples of the chosen text_weight


def evaluate(model: Any, test: Interactions, *history: Interactions) -> dict[str, float]:
    """NDCG@10 and Recall@10 of ``test`` ranked from ``history`` (full ranking, nothing excluded)."""
    result = Evaluator(test, exclude=(), ks=(10,), metrics=("ndcg", "recall"))(HistoryScorer(model, *history))
    return {"ndcg": float(result["ndcg@10"]), "recall": float(result["recall@10"])}


def fit(name: str, settings: dict[str, Any], train: Interactions, valid: Interactions,
        vectors: np.ndarray) -> tuple[Any, float]:
    cls = get_model_class(name)
    extra = {"item_vectors": vectors} if cls.reads_item_text else {}
    start = time.perf_counter()
    model = cls(**settings).fit(train, valid, **extra)
    return model, time.perf_counter() - start


def concat(a: Interactions, b: Interactions) -> Interactions:
    """The interactions of ``a`` and ``b`` together (same users and items)."""
    return Interactions.from_arrays(np.concatenate([a.user, b.user]), np.concatenate([a.item, b.item]),
                                    a.n_users, a.n_items, value=np.concatenate([a.value, b.value]),
                                    timestamp=np.concatenate([a.timestamp, b.timestamp]))


def tune(name: str, grid: list[dict[str, Any]], split: Any, vectors: np.ndarray, log: list[str]) -> dict[str, Any]:
    """Every setting of ``grid`` fitted on train and scored on validation; the best (by NDCG@10) with its test."""
    best: dict[str, Any] | None = None
    for settings in grid:
        model, seconds = fit(name, settings, split.train, split.valid, vectors)
        val = evaluate(model, split.valid, split.train)
        shown = {k: v for k, v in settings.items() if k not in TORCH}
        log.append(f"| {name} | `{json.dumps(shown)}` | {val['ndcg']:.4f} | {val['recall']:.4f} | {seconds:.1f} |")
        print(log[-1], flush=True)
        if best is None or val["ndcg"] > best["val"]["ndcg"]:
            best = {"settings": settings, "val": val, "seconds": seconds, "model": model}
    assert best is not None
    best["test"] = evaluate(best.pop("model"), split.test, split.train, split.valid)
    return best


def choose_cold_weight(settings: dict[str, Any], cold: Any, vectors: np.ndarray, log: list[str]) -> float:
    """TextEASE's cold_weight on a nested cold split of the cold protocol's train + valid (module docstring)."""
    nested = cold_item_split(concat(cold.train, cold.valid), seed=1)
    best_weight, best_score = 1.0, -1.0
    for factor in COLD_WEIGHTS:
        weight = factor * settings["text_weight"]
        model, _ = fit("textease", {**settings, "cold_weight": weight}, nested.train, nested.valid, vectors)
        scores = {part: evaluate(model, getattr(nested, part), nested.train, nested.valid)["ndcg"]
                  for part in ("test", "cold_test", "warm_test")}
        log.append(f"| {weight:g} | {scores['test']:.4f} | {scores['cold_test']:.4f} | {scores['warm_test']:.4f} |")
        print(log[-1], flush=True)
        if scores["test"] > best_score:
            best_weight, best_score = weight, scores["test"]
    return best_weight


def run_dataset(name: str, quick: bool, configs: Path) -> list[str]:
    from fathom.text.encoders import get_encoder
    from fathom.text.item_text import encode_items

    data = load_text_data(name)
    vectors = encode_items(data.texts(), get_encoder("minilm"), progress=False).vectors  # (n, 384)
    split, cold = loo_split(data.inter), cold_item_split(data.inter, seed=0)
    grid_log = ["| model | settings | val NDCG@10 | val Recall@10 | fit s |", "|---|---|---|---|---|"]
    cold_log = ["| cold_weight | nested mixed NDCG@10 | nested cold | nested warm |", "|---|---|---|---|"]
    rows = []
    chosen: dict[str, dict[str, Any]] = {}
    for model_name in ("pop", "textmean", "ease", "textease", "twotower"):
        grid = GRIDS[model_name][:1] if quick else GRIDS[model_name]
        if model_name == "textease":
            grid = [{"reg": chosen["ease"]["reg"], **g} for g in grid]
        best = tune(model_name, grid, split, vectors, grid_log)
        settings = dict(best["settings"])
        if model_name == "textease":
            settings["cold_weight"] = choose_cold_weight(settings, cold, vectors, cold_log)
        chosen[model_name] = settings
        model, _ = fit(model_name, settings, cold.train, cold.valid, vectors)
        c = evaluate(model, cold.cold_test, cold.train, cold.valid)["ndcg"]
        w = evaluate(model, cold.warm_test, cold.train, cold.valid)["ndcg"]
        rows.append(f"| {model_name} | {best['val']['ndcg']:.4f} | {best['val']['recall']:.4f} | "
                    f"{best['test']['ndcg']:.4f} | {best['test']['recall']:.4f} | {c:.4f} | {w:.4f} | "
                    f"{c / w if w else 0:.2f} | {best['seconds']:.1f} |")
        print(rows[-1], flush=True)
        if model_name in ("ease", "textease", "twotower") and not quick:
            cls = get_model_class(model_name)
            configs.mkdir(parents=True, exist_ok=True)
            (configs / f"{name}_{model_name}.json").write_text(cls.Config(**settings).to_json() + "\n")
    head = ["| model | val NDCG@10 | val Recall@10 | test NDCG@10 | test Recall@10 | cold NDCG@10 | warm NDCG@10 | "
            "cold / warm | fit s |", "|---|---|---|---|---|---|---|---|---|"]
    n_cold = len(cold.cold_test)
    return [f"## {name}", "",
            f"{data.inter.n_users} users, {data.inter.n_items} items, {len(data.inter)} interactions; cold protocol: "
            f"{len(cold.cold_items)} cold items, {n_cold} cold and {len(cold.warm_test)} warm test cases.", "",
            *head, *rows, "", "### Validation grid (fitted on train; validation ranked from the train history)", "",
            *grid_log, "", "### TextEASE cold_weight on the nested cold split (validation cases only)", "",
            *cold_log, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "text-rec" / "general_tuning.md")
    parser.add_argument("--configs", type=Path, default=HERE / "configs" / "text")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    lines = ["# General recommenders with item text: validation choice, test, cold and warm items", "",
             "Generated by `python benchmarks/text_general_tune.py` (the protocol is in its docstring). Item text: "
             "all-MiniLM-L6-v2 vectors (384-d) of each catalogue's template. val: validation item ranked from the "
             "train history; test: test item ranked from train + validation; cold / warm: the cold-item protocol's "
             "test cases. Fit seconds: one fit on train, one torch thread, a shared 2-core x86_64 machine.", ""]
    for name in args.datasets:
        lines += run_dataset(name, args.quick, args.configs)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
