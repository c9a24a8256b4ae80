"""Known-answer checks on the real test collections (../shared/data or $FATHOM_SEARCH_DATA).

They skip, saying why, where the collections are absent."""

from __future__ import annotations

import pytest

from fathom.retrieval.beir import default_data_dir, load_beir, subset_collection
from fathom.retrieval.evaluation import SearchEvalConfig, evaluate_collection
from fathom.retrieval.lexical import LexicalConfig

DATA = default_data_dir()
needs_data = pytest.mark.skipif(
    DATA is None, reason="search collections not found: put them in ../shared/data or set FATHOM_SEARCH_DATA"
)
pytestmark = pytest.mark.slow  # each indexes a real collection (20 s to minutes on 2 cores)


@needs_data
def test_bm25_on_scifact_matches_the_published_baseline():
    concat = SearchEvalConfig(lexical=LexicalConfig(field_mode="concat", typo_tolerance=False))
    r = evaluate_collection("scifact", ["bm25"], concat)[0]
    assert r.n_queries == 300
    assert 0.665 <= r.ndcg10 <= 0.685  # published .665-.679, measured .679
    tuned = evaluate_collection("scifact", ["bm25"])[0]  # title repeated twice: measured .687
    assert tuned.ndcg10 > r.ndcg10


@needs_data
def test_chinese_analyser_on_cmrc2018():
    r = evaluate_collection("cmrc2018_zh", ["bm25"])[0]
    assert r.ndcg10 >= 0.95
    english = SearchEvalConfig(lexical=LexicalConfig(analyzer="english"))
    assert evaluate_collection("cmrc2018_zh", ["bm25"], english)[0].ndcg10 < r.ndcg10 - 0.1


@needs_data
def test_crowdflower_is_evaluated_on_the_test_half():
    r = evaluate_collection("crowdflower", ["bm25"])[0]
    assert r.split == "test"
    n_all = len(load_beir("crowdflower").judged_queries())
    assert 0.4 * n_all < r.n_queries < 0.6 * n_all
    assert r.ndcg10 > 0.75


@needs_data
def test_e5_retrieves_chinese_paragraphs():
    small = subset_collection(load_beir("cmrc2018_zh"), 40)
    small.queries = dict(list(small.queries.items())[:40])
    r = {x.method: x for x in evaluate_collection(small, ["bm25", "dense-e5", "hybrid-e5"])}
    assert r["dense-e5"].ndcg10 >= 0.6  # an English-only encoder is near chance (1 / 40) here
    assert r["hybrid-e5"].ndcg10 >= r["dense-e5"].ndcg10


@needs_data
def test_hybrid_beats_bm25_on_medline():
    r = {x.method: x for x in evaluate_collection("medline", ["bm25", "dense-minilm", "hybrid-minilm"])}
    assert r["hybrid-minilm"].ndcg10 >= r["bm25"].ndcg10
    assert r["hybrid-minilm"].recall100 >= r["bm25"].recall100 - 0.01
