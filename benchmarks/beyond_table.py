"""Beyond accuracy: coverage, popularity bias, concentration, novelty, diversity and the accuracy gap between user
groups, for the models of ``benchmarks/kg_rec.py`` on MovieLens-100K or of the MovieLens-1M leaderboard, at their
chosen settings.

    .venv/bin/python benchmarks/beyond_table.py [--models EASE "KG-EASE (imdb)"]
    .venv/bin/python benchmarks/beyond_table.py --protocol ml1m-general [--models EASE BPR]

Each model is refitted with the settings chosen on validation (read from ``benchmarks/results/kg-rec/ml100k.json``,
RecBole's default ML-100K split; or from ``benchmarks/results/ml1m-general/leaderboard.json``, the leaderboard's
split, its NDCG@10 shown beside the refit's); its test top-10 lists (training and validation items excluded) are
measured with ``fathom.metrics.beyond``: catalogue coverage, average popularity
(training interactions of the recommended items), long-tail share (the 10% least-interacted items), Gini index and
entropy of how often items are recommended, novelty (bits), intra-list diversity over the films' genres; and
NDCG@10 by gender and by age band (under 25, 25-34, 35-44, 45 and over) with the largest gap between groups.
Writes ``beyond.{md,json}`` beside the models' results (``kg-rec/`` or ``ml1m-general/``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
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
    """MovieLens ages (ML-1M's codes 1, 18, 25, 35, 45, 50, 56 are the bands' lower ends) in four bands."""
    return "<25" if age < 25 else "25-34" if age < 35 else "35-44" if age < 45 else "45+"


def genre_features(data) -> sp.csr_matrix:
    """(n_items, G) 0/1 genres of the films, for intra-list diversity."""
    frame = data.catalog.frame
    genres = sorted({g for gs in frame["genres"] for g in gs})
    col = {g: j for j, g in enumerate(genres)}
    pairs = [(i, col[g]) for i, gs in enumerate(frame["genres"]) for g in gs]
    return sp.csr_matrix((np.ones(len(pairs)), tuple(np.array(pairs).T)), shape=(data.n_items, len(genres)))


def ml100k_models(wanted: list[str]):
    """(data, [(label, fit() -> model, leaderboard ndcg or None)]) of kg_rec.py's chosen settings."""
    sys.path.insert(0, str(HERE))
    from kg_rec import ROWS, graphs, load_ml100k, side_inputs

    data = load_ml100k()
    chosen = {r["model"]: r["chosen"] for r in json.loads((HERE / "results/kg-rec/ml100k.json").read_text())["rows"]}
    rows_by_label = {r.label: r for r in ROWS}
    kgs = graphs(data, {"imdb"})
    out = []
    for label in wanted:
        if label not in chosen or label not in rows_by_label:
            print(f"skipped {label}: no chosen settings in ml100k.json", file=sys.stderr)
            continue
        row = rows_by_label[label]
        kwargs = side_inputs(row, data, kgs)
        if kwargs is None:
            continue
        out.append((label, lambda row=row, label=label, kwargs=kwargs: get_model_class(row.model)(
            **chosen[label]).fit(data.train, data.valid, **kwargs), None))
    return data, out


def ml1m_models(wanted: list[str] | None):
    """(data, [(label, fit() -> model, leaderboard ndcg)]) of the MovieLens-1M leaderboard's chosen settings."""
    from fathom.benchmarks.protocols import get_protocol
    from fathom.data.prepare import prepare
    from fathom.data.sources import load_builtin

    protocol = get_protocol("ml1m-general")
    board = json.loads((HERE / "results/ml1m-general/leaderboard.json").read_text())
    ndcg = {r["model"]: r["ndcg@10"] for r in board["table"]}
    data = prepare(load_builtin(protocol.dataset), protocol.prepare())
    specs = {spec.title: spec for spec in protocol.specs}
    out = []
    for label in wanted or list(specs):
        if label not in specs or label not in board["chosen_configs"]:
            print(f"skipped {label}: not on the leaderboard", file=sys.stderr)
            continue
        config = {k: v for k, v in board["chosen_configs"][label].items() if k != "progress"}
        out.append((label, lambda name=specs[label].model, config=config: get_model_class(name)(
            **config).fit(data.train, data.valid), ndcg.get(label)))
    return data, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", choices=["kg-ml100k", "ml1m-general"], default="kg-ml100k")
    ap.add_argument("--models", nargs="+", help=f"labels (default: {', '.join(DEFAULT)} on ML-100K; every "
                    "leaderboard model on ML-1M)")
    args = ap.parse_args()
    if args.protocol == "kg-ml100k":
        data, models = ml100k_models(args.models or DEFAULT)
        out_dir, title = OUT, "MovieLens-100K (RecBole's default split, test top 10)"
    else:
        data, models = ml1m_models(args.models)
        out_dir, title = HERE / "results" / "ml1m-general", "the MovieLens-1M leaderboard (its split, test top 10)"
    counts = np.bincount(data.train.item, minlength=data.n_items)
    features = genre_features(data)
    users = data.users.frame
    evaluator = Evaluator(data.test, exclude=(data.train, data.valid), ks=(10,), metrics=("ndcg",))
    gender = users["gender"].to_numpy()[evaluator.users]
    band = np.array([age_band(a) for a in users["age"].to_numpy()[evaluator.users]])
    out = []
    for label, fit, board_ndcg in models:
        started = time.perf_counter()
        model = fit()
        result, per_user = evaluator(model, per_user=True)
        lists = evaluator.top_lists(model)
        record = {"model": label, "ndcg@10": round(result["ndcg@10"], 4)}
        if board_ndcg is not None:
            record["leaderboard ndcg@10"] = round(board_ndcg, 4)
        record |= {k: round(v, 4) for k, v in beyond_accuracy(lists, counts, data.n_users, features).items()}
        by_gender = group_gap(per_user["ndcg@10"], gender)
        by_age = group_gap(per_user["ndcg@10"], band)
        record |= {f"ndcg {g}": round(v, 4) for g, v in by_gender["by group"].items()}
        record["gender gap"] = round(by_gender["gap"], 4)
        record |= {f"ndcg {g}": round(v, 4) for g, v in sorted(by_age["by group"].items())}
        record["age gap"] = round(by_age["gap"], 4)
        print(json.dumps(record) + f"  ({time.perf_counter() - started:.0f} s)", flush=True)
        out.append(record)
    sizes = {**group_gap(np.zeros(len(gender)), gender)["users"], **group_gap(np.zeros(len(band)), band)["users"]}
    (out_dir / "beyond.json").write_text(json.dumps({"rows": out, "group sizes": sizes}, indent=2) + "\n")
    text = (f"# Beyond accuracy on {title}\n\n"
            "Written by `benchmarks/beyond_table.py` (definitions in its docstring and in `fathom.metrics.beyond`). "
            f"Test users per group: {json.dumps(sizes)}.\n\n" + markdown_table(out) + "\n")
    (out_dir / "beyond.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
