"""Cold items through the knowledge graph, the item text, or both (``benchmarks/kg_rec.py --cold``).

Two data sets, each with a seeded 20% of its items held out of training and validation entirely:

- MovieLens-100K on RecBole's default general split (``kg_rec.load_ml100k``): test cases with a cold item and with
  a warm item ranked apart, full ranking, training and validation items excluded. Graphs: ``imdb`` (genres,
  directors, top-5 cast, decade) and ``freebase`` (RecBole's triples); text: the ``film`` template (title, year,
  genres, directors, cast, plot).
- amazon_scientific's cold-item protocol (``fathom.benchmarks.text_data.cold_item_split``: leave-one-out, nothing
  excluded, each test item ranked from train + validation). Graph: brand + category path; text: ``product``.

Every side-information model runs with its defaults (there is no cold item in validation to choose settings on);
rows: EASE (ID only: the floor), TextEASE on text alone, KG-EASE on the graph alone and on graph + text (equal
shares), KG-LightGCN on the graph. Writes ``benchmarks/results/kg-rec/cold.{md,json}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fathom.benchmarks.text_data import HistoryScorer, cold_item_split, load_text_data
from fathom.data.interactions import Interactions
from fathom.evaluate.report import markdown_table
from fathom.metrics.evaluator import Evaluator, evaluate_ranking
from fathom.models.registry import get_model_class
from fathom.text.encoders import get_encoder
from fathom.text.item_text import TextTemplate, encode_items

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "kg-rec"
SHARE, SEED = 0.2, 0

#: (label, model, side inputs: "kg", "text" or "kg+text", settings)
COLD_ROWS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("EASE (ID only)", "ease", "", {"reg": 250.0, "keep": None}),
    ("TextEASE (text)", "textease", "text", {}),
    ("KG-EASE (graph)", "kgease", "kg", {}),
    ("KG-EASE (graph + text)", "kgease", "kg+text", {}),
    ("KG-LightGCN (graph)", "kglightgcn", "kg", {"progress": False}),
]


def fit(model: str, side: str, settings: dict[str, Any], train: Interactions, valid: Interactions,
        entities: Any, text: np.ndarray) -> Any:
    kwargs: dict[str, Any] = {}
    if "kg" in side:
        kwargs["item_entities"] = entities
    if "text" in side:
        kwargs["item_vectors"] = text
    return get_model_class(model)(**settings).fit(train, valid, **kwargs)


def ml100k_case(graph_name: str) -> tuple[str, Any, Any, Any, Any, Any, Any]:
    from kg_rec import graphs, load_ml100k

    data = load_ml100k()
    kg = graphs(data, {graph_name})[graph_name]
    entities, _ = kg.item_entities(list(data.item_vocab.ids))
    films = {str(r["item_id"]): r for r in load_text_data("ml100k_imdb").items}
    template = TextTemplate.preset("film")
    texts = [template.render(films.get(str(i), {"title": ""})) for i in data.item_vocab.ids]
    text = encode_items(texts, get_encoder("minilm"), progress=False).vectors
    rng = np.random.default_rng(SEED)
    cold = np.zeros(data.n_items, bool)
    cold[rng.choice(data.n_items, int(SHARE * data.n_items), replace=False)] = True
    train, valid = data.train.subset(~cold[data.train.item]), data.valid.subset(~cold[data.valid.item])
    test = data.test

    def scores(model: Any, target: Interactions) -> float:
        return evaluate_ranking(model, target, exclude=(train, valid), ks=(10,), metrics=("ndcg",))["ndcg@10"]

    return (f"ml100k ({graph_name} graph)", train, valid, test.subset(cold[test.item]),
            test.subset(~cold[test.item]), (entities, text), scores)


def amazon_case() -> tuple[str, Any, Any, Any, Any, Any, Any]:
    data = load_text_data("amazon_scientific")
    entities, _ = data.knowledge_graph().item_entities(list(data.item_ids))
    text = encode_items(data.texts(), get_encoder("minilm"), progress=False).vectors
    split = cold_item_split(data.inter, SHARE, seed=SEED)

    def scores(model: Any, target: Interactions) -> float:
        evaluator = Evaluator(target, exclude=(), ks=(10,), metrics=("ndcg",))
        return evaluator(HistoryScorer(model, split.train, split.valid))["ndcg@10"]

    return ("amazon_scientific (brand + categories)", split.train, split.valid, split.cold_test, split.warm_test,
            (entities, text), scores)


def main(only: list[str] | None = None) -> int:
    rows = []
    for case in (lambda: ml100k_case("imdb"), lambda: ml100k_case("freebase"), amazon_case):
        try:
            name, train, valid, cold_test, warm_test, (entities, text), scores = case()
        except FileNotFoundError as err:
            print(f"skipped: {err}")
            continue
        for label, model, side, settings in COLD_ROWS:
            if only and label not in only:
                continue
            m = fit(model, side, settings, train, valid, entities, text)
            row = {"data": name, "model": label, "cold ndcg@10": round(float(scores(m, cold_test)), 4),
                   "warm ndcg@10": round(float(scores(m, warm_test)), 4), "cold cases": len(cold_test),
                   "warm cases": len(warm_test)}
            row["cold / warm"] = round(row["cold ndcg@10"] / row["warm ndcg@10"], 2) if row["warm ndcg@10"] else None
            print(json.dumps(row), flush=True)
            rows.append(row)
    path = OUT / "cold.json"
    previous = json.loads(path.read_text())["rows"] if path.is_file() and only else []
    done = {(r["data"], r["model"]) for r in rows}
    rows = [r for r in previous if (r["data"], r["model"]) not in done] + rows
    path.write_text(json.dumps({"share": SHARE, "seed": SEED, "rows": rows}, indent=2) + "\n")
    (OUT / "cold.md").write_text(
        "# Cold items through the knowledge graph, the text, or both\n\n"
        "Written by `benchmarks/kg_rec.py --cold` (protocol in `benchmarks/kg_cold.py`): a seeded 20% of the items\n"
        "held out of training and validation; NDCG@10 of the test cases whose item is cold / warm, full ranking.\n"
        "Default settings for every side-information model (validation has no cold item to choose them on).\n\n"
        + markdown_table(rows) + "\n")
    print(markdown_table(rows))
    return 0
