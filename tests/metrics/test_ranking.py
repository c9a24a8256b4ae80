"""Top-k metrics: hand-worked examples, and agreement with trec_eval (pytrec_eval) on random runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import pytrec_eval

from fathom.metrics.ranking import (
    RANKING_METRICS,
    coverage,
    f1_at_k,
    hit_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

KS = (1, 3, 5, 10, 40)


# -- hand-worked examples --------------------------------------------------------------------------------


def test_hand_example_two_hits_in_five():
    # list: hit, miss, hit, miss, miss; 3 relevant items; k = 5
    hits = np.array([[1, 0, 1, 0, 0]], bool)
    r = np.array([3])
    assert precision_at_k(hits, r, 5)[0] == pytest.approx(2 / 5)
    assert recall_at_k(hits, r, 5)[0] == pytest.approx(2 / 3)
    # F1 = 2 * 0.4 * (2/3) / (0.4 + 2/3) = 0.5333... / 1.0666... = 0.5
    assert f1_at_k(hits, r, 5)[0] == pytest.approx(0.5)
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal (3 hits) = 1 + 1/log2(3) + 1/log2(4) = 2.130930
    assert ndcg_at_k(hits, r, 5)[0] == pytest.approx(1.5 / (1 + 1 / math.log2(3) + 0.5))
    assert ndcg_at_k(hits, r, 5)[0] == pytest.approx(0.703918, abs=1e-6)
    assert mrr_at_k(hits, r, 5)[0] == 1.0
    assert hit_at_k(hits, r, 5)[0] == 1.0
    # AP: precision at the hits = 1/1 and 2/3, sum 5/3; over min(3, 5) = 3 -> 5/9 (and over R = 3 too)
    assert map_at_k(hits, r, 5)[0] == pytest.approx(5 / 9)
    assert map_at_k(hits, r, 5, normalizer="relevant")[0] == pytest.approx(5 / 9)
    # at k = 1: one hit out of one position
    assert precision_at_k(hits, r, 1)[0] == 1.0
    assert recall_at_k(hits, r, 1)[0] == pytest.approx(1 / 3)
    assert ndcg_at_k(hits, r, 1)[0] == 1.0  # ideal DCG at 1 is also 1
    assert map_at_k(hits, r, 1)[0] == 1.0  # 1 / min(3, 1)
    assert map_at_k(hits, r, 1, normalizer="relevant")[0] == pytest.approx(1 / 3)


def test_hand_example_more_relevant_than_k():
    # list: miss, hit; 5 relevant items; k = 2
    hits = np.array([[0, 1]])
    r = np.array([5])
    assert precision_at_k(hits, r, 2)[0] == 0.5
    assert recall_at_k(hits, r, 2)[0] == pytest.approx(0.2)
    # F1 = 2 * 0.5 * 0.2 / 0.7 = 0.285714
    assert f1_at_k(hits, r, 2)[0] == pytest.approx(0.2 / 0.7)
    # DCG = 1/log2(3) = 0.630930; ideal over min(5, 2) = 2 hits = 1 + 0.630930
    assert ndcg_at_k(hits, r, 2)[0] == pytest.approx(0.630930 / 1.630930, abs=1e-6)
    assert mrr_at_k(hits, r, 2)[0] == 0.5
    # AP: precision at the hit (rank 2) = 1/2; over min(5, 2) = 2 -> 0.25; over R = 5 -> 0.1
    assert map_at_k(hits, r, 2)[0] == pytest.approx(0.25)
    assert map_at_k(hits, r, 2, normalizer="relevant")[0] == pytest.approx(0.1)
    # a perfect list of k items scores 1 on NDCG and on MAP (min normaliser) even though R > k
    perfect = np.array([[1, 1]])
    assert ndcg_at_k(perfect, r, 2)[0] == pytest.approx(1.0)
    assert map_at_k(perfect, r, 2)[0] == pytest.approx(1.0)
    assert recall_at_k(perfect, r, 2)[0] == pytest.approx(0.4)


def test_hand_example_k_beyond_catalogue():
    # a catalogue of 3 items, all ranked: miss, hit, hit; 2 relevant; k = 5 > 3
    hits = np.array([[False, True, True]])
    r = np.array([2])
    assert precision_at_k(hits, r, 5)[0] == pytest.approx(2 / 5)  # still divided by k
    assert recall_at_k(hits, r, 5)[0] == 1.0
    # DCG = 1/log2(3) + 1/log2(4) = 1.130930; ideal over min(2, 5) = 2 hits = 1.630930
    assert ndcg_at_k(hits, r, 5)[0] == pytest.approx(1.130930 / 1.630930, abs=1e-6)
    assert mrr_at_k(hits, r, 5)[0] == 0.5
    # AP: precision 1/2 at rank 2 and 2/3 at rank 3, sum 7/6, over min(2, 5) = 2 -> 7/12
    assert map_at_k(hits, r, 5)[0] == pytest.approx(7 / 12)
    # F1 = 2 * 0.4 * 1 / 1.4
    assert f1_at_k(hits, r, 5)[0] == pytest.approx(0.8 / 1.4)


def test_users_without_relevant_items_score_zero():
    hits = np.zeros((2, 4), bool)
    r = np.array([0, 0])
    with np.errstate(all="raise"):  # no 0/0 anywhere
        for fn in RANKING_METRICS.values():
            np.testing.assert_array_equal(fn(hits, r, 3), [0.0, 0.0])
        np.testing.assert_array_equal(map_at_k(hits, r, 3, normalizer="relevant"), [0.0, 0.0])


def test_rows_are_independent_and_k_defaults_to_width():
    hits = np.array([[0, 0, 1], [1, 0, 0], [0, 0, 0]])
    r = np.array([1, 2, 4])
    # MRR: first hits at ranks 3, 1, none
    np.testing.assert_allclose(mrr_at_k(hits, r), [1 / 3, 1.0, 0.0])
    np.testing.assert_allclose(recall_at_k(hits, r), [1.0, 0.5, 0.0])
    # at k = 2 the first row's hit (rank 3) is cut off
    np.testing.assert_allclose(hit_at_k(hits, r, 2), [0.0, 1.0, 0.0])


def test_invalid_input_is_rejected():
    with pytest.raises(ValueError, match="more hits"):
        recall_at_k(np.array([[1, 1, 0]]), np.array([1]), 3)
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(np.array([[1]]), np.array([1]), 0)
    with pytest.raises(ValueError, match="n_relevant"):
        precision_at_k(np.array([[1, 0]]), np.array([1, 1]), 2)
    with pytest.raises(ValueError, match="normalizer"):
        map_at_k(np.array([[1]]), np.array([1]), 1, normalizer="total")  # type: ignore[arg-type]


def test_coverage():
    # items 0, 1, 2 of 5 appear; -1 is padding
    assert coverage(np.array([[0, 1, -1], [1, 2, -1]]), 5) == pytest.approx(3 / 5)
    assert coverage(np.full((2, 3), -1), 4) == 0.0
    with pytest.raises(ValueError):
        coverage(np.array([[0, 5]]), 5)


# -- agreement with trec_eval ----------------------------------------------------------------------------


def _random_case(rng: np.random.Generator):
    """Random ranked lists with tied scores, some items left out of the run, some users with no relevant item.

    Returns (runs, relevant) where runs[u] is user u's ranked item list (ties broken by lower item id) and
    relevant[u] the set of relevant items (some of which may be missing from the run).
    """
    n_items = int(rng.integers(1, 30))
    n_users = 30
    runs, relevant = [], []
    for _ in range(n_users):
        scores = rng.integers(0, 4, n_items).astype(float)  # many ties
        in_run = rng.random(n_items) > rng.choice([0.0, 0.3])  # sometimes drop items (as excluded ones)
        items = np.flatnonzero(in_run)
        order = np.lexsort((items, -scores[items]))  # score descending, then lower id first
        runs.append(items[order])
        p_rel = rng.choice([0.0, 0.1, 0.5])
        relevant.append(set(np.flatnonzero(rng.random(n_items) < p_rel).tolist()))
    return runs, relevant


def _trec(runs, relevant, measures, cut=None):
    """Per-user trec_eval measures; the run gets distinct scores equal to minus the rank."""
    qrels, run = {}, {}
    for u, (items, rel) in enumerate(zip(runs, relevant, strict=True)):
        q = f"u{u}"
        # a judged non-relevant document keeps users with no relevant item in the evaluation
        qrels[q] = {f"d{i}": 1 for i in rel} | {"judged_nonrelevant": 0}
        ranked = items if cut is None else items[:cut]
        run[q] = {f"d{i}": float(len(ranked) - rank) for rank, i in enumerate(ranked)}
        if not run[q]:
            run[q] = {"judged_nonrelevant": 0.0}  # trec_eval needs one retrieved document; it is not relevant
    out = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    return out


def _hit_matrix(runs, relevant):
    width = max(1, max(len(r) for r in runs))
    hits = np.zeros((len(runs), width), bool)
    for u, (items, rel) in enumerate(zip(runs, relevant, strict=True)):
        hits[u, : len(items)] = [i in rel for i in items]
    return hits, np.array([len(rel) for rel in relevant])


@pytest.mark.parametrize("seed", range(12))
def test_metrics_match_trec_eval(seed):
    rng = np.random.default_rng(seed)
    runs, relevant = _random_case(rng)
    hits, n_rel = _hit_matrix(runs, relevant)
    cuts = ",".join(map(str, KS))
    ref = _trec(runs, relevant, {f"P.{cuts}", f"recall.{cuts}", f"ndcg_cut.{cuts}", f"map_cut.{cuts}",
                                  f"success.{cuts}"})
    users = [f"u{u}" for u in range(len(runs))]
    for k in KS:
        def col(measure, k=k):
            return np.array([ref[q][f"{measure}_{k}"] for q in users])

        np.testing.assert_allclose(precision_at_k(hits, n_rel, k), col("P"), atol=1e-12)
        np.testing.assert_allclose(recall_at_k(hits, n_rel, k), col("recall"), atol=1e-12)
        np.testing.assert_allclose(ndcg_at_k(hits, n_rel, k), col("ndcg_cut"), atol=1e-12)
        np.testing.assert_allclose(hit_at_k(hits, n_rel, k), col("success"), atol=1e-12)
        trec_ap = col("map_cut")  # trec_eval divides by R
        np.testing.assert_allclose(map_at_k(hits, n_rel, k, normalizer="relevant"), trec_ap, atol=1e-12)
        rescaled = np.divide(trec_ap * n_rel, np.minimum(n_rel, k), out=np.zeros(len(users)), where=n_rel > 0)
        np.testing.assert_allclose(map_at_k(hits, n_rel, k), rescaled, atol=1e-12)
        # F1 from trec's P_k and recall_k
        p, r = col("P"), col("recall")
        f1 = np.divide(2 * p * r, p + r, out=np.zeros(len(users)), where=p + r > 0)
        np.testing.assert_allclose(f1_at_k(hits, n_rel, k), f1, atol=1e-12)

        # trec's recip_rank has no cutoff: truncate the run to k documents; likewise set_F on the cut run
        # equals F1@k wherever the run has at least k documents (set_P divides by the number retrieved)
        cut = _trec(runs, relevant, {"recip_rank", "set_F"}, cut=k)
        rr = [cut[q]["recip_rank"] for q in users]
        np.testing.assert_allclose(mrr_at_k(hits, n_rel, k), rr, atol=1e-12)
        full = np.array([len(r) >= k for r in runs])
        set_f = np.array([cut[q]["set_F"] for q in users])
        np.testing.assert_allclose(f1_at_k(hits, n_rel, k)[full], set_f[full], atol=1e-12)


def test_random_cases_cover_the_edge_cases():
    """The random cases above do include users without relevant items, ties and k beyond the list."""
    n_zero = n_short = n_many = 0
    for seed in range(12):
        runs, relevant = _random_case(np.random.default_rng(seed))
        n_zero += sum(len(r) == 0 for r in relevant)
        n_short += sum(len(r) < max(KS) for r in runs)
        n_many += sum(len(r) > 5 for r in relevant)
    assert n_zero > 20 and n_short > 100 and n_many > 10


def test_graded_ndcg_with_binary_grades_equals_ndcg():
    from fathom.metrics.ranking import graded_ndcg_at_k

    rng = np.random.default_rng(3)
    hits = rng.random((50, 20)) < 0.2  # (B, K)
    n_relevant = hits.sum(axis=1) + rng.integers(0, 4, 50)
    ideal = (np.arange(30)[None, :] < n_relevant[:, None]).astype(float)  # R ones per row
    for k in (1, 5, 20, 25):
        np.testing.assert_allclose(graded_ndcg_at_k(hits.astype(float), ideal, k), ndcg_at_k(hits, n_relevant, k))
    # graded: a grade-2 document first and a grade-1 second is ideal; swapped, it is not
    assert graded_ndcg_at_k(np.array([[2.0, 1.0]]), np.array([[1.0, 2.0]]))[0] == 1.0
    assert graded_ndcg_at_k(np.array([[1.0, 2.0]]), np.array([[1.0, 2.0]]))[0] < 1.0
