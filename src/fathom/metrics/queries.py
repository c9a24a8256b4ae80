"""Search metrics of ranked document ids against graded judgements (``qrels``: document id -> grade; a grade
<= 0, or no judgement, is not relevant), as trec_eval defines them: ``ndcg_cut_k`` with linear gains,
``recall_k``, ``recip_rank`` on the list cut at k. Each turns the queries into rows and calls the one vectorised
definition in :mod:`fathom.metrics.ranking`. A query without any relevant document scores 0 everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fathom.metrics.ranking import graded_ndcg_at_k, mrr_at_k, recall_at_k

Qrels = Mapping[str, int]


def _rows(lists: Sequence[Sequence[str]], qrels: Sequence[Qrels], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, k) grades of each list's first k distinct documents, (Q, J) every relevant grade, (Q,) relevant count."""
    gains = np.zeros((len(lists), k))
    relevant = [[g for g in q.values() if g > 0] for q in qrels]
    ideal = np.zeros((len(lists), max([1, *map(len, relevant)])))
    for row, (ranked, judged, grades) in enumerate(zip(lists, qrels, relevant, strict=True)):
        top = list(dict.fromkeys(ranked))[:k]
        gains[row, : len(top)] = [max(judged.get(d, 0), 0) for d in top]
        ideal[row, : len(grades)] = grades
    return gains, ideal, np.array([len(g) for g in relevant], dtype=np.int64)


def query_ndcg(ranked: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    gains, ideal, _ = _rows([ranked], [qrels], k)
    return float(graded_ndcg_at_k(gains, ideal, k)[0])


def query_recall(ranked: Sequence[str], qrels: Qrels, k: int = 100) -> float:
    gains, _, n = _rows([ranked], [qrels], k)
    return float(recall_at_k(gains > 0, n, k)[0])


def query_mrr(ranked: Sequence[str], qrels: Qrels, k: int = 10) -> float:
    gains, _, n = _rows([ranked], [qrels], k)
    return float(mrr_at_k(gains > 0, n, k)[0])


def mean_metrics(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Qrels]) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 over the queries of ``runs`` (query id -> ranked doc ids)."""
    if not runs:
        return {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    judged = [qrels.get(q, {}) for q in runs]
    gains, ideal, n = _rows(list(runs.values()), judged, 100)
    hits = gains > 0
    return {"ndcg@10": float(graded_ndcg_at_k(gains, ideal, 10).mean()),
            "recall@100": float(recall_at_k(hits, n, 100).mean()), "mrr@10": float(mrr_at_k(hits, n, 10).mean())}
