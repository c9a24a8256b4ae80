"""Graded retrieval metrics for one query, as pure functions of (ranked document ids, judgements).

``qrels`` maps document id -> grade; grade <= 0 (or unjudged) is not relevant. Definitions follow trec_eval:

- ndcg@k: ``sum_{i<=k} g_i / log2(i + 1)`` with linear gains ``g_i`` (the grade), divided by the same sum
  over the ideal order of all judged grades (trec_eval ``ndcg_cut_k``)
- recall@k: relevant documents in the top k / all relevant (trec_eval ``recall_k``)
- mrr@k: 1 / rank of the first relevant document within k, else 0 (trec_eval ``recip_rank`` on the list cut
  at k)

A query without any relevant document scores 0 everywhere (evaluation skips such queries).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    gains = np.asarray([max(qrels.get(d, 0), 0) for d in ranked[:k]], dtype=np.float64)  # (<=k,)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # (k,)
    dcg = float(gains @ discounts[: len(gains)])
    ideal = np.sort(np.asarray([g for g in qrels.values() if g > 0], dtype=np.float64))[::-1][:k]
    idcg = float(ideal @ discounts[: len(ideal)])
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, g in qrels.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if qrels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def mean_metrics(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]
) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the queries of ``runs`` (query id -> ranked doc ids)."""
    if not runs:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    rows = [
        (ndcg_at_k(r, qrels.get(q, {}), 10), recall_at_k(r, qrels.get(q, {}), 100), mrr_at_k(r, qrels.get(q, {}), 10))
        for q, r in runs.items()
    ]
    m = np.asarray(rows).mean(axis=0)
    return {"ndcg@10": float(m[0]), "recall@100": float(m[1]), "mrr@10": float(m[2])}
