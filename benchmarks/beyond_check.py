"""Fathom's beyond-accuracy metrics checked against RecBole 1.2.1's own code on the same top-10 lists.

    .venv/bin/python benchmarks/beyond_check.py [--recbole-python /work/recbole-venv/bin/python]

Fits Pop and EASE (and draws seeded random lists, which reach the long tail) on MovieLens-100K (RecBole's default
general split, ``kg_rec.load_ml100k``), takes each model's
top-10 lists for the test users (training and validation items excluded), computes Fathom's ItemCoverage,
AveragePopularity, GiniIndex, ShannonEntropy and TailPercentage (``fathom.metrics.beyond``), and runs RecBole's
metric classes (``recbole.evaluator.metrics``) in RecBole's venv on the very same lists, item counts and number of
items. RecBole's evaluator itself passes ``n_items + 1`` (it counts its padding item) to ItemCoverage and
GiniIndex, and its ShannonEntropy is divided by the number of distinct items recommended: both are shown.
Writes ``benchmarks/results/kg-rec/beyond_check.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from fathom.evaluate.report import markdown_table
from fathom.metrics.beyond import average_popularity, gini_index, item_coverage, shannon_entropy, tail_percentage
from fathom.metrics.evaluator import Evaluator
from fathom.models.ease import EASE
from fathom.models.popularity import Popularity

HERE = Path(__file__).resolve().parent


class RandomScores:
    """Seeded random scores: lists that reach every part of the catalogue, tail included."""

    def __init__(self, n_items: int) -> None:
        self.n_items, self.rng = n_items, np.random.default_rng(0)

    def score(self, users: np.ndarray) -> np.ndarray:
        return self.rng.random((len(users), self.n_items)).astype(np.float32)

RECBOLE_SNIPPET = r"""
import json, sys, numpy as np, torch
from recbole.evaluator.collector import DataStruct
from recbole.evaluator.metrics import ItemCoverage, AveragePopularity, GiniIndex, ShannonEntropy, TailPercentage
data = json.load(open(sys.argv[1]))
config = {"topk": [10], "metric_decimal_place": 10, "tail_ratio": 0.1}
out = {}
for name, lists in data["lists"].items():
    s = DataStruct()
    s.set("rec.items", torch.tensor(lists))
    s.set("data.num_items", data["n_items"])
    s.set("data.count_items", {int(i): int(c) for i, c in enumerate(data["counts"]) if c > 0})
    row = {}
    for cls in (ItemCoverage, AveragePopularity, GiniIndex, ShannonEntropy, TailPercentage):
        row.update(cls(config).calculate_metric(s))
    out[name] = row
print(json.dumps(out))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recbole-python", default="/work/recbole-venv/bin/python")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from kg_rec import load_ml100k

    data = load_ml100k()
    counts = np.bincount(data.train.item, minlength=data.n_items)
    evaluator = Evaluator(data.test, exclude=(data.train, data.valid), ks=(10,), metrics=("ndcg",))
    lists = {"Pop": evaluator.top_lists(Popularity().fit(data.train)),
             "EASE": evaluator.top_lists(EASE(reg=500.0, keep=None).fit(data.train)),
             "Random": evaluator.top_lists(RandomScores(data.n_items))}  # reaches the tail, unlike the others
    ours = {name: {"itemcoverage@10": item_coverage(t, data.n_items),
                   "averagepopularity@10": average_popularity(t, counts),
                   "giniindex@10": gini_index(t, data.n_items),
                   "shannonentropy@10": shannon_entropy(t, data.n_items, per_item=True),
                   "tailpercentage@10": tail_percentage(t, counts, 0.1)} for name, t in lists.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lists.json"
        path.write_text(json.dumps({"lists": {k: v.tolist() for k, v in lists.items()}, "n_items": data.n_items,
                                    "counts": counts.tolist()}))
        done = subprocess.run([args.recbole_python, "-c", RECBOLE_SNIPPET, str(path)], capture_output=True,
                              text=True, check=True)
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    rows = []
    for name in lists:
        for metric, value in ours[name].items():
            rows.append({"model": name, "metric": metric, "Fathom": round(value, 8),
                         "RecBole 1.2.1": round(theirs[name][metric], 8),
                         "difference": f"{abs(value - theirs[name][metric]):.1e}"})
        rows.append({"model": name, "metric": "entropy (nats, Fathom's entropy@10)", "Fathom":
                     round(shannon_entropy(lists[name], data.n_items), 6), "RecBole 1.2.1": "-", "difference": "-"})
    worst = max(abs(ours[n][m] - theirs[n][m]) for n in lists for m in ours[n])
    text = ("# Beyond-accuracy metrics: Fathom against RecBole 1.2.1's code on the same lists\n\n"
            "Written by `benchmarks/beyond_check.py`: Pop, EASE (reg 500) and seeded random scores on\n"
            "MovieLens-100K (RecBole's default split), top-10 lists of the 943 test users, training and validation\n"
            "items excluded; RecBole's metric classes run in its own venv on the same lists, item counts\n"
            "(training interactions) and number of items "
            f"({data.n_items}). Largest difference: {worst:.1e}.\nShannonEntropy is RecBole's definition (entropy "
            "divided by the number of distinct items recommended,\n`shannon_entropy(per_item=True)`); Fathom's "
            "leaderboards report the plain entropy in nats (the extra row).\n\n" + markdown_table(rows) + "\n")
    out = HERE / "results" / "kg-rec" / "beyond_check.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0 if worst < 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
