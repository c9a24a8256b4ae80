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


def _genre_catalogue() -> list[dict]:
    """60 documents: 24 mention "comedy" (a genre, in the text), every third is Drama, half are French."""
    docs = []
    for n in range(60):
        words = "a comedy of manners" if n % 5 < 2 else "a quiet story"
        docs.append({"id": f"d{n}", "fields": {"title": f"Film {n}", "text": f"{words} number {n}"},
                     "categorical": {"genre": ["Drama" if n % 3 == 0 else "Comedy"], "lang": "fr" if n % 2 else "en"}})
    return docs


@pytest.mark.parametrize("weights", [{"bm25": 1.0}, {"bm25": 0.5, "dense": 0.5}])
def test_total_and_facets_count_every_match_whatever_k(weights):
    config = SearchIndexConfig(lexical=LexicalConfig(analyzer="english"), encoder=None)
    index = SearchIndex(config, encoder=HashingEncoder())
    index.add(_genre_catalogue())
    comedy = [n for n in range(60) if n % 5 < 2]  # the 24 lexical matches
    expected_genres = {"Comedy": sum(n % 3 != 0 for n in comedy), "Drama": sum(n % 3 == 0 for n in comedy)}
    results = [index.search("comedy", k=k, weights=weights) for k in (5, 24, 50)]
    assert [len(r.hits) for r in results] == [5, 24, 50] if "dense" in weights else [5, 24, 24]
    for r in results:
        assert r.total == 24  # the hashed vectors of the other texts stay far below the 0.5 similarity threshold
        assert r.facets["genre"] == expected_genres == {"Comedy": 16, "Drama": 8}
        assert r.facets["lang"] == {"en": 12, "fr": 12}
    french = SearchFilter(equals={"lang": ["fr"]})
    for k in (3, 40):
        r = index.search("comedy", k=k, weights=weights, filter=french)
        assert r.total == 12 and r.facets["lang"] == {"fr": 12}


def test_dense_matches_are_the_documents_within_the_similarity_threshold():
    config = SearchIndexConfig(lexical=LexicalConfig(analyzer="english"), encoder=None, dense_match_threshold=0.5)
    index = SearchIndex(config, encoder=HashingEncoder(dim=2))
    angles = np.radians([0, 30, 59, 61, 90, 180])  # cosine with the query (angle 0): 1, .87, .52, .48, 0, -1
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)  # (6, 2)
    index.add([{"id": f"v{i}", "fields": {"title": f"item {i}"}, "categorical": {"side": "a" if i % 2 else "b"}}
               for i in range(6)], vectors=vectors)
    query = np.array([1.0, 0.0], dtype=np.float32)
    for k in (1, 6):
        r = index.search("anything", k=k, weights={"dense": 1.0}, query_vector=query)
        assert r.total == 3 and r.facets["side"] == {"a": 1, "b": 2}  # v0, v1, v2
    assert len(index.search("anything", k=6, weights={"dense": 1.0}, query_vector=query).hits) == 6  # ranked all
    # hybrid: the union of both
    assert index.search("item", k=2, weights={"bm25": 0.5, "dense": 0.5}, query_vector=query).total == 6  # all: "item"
    assert index.search("nothing", k=2, weights={"bm25": 0.5, "dense": 0.5}, query_vector=query).total == 3
    index.config = index.config.model_copy(update={"dense_match_threshold": 0.95})
    assert index.search("anything", k=6, weights={"dense": 1.0}, query_vector=query).total == 1


def test_typo_corrections_are_reported_as_written_words():
    index = SearchIndex(SearchIndexConfig(lexical=LexicalConfig(analyzer="english"), encoder=None))
    index.add([{"id": "a", "fields": {"title": "Toy Story", "text": "toys come alive"}},
               {"id": "b", "fields": {"title": "The Philadelphia Story", "text": "stories of a storied family"}},
               {"id": "c", "fields": {"title": "Distant Galaxies", "text": "a voyage"}}])
    assert index.lexical.query_terms("storry")[2] == {"storri": "stori"}  # the index's own terms are stems
    res = index.search("Storry of galaxeis", k=5)
    assert res.corrected_words == {"Storry": "story", "galaxeis": "galaxies"}  # the typed word -> the written word
    assert res.corrections == {"storri": "stori", "galaxei": "galaxi"}  # the terms
    assert {h.doc_id for h in res.hits} == {"a", "b", "c"}
    assert index.search("storeis").corrected_words == {"storeis": "stories"}  # the written form nearest the typo
    assert index.search("story").corrected_words == {}


def test_written_words_survive_save_and_load_and_older_saves_count_them_again(tmp_path):
    import json

    index = SearchIndex(SearchIndexConfig(lexical=LexicalConfig(analyzer="english"), encoder=None))
    index.add([{"id": "a", "fields": {"title": "Distant Galaxies"}}, {"id": "b", "fields": {"title": "Galaxy Quest"}}])
    index.save(tmp_path / "new")
    assert SearchIndex.load(tmp_path / "new").search("galaxeis").corrected_words == {"galaxeis": "galaxies"}
    index.save(tmp_path / "old")
    meta_path = tmp_path / "old" / "lexical" / "lexical.json"
    meta = json.loads(meta_path.read_text())
    del meta["words"]  # as saved before the written words were kept
    meta_path.write_text(json.dumps(meta))
    back = SearchIndex.load(tmp_path / "old")
    assert back.search("galaxeis").corrected_words == {"galaxeis": "galaxies"}  # counted again from the documents
