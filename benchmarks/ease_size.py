"""What a saved EASE weighs, dense and keeping each item's largest weights, and what that costs in accuracy.

EASE's closed form gives a dense item-item matrix (4 bytes per pair of items). The fitted model keeps each item's
``keep`` largest weights by magnitude (``EASEConfig.keep``, default 500) and stores them sparse. This compares
NDCG@10 / Recall@10 (full ranking) of the dense weights and of several ``keep`` on MovieLens-1M (RecBole's general
split, the benchmark's reg 800) and amazon_scientific (leave-one-out, training and validation items excluded,
reg 250), and the size of the saved folder, including a synthetic 9,245-item catalogue (sizes only).

    .venv/bin/python benchmarks/ease_size.py        # writes benchmarks/results/ease_size.md
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.ease import EASE

OUT = Path(__file__).resolve().parent / "results" / "ease_size.md"
KEEPS = (None, 1000, 500, 200, 100)


def folder_mb(model: EASE) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = model.save(Path(tmp) / "m")
        return sum(p.stat().st_size for p in folder.iterdir()) / 1e6


def rows_for(name: str, train: Interactions, valid: Interactions, test: Interactions, reg: float) -> list[str]:
    rows = []
    for keep in KEEPS:
        model = EASE(reg=reg, keep=keep).fit(train)
        m = evaluate_ranking(model, test, exclude=(train, valid), ks=(10,), metrics=("ndcg", "recall"))
        rows.append(f"| {name} | {train.n_items:,} | {'dense' if keep is None else keep} | {m['ndcg@10']:.4f} | "
                    f"{m['recall@10']:.4f} | {folder_mb(model):.1f} |")
        print(rows[-1], flush=True)
    return rows


def synthetic(n_items: int = 9245, n_users: int = 600, per_user: int = 100, seed: int = 0) -> Interactions:
    """Power-law popularity (Zipf exponent 1), ``per_user`` distinct items per user."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1)
    p /= p.sum()
    items = np.concatenate([rng.choice(n_items, per_user, replace=False, p=p) for _ in range(n_users)])
    return Interactions.from_arrays(np.repeat(np.arange(n_users), per_user), items, n_users, n_items)


def main() -> None:
    lines = ["| data | items | weights kept per item | NDCG@10 | Recall@10 | saved folder MB |",
             "|---|---|---|---|---|---|"]
    from fathom.data.prepare import PrepareConfig, prepare
    from fathom.data.sources import load_builtin

    data = prepare(load_builtin("movielens-1m"), PrepareConfig.recbole_general())
    lines += rows_for("MovieLens-1M", data.train, data.valid, data.test, 800.0)
    try:
        from fathom.benchmarks.text_data import load_text_data, loo_split

        split = loo_split(load_text_data("amazon_scientific").inter)
        lines += rows_for("amazon_scientific", split.train, split.valid, split.test, 250.0)
    except FileNotFoundError as err:
        print(f"skipped amazon_scientific: {err}", file=sys.stderr)
    big = synthetic()
    for keep in (None, 500):
        size = folder_mb(EASE(reg=250.0, keep=keep).fit(big))
        lines.append(f"| synthetic (sizes only) | {big.n_items:,} | {'dense' if keep is None else keep} | - | - | "
                     f"{size:.1f} |")
        print(lines[-1], flush=True)
    OUT.write_text("# EASE: weights kept per item, accuracy and saved size\n\nWritten by `benchmarks/ease_size.py`. "
                   "Full ranking; the saved folder also holds the training matrix.\n\n" + "\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
