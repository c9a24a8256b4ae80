"""Knowledge-graph-aware recommenders against ID-only ones on MovieLens-100K (RecBole's general protocol), warm,
sparse and cold. One command each:

    .venv/bin/python benchmarks/kg_rec.py                   # warm table: results/kg-rec/ml100k.{md,json}
    .venv/bin/python benchmarks/kg_rec.py --models KG-EASE  # re-run some rows, keep the others
    .venv/bin/python benchmarks/kg_rec.py --cold            # cold items: KG alone, text alone, both

Warm protocol: MovieLens-100K as RecBole 1.2.1 runs it by default (its ``ml-100k.yaml``: every rating is an
interaction, no filtering; random 8:1:1 per user with RecBole's shuffle and seed 2020, which gives RecBole's own
split: compared pair by pair with the split ``benchmarks/peers/recbole_kg.py`` writes), full ranking over every
item, training (and for test, validation) items excluded; each model's settings chosen on validation NDCG@10 from
its grid below. "Sparse items": the test cases whose item has at most 5 training interactions (ranked against the
whole catalogue as usual). Knowledge graphs: ``freebase``, the 91,631 Freebase triples and item links that ship
with RecBole's ml-100k (the same graph RecBole's CKE / KGAT / KGIN read; entities are unnamed ids), and ``imdb``,
built from ``../shared/data/ml100k_imdb``'s genres, directors, top-5 cast and decade (readable names).

Cold protocol (``--cold``): the same split with a seeded 20% of the items held out of training and validation
entirely; test cases with a cold item and with a warm item reported apart. Also amazon_scientific's cold-item
protocol (``fathom.benchmarks.text_data.cold_item_split``, leave-one-out, nothing excluded), whose graph is
brand + category path. Text: the catalogue text (template ``film`` / ``product``) through the bundled MiniLM.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fathom.data.interactions import Interactions
from fathom.data.kg import KnowledgeGraph
from fathom.data.prepare import PrepareConfig, PreparedData, prepare
from fathom.evaluate.experiment import ModelSpec, fit_and_select
from fathom.evaluate.report import markdown_table
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.registry import get_model_class

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "kg-rec"
METRICS = ("ndcg", "recall", "hit", "precision")
SPARSE = 5  # a test item with at most this many training interactions is "sparse"


@dataclass(frozen=True)
class Row:
    label: str
    model: str
    grid: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    graph: str | None = None  # freebase | imdb


EASE_REGS = (100.0, 250.0, 500.0, 1000.0)
#: LightGCN's two rates (its chosen one, 3e-3, among them) with item-entity edges weighted 0.2 to 1
KG_LIGHTGCN_GRID = [{"progress": False, "lr": lr, "kg_weight": w} for lr, w in
                    ((1e-2, 0.5), (1e-2, 1.0), (3e-3, 0.2), (3e-3, 0.5))]
ROWS = [
    Row("Pop", "pop"),
    Row("BPR", "bpr", [{"reg": 0.0, "init_std": 0.01, "batch_size": 2048, "lr": lr, "n_neg": 4, "epochs": 300,
                        "eval_every": 5, "patience": 4, "progress": False} for lr in (5e-4, 2e-3)]),
    Row("EASE", "ease", [{"reg": r, "keep": None} for r in EASE_REGS]),
    Row("LightGCN", "lightgcn", [{"progress": False}, {"progress": False, "lr": 3e-3}]),
    Row("KG-LightGCN (freebase)", "kglightgcn", KG_LIGHTGCN_GRID, graph="freebase"),
    Row("KG-LightGCN (imdb)", "kglightgcn", KG_LIGHTGCN_GRID, graph="imdb"),
    Row("KG-EASE (freebase)", "kgease", [{"reg": r, "text_reg": t, "text_weight": w}
                                         for r in (250.0, 500.0) for t in (1e-4, 1e-3) for w in (0.5, 1.0)],
        graph="freebase"),
    Row("KG-EASE (imdb)", "kgease", [{"reg": r, "text_reg": t, "text_weight": w}
                                     for r in (250.0, 500.0) for t in (1e-4, 1e-3) for w in (0.5, 1.0)],
        graph="imdb"),
]


def ml100k_config() -> PrepareConfig:
    """RecBole's default ml-100k: every rating an interaction, no filtering, its random 8:1:1 with seed 2020."""
    return PrepareConfig.recbole_general().replace(min_rating=None, user_core=0, item_core=0)


def load_ml100k() -> PreparedData:
    from fathom.data.sources import load_builtin

    return prepare(load_builtin("movielens-100k"), ml100k_config())


def graphs(data: PreparedData, wanted: set[str]) -> dict[str, KnowledgeGraph]:
    """The knowledge graphs by name (imdb only where ``../shared/data/ml100k_imdb`` is present)."""
    from fathom.benchmarks.text_data import load_text_data
    from fathom.data.sources import load_builtin

    out: dict[str, KnowledgeGraph] = {}
    titles = dict(zip(data.catalog.frame["item_id"].astype(str), data.catalog.frame["title"], strict=True)) \
        if data.catalog is not None else {}
    if "freebase" in wanted:
        extras = load_builtin("movielens-100k").extras
        out["freebase"] = KnowledgeGraph.from_triples(extras["kg"], extras["link"], titles)
    if "imdb" in wanted:
        try:
            out["imdb"] = load_text_data("ml100k_imdb").knowledge_graph()
        except FileNotFoundError as err:
            print(f"no imdb graph: {err}", file=sys.stderr)
    return out


def side_inputs(row: Row, data: PreparedData, kgs: dict[str, KnowledgeGraph]) -> dict[str, Any] | None:
    """``fit``'s extra arguments for a row: the item-entity matrix of its graph; None when that graph is absent."""
    if not get_model_class(row.model).reads_item_graph:
        return {}
    if row.graph not in kgs:
        return None
    return {"item_entities": kgs[row.graph].item_entities(list(data.item_vocab.ids))[0]}


def evaluate(model: Any, target: Interactions, exclude: tuple) -> dict[str, float]:
    return evaluate_ranking(model, target, exclude=exclude, ks=(10,), metrics=METRICS)


def run_warm(rows: list[Row]) -> list[dict[str, Any]]:
    data = load_ml100k()
    train, valid, test = data.train, data.valid, data.test
    print(f"ml-100k: {data.n_users} users, {data.n_items} items, {len(train)}/{len(valid)}/{len(test)}", flush=True)
    kgs = graphs(data, {r.graph for r in rows if r.graph})
    counts = np.bincount(train.item, minlength=data.n_items)
    sparse_test = test.subset(counts[test.item] <= SPARSE)
    out = []
    for row in rows:
        kwargs = side_inputs(row, data, kgs)
        if kwargs is None:
            print(f"skipped {row.label}: its graph is not available", file=sys.stderr)
            continue
        cls = get_model_class(row.model)
        result, model = fit_and_select(
            ModelSpec(row.model, row.grid, label=row.label),
            fit=lambda s, cls=cls, kwargs=kwargs: cls(**s).fit(train, valid, **kwargs),
            validate=lambda m: evaluate(m, valid, (train,)),
            test=lambda m: evaluate(m, test, (train, valid)),
        )
        sparse = evaluate(model, sparse_test, (train, valid))
        record = {"model": row.label, **{f"test {k}": round(v, 4) for k, v in result.test.items() if k != "n_users"},
                  "valid ndcg@10": round(result.valid["ndcg@10"], 4),
                  "sparse-item ndcg@10": round(sparse["ndcg@10"], 4), "sparse cases": len(sparse_test),
                  "fit s": round(result.fit_seconds, 1), "epochs": result.epochs,
                  "chosen": {k: v for k, v in result.config.items() if k != "progress"}}
        print(json.dumps(record), flush=True)
        out.append(record)
    return out


def split_check(data: PreparedData) -> str:
    """Whether Fathom's split equals RecBole's (``recbole_split.json`` from the peer script), pair by pair."""
    path = OUT / "recbole_split.json"
    if not path.is_file():
        return "RecBole's split was not available to compare (run benchmarks/peers/recbole_kg.py first)."
    theirs = json.loads(path.read_text())
    users, items = data.user_vocab.ids, data.item_vocab.ids
    lines = []
    for part in ("train", "valid", "test"):
        inter = getattr(data, part)
        ours = {(str(users[u]), str(items[i])) for u, i in zip(inter.user, inter.item, strict=True)}
        other = {tuple(p) for p in theirs[part]}
        lines.append(f"{part}: {len(ours)} pairs here, {len(other)} in RecBole's, {len(ours ^ other)} differ")
    return "Split compared with RecBole's own, pair by pair: " + "; ".join(lines) + "."


def render(rows: list[dict[str, Any]], check: str) -> str:
    peers_path = OUT / "recbole_peers.json"
    lines = ["# MovieLens-100K, RecBole's default general protocol: knowledge-graph-aware and ID-only models", "",
             "Written by `benchmarks/kg_rec.py` (protocol in its docstring); RecBole 1.2.1 rows by",
             "`benchmarks/peers/recbole_kg.py`. Full ranking over all items, training (and validation) items",
             "excluded; settings chosen on validation NDCG@10 (`chosen`). " + check, "",
             markdown_table([{k: v for k, v in r.items() if k != "chosen"} | {"chosen": json.dumps(r["chosen"])}
                             for r in rows])]
    if peers_path.is_file():
        peers = json.loads(peers_path.read_text())
        table = []
        for p in peers["runs"]:
            test = p.get("test", {})
            table.append({"RecBole 1.2.1": p["label"], "status": p["status"],
                          **{f"test {m}": test.get(m) for m in ("ndcg@10", "recall@10", "hit@10", "precision@10")},
                          "epochs": p.get("epochs_run"), "best epoch": p.get("best_epoch"),
                          "stopped by": p.get("stopped_by"), "s / epoch": p.get("train_s_per_epoch")})
        lines += ["", f"RecBole 1.2.1 on its own split, default settings, {peers['max_minutes']:g}-minute training "
                  "budget per model, one torch thread:", "", markdown_table(table)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", help="labels of the rows to run (default: all)")
    parser.add_argument("--cold", action="store_true", help="the cold-item protocol instead")
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.cold:
        from kg_cold import main as cold_main  # benchmarks/kg_cold.py

        return cold_main(args.models)
    path = OUT / "ml100k.json"
    previous = json.loads(path.read_text())["rows"] if path.is_file() else []
    rows = [] if args.render_only else run_warm([r for r in ROWS if not args.models or r.label in args.models])
    kept = {r["model"]: r for r in previous} | {r["model"]: r for r in rows}
    ordered = [kept[r.label] for r in ROWS if r.label in kept] + [v for k, v in kept.items()
                                                                  if k not in {r.label for r in ROWS}]
    check = split_check(load_ml100k())
    path.write_text(json.dumps({"protocol": "ml100k-general (RecBole defaults)", "rows": ordered,
                                "split_check": check}, indent=2) + "\n")
    (OUT / "ml100k.md").write_text(render(ordered, check))
    print(render(ordered, check))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())
