import numpy as np
import pytest

from fathom.retrieval.filters import SearchFilter, parse_filters
from fathom.retrieval.hybrid import HybridConfig, hybrid_search
from fathom.retrieval.lexical import LexicalConfig
from fathom.retrieval.search_index import Document, SearchIndex, SearchIndexConfig
from fathom.retrieval.vector_index import ExactIndex
from tests.retrieval.doubles import HashingEncoder

CATALOGUE = [
    {"id": "m1", "fields": {"title": "The Funny Holiday", "text": "A comedy about a family trip."},
     "categorical": {"genre": ["Comedy"], "lang": "en"}, "numeric": {"price": 10, "year": 1999}},
    {"id": "m2", "fields": {"title": "Dark Night", "text": "A crime drama in a rainy city."},
     "categorical": {"genre": ["Drama", "Crime"], "lang": "en"}, "numeric": {"price": 60, "year": 2008}},
    {"id": "m3", "fields": {"title": "Laugh Out Loud", "text": "Stand-up comedy special."},
     "categorical": {"genre": ["Comedy"], "lang": "fr"}, "numeric": {"price": 5}},
    {"id": "m4", "fields": {"title": "Family Drama", "text": "A comedy drama about a family."},
     "categorical": {"genre": ["Comedy", "Drama"], "lang": "en"}, "numeric": {"price": 30, "year": 2015}},
]


def _index(encoder=True):
    config = SearchIndexConfig(lexical=LexicalConfig(analyzer="english", field_weights={"title": 2, "text": 1},
                                                     field_mode="repeat"), encoder=None)
    index = SearchIndex(config, encoder=HashingEncoder(aliases={"hilarious": "comedy"}) if encoder else None)
    index.add(CATALOGUE)
    return index


def test_hits_carry_per_signal_scores():
    res = _index().search("family comedy", k=4)
    top = res.hits[0]
    assert top.doc_id in {"m1", "m4"}
    assert set(top.scores) == {"bm25", "dense", "fused"}
    assert top.score == top.scores["fused"]
    assert [h.score for h in res.hits] == sorted((h.score for h in res.hits), reverse=True)


def test_dense_finds_a_synonym_bm25_cannot():
    index = _index()
    assert index.search("hilarious", weights={"bm25": 1.0}).hits == []
    dense = index.search("hilarious", weights={"dense": 1.0}).hits
    assert dense[0].doc_id == "m3"  # shortest comedy text: the closest hashed vector


def test_filters_and_facets_known_answers():
    index = _index()
    res = index.search("comedy", k=10, filter=SearchFilter(equals={"genre": ["Comedy"]}), weights={"bm25": 1})
    assert {h.doc_id for h in res.hits} == {"m1", "m3", "m4"}
    assert res.total == 3
    assert res.facets["genre"] == {"Comedy": 3, "Drama": 1}
    assert res.facets["lang"] == {"en": 2, "fr": 1}
    res = index.search("comedy", filter=parse_filters(["lang=en"], ["price=0:30"]), weights={"bm25": 1})
    assert {h.doc_id for h in res.hits} == {"m1", "m4"}
    res = index.search("", filter=parse_filters([], ["year=2000:"]))  # browse: empty query
    assert {h.doc_id for h in res.hits} == {"m2", "m4"}  # m3 has no year: never passes a range
    assert index.search("comedy", filter=parse_filters(["genre=Western"])).hits == []


def test_parse_filters_errors():
    with pytest.raises(ValueError):
        parse_filters(["genre"])
    with pytest.raises(ValueError):
        parse_filters([], ["price=10"])
    assert parse_filters(["g=a,b", "g=c"], ["p=:5"]) == SearchFilter(equals={"g": ["a", "b", "c"]},
                                                                    ranges={"p": (None, 5.0)})


def test_update_delete_and_reload(tmp_path):
    index = _index()
    index.add([{"id": "m3", "fields": {"title": "Serious Documentary", "text": "No jokes here."},
                "categorical": {"genre": ["Documentary"]}}])  # replaces m3
    index.delete(["m1"])
    assert len(index) == 3 and "m1" not in index
    res = index.search("comedy", k=10, weights={"bm25": 1})
    assert {h.doc_id for h in res.hits} == {"m4"}
    assert index.search("documentary", weights={"bm25": 1}).hits[0].doc_id == "m3"
    assert index.search("", facets=["genre"]).facets["genre"] == {"Comedy": 1, "Crime": 1, "Documentary": 1,
                                                                  "Drama": 2}
    with pytest.raises(KeyError):
        index.delete(["m1"])
    index.save(tmp_path)
    back = SearchIndex.load(tmp_path, encoder=HashingEncoder(aliases={"hilarious": "comedy"}))
    for q in ("comedy drama", "documentary", "night"):
        a, b = index.search(q, k=5), back.search(q, k=5)
        assert [h.doc_id for h in a.hits] == [h.doc_id for h in b.hits]
        np.testing.assert_allclose([h.score for h in a.hits], [h.score for h in b.hits], rtol=1e-6)
    assert back.get("m3").categorical == {"genre": ["Documentary"]}


def test_lexical_only_index_and_document_validation():
    index = _index(encoder=False)
    assert index.vectors is None
    assert index.search("crime")
    with pytest.raises(ValueError):
        index.add([{"id": "x", "unknown": 1}])
    with pytest.raises(ValueError):
        index.add([Document(id="a"), Document(id="a")])


def test_hybrid_search_scores_union_of_candidates():
    vi = ExactIndex(2)
    vi.add(np.array([[1, 0], [0, 1], [0.6, 0.8]], dtype=np.float32))
    bm25 = np.array([0.0, 4.0, 2.0], dtype=np.float32)
    cfg = HybridConfig(candidates=1)  # bm25 proposes row 1, dense proposes row 0
    hits = hybrid_search(3, cfg, bm25, np.array([1.0, 0.0]), vi)
    assert {h.row for h in hits} == {0, 1}
    by_row = {h.row: h for h in hits}
    assert by_row[0].scores == {"bm25": 0.0, "dense": 1.0, "fused": 0.5}
    assert by_row[1].scores["dense"] == 0.0 and by_row[1].scores["fused"] == 0.5
    # the tie breaks by row
    assert [h.row for h in hits] == [0, 1]


def test_extra_signal_joins_the_fusion_and_respects_the_filter():
    index = _index()
    boost = np.array([0.0, 0.0, 0.0, 5.0])  # e.g. a per-user preference for m4
    flt = SearchFilter(equals={"lang": ["en"]})
    res = index.search("laugh", k=4, filter=flt, weights={"bm25": 0.5, "user": 0.5}, extra={"user": boost})
    assert res.hits[0].doc_id == "m4" and "user" in res.hits[0].scores
    assert "m3" not in {h.doc_id for h in res.hits}  # only m3 matches "laugh", but it is French
