import math

import numpy as np
import pytest

from fathom.retrieval.bm25_math import bm25_idf, build_bm25_matrix
from fathom.retrieval.lexical import LexicalConfig, LexicalIndex
from fathom.retrieval.typo import TypoCorrector, max_edits

DOCS = [
    {"title": "Red running shoes", "text": "Light shoes for running on roads."},
    {"title": "Blue rain jacket", "text": "A waterproof jacket; keeps you dry in the rain."},
    {"title": "Trail shoes", "text": "Grippy shoes for muddy trails and mountain running."},
    {"title": "Coffee mug", "text": "A ceramic mug for coffee or tea."},
]


def test_build_matches_bm25s_own_index():
    import bm25s

    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 30, size=rng.integers(1, 20)).astype(np.int32) for _ in range(40)]
    ours = build_bm25_matrix(docs, 30, k1=1.2, b=0.75, method="lucene")
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    theirs = ref.build_index_from_ids(list(range(30)), [d.tolist() for d in docs], show_progress=False)
    for key in ("indices", "indptr"):
        np.testing.assert_array_equal(ours[key], theirs[key])
    np.testing.assert_allclose(ours["data"], theirs["data"], rtol=1e-5)


def test_lucene_bm25_known_score():
    # doc 0 = [0, 0, 1], doc 1 = [1]: N=2, avgdl=2; term 0: df=1, tf=2 in doc 0 of length 3
    m = build_bm25_matrix([np.array([0, 0, 1]), np.array([1])], 2, k1=1.2, b=0.75)
    idf = math.log(1 + (2 - 1 + 0.5) / (1 + 0.5))
    tfc = 2 / (2 + 1.2 * (1 - 0.75 + 0.75 * 3 / 2))
    assert m["data"][0] == pytest.approx(idf * tfc, rel=1e-6)
    np.testing.assert_allclose(bm25_idf(np.array([0, 1]), 2), [0.0, idf])


def test_search_ranks_the_matching_document_first():
    idx = LexicalIndex(LexicalConfig(analyzer="english"))
    idx.add(DOCS)
    s = idx.scores("waterproof jacket")
    assert int(np.argmax(s)) == 1 and s[0] == 0 and s[3] == 0


def test_field_weights_prefer_title_matches():
    docs = [{"title": "mug", "text": "coffee"}, {"title": "coffee", "text": "mug"}]
    for mode in ("per_field", "repeat"):
        idx = LexicalIndex(LexicalConfig(analyzer="english", field_mode=mode, field_weights={"title": 2, "text": 1}))
        idx.add(docs)
        s = idx.scores("coffee")
        assert s[1] > s[0], mode


def test_typo_tolerance_maps_to_nearest_vocabulary_term():
    idx = LexicalIndex(LexicalConfig(analyzer="english", typo_weight=1.0))
    idx.add(DOCS)
    exact, corrected, corrections = idx.query_terms("waterprof jackte")
    assert corrections == {"waterprof": "waterproof", "jackt": "jacket"}
    assert not exact and len(corrected) == 2
    assert int(np.argmax(idx.scores("waterprof jackte"))) == 1
    off = LexicalIndex(LexicalConfig(analyzer="english", typo_tolerance=False))
    off.add(DOCS)
    assert off.scores("waterprof").max() == 0


def test_typo_rules():
    assert [max_edits(n) for n in (3, 4, 7, 8)] == [0, 1, 1, 2]
    tc = TypoCorrector(["shoe", "shoes", "show", "mountain"], [5, 1, 2, 1])
    assert tc.correct("shoo") == "shoe"  # distance 1 to shoe and show: more documents wins
    assert tc.correct("cat") is None  # too short
    assert tc.correct("muontain") == "mountain"  # transposition is one edit
    assert tc.correct("zzzzzz") is None
    assert tc.correct("2019") is None  # digits are never corrected


def test_remove_and_add_rebuild_exact_statistics():
    inc = LexicalIndex(LexicalConfig(analyzer="english"))
    inc.add(DOCS[:3])
    inc.scores("shoes")
    inc.remove([0])
    inc.add(DOCS[3:])
    fresh = LexicalIndex(LexicalConfig(analyzer="english"))
    fresh.add([DOCS[1], DOCS[2], DOCS[3]])
    got = inc.scores("running shoes mug")
    want = fresh.scores("running shoes mug")
    assert got[0] == 0
    np.testing.assert_allclose(got[[1, 2, 3]], want, rtol=1e-6)


def test_save_and_load(tmp_path):
    idx = LexicalIndex(LexicalConfig(analyzer="auto"))
    idx.add(DOCS)
    idx.remove([3])
    idx.save(tmp_path)
    back = LexicalIndex.load(tmp_path)
    assert back.analyzer_name == "english"
    np.testing.assert_allclose(back.scores("trail running"), idx.scores("trail running"))


def test_chinese_documents():
    idx = LexicalIndex(LexicalConfig(analyzer="auto", field_weights={"text": 1.0}))
    idx.add([{"text": "北京是中国的首都"}, {"text": "巴黎是法国的首都"}, {"text": "上海是一座城市"}])
    assert idx.analyzer_name == "chinese"
    assert int(np.argmax(idx.scores("法国首都"))) == 1
