"""Full-ranking evaluation end to end: known scores, exclusions, ties, and agreement with trec_eval."""

from __future__ import annotations

import math
from typing import Self

import numpy as np
import pytest
import pytrec_eval
import scipy.sparse as sp

from fathom.config import Config
from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import KNOWN_METRICS, Evaluator, evaluate_ranking
from fathom.models.base import Recommender


class FixedScores:
    """A model whose scores are a known (n_users, n_items) table; records the users of each call."""

    def __init__(self, table: np.ndarray) -> None:
        self.table = np.asarray(table, dtype=np.float32)
        self.calls: list[np.ndarray] = []

    def score(self, users: np.ndarray) -> np.ndarray:
        self.calls.append(np.array(users))
        return self.table[users]


def pairs(n_users: int, n_items: int, by_user: dict[int, list[int]]) -> Interactions:
    user = [u for u, items in by_user.items() for _ in items]
    item = [i for items in by_user.values() for i in items]
    return Interactions.from_arrays(np.array(user, int), np.array(item, int), n_users, n_items)


# Four users, six items. Worked by hand below.
SCORES = np.array(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],  # user 0: order 0 1 2 3 4 5
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # user 1: has no test item, never evaluated
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # user 2: all tied -> order 0 1 2 3 4 5 (lower id first)
        [0.1, 0.2, 0.3, 0.4, 0.5, 1.0],  # user 3: order 5 4 3 2 1 0
    ]
)
TRAIN = pairs(4, 6, {0: [0], 1: [1], 3: [5]})
TEST = pairs(4, 6, {0: [2, 5], 2: [0], 3: [5, 0]})  # user 3's item 5 is also a training item


def test_hand_worked_example():
    result = evaluate_ranking(FixedScores(SCORES), TEST, exclude=[TRAIN], ks=(2, 5),
                              metrics=("recall", "precision", "mrr", "hit", "ndcg", "coverage"))
    # After removing training items the top lists are
    #   user 0: 1 2 3 4 5      relevant {2, 5}: hits at ranks 2 and 5
    #   user 2: 0 1 2 3 4 5    relevant {0}:    hit at rank 1
    #   user 3: 4 3 2 1 0      relevant {5, 0}: item 5 is excluded, item 0 is at rank 5
    # k = 2:  user 0: recall 1/2, precision 1/2, mrr 1/2, hit 1, ndcg (1/log2 3) / (1 + 1/log2 3) = 0.386853
    #         user 2: recall 1,   precision 1/2, mrr 1,   hit 1, ndcg 1
    #         user 3: all 0
    assert result["n_users"] == 3
    assert result["recall@2"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert result["precision@2"] == pytest.approx((0.5 + 0.5 + 0) / 3)
    assert result["mrr@2"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert result["hit@2"] == pytest.approx(2 / 3)
    ndcg_u0 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_u0 == pytest.approx(0.386853, abs=1e-6)
    assert result["ndcg@2"] == pytest.approx((ndcg_u0 + 1 + 0) / 3)
    # k = 5:  user 0: recall 1, precision 2/5, mrr 1/2,
    #                 ndcg (1/log2 3 + 1/log2 6) / (1 + 1/log2 3) = (0.630930 + 0.386853) / 1.630930
    #         user 2: recall 1, precision 1/5, mrr 1, ndcg 1
    #         user 3: recall 1/2 (item 5 cannot be ranked), precision 1/5, mrr 1/5,
    #                 ndcg (1/log2 6) / (1 + 1/log2 3) = 0.386853 / 1.630930 = 0.237197
    ideal2 = 1 + 1 / math.log2(3)
    assert result["recall@5"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert result["precision@5"] == pytest.approx((2 / 5 + 1 / 5 + 1 / 5) / 3)
    assert result["mrr@5"] == pytest.approx((0.5 + 1 + 0.2) / 3)
    assert result["ndcg@5"] == pytest.approx(((1 / math.log2(3) + 1 / math.log2(6)) / ideal2 + 1
                                              + (1 / math.log2(6)) / ideal2) / 3)
    # coverage: top-2 lists {1, 2}, {0, 1}, {4, 3} -> 5 of 6 items; top-5 lists cover all 6
    assert result["coverage@2"] == pytest.approx(5 / 6)
    assert result["coverage@5"] == 1.0
    assert list(result) == [f"{m}@{k}" for m in ("recall", "precision", "mrr", "hit", "ndcg", "coverage")
                            for k in (2, 5)] + ["n_users"]


def test_without_exclusion_training_items_are_ranked():
    # no exclusion: user 0's list is 0 1 (no hit), user 3's is 5 4 (item 5 is a hit at rank 1)
    per = evaluate_ranking(FixedScores(SCORES), TEST, ks=(2,), metrics=("mrr",), per_user=True)[1]
    np.testing.assert_array_equal(per["user"], [0, 2, 3])
    np.testing.assert_allclose(per["mrr@2"], [0.0, 1.0, 1.0])


def test_excluded_items_never_count():
    # every test item is also a training item and the model scores exactly those items highest
    rng = np.random.default_rng(0)
    n_users, n_items = 20, 15
    mask = rng.random((n_users, n_items)) < 0.3
    mask[:, 0] = True  # every user has at least one item
    u, i = np.nonzero(mask)
    seen = Interactions.from_arrays(u, i, n_users, n_items)
    model = FixedScores(mask.astype(np.float32) + rng.random((n_users, n_items)) * 0.1)
    names = ("recall", "precision", "f1", "ndcg", "mrr", "hit", "map")
    unexcluded = evaluate_ranking(model, seen, ks=(5,), metrics=names)
    assert unexcluded["hit@5"] == 1.0 and unexcluded["ndcg@5"] == pytest.approx(1.0)
    excluded = evaluate_ranking(model, seen, exclude=[seen], ks=(5,), metrics=names)
    assert excluded["n_users"] == n_users
    assert all(excluded[f"{m}@5"] == 0.0 for m in names)
    # a sparse matrix works as an exclusion too, and so does one Interactions not wrapped in a list
    as_matrix = evaluate_ranking(model, seen, exclude=sp.csr_matrix(mask), ks=(5,), metrics=("hit",))
    assert as_matrix["hit@5"] == 0.0
    assert evaluate_ranking(model, seen, exclude=seen, ks=(5,), metrics=("hit",))["hit@5"] == 0.0


def test_ties_break_by_lower_item_id():
    # all scores tie; user u's only test item is item u, so it sits at rank u + 1
    n = 6
    test = pairs(n, n, {u: [u] for u in range(n)})
    model = FixedScores(np.zeros((n, n)))
    _, per = evaluate_ranking(model, test, ks=(1, n), metrics=("hit", "mrr"), per_user=True)
    np.testing.assert_array_equal(per["hit@1"], [1, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(per["mrr@6"], [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6])
    # a tie group cut at the k-th position (a partial sort may cut it anywhere): item 0 is first, then items
    # 1..299 tie, so the top 2 is [0, 1] and the top 3 is [0, 1, 2]
    m = 300
    table = np.zeros((3, m))
    table[:, 0] = 1.0
    test2 = pairs(3, m, {0: [1], 1: [m - 1], 2: [2]})
    per2 = evaluate_ranking(FixedScores(table), test2, ks=(2, 3), metrics=("hit",), per_user=True)[1]
    np.testing.assert_array_equal(per2["hit@2"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(per2["hit@3"], [1.0, 0.0, 1.0])


def test_nan_and_minus_inf_scores_are_never_ranked():
    # user 0: item 0 scores NaN, item 1 -inf; test items {0, 1, 2}: only item 2 can be found, at rank 1
    table = np.array([[np.nan, -np.inf, 0.0, -1.0]])
    test = pairs(1, 4, {0: [0, 1, 2]})
    result = evaluate_ranking(FixedScores(table), test, ks=(4,), metrics=("recall", "mrr", "coverage"))
    assert result["recall@4"] == pytest.approx(1 / 3)
    assert result["mrr@4"] == 1.0
    assert result["coverage@4"] == pytest.approx(2 / 4)  # items 2 and 3 are listed


def test_k_beyond_catalogue():
    # 3 items, k = 10: the list holds 3 items; precision is still over 10
    test = pairs(1, 3, {0: [2]})
    result = evaluate_ranking(FixedScores([[0.3, 0.2, 0.1]]), test, ks=(10,), metrics=("precision", "ndcg"))
    assert result["precision@10"] == pytest.approx(0.1)
    assert result["ndcg@10"] == pytest.approx(1 / math.log2(4))  # one hit at rank 3, ideal DCG 1


def test_users_argument_batches_and_model_output_untouched():
    model = FixedScores(SCORES)
    before = model.table.copy()
    result = evaluate_ranking(model, TEST, exclude=[TRAIN], ks=(2,), metrics=("mrr",), batch_size=2)
    assert [c.tolist() for c in model.calls] == [[0, 2], [3]]  # only users with test items, in batches
    assert all(c.dtype == np.int64 for c in model.calls)
    np.testing.assert_array_equal(model.table, before)  # excluded items were masked on a copy
    assert result["mrr@2"] == pytest.approx(0.5)
    # users 0 and 1 asked for: user 1 has no test item, so only user 0 is evaluated (mrr 1/2)
    only = evaluate_ranking(model, TEST, exclude=[TRAIN], ks=(2,), metrics=("mrr",), users=np.array([0, 1]))
    assert only == {"mrr@2": 0.5, "n_users": 1}


def test_evaluator_is_reusable():
    evaluator = Evaluator(TEST, exclude=[TRAIN], ks=(2,), metrics=("ndcg", "recall"))
    first = evaluator(FixedScores(SCORES))
    reversed_model = FixedScores(-SCORES)
    second = evaluator(reversed_model)
    assert evaluator(FixedScores(SCORES)) == first
    again = evaluate_ranking(FixedScores(SCORES), TEST, exclude=[TRAIN], ks=(2,), metrics=("ndcg", "recall"))
    assert first == again
    # reversed scores: user 0 gets 5 4 (hit at rank 1), user 2 still ties (0 1), user 3 gets 0 1 (hit at 1)
    assert second["recall@2"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert evaluator.n_users == 3


def test_invalid_arguments():
    with pytest.raises(ValueError, match="known: .*ndcg"):
        evaluate_ranking(FixedScores(SCORES), TEST, metrics=("ndcg", "auc"))
    with pytest.raises(ValueError, match="shape"):
        evaluate_ranking(FixedScores(SCORES[:, :5]), TEST)
    with pytest.raises(ValueError, match="exclusion"):
        evaluate_ranking(FixedScores(SCORES), TEST, exclude=[sp.csr_matrix((4, 5))])
    with pytest.raises(ValueError, match="no user"):
        evaluate_ranking(FixedScores(SCORES), TEST, users=np.array([1]))
    with pytest.raises(ValueError, match="ks"):
        evaluate_ranking(FixedScores(SCORES), TEST, ks=(0, 10))


# -- a real Recommender goes through the evaluator as well ------------------------------------------------


class _TableConfig(Config):
    pass


class _TableModel(Recommender):
    name = "table-for-tests"
    Config = _TableConfig

    def __init__(self, table: np.ndarray) -> None:
        super().__init__()
        self.table = np.asarray(table, np.float32)

    def fit(self, train: Interactions, valid: Interactions | None = None) -> Self:
        self._begin_fit(train)
        self.fitted = True
        return self

    def _score(self, users: np.ndarray) -> np.ndarray:
        return self.table[users]

    def _state(self) -> dict[str, np.ndarray]:
        return {"table": self.table}

    def _load_state(self, state: dict[str, np.ndarray]) -> None:
        self.table = state["table"]


def test_recommender_lists_match_evaluated_hits():
    """Hits seen by the evaluator are exactly those of Recommender.recommend with the same exclusions."""
    rng = np.random.default_rng(2)
    n_users, n_items = 30, 12
    table = rng.integers(0, 3, (n_users, n_items)).astype(np.float32)
    train = Interactions.from_arrays(*np.nonzero(rng.random((n_users, n_items)) < 0.3), n_users, n_items)
    test = Interactions.from_arrays(*np.nonzero(rng.random((n_users, n_items)) < 0.2), n_users, n_items)
    model = _TableModel(table).fit(train)
    _, per = evaluate_ranking(model, test, exclude=[train], ks=(4,), metrics=("precision",), per_user=True)
    ids, _ = model.recommend(per["user"], k=4, exclude=train)
    relevant = test.csr().toarray().astype(bool)
    n_hits = np.array([relevant[u, row[row >= 0]].sum() for u, row in zip(per["user"], ids, strict=True)])
    np.testing.assert_allclose(per["precision@4"], n_hits / 4)


# -- agreement with trec_eval on random data with ties, exclusions and NaN --------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_matches_trec_eval_end_to_end(seed):
    rng = np.random.default_rng(seed)
    # odd seeds: a cutoff beyond the catalogue (every list is fully sorted); even seeds: a partial sort whose
    # k-th position often falls inside a tie group
    n_users, n_items = 60, 40
    ks = (1, 5, 10, 50) if seed % 2 else (1, 3, 5, 10)
    scores = rng.integers(0, 6, (n_users, n_items)).astype(np.float32)  # many ties
    scores[rng.random((n_users, n_items)) < 0.02] = np.nan
    train_mask = rng.random((n_users, n_items)) < rng.choice([0.1, 0.9])
    valid_mask = rng.random((n_users, n_items)) < 0.05
    test_mask = rng.random((n_users, n_items)) < rng.uniform(0.02, 0.3, (n_users, 1))
    train = Interactions.from_arrays(*np.nonzero(train_mask), n_users, n_items)
    valid = Interactions.from_arrays(*np.nonzero(valid_mask), n_users, n_items)
    test = Interactions.from_arrays(*np.nonzero(test_mask), n_users, n_items)
    names = ("precision", "recall", "f1", "ndcg", "mrr", "hit", "map", "coverage")
    summary, per = evaluate_ranking(FixedScores(scores), test, exclude=[train, valid], ks=ks, metrics=names,
                                    batch_size=7, per_user=True)

    # reference ranking: eligible items (not excluded, score not NaN) by score descending, then lower id
    users = np.flatnonzero(test_mask.any(axis=1))
    runs = {}
    for u in users:
        items = np.flatnonzero(~train_mask[u] & ~valid_mask[u] & ~np.isnan(scores[u]))
        runs[u] = items[np.lexsort((items, -scores[u, items]))]
    qrels = {f"u{u}": {f"d{i}": 1 for i in np.flatnonzero(test_mask[u])} for u in users}

    def trec(measures, cut=None):
        run = {}
        for u in users:
            ranked = runs[u] if cut is None else runs[u][:cut]
            run[f"u{u}"] = {f"d{i}": float(len(ranked) - r) for r, i in enumerate(ranked)} or {"none": 0.0}
        out = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
        return lambda name: np.array([out[f"u{u}"][name] for u in users])

    cuts = ",".join(map(str, ks))
    ref = trec({f"P.{cuts}", f"recall.{cuts}", f"ndcg_cut.{cuts}", f"map_cut.{cuts}", f"success.{cuts}"})
    n_rel = test_mask[users].sum(axis=1)
    np.testing.assert_array_equal(per["user"], users)
    assert summary["n_users"] == len(users)
    for k in ks:
        expected = {
            "precision": ref(f"P_{k}"),
            "recall": ref(f"recall_{k}"),
            "ndcg": ref(f"ndcg_cut_{k}"),
            "hit": ref(f"success_{k}"),
            "mrr": trec({"recip_rank"}, cut=k)("recip_rank"),
            # trec_eval divides AP by R, Fathom's "map" by min(R, k)
            "map": ref(f"map_cut_{k}") * n_rel / np.minimum(n_rel, k),
        }
        p, r = expected["precision"], expected["recall"]
        expected["f1"] = np.divide(2 * p * r, p + r, out=np.zeros(len(users)), where=p + r > 0)
        for name, values in expected.items():
            np.testing.assert_allclose(per[f"{name}@{k}"], values, atol=1e-12, err_msg=f"{name}@{k}")
            assert summary[f"{name}@{k}"] == pytest.approx(values.mean(), abs=1e-12)
        listed = {int(i) for u in users for i in runs[u][:k]}
        assert summary[f"coverage@{k}"] == pytest.approx(len(listed) / n_items)


def test_known_metric_names():
    assert set(KNOWN_METRICS) == {"precision", "recall", "f1", "ndcg", "mrr", "hit", "map", "coverage"}
