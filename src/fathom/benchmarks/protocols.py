"""Named benchmark protocols: data preparation, models with their validation grids, and published figures.

``run_protocol(name)`` is what ``fathom benchmark NAME`` and ``benchmarks/run.py NAME`` call.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fathom.evaluate.experiment import ModelResult, ModelSpec, run_models
from fathom.evaluate.report import markdown_table, write_leaderboard


@dataclass
class Protocol:
    name: str
    title: str
    dataset: str
    prepare: Callable[[], Any]  # -> PrepareConfig
    specs: list[ModelSpec]
    # published figures to print beside ours: label -> {column: value}
    published: dict[str, dict[str, float]] = field(default_factory=dict)
    published_source: str = ""
    notes: str = ""
    # labels of cheap models whose chosen settings are re-run on other split seeds to show the split's noise
    spread_labels: tuple[str, ...] = ()
    spread_seeds: tuple[int, ...] = ()


ITEMKNN_GRID = [{"neighbours": k, "shrink": h} for k in (50, 100, 200, 250, 300) for h in (0.0, 10.0)]
BPR_GRID = [{"reg": 0.0, "init_std": 0.01, "batch_size": 2048, "lr": lr, "n_neg": n, "epochs": 300}
            for n in (1, 4) for lr in (5e-4, 1e-3)]
# the best of those (lr 5e-4, 4 negatives) with the rate halved after 3 validations without improvement
BPR_GRID.append({"reg": 0.0, "init_std": 0.01, "batch_size": 2048, "lr": 5e-4, "n_neg": 4, "epochs": 300,
                 "lr_decay": 0.5, "lr_decay_patience": 3, "min_lr": 1e-5, "patience": 12})
NEUMF_GRID = [{}]
LIGHTGCN_GRID = [{}]
# the defaults (batch 256, rate 0.002 halved after 3 stale validations, input dropout 0.9), a higher rate, less and
# more input dropout, and the textbook VAE (latent 200, full noise, 20k annealing steps, dropout 0.5)
MULTVAE_GRID = [{}, {"lr": 0.003}, {"dropout": 0.8}, {"dropout": 0.95},
                {"latent": 200, "noise_std": 1.0, "total_anneal_steps": 20000, "dropout": 0.5}]


def _recbole_general() -> Protocol:
    from fathom.data.prepare import PrepareConfig

    return Protocol(
        name="ml1m-general",
        title="MovieLens-1M, RecBole 'general' protocol (full ranking, 8:1:1 random per user)",
        dataset="movielens-1m",
        prepare=PrepareConfig.recbole_general,
        specs=[
            ModelSpec("pop", label="Pop"),
            ModelSpec("itemknn", ITEMKNN_GRID, label="ItemKNN"),
            ModelSpec("bpr", BPR_GRID, label="BPR"),
            ModelSpec("neumf", NEUMF_GRID, label="NeuMF"),
            ModelSpec("ease", [{"reg": r, "keep": None} for r in (250, 500, 700, 800, 1000, 2000)], label="EASE"),
            ModelSpec("lightgcn", LIGHTGCN_GRID, label="LightGCN"),
            ModelSpec("multvae", MULTVAE_GRID, label="MultVAE"),
            ModelSpec("admmslim", [{"l2": l2, "dropout": d} for l2 in (10.0, 30.0, 100.0) for d in (0.4, 0.5)],
                      label="ADMMSLIM"),
        ],
        published={
            "Pop": {"RecBole ndcg@10": 0.1006},
            "ItemKNN": {"RecBole ndcg@10": 0.2389},
            "BPR": {"RecBole ndcg@10": 0.2407, "RecBole s/epoch": 1.1},
            "NeuMF": {"RecBole ndcg@10": 0.2393, "RecBole s/epoch": 5.0, "RecBole eval s": 24.0},
            "EASE": {"RecBole ndcg@10": 0.2865, "RecBole fit s": 1.4},
            "LightGCN": {"RecBole ndcg@10": 0.2478, "RecBole s/epoch": 23.4},
            "MultVAE": {"RecBole ndcg@10": 0.2523, "RecBole s/epoch": 0.96},
            "ADMMSLIM": {"RecBole ndcg@10": 0.2904},
        },
        spread_labels=("Pop", "ItemKNN", "EASE", "MultVAE", "ADMMSLIM"),
        spread_seeds=(1, 2, 3, 4),
        published_source=(
            "RecBole 1.2.1 leaderboard, ml-1m general (NDCG@10); RecBole timings measured on this same CPU"
        ),
        notes=(
            "Ratings below 3 dropped, 10-core users and items, per-user random 8:1:1 split, full ranking over all "
            "items with training (and for test, validation) items excluded, embedding size 64, each model's "
            "settings chosen on validation NDCG@10. The split is RecBole's own: rows shuffled as RecBole 1.2.1 "
            "shuffles them (torch.randperm, seed 2020), which on these files puts exactly the (user, item) pairs "
            "in valid and test that RecBole 1.2.1 does (checked against RecBole itself; "
            "tests/data/test_sources.py holds the fingerprints)."
        ),
    )


PROTOCOLS: dict[str, Callable[[], Protocol]] = {"ml1m-general": _recbole_general}


def protocol_names() -> list[str]:
    return list(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    try:
        return PROTOCOLS[name]()
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(PROTOCOLS)}") from None


def split_spread(
    protocol: Protocol, results: list[ModelResult], dataset: Any, log: Callable[[str], None] = print
) -> dict[str, dict[str, float]]:
    """Test NDCG@10 of each spread model's chosen settings on the main split and on ``spread_seeds`` other splits.

    Shows how much of a gap to a published single-split figure the random split alone can explain.
    """
    from fathom.data.prepare import prepare
    from fathom.metrics.evaluator import evaluate_ranking
    from fathom.models.registry import get_model_class

    chosen = {r.label: r for r in results if r.label in protocol.spread_labels}
    if not chosen or not protocol.spread_seeds:
        return {}
    scores: dict[str, list[float]] = {label: [r.test["ndcg@10"]] for label, r in chosen.items()}
    base = protocol.prepare()
    for seed in protocol.spread_seeds:
        prepared = prepare(dataset, base.replace(seed=seed))
        for label, r in chosen.items():
            model = get_model_class(r.model)(**r.config).fit(prepared.train, prepared.valid)
            value = evaluate_ranking(
                model, prepared.test, exclude=(prepared.train, prepared.valid), ks=(10,), metrics=("ndcg",)
            )["ndcg@10"]
            scores[label].append(value)
            log(f"  split seed {seed}: {label} test ndcg@10 {value:.4f}")
    return {
        label: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "splits": len(v)}
        for label, v in scores.items()
    }


def comparison_rows(
    protocol: Protocol, results: list[ModelResult], spread: dict[str, dict[str, float]] | None = None
) -> list[dict[str, Any]]:
    spread = spread or {}
    rows = []
    for r in results:
        row = {
            "model": r.label,
            "recall@10": r.test.get("recall@10"),
            "mrr@10": r.test.get("mrr@10"),
            "ndcg@10": r.test.get("ndcg@10"),
            "hit@10": r.test.get("hit@10"),
            "precision@10": r.test.get("precision@10"),
        }
        pub = protocol.published.get(r.label, {})
        if "RecBole ndcg@10" in pub:
            row["RecBole ndcg@10"] = pub["RecBole ndcg@10"]
            row["vs RecBole"] = f"{r.test['ndcg@10'] - pub['RecBole ndcg@10']:+.4f}"
        if spread:
            s = spread.get(r.label)
            row["ndcg@10 over splits"] = f"{s['mean']:.4f} ± {s['std']:.4f} ({s['splits']})" if s else None
        row["fit s"] = round(r.fit_seconds, 2)
        row["s/epoch"] = None if r.seconds_per_epoch is None else round(r.seconds_per_epoch, 2)
        row["RecBole s/epoch"] = pub.get("RecBole s/epoch", pub.get("RecBole fit s"))
        row["eval s"] = round(r.eval_seconds, 2)
        row["peak MB"] = round(r.peak_memory_mb, 0)
        rows.append(row)
    return rows


def _merge_previous(
    folder: Path, order: list[str], results: list[ModelResult], spread: dict[str, dict[str, float]]
) -> tuple[list[ModelResult], dict[str, dict[str, float]]]:
    """The rows of an earlier run in ``folder`` with the models just re-run replaced, in the protocol's order."""
    path = folder / "leaderboard.json"
    if not path.exists():
        return results, spread
    previous = json.loads(path.read_text())
    by_label = {r["label"]: ModelResult(**r) for r in previous.get("results", [])}
    by_label.update({r.label: r for r in results})
    merged_spread = {k: v for k, v in previous.get("split_spread", {}).items() if k in by_label}
    merged_spread.update(spread)
    return [by_label[label] for label in order if label in by_label], merged_spread


def run_protocol(
    name: str,
    out_dir: Path | None = None,
    log: Callable[[str], None] = print,
    only: Sequence[str] | None = None,
    spread: bool = True,
) -> dict[str, Any]:
    """Prepare the data, run every model (or the labels in ``only``), print and (if ``out_dir``) write the table.

    With ``spread`` the cheap models' chosen settings are re-run on the protocol's other split seeds.
    """
    from fathom.data.prepare import prepare
    from fathom.data.sources import load_builtin

    protocol = get_protocol(name)
    if only:
        labels = {spec.title.lower(): spec for spec in protocol.specs}
        unknown = [o for o in only if o.lower() not in labels]
        if unknown:
            raise KeyError(f"unknown model label(s) {unknown} for {name}; known: {', '.join(labels)}")
        protocol.specs = [labels[o.lower()] for o in only]
    full_order = [spec.title for spec in get_protocol(name).specs]
    start = time.perf_counter()
    dataset = load_builtin(protocol.dataset)
    prepared = prepare(dataset, protocol.prepare())
    log(f"{protocol.title}\ndata: {prepared.summary()}")
    results, _ = run_models(protocol.specs, prepared.train, prepared.valid, prepared.test, log=log)
    spread_figures = split_spread(protocol, results, dataset, log) if spread else {}
    if only and out_dir is not None:
        results, spread_figures = _merge_previous(Path(out_dir) / protocol.name, full_order, results, spread_figures)
    rows = comparison_rows(protocol, results, spread_figures)
    table = markdown_table(rows)
    log("\n" + table)
    summary = {
        "protocol": protocol.name,
        "title": protocol.title,
        "notes": protocol.notes,
        "published_source": protocol.published_source,
        "data": prepared.summary(),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "total_seconds": round(time.perf_counter() - start, 1),
        "table": rows,
        "split_spread": spread_figures,
        "chosen_configs": {r.label: r.config for r in results},
        "candidates": {r.label: r.candidates for r in results},
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        paths = write_leaderboard(results, out_dir / protocol.name, protocol.title, extra=summary)
        body = (
            f"# {protocol.title}\n\n{protocol.notes}\n\nData after filtering: {prepared.summary()}\n\n{table}\n\n"
            f"Published figures: {protocol.published_source}.\n"
            + (
                f"'ndcg@10 over splits': the chosen settings refitted on split seeds {protocol.spread_seeds} "
                "besides the main one (mean ± sample std over all splits); the published figures are from the main "
                "split alone.\n"
                if spread_figures
                else ""
            )
            + (f"Last run, of {', '.join(only)} only (other rows from the run before): " if only else "Whole run: ")
            + f"{summary['total_seconds']} s on {summary['machine']}.\n"
        )
        paths["markdown"].write_text(body)
        log(f"wrote {paths['markdown']}, {paths['json']}, {paths['picture']}")
    return summary
