"""Beyond accuracy on MovieLens-100K: coverage, popularity bias, concentration, novelty, diversity and the accuracy
gap between user groups, for the models of ``benchmarks/kg_rec.py`` at their chosen settings.

    .venv/bin/python benchmarks/beyond_table.py [--models EASE "KG-EASE (imdb)"]

Each model is refitted with the settings ``kg_rec.py`` chose on validation (read from
``benchmarks/results/kg-rec/ml100k.json``) on RecBole's default split; its test top-10 lists (training and
validation items excluded) are measured with ``fathom.metrics.beyond``: catalogue coverage, average popularity
(training interactions of the recommended items), long-tail share (the 10% least-interacted items), Gini index and
entropy of how often items are recommended, novelty (bits), intra-list diversity over the films' genres; and
NDCG@10 by gender and by age band (under 25, 25-34, 35-44, 45 and over) with the largest gap between groups.
Writes ``benchmarks/results/kg-rec/beyond.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from fathom.evaluate.report import markdown_table
from fathom.metrics.beyond import beyond_accuracy, group_gap
from fathom.metrics.evaluator import Evaluator
from fathom.models.registry import get_model_class

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "kg-rec"
DEFAULT = ["Pop", "EASE", "KG-EASE (imdb)", "BPR", "LightGCN", "KG-LightGCN (imdb)"]


def age_band(age: float) -> str:
    return "<25" if age < 25 else "25-34" if age < 35 else "35-44" if age < 45 else "45+"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from kg_rec import ROWS, graphs, load_ml100k, side_inputs

    data = load_ml100k()
    chosen = {r["model"]: r["chosen"] for r in json.loads((OUT / "ml100k.json").read_text())["rows"]}
    rows_by_label = {r.label: r for r in ROWS}
    kgs = graphs(data, {"imdb"})
    counts = np.bincount(data.train.item, minlength=data.n_items)
    genres = sorted({g for gs in data.catalog.frame["genres"] for g in gs})
    col = {g: j for j, g in enumerate(genres)}
    pairs = [(i, col[g]) for i, gs in enumerate(data.catalog.frame["genres"]) for g in gs]
    features = sp.csr_matrix((np.ones(len(pairs)), tuple(np.array(pairs).T)), shape=(data.n_items, len(genres)))
    users = data.users.frame
    evaluator = Evaluator(data.test, exclude=(data.train, data.valid), ks=(10,), metrics=("ndcg",))
    gender = users["gender"].to_numpy()[evaluator.users]
    band = np.array([age_band(a) for a in users["age"].to_numpy()[evaluator.users]])
    out = []
    for label in args.models:
        if label not in chosen or label not in rows_by_label:
            print(f"skipped {label}: no chosen settings in ml100k.json", file=sys.stderr)
            continue
        row = rows_by_label[label]
        kwargs = side_inputs(row, data, kgs)
        if kwargs is None:
            continue
        settings = {k: v for k, v in chosen[label].items()}
        model = get_model_class(row.model)(**settings).fit(data.train, data.valid, **kwargs)
        result, per_user = evaluator(model, per_user=True)
        lists = evaluator.top_lists(model)
        record = {"model": label, "ndcg@10": round(result["ndcg@10"], 4)}
        record |= {k: round(v, 4) for k, v in beyond_accuracy(lists, counts, data.n_users, features).items()}
        by_gender = group_gap(per_user["ndcg@10"], gender)
        by_age = group_gap(per_user["ndcg@10"], band)
        record |= {f"ndcg {g}": round(v, 4) for g, v in by_gender["by group"].items()}
        record["gender gap"] = round(by_gender["gap"], 4)
        record |= {f"ndcg {g}": round(v, 4) for g, v in sorted(by_age["by group"].items())}
        record["age gap"] = round(by_age["gap"], 4)
        print(json.dumps(record), flush=True)
        out.append(record)
    sizes = {**group_gap(np.zeros(len(gender)), gender)["users"], **group_gap(np.zeros(len(band)), band)["users"]}
    (OUT / "beyond.json").write_text(json.dumps({"rows": out, "group sizes": sizes}, indent=2) + "\n")
    text = ("# Beyond accuracy on MovieLens-100K (RecBole's default split, test top 10)\n\n"
            "Written by `benchmarks/beyond_table.py` (definitions in its docstring and in `fathom.metrics.beyond`). "
            f"Test users per group: {json.dumps(sizes)}.\n\n" + markdown_table(out) + "\n")
    (OUT / "beyond.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
