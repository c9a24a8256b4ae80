"""How much of a sequence model's top 10 is items already in its input, and what ``history_bias`` learns.

    python benchmarks/seq_history_check.py            # RecBole's ml-1m seq split; ~10 minutes on 2 cores
    python benchmarks/seq_history_check.py --quick    # 1,000 users, 1 epoch each (a smoke run)

The committed output of a full run: ``benchmarks/results/ml1m-seq/history_check.txt``.

1. The plain SASRec benchmark config, trained ``--plain-epochs`` epochs: validation and test NDCG@10 as the
   protocol ranks (nothing removed) and with the input window's items taken out of the ranking (a check only).
2. The same config with ``history_bias: true``, trained ``--bias-epochs`` epochs: the learned bias by distance,
   the share of top-10 places that still go to input items, and NDCG@10 with those removed as well.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from fathom.benchmarks.sequential import evaluate_next_item, for_test, prepare_ml1m_seq
from fathom.metrics.evaluator import evaluate_ranking
from fathom.models.sasrec import SASRec

CONFIG = Path(__file__).parent / "configs" / "ml1m_seq_sasrec.json"


class WindowRemoved:
    """A sequential model's scores with the items of each user's input window set to -inf."""

    def __init__(self, model: SASRec) -> None:
        self.model = model

    def score(self, users: np.ndarray) -> np.ndarray:
        scores = self.model.score(users)
        window = self.model.history.padded(np.asarray(users), self.model.config.max_len)  # (B, L), 0 = padding
        rows, cols = np.nonzero(window)
        scores[rows, window[rows, cols] - 1] = -np.inf
        return scores


def window_share(model: SASRec, users: np.ndarray) -> float:
    """Mean share of each user's top 10 taken by items in their input window."""
    top = np.argsort(-model.score(users), axis=1)[:, :10]
    window = model.history.padded(users, model.config.max_len) - 1  # -1 = padding
    return float(np.mean([np.isin(top[i], window[i][window[i] >= 0]).mean() for i in range(len(users))]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plain-epochs", type=int, default=6)
    parser.add_argument("--bias-epochs", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="1,000 users, 1 epoch each")
    args = parser.parse_args()
    data = prepare_ml1m_seq(args.quick)
    base = json.loads(CONFIG.read_text())["config"] | {"patience": None}
    epochs = (1, 1) if args.quick else (args.plain_epochs, args.bias_epochs)
    ndcg = lambda result: round(result["ndcg@10"], 4)  # noqa: E731
    plain = SASRec(**base | {"epochs": epochs[0]}).fit(data.train, data.valid)
    test_model = for_test(plain, data.valid)
    print(f"plain SASRec, {epochs[0]} epochs: validation NDCG@10 {ndcg(evaluate_next_item(plain, data.valid))}, "
          f"input items removed {ndcg(evaluate_ranking(WindowRemoved(plain), data.valid))}; test "
          f"{ndcg(evaluate_next_item(test_model, data.test))}, input items removed "
          f"{ndcg(evaluate_ranking(WindowRemoved(test_model), data.test))}")
    biased = SASRec(**base | {"epochs": epochs[1], "history_bias": True}).fit(data.train, data.valid)
    users = np.unique(data.valid.user)
    print(f"SASRec + history bias, {epochs[1]} epochs: bias by distance (newest first) "
          + " ".join(f"{b:.2f}" for b in biased.net.history_bias.detach().numpy()))
    print(f"  top-10 places taken by input items {window_share(biased, users):.4f}; validation NDCG@10 "
          f"{ndcg(evaluate_next_item(biased, data.valid))}, input items removed as well "
          f"{ndcg(evaluate_ranking(WindowRemoved(biased), data.valid))}")


if __name__ == "__main__":
    main()
