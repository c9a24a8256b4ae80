"""Personalised search on MovieLens-100K with EASE (fitted in about a second): users with different tastes get
different orderings of one query's matches; weight 0 reproduces the plain search; bad input is a clear error."""

from __future__ import annotations

import numpy as np
import pytest

from fathom.data.prepare import PrepareConfig, prepare
from fathom.data.sources import load_builtin
from fathom.data.vocab import Vocabulary
from fathom.models.ease import EASE
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.fusion import minmax
from fathom.retrieval.personalise import Personaliser, candidate_affinity, personal_weights
from fathom.retrieval.run_catalogue import catalogue_documents
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig


@pytest.fixture(scope="module")
def movies():
    data = prepare(load_builtin("movielens-100k"), PrepareConfig.movielens_100k())
    docs, fields = catalogue_documents(data.catalog)
    base = SearchIndexConfig(encoder=None)
    index = SearchIndex(base.replace(lexical={**base.lexical.to_dict(), "field_weights": fields}))
    index.add(docs)
    model = EASE().fit(data.train)
    return data, index, Personaliser(model, data.user_vocab, data.item_vocab)


def _genre_share(data, genres: set[str]) -> np.ndarray:
    """(n_users,) share of each user's training items having one of ``genres``."""
    has = np.array([bool(genres & set(g)) for g in data.catalog.frame["genres"]], dtype=np.float64)  # (n_items,)
    train = data.train.csr()
    counts = np.asarray(train.sum(axis=1)).ravel()
    return (train @ has) / np.maximum(counts, 1), counts


@pytest.fixture(scope="module")
def fans(movies):
    """The user who watches most children's films (and no horror/crime to speak of), and the horror/crime fan."""
    data = movies[0]
    kids, counts = _genre_share(data, {"Children's"})
    dark, _ = _genre_share(data, {"Horror", "Crime"})
    eligible = counts >= 30
    kid_fan = int(np.argmax(np.where(eligible, kids - dark, -np.inf)))
    dark_fan = int(np.argmax(np.where(eligible, dark - kids, -np.inf)))
    assert kids[kid_fan] > 0.25 and dark[kid_fan] < 0.05
    assert dark[dark_fan] > 0.5 and kids[dark_fan] < 0.05
    return str(data.user_vocab.decode(kid_fan)), str(data.user_vocab.decode(dark_fan))


def _genres(data, hit) -> set[str]:
    return set(hit.document["categorical"]["genres"])


def test_different_tastes_different_orderings(movies, fans):
    data, index, personaliser = movies
    kid_fan, dark_fan = fans
    plain = index.search("king", k=20)  # Lion King (children's), The Langoliers (horror), King of New York (crime)
    assert len(plain.hits) == 12 and plain.hits[0].doc_id == "71"  # The Lion King leads on BM25 alone
    kid = personaliser.search(index, "king", kid_fan, weight=1.0, k=20)
    dark = personaliser.search(index, "king", dark_fan, weight=1.0, k=20)
    kid_order, dark_order = [h.doc_id for h in kid.hits], [h.doc_id for h in dark.hits]
    assert kid_order != dark_order
    assert set(kid_order) == set(dark_order) == {h.doc_id for h in plain.hits}  # reordered, nothing added
    assert "Children's" in _genres(data, kid.hits[0])
    assert _genres(data, dark.hits[0]) & {"Horror", "Crime"}
    assert all(h.scores["bm25"] > 0 for h in kid.hits + dark.hits)


def test_affinity_is_the_models_score_min_maxed_over_the_candidates(movies, fans):
    data, index, personaliser = movies
    user = data.user_vocab.index(fans[0])
    result = personaliser.search(index, "king", fans[0], weight=0.5, k=20)
    items = data.item_vocab.encode([h.doc_id for h in result.hits])
    raw = personaliser.model.score_pairs(np.full(len(items), user), items)
    expected = minmax(raw)
    assert np.allclose([h.scores["personal"] for h in result.hits], expected)
    bm25 = minmax(np.array([h.scores["bm25"] for h in result.hits]))
    # lexical index: bm25 weight normalised to 1, personal 0.5 beside it -> shares 2/3 and 1/3
    assert np.allclose([h.scores["fused"] for h in result.hits], (2 * bm25 + expected) / 3)
    fused = [h.scores["fused"] for h in result.hits]
    assert fused == sorted(fused, reverse=True)


@pytest.mark.parametrize("query", ["king", "story", "night"])
def test_weight_zero_reproduces_the_plain_order(movies, fans, query):
    _, index, personaliser = movies
    plain = index.search(query, k=20)
    for user in fans:
        same = personaliser.search(index, query, user, weight=0.0, k=20)
        assert [h.doc_id for h in same.hits] == [h.doc_id for h in plain.hits]
        assert [h.score for h in same.hits] == [h.score for h in plain.hits]
        assert "personal" in same.hits[0].scores  # still shown


def test_empty_query_ranks_the_filtered_catalogue_by_affinity(movies, fans):
    data, index, personaliser = movies
    user = data.user_vocab.index(fans[1])
    horror = SearchFilter(equals={"genres": ["Horror"]})
    result = personaliser.search(index, "", fans[1], weight=1.0, k=5, filter=horror)
    assert all("Horror" in _genres(data, h) for h in result.hits)
    rows = [r for r, doc in enumerate(index.documents) if "Horror" in doc.categorical.get("genres", [])]
    items = data.item_vocab.encode([index.documents[r].id for r in rows])
    best = items[np.argmax(personaliser.model.score_pairs(np.full(len(items), user), items))]
    assert result.hits[0].doc_id == data.item_vocab.decode(int(best))
    assert result.total == len(rows)


def test_with_query_understanding(movies, fans):
    data, index, personaliser = movies
    result = personaliser.search(index, "horror from the 80s", fans[1], weight=1.0, k=50, understand=True)
    assert [c.describe() for c in result.understanding.understood] == ["genres = Horror", "release_year 1980-1989"]
    assert result.hits and all(
        "Horror" in _genres(data, h) and 1980 <= h.document["numeric"]["release_year"] <= 1989 for h in result.hits
    )
    personal = [h.scores["personal"] for h in result.hits]
    assert personal == sorted(personal, reverse=True) and personal[0] == 1.0


def test_bad_input_is_a_clear_error(movies):
    data, index, personaliser = movies
    with pytest.raises(KeyError, match="unknown user 'nobody'"):
        personaliser.search(index, "king", "nobody", weight=0.3)
    with pytest.raises(ValueError, match="personal weight must be a non-negative number, got -0.1"):
        personaliser.search(index, "king", "1", weight=-0.1)
    with pytest.raises(ValueError, match="non-negative"):
        personaliser.search(index, "king", "1", weight=float("nan"))
    with pytest.raises(ValueError, match="different data"):
        Personaliser(personaliser.model, Vocabulary(["a", "b"]), data.item_vocab)


def test_unknown_documents_get_zero_affinity(movies):
    data, _, personaliser = movies
    out = candidate_affinity(personaliser.model, 0, np.array([-1, 0, 1, -1, 2]))
    assert out[0] == out[3] == 0.0 and out[1:3].max() <= 1.0 and max(out) == 1.0
    raw = personaliser.model.score_pairs(np.zeros(3, dtype=np.int64), np.arange(3))
    assert np.allclose(out[[1, 2, 4]], minmax(raw))


def test_personal_weights():
    w = personal_weights({"bm25": 0.5, "dense": 0.5}, 0.3, available={"bm25"})
    assert w == {"bm25": 1.0, "dense": 0.0, "personal": 0.3}
    w = personal_weights({"bm25": 0.2, "dense": 0.6}, 1.0, available={"bm25", "dense"})
    assert w == pytest.approx({"bm25": 0.25, "dense": 0.75, "personal": 1.0})


def test_embedding_model_affinity_is_the_dot_product(movies, fans):
    from fathom.models.bpr import BPRMF

    data, index, _ = movies
    model = BPRMF(epochs=2, factors=16, seed=0).fit(data.train)
    personaliser = Personaliser(model, data.user_vocab, data.item_vocab)
    result = personaliser.search(index, "story", fans[1], weight=1.0, k=20)
    items = data.item_vocab.encode([h.doc_id for h in result.hits])  # (M,)
    dots = model.item_vectors()[items] @ model.user_vectors()[data.user_vocab.index(fans[1])]  # (M, d) @ (d,)
    assert np.allclose([h.scores["personal"] for h in result.hits], minmax(dots), atol=1e-5)
