"""How faithful are the reasons each model family gives? Remove the cited history item, score again, and see.

    .venv/bin/python benchmarks/explain_faithfulness.py     # writes benchmarks/results/kg-rec/faithfulness.{md,json}

MovieLens-100K (RecBole's default general split, ``kg_rec.load_ml100k``), 200 seeded users with at least 5 training
items; each user's history is their training items, most recent first, ranked through the service's read path
(``fathom.models.fold_in.rank_history``: recency weights, seen items left out) into a top 10. Two ways to cite
the history item behind each recommended item:

- ``explain``: the model's own :meth:`Recommender.explain` (what the service shows today: exact contributions for
  linear models, cosine of item vectors for embedding models, "after your latest item" for sequence models);
- ``removal``: :func:`fathom.models.fold_in.explain_by_removal` (among the 20 most recent, the history item whose
  removal moves the item furthest down the ranking, ties by the larger drop in score).

Faithfulness: for every (item, cited history item) pair, the history without that item is ranked again by the
same read path; the pair is faithful when the item's score drops *and* its rank drops (a later position, or out
of the list). ``cited`` is the share of recommended items that get a reason at all (the rest are there by the
user's own vector or by popularity, and say so). Known users of embedding models are scored by their trained
vector, which no history item changes: rows ``(history)`` rank those users from their history instead (fold-in),
the way an anonymous visitor is served. ``KG path``: the share of cited pairs joined by a shared entity in the
IMDb graph (genre, director, top-5 cast, decade), which becomes the readable reason; the first examples are shown.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from fathom.evaluate.report import markdown_table
from fathom.models.fold_in import HistoryPolicy, explain_by_removal, rank_history
from fathom.models.registry import get_model_class

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "kg-rec"
N_USERS, K = 200, 10

MODELS: list[tuple[str, str, dict[str, Any], bool]] = [  # label, model, settings, reads the imdb graph
    ("EASE", "ease", {"reg": 500.0, "keep": None}, False),
    ("ItemKNN", "itemknn", {}, False),
    ("KG-EASE (imdb)", "kgease", {"reg": 250.0, "text_reg": 1e-3, "text_weight": 0.5}, True),
    ("BPR", "bpr", {"epochs": 60, "progress": False}, False),
    ("LightGCN", "lightgcn", {"progress": False}, False),
    ("KG-LightGCN (imdb)", "kglightgcn", {"progress": False}, True),
    ("MultVAE", "multvae", {"progress": False}, False),
    ("SASRec", "sasrec", {"epochs": 30, "progress": False, "max_len": 50}, False),
]


def histories(train: Any, users: np.ndarray) -> dict[int, np.ndarray]:
    order = np.lexsort((-train.timestamp, train.user))  # by user, most recent first
    u, i = train.user[order], train.item[order]
    starts = np.searchsorted(u, users)
    ends = np.searchsorted(u, users, side="right")
    return {int(x): i[s:e].astype(np.int64) for x, s, e in zip(users, starts, ends, strict=True)}


def faithful(model: Any, history: np.ndarray, item: int, source: int, user: int | None, pop: np.ndarray,
             before: Any) -> bool:
    policy = HistoryPolicy()
    after = rank_history(model, history[history != source], model.n_items, user, pop, policy=policy)
    pos_before = int(np.flatnonzero(before.items == item)[0])
    where = np.flatnonzero(after.items == item)
    pos_after = int(where[0]) if len(where) else model.n_items
    return bool(after.raw[item] < before.raw[item] - 1e-7 and pos_after > pos_before)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", help="labels to run; the other rows in faithfulness.json are kept")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from kg_rec import graphs, load_ml100k

    data = load_ml100k()
    train = data.train
    kgs = graphs(data, {"imdb"})
    kg = kgs.get("imdb")
    ids = list(data.item_vocab.ids)
    entities = kg.item_entities(ids)[0] if kg is not None else None
    pop = np.bincount(train.item, minlength=data.n_items).astype(np.float32)
    counts = np.bincount(train.user, minlength=data.n_users)
    rng = np.random.default_rng(0)
    users = np.sort(rng.choice(np.flatnonzero(counts >= 5), N_USERS, replace=False))
    hist = histories(train, users)
    titles = dict(zip(data.catalog.frame["item_id"].astype(str), data.catalog.frame["title"], strict=True))
    saved = json.loads((OUT / "faithfulness.json").read_text()) if args.models and (
        OUT / "faithfulness.json").is_file() else {"rows": [], "examples": []}
    rows = [r for r in saved["rows"] if r["model"] not in args.models] if args.models else []
    examples = list(saved["examples"])
    for label, name, settings, reads_kg in MODELS:
        if (reads_kg and entities is None) or (args.models and label not in args.models):
            continue
        started = time.perf_counter()
        model = get_model_class(name)(**settings).fit(train, **({"item_entities": entities} if reads_kg else {}))
        fit_s = time.perf_counter() - started
        known_vector = model.item_item_weights() is None and not hasattr(model, "with_history")
        paths = ([("service", True)] + ([("history", False)] if known_vector else []))
        for path_label, as_known in paths:
            for method in ("explain", "removal"):
                n_items = n_cited = n_faithful = n_kg = 0
                for user in users:
                    h = hist[int(user)]
                    who = int(user) if as_known else None
                    ranked = rank_history(model, h, K, who, pop, policy=HistoryPolicy())
                    if method == "explain":
                        sources = ranked.sources
                    else:
                        sources, _ = explain_by_removal(model, h, ranked.items, who, pop, HistoryPolicy())
                    for item, source in zip(ranked.items, sources, strict=True):
                        n_items += 1
                        if source is None:
                            continue
                        n_cited += 1
                        n_faithful += faithful(model, h, int(item), int(source), who, pop, ranked)
                        if kg is not None and kg.has_item(ids[source]) and kg.has_item(ids[item]):
                            p = kg.paths(kg.item(ids[source]), kg.item(ids[item]), max_hops=2, limit=1)
                            if p:
                                n_kg += 1
                                if len(examples) < 12 and method == "removal" and path_label == "service":
                                    examples.append(f"{label}: {titles.get(str(ids[item]), ids[item])} because "
                                                    f"of {titles.get(str(ids[source]), ids[source])}: "
                                                    f"{kg.describe_path(p[0])}")
                row = {"model": label, "read path": path_label, "reason": method,
                       "cited": round(n_cited / n_items, 3),
                       "faithful (of cited)": round(n_faithful / n_cited, 3) if n_cited else None,
                       "faithful (of all)": round(n_faithful / n_items, 3),
                       "KG path (of cited)": round(n_kg / n_cited, 3) if n_cited else None,
                       "cases": n_items, "fit s": round(fit_s, 1)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    order = [m[0] for m in MODELS]
    rows.sort(key=lambda r: order.index(r["model"]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "faithfulness.json").write_text(json.dumps({"rows": rows, "examples": examples}, indent=2) + "\n")
    text = ["# Faithfulness of the reasons, per model family (MovieLens-100K)", "",
            "Written by `benchmarks/explain_faithfulness.py` (protocol in its docstring): 200 users x top 10.", "",
            markdown_table(rows), "", "Examples (removal reasons with a KG path, IMDb graph):", ""]
    text += [f"- {e}" for e in examples]
    (OUT / "faithfulness.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
