import hashlib

import numpy as np
import pytest

from fathom.retrieval.fusion_tuning import (
    FusionTuningConfig,
    QueryCandidates,
    choose_fusion_weights,
    grid_ndcg,
    index_candidates,
    pair_weights,
    tune_index_weights,
)
from fathom.retrieval.hybrid import HybridConfig
from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig
from fathom.text.encoders import Encoder, TextKind
from tests.retrieval.doubles import HashingEncoder


def _synthetic(n_queries: int = 40, n_docs: int = 60, noise_signal: str = "dense", seed: int = 0):
    """Each query has 3 relevant documents (grades 3, 2, 1) among ``n_docs`` candidates; the other signal scores
    them by grade plus small noise, ``noise_signal`` is uniform noise."""
    rng = np.random.default_rng(seed)
    candidates, qrels = {}, {}
    for q in range(n_queries):
        ids = [f"q{q}d{i}" for i in range(n_docs)]
        grades = np.zeros(n_docs)
        rel = rng.choice(n_docs, 3, replace=False)
        grades[rel] = [3, 2, 1]
        good = grades + 0.3 * rng.standard_normal(n_docs)
        noise = rng.uniform(0, 1, n_docs)
        other = "bm25" if noise_signal == "dense" else "dense"
        candidates[f"q{q}"] = QueryCandidates(ids, {other: good * 5.0, noise_signal: noise})
        qrels[f"q{q}"] = {ids[i]: int(g) for i, g in enumerate(grades) if g > 0}
    return candidates, qrels


@pytest.mark.parametrize(("noise", "expected_dense"), [("dense", 0.0), ("bm25", 1.0)])
def test_pure_noise_signal_gets_no_weight(noise, expected_dense):
    candidates, qrels = _synthetic(noise_signal=noise)
    choice = choose_fusion_weights(candidates, qrels)
    assert choice.weights["dense"] == pytest.approx(expected_dense)
    assert choice.weights["bm25"] == pytest.approx(1.0 - expected_dense)
    assert choice.n_queries == 40
    grid = dict(choice.grid)
    assert choice.ndcg == pytest.approx(grid[expected_dense]) and choice.ndcg > 0.9
    # the noise alone is far worse, and the even split is worse than the informative signal alone
    assert grid[1.0 - expected_dense] < 0.5
    assert grid[0.5] < choice.ndcg - 0.05


def test_complementary_signals_choose_the_mixture():
    # relevant "r" is second under each signal alone, first under any mixture with weight in [0.3, 0.7]
    c = QueryCandidates(["a", "b", "r"], {"bm25": np.array([1.0, 0.0, 0.75]), "dense": np.array([0.0, 1.0, 0.75])})
    qrels = {"q": {"r": 1}}
    grid = dict(grid_ndcg({"q": c}, qrels))
    second = 1 / np.log2(3)  # relevant at rank 2
    assert grid[0.0] == pytest.approx(second) and grid[1.0] == pytest.approx(second)
    assert grid[0.2] == pytest.approx(second) and grid[0.8] == pytest.approx(second)
    for w in (0.3, 0.4, 0.5, 0.6, 0.7):
        assert grid[w] == pytest.approx(1.0)
    choice = choose_fusion_weights({"q": c}, qrels)
    assert choice.weights == {"bm25": 0.5, "dense": 0.5}  # tie among 0.3..0.7: nearest the even split


def test_ties_prefer_even_split_then_lower_weight():
    c = QueryCandidates(["r", "x"], {"bm25": np.array([1.0, 0.0]), "dense": np.array([1.0, 0.0])})
    choice = choose_fusion_weights({"q": c}, {"q": {"r": 1}}, FusionTuningConfig(grid=(0.2, 0.4, 0.6, 0.9)))
    assert choice.weights == {"bm25": 0.6, "dense": 0.4}


def test_pair_weights_and_config_round_trip():
    assert pair_weights(0.7) == {"bm25": 0.3, "dense": 0.7}
    cfg = FusionTuningConfig(grid=(0.0, 0.25, 1.0), k=5)
    assert FusionTuningConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError):
        FusionTuningConfig(grid=(0.5, 1.5))
    with pytest.raises(ValueError):
        choose_fusion_weights({}, {})


def test_choice_gives_a_hybrid_config():
    candidates, qrels = _synthetic(noise_signal="dense")
    choice = choose_fusion_weights(candidates, qrels)
    base = HybridConfig(candidates=50)
    cfg = choice.hybrid_config(base)
    assert cfg.weights == {"bm25": 1.0, "dense": 0.0} and cfg.candidates == 50


class NoiseEncoder(Encoder):
    """A fixed random unit vector per text: dense similarity carries no information."""

    name = "noise-test"
    dim = 32

    def _encode_batch(self, texts: list[str], kind: TextKind) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:4], "little") for t in texts]
        return np.stack([np.random.default_rng(s).standard_normal(self.dim) for s in seeds]).astype(np.float32)


def _catalogue(encoder: Encoder, candidates: int = 10) -> tuple[SearchIndex, dict[str, str], dict[str, dict[str, int]]]:
    """30 documents: each fruit name appears in three of them, once, twice or three times (its grade for the query
    naming that fruit), beside a filler word every document holds."""
    words = ["apple", "banana", "cherry", "grape", "lemon", "mango", "melon", "olive", "peach", "plum"]
    docs, qrels = [], {}
    for i in range(30):
        word, count = words[i % 10], 1 + i // 10
        docs.append(Document(id=f"d{i}", fields={"title": " ".join([word] * count + ["item", f"n{i}"])}))
        qrels.setdefault(f"q{i % 10}", {})[f"d{i}"] = count
    index = SearchIndex(SearchIndexConfig(encoder=None, hybrid=HybridConfig(candidates=candidates)), encoder=encoder)
    index.add(docs)
    return index, {f"q{j}": f"{w} item" for j, w in enumerate(words)}, qrels


def test_tune_index_weights_drops_a_noise_encoder():
    index, queries, qrels = _catalogue(NoiseEncoder())
    choice = tune_index_weights(index, queries, qrels)
    assert choice.weights["dense"] <= 0.1
    assert dict(choice.grid)[1.0] < choice.ndcg - 0.2  # noise alone is much worse


def test_candidate_rankings_reproduce_search_at_every_weight():
    # every document is a candidate of both signals: equal BM25 scores at the candidate depth (the filler word)
    # would otherwise let the union keep a tied document that BM25's own top list dropped
    index, queries, _ = _catalogue(HashingEncoder(dim=32), candidates=30)
    candidates = index_candidates(index, queries)
    for qid, text in queries.items():
        for w in FusionTuningConfig().grid:
            weights = pair_weights(w)
            expected = [h.doc_id for h in index.search(text, k=10, weights=weights, facets=[]).hits]
            assert candidates[qid].ranking(weights, index.config.hybrid)[:10] == expected, (qid, w)
