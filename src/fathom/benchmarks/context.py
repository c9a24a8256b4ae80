"""Context-aware protocols on MovieLens-1M: CTR prediction (FM / DeepFM), multi-task MMoE, imbalance handling.

1. :func:`context_protocol`, RecBole's "ml-1m context" setting: ratings of 3 dropped, 1-2 -> label 0 and 4-5 -> 1;
   RecBole's context-aware evaluation (``eval_args``: split RS [0.8, 0.1, 0.1], order RO, group_by None, mode
   labeled), i.e. *one global* shuffle of all rows, then the first 80% to train, the next 10% to valid and the rest
   to test (not per user); AUC and log loss on the test pairs; embedding size 16. Fields, as RecBole's context
   config loads them: user id, item id, user age, gender, occupation (not zip code), item genres (multi-hot, mean
   pooled) and release year (one value per year, as RecBole's token field). Settings are chosen on validation AUC
   only, and the winners written to ``<configs>/ml1m_context_<model>.json``.
2. :func:`multitask_protocol`: MMoE with the targets "will interact" and "will rate 4 or more" against the
   same architecture trained on each target alone, on all ML-1M ratings split 8:1:1 per user.
3. :func:`imbalance_protocol`: the effect of class weights, over- and under-sampling on a deliberately imbalanced
   version of task 1 (positives thinned to ~10% in every part), and of the negative ratio and sampling
   distribution on implicit data.

Each returns rows for a table; ``quick=True`` runs a small user sample with few epochs. Run them with
``python -m fathom.benchmarks.context [--quick] [--only context|multitask|imbalance] [--tune]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fathom.data.dataset import Dataset
from fathom.data.features import FeatureConfig, SideFeatures, features_from_prepared
from fathom.data.interactions import Interactions
from fathom.data.prepare import PrepareConfig, PreparedData, prepare
from fathom.data.records import EventTable
from fathom.data.splits import Shuffle, Split, cut_order, row_permutation
from fathom.evaluate.experiment import PeakMemory
from fathom.evaluate.report import markdown_table
from fathom.evaluate.tuning import SearchSpace, TuneResult, search
from fathom.metrics.pointwise import auc, log_loss
from fathom.models.deepfm import DeepFM
from fathom.models.fm import FM, FieldRecommender, sigmoid

Log = Callable[[str], None]

PUBLISHED_AUC = {"FM": 0.8935, "DeepFM": 0.8997, "DCNV2 (best non-sequential)": 0.9000}
PUBLISHED_SOURCE = "RecBole 1.2.1 leaderboard, ml-1m context-aware (AUC on test)"
CONTEXT_FEATURES = FeatureConfig(
    user_fields=("age", "gender", "occupation"), item_fields=("genres", "release_year"),
    bucket_width={"release_year": 1.0},
)
QUICK_USERS = 600


# -- data ---------------------------------------------------------------------------------------------------
def split_global_random(
    inter: Interactions, ratios: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 2020, shuffle: Shuffle = "numpy"
) -> Split:
    """One random order of all rows, cut by RecBole's ``split_by_ratio`` counts (``group_by=None``).

    ``shuffle="torch"`` orders the rows as RecBole 1.2.1 does (:func:`~fathom.data.splits.row_permutation`).
    """
    return cut_order(inter, row_permutation(len(inter), seed, shuffle), ratios)


def _ml1m(quick: bool, dataset: Dataset | None = None) -> Dataset:
    from fathom.data.sources import load_builtin

    ds = dataset if dataset is not None else load_builtin("movielens-1m")
    if quick:  # the first QUICK_USERS users by id order of appearance
        frame = ds.events.frame
        keep = frame["user_id"].isin(pd.unique(frame["user_id"])[:QUICK_USERS])
        ds = Dataset(ds.name, EventTable(frame[keep].reset_index(drop=True), ds.events.schema), ds.catalog, ds.users)
    return ds


@dataclass
class ContextData:
    """Three parts whose ``value`` is the 0/1 label, and the side features of their users and items."""

    train: Interactions
    valid: Interactions
    test: Interactions
    features: SideFeatures
    prepared: PreparedData

    def summary(self) -> dict[str, Any]:
        parts = {p: getattr(self, p) for p in ("train", "valid", "test")}
        return {
            "users": self.train.n_users, "items": self.train.n_items,
            **{p: len(x) for p, x in parts.items()},
            "positive share": round(float(np.mean(np.concatenate([x.value for x in parts.values()]))), 4),
            "fields": [f"{f.side}.{f.name}" for f in self.features.fields],
        }


def load_context_data(quick: bool = False, seed: int = 2020, dataset: Dataset | None = None) -> ContextData:
    """RecBole's ml-1m context data: rating 3 dropped, label = rating >= 4, global random 8:1:1 split with the rows
    shuffled as RecBole shuffles them (with seed 2020, RecBole 1.2.1's own split of these files). ``dataset``: the
    loaded built-in movielens-1m (default: load it)."""
    ds = _ml1m(quick, dataset)
    frame = ds.events.frame
    ds = Dataset(ds.name, EventTable(frame[frame["value"] != 3.0].reset_index(drop=True), ds.events.schema),
                 ds.catalog, ds.users)
    prepared = prepare(ds, PrepareConfig(dedupe="none", split="random", ratios=(1.0, 0.0), seed=seed))
    everything = prepared.all_interactions()
    labelled = Interactions(everything.user, everything.item, (everything.value >= 4.0).astype(np.float32),
                            everything.timestamp, everything.n_users, everything.n_items)
    parts = split_global_random(labelled, (0.8, 0.1, 0.1), seed, shuffle="torch")  # RecBole's own split
    features = features_from_prepared(prepared, CONTEXT_FEATURES)
    return ContextData(parts.train, parts.valid, parts.test, features, prepared)


# -- fitting and selecting ----------------------------------------------------------------------------------
def ctr_metrics(model: FieldRecommender, part: Interactions) -> dict[str, float]:
    """AUC and log loss of the model's probabilities against the 0/1 labels in ``part.value``."""
    logits = model.pair_logits(part.user, part.item)
    return {"auc": auc(part.value, logits), "log_loss": log_loss(part.value, sigmoid(logits))}


def seconds_per_epoch(model: FieldRecommender) -> float | None:
    secs = [h["seconds"] for h in model.meta.get("history", [])]
    return float(np.mean(secs)) if secs else None


def select_on_valid(
    model_name: str,
    grid: Sequence[dict[str, Any]],
    base: dict[str, Any],
    data: ContextData,
    log: Log = print,
) -> tuple[FieldRecommender, dict[str, Any], list[dict[str, Any]]]:
    """Fit ``base | settings`` for each settings of ``grid``; keep the best on validation AUC."""
    cls = CONTEXT_MODELS[model_name]
    best: tuple[float, FieldRecommender] | None = None
    tried = []
    for settings in grid:
        start = time.perf_counter()
        with PeakMemory() as mem:
            model = cls(**{**base, **settings}).fit(data.train, data.valid, features=data.features)
        model.meta["peak_memory_mb"] = mem.peak_mb
        valid = ctr_metrics(model, data.valid)
        tried.append({**settings, "valid auc": round(valid["auc"], 5), "epochs": len(model.meta["history"]),
                      "best epoch": model.meta["best_epoch"], "fit s": round(time.perf_counter() - start, 1)})
        log(f"  {model_name} {settings}: valid auc {valid['auc']:.4f} (best epoch {model.meta['best_epoch']}, "
            f"{time.perf_counter() - start:.0f}s)")
        if best is None or valid["auc"] > best[0]:
            best = (valid["auc"], model)
    assert best is not None
    return best[1], best[1].config.to_dict(), tried


CTR_BASE = {"monitor": "auc", "label_mode": "explicit", "embedding_dim": 16, "epochs": 50, "patience": 3,
            "progress": False}
CONTEXT_GRIDS: dict[str, list[dict[str, Any]]] = {
    "fm": [{"lr": 3e-3}, {"lr": 1e-3}],
    "deepfm": [{"lr": 2e-3, "dropout": 0.3}, {"lr": 3e-3, "dropout": 0.4}, {"lr": 1e-3, "dropout": 0.2}],
}
CONTEXT_LABELS = {"fm": "FM", "deepfm": "DeepFM"}
CONTEXT_MODELS: dict[str, type[FieldRecommender]] = {"fm": FM, "deepfm": DeepFM}


def _config_path(configs: Path | None, model_name: str) -> Path | None:
    return None if configs is None else Path(configs) / f"ml1m_context_{model_name}.json"


def context_protocol(
    quick: bool = False, tune: bool = False, configs: Path | None = None, log: Log = print
) -> list[dict[str, Any]]:
    """Protocol 1 (see the module docstring): one row per model with test AUC / log loss and timings.

    ``tune``: search ``CONTEXT_GRIDS`` on validation and (with ``configs``) write the winners there; otherwise
    each model uses its saved config from ``configs`` when present, else the first grid point.
    """
    data = load_context_data(quick)
    log(f"ml-1m context data: {data.summary()}")
    rows = []
    for name, label in CONTEXT_LABELS.items():
        path = _config_path(configs, name)
        if tune:
            grid = CONTEXT_GRIDS[name]
            base = CTR_BASE
        elif path is not None and path.is_file():
            grid, base = [{}], json.loads(path.read_text())
        else:
            grid, base = CONTEXT_GRIDS[name][:1], CTR_BASE
        if quick:
            grid, base = grid[:1], {**base, "epochs": 3}
        model, config, tried = select_on_valid(name, grid, base, data, log)
        if tune and path is not None and not quick:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
            log(f"  wrote {path}")
        test = ctr_metrics(model, data.test)
        per_epoch = seconds_per_epoch(model)
        rows.append({
            "model": label, "test auc": round(test["auc"], 4), "test log loss": round(test["log_loss"], 4),
            "RecBole auc": PUBLISHED_AUC.get(label), "vs RecBole": f"{test['auc'] - PUBLISHED_AUC[label]:+.4f}",
            "valid auc": round(ctr_metrics(model, data.valid)["auc"], 4),
            "epochs": len(model.meta["history"]), "best epoch": model.meta["best_epoch"],
            "s/epoch": None if per_epoch is None else round(per_epoch, 1),
            "peak MB": round(model.meta["peak_memory_mb"]),
            "settings": {k: float(f"{config[k]:.3g}") if isinstance(config[k], float) else config[k]
                         for k in ("lr", "reg", "dropout", "batch_size") if k in config},
            "candidates": tried,
        })
        log(f"{label}: test auc {test['auc']:.4f}, log loss {test['log_loss']:.4f}")
    rows.append({"model": "DCNV2 (best non-sequential)", "RecBole auc": PUBLISHED_AUC["DCNV2 (best non-sequential)"]})
    return rows


def tune_context(
    model_name: str,
    space: SearchSpace | None = None,
    base: dict[str, Any] | None = None,
    n_trials: int | None = 30,
    timeout_s: float | None = 600.0,
    seed: int = 0,
    quick: bool = False,
    log: Log = print,
) -> TuneResult:
    """Optuna search of a field model's settings on the context protocol's *validation* AUC (the test part is
    not touched). The result's config is the full settings (:data:`CTR_BASE` under ``base`` under the trial's),
    so ``result.write(<configs>/ml1m_context_<model>.json)`` is what :func:`context_protocol` replays."""
    cls = CONTEXT_MODELS[model_name]
    load = functools.cache(lambda: load_context_data(quick))  # at the first trial, after the space is checked
    fixed = {**CTR_BASE, **({"epochs": 3} if quick else {}), **(base or {})}

    def evaluate(settings: dict[str, Any]) -> float:
        data = load()
        model = cls(**settings).fit(data.train, data.valid, features=data.features)
        return ctr_metrics(model, data.valid)["auc"]

    return search(model_name, evaluate, space, fixed, n_trials, timeout_s, "auc", seed, log)


# -- 2. multi-task ------------------------------------------------------------------------------------------
MMOE_BASE = {"monitor": "auc", "embedding_dim": 16, "n_experts": 4, "expert_layers": (64,), "tower_layers": (32,),
             "neg_ratio": 1, "epochs": 12, "patience": 2, "lr": 2e-3, "progress": False}
MMOE_GRID: list[dict[str, Any]] = [{"lr": 2e-3}, {"lr": 1e-3}]
MULTITASK_MODELS = {
    "MMoE (interact + like)": {"tasks": ("interact", "like")},
    "single-task interact": {"tasks": ("interact",)},
    "single-task like": {"tasks": ("like",)},
}


def load_rating_data(quick: bool = False, seed: int = 2020) -> tuple[PreparedData, SideFeatures]:
    """All ML-1M ratings (value = rating), split 8:1:1 at random per user, with the context features."""
    prepared = prepare(_ml1m(quick), PrepareConfig(dedupe="none", split="random", ratios=(0.8, 0.1, 0.1), seed=seed))
    return prepared, features_from_prepared(prepared, CONTEXT_FEATURES)


def unobserved_items(prepared: PreparedData, users: np.ndarray, seed: int) -> np.ndarray:
    """One item per entry of ``users`` that the user has no rating of in any part (fixed by ``seed``)."""
    from fathom.models.sampling import NegativeSampler

    return NegativeSampler(prepared.all_interactions()).sample(users, 1, np.random.default_rng(seed))[:, 0]


def multitask_protocol(
    quick: bool = False, tune: bool = False, configs: Path | None = None, log: Log = print
) -> list[dict[str, Any]]:
    """Protocol 2: MMoE on both targets vs the same architecture on each target alone.

    "interact": test pairs against one never-rated item each (AUC, log loss) and full ranking of all items with
    training and validation items excluded (NDCG@10, Recall@10; the interact head); "like" (rating >= 4): AUC and
    log loss on the test pairs. The MMoE settings (``MMOE_GRID`` with ``tune``, else the saved
    ``ml1m_context_mmoe.json``) are chosen on the two-task model's validation AUC and used for all three.
    """
    from fathom.metrics.evaluator import evaluate_ranking
    from fathom.models.mmoe import MMoE

    prepared, features = load_rating_data(quick)
    log(f"ml-1m ratings: {prepared.summary()['interactions']}")
    path = _config_path(configs, "mmoe")
    grid: list[dict[str, Any]] = [{}]
    base = dict(MMOE_BASE)
    if tune:
        grid = MMOE_GRID
    elif path is not None and path.is_file():
        base = json.loads(path.read_text())
    if quick:
        grid, base = grid[:1], {**base, "epochs": 3}
    negatives = unobserved_items(prepared, prepared.test.user, seed=7)
    rows = []
    chosen: dict[str, Any] | None = None
    for label, tasks in MULTITASK_MODELS.items():
        candidates = grid if chosen is None else [{}]
        best: tuple[float, MMoE] | None = None
        for settings in candidates:
            settings = {**base, **(chosen or {}), **settings, **tasks}
            with PeakMemory() as mem:
                model = MMoE(**settings).fit(prepared.train, prepared.valid, features=features)
            model.meta["peak_memory_mb"] = mem.peak_mb
            score = max(h.get("auc", float("-inf")) for h in model.meta["history"])
            log(f"  {label} {settings.get('lr')}: valid auc {score:.4f}")
            if best is None or score > best[0]:
                best = (score, model)
        assert best is not None
        model = best[1]
        if chosen is None:
            chosen = {k: v for k, v in model.config.to_dict().items() if k != "tasks"}
            if tune and path is not None and not quick:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(model.config.to_dict(), indent=2, sort_keys=True) + "\n")
        test = model.task_metrics(prepared.test, negatives)
        row: dict[str, Any] = {"model": label, "tasks": "+".join(model.config.tasks)}
        row["interact auc"] = round(test["auc_interact"], 4) if "auc_interact" in test else None
        row["interact log loss"] = round(test["log_loss_interact"], 4) if "log_loss_interact" in test else None
        if "interact" in model.config.tasks:
            ranking = evaluate_ranking(model, prepared.test, exclude=(prepared.train, prepared.valid),
                                       ks=(10,), metrics=("ndcg", "recall"))
            row["ndcg@10"], row["recall@10"] = round(ranking["ndcg@10"], 4), round(ranking["recall@10"], 4)
        row["like auc"] = round(test["auc_like"], 4) if "auc_like" in test else None
        row["like log loss"] = round(test["log_loss_like"], 4) if "log_loss_like" in test else None
        per_epoch = seconds_per_epoch(model)
        row["epochs"], row["s/epoch"] = len(model.meta["history"]), None if per_epoch is None else round(per_epoch, 1)
        row["peak MB"] = round(model.meta["peak_memory_mb"])
        rows.append(row)
        log(f"{label}: {row}")
    return rows


# -- 3. imbalance -------------------------------------------------------------------------------------------
IMBALANCE_SWITCHES: dict[str, dict[str, Any]] = {
    "none": {},
    "class weights (balanced)": {"class_weight": "balanced"},
    "over-sampling 1:1": {"resample": "over", "resample_ratio": 1.0},
    "under-sampling 1:1": {"resample": "under", "resample_ratio": 1.0},
    "under-sampling 3:1": {"resample": "under", "resample_ratio": 3.0},
}
IMPLICIT_SWITCHES: dict[str, dict[str, Any]] = {
    "uniform negatives, ratio 1": {"neg_ratio": 1},
    "uniform negatives, ratio 4": {"neg_ratio": 4},
    "popularity negatives, ratio 4": {"neg_ratio": 4, "neg_sampling": "popularity"},
}
POSITIVE_SHARE = 0.1


def thin_positives(part: Interactions, keep: float, rng: np.random.Generator) -> Interactions:
    """``part`` with each positive (value 1) kept with probability ``keep`` and every negative kept."""
    return part.subset((part.value < 0.5) | (rng.random(len(part)) < keep))


def imbalanced_context_data(data: ContextData, share: float = POSITIVE_SHARE, seed: int = 0) -> ContextData:
    """The context task with positives thinned so that about ``share`` of every part is positive."""
    pos = float(np.mean(data.train.value))
    keep = share * (1 - pos) / ((1 - share) * pos)
    rng = np.random.default_rng(seed)
    parts = [thin_positives(getattr(data, p), keep, rng) for p in ("train", "valid", "test")]
    return ContextData(*parts, data.features, data.prepared)


def _threshold_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    predicted = proba >= 0.5
    hits = float((predicted & (labels > 0.5)).sum())
    return {"recall@0.5": hits / max(float(labels.sum()), 1.0),
            "precision@0.5": hits / max(float(predicted.sum()), 1.0),
            "mean p": float(proba.mean())}


def imbalance_protocol(
    quick: bool = False, configs: Path | None = None, log: Log = print
) -> list[dict[str, Any]]:
    """Protocol 3. (a) FM on the context task with positives thinned to ``POSITIVE_SHARE`` (train, valid and test
    alike): test AUC, log loss, recall / precision at p >= 0.5 and the mean predicted probability, for each
    switch of ``IMBALANCE_SWITCHES``. (b) FM on the implicit version (positives: train pairs rated 4-5; negatives
    sampled): test AUC of liked test pairs against one never-rated item each, and NDCG@10 of full ranking, for
    each of ``IMPLICIT_SWITCHES``. Early stopping on validation AUC (a) or NDCG@10 (b) in every case."""
    from fathom.metrics.evaluator import evaluate_ranking

    path = _config_path(configs, "fm")
    base = json.loads(path.read_text()) if path is not None and path.is_file() else {**CTR_BASE, "lr": 1e-3}
    base = {**base, "epochs": 3 if quick else 40, "patience": 2}
    data = imbalanced_context_data(load_context_data(quick))
    log(f"imbalanced context data: {data.summary()}")
    rows = []
    for label, switch in IMBALANCE_SWITCHES.items():
        model = FM(**{**base, **switch}).fit(data.train, data.valid, features=data.features)
        proba = model.predict_proba(data.test.user, data.test.item)
        row = {"task": f"CTR, {POSITIVE_SHARE:.0%} positive", "switch": label,
               "test auc": round(auc(data.test.value, proba), 4),
               "test log loss": round(log_loss(data.test.value, proba), 4),
               **{k: round(v, 4) for k, v in _threshold_metrics(data.test.value, proba).items()},
               "test positive share": round(float(data.test.value.mean()), 4),
               "epochs": len(model.meta["history"])}
        rows.append(row)
        log(str(row))
    # (b) implicit: liked pairs are the positives, negatives are drawn
    full = load_context_data(quick)
    liked = {p: getattr(full, p).subset(getattr(full, p).value > 0.5) for p in ("train", "valid", "test")}
    negatives = unobserved_items(full.prepared, liked["test"].user, seed=7)
    implicit = {**base, "label_mode": "implicit", "monitor": "ndcg@10"}
    for label, switch in IMPLICIT_SWITCHES.items():
        model = FM(**{**implicit, **switch}).fit(liked["train"], liked["valid"], features=full.features)
        test = liked["test"]
        scores = model.pair_logits(np.r_[test.user, test.user], np.r_[test.item, negatives])
        ranking = evaluate_ranking(model, test, exclude=(liked["train"], liked["valid"]), ks=(10,),
                                   metrics=("ndcg", "recall"))
        row = {"task": "implicit (liked pairs)", "switch": label,
               "test auc": round(auc(np.r_[np.ones(len(test)), np.zeros(len(test))], scores), 4),
               "ndcg@10": round(ranking["ndcg@10"], 4), "recall@10": round(ranking["recall@10"], 4),
               "epochs": len(model.meta["history"]), "s/epoch": round(seconds_per_epoch(model) or 0.0, 1)}
        rows.append(row)
        log(str(row))
    return rows


# -- entry point --------------------------------------------------------------------------------------------
TABLE_NOTES = {
    "context": 'RecBole "ml-1m context": ratings of 3 dropped, 1-2 -> 0 and 4-5 -> 1, one global random 8:1:1 split '
    "(RecBole's own:\nthe rows shuffled as RecBole 1.2.1 shuffles them, seed 2020), embedding size 16, fields user id, "
    "item id, age,\ngender, occupation, genres, release year; settings from benchmarks/configs, chosen on validation "
    "AUC by\n`fathom tune <model> --protocol ml1m-context` (the trial logs lie beside them).\n"
    "`python benchmarks/context.py --only context`; seconds are wall time on this 2-core CPU.",
}


def main(argv: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    parser = argparse.ArgumentParser(prog="python -m fathom.benchmarks.context", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"the first {QUICK_USERS} users, 3 epochs")
    parser.add_argument("--only", choices=("context", "multitask", "imbalance"), action="append")
    parser.add_argument("--tune", action="store_true", help="search the grids on validation, write the configs")
    parser.add_argument("--configs", type=Path, default=None, help="folder of the tuned configs (default "
                        "$FATHOM_BENCHMARK_CONFIGS or the checkout's benchmarks/configs)")
    parser.add_argument("--out", type=Path, help="write the tables here as <protocol>.md and .json")
    args = parser.parse_args(argv)
    if args.configs is None:
        from fathom.benchmarks import configs_dir

        args.configs = configs_dir()
    runs = {
        "context": lambda: context_protocol(args.quick, args.tune, args.configs),
        "multitask": lambda: multitask_protocol(args.quick, args.tune, args.configs),
        "imbalance": lambda: imbalance_protocol(args.quick, args.configs),
    }
    tables = {}
    for name in args.only or list(runs):
        start = time.perf_counter()
        rows = runs[name]()
        tables[name] = rows
        shown = [{k: v for k, v in r.items() if k != "candidates"} for r in rows]
        text = markdown_table(shown)
        print(f"\n## ml1m {name}{' (quick)' if args.quick else ''}: {time.perf_counter() - start:.0f} s\n\n{text}\n")
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            note = f"\n\n{TABLE_NOTES[name]}" if name in TABLE_NOTES and not args.quick else ""
            (args.out / f"ml1m_{name}.md").write_text(text + note + "\n")
            (args.out / f"ml1m_{name}.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    return tables


if __name__ == "__main__":
    main()
