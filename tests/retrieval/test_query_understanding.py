"""Query understanding: known constraints from known phrases, and filters that really exclude items."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fathom.retrieval.query_understanding import (
    CatalogueFields,
    QueryUnderstandingConfig,
    singular,
    understand_query,
)
from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig

SHOP = CatalogueFields(
    numeric=frozenset({"price"}),
    categorical={"colour": ["red", "Blue", "红色"], "category": ["Dress", "Shoes", "T-Shirt", "连衣裙"]},
)
MOVIES = CatalogueFields(
    numeric=frozenset({"release_year"}),
    categorical={"genres": ["Comedy", "Horror", "Children's", "Sci-Fi", "Film-Noir", "Documentary"]},
)


def test_red_dress_under_50():
    u = understand_query("red dress under $50", SHOP)
    assert u.text == ""
    assert u.filter.equals == {"colour": ["red"], "category": ["Dress"]}
    lo, hi = u.filter.ranges["price"]
    assert lo is None and 49.999 < hi < 50  # strictly below 50
    assert [(c.kind, c.phrase) for c in u.understood] == [
        ("colour", "red"), ("category", "dress"), ("price", "under $50")
    ]
    assert [c.describe() for c in u.understood] == ["colour = red", "category = Dress", "price < 50"]


@pytest.mark.parametrize(
    "query, lo, hi",
    [
        ("between 10 and 20 dollars", 10, 20),
        ("shoes $10-$20", 10, 20),
        ("from $5 to $7.50", 5, 7.5),
        ("up to 40 usd", None, 40),
        ("at least 15", 15, None),
        ("no more than 1,200 dollars", None, 1200),
        ("10到20元", 10, 20),
    ],
)
def test_inclusive_price_ranges(query, lo, hi):
    u = understand_query(query, SHOP)
    assert u.filter.ranges == {"price": (lo, hi)}


@pytest.mark.parametrize(
    "query, side, bound",
    [("over 100", "lo", 100), ("cheaper than 30", "hi", 30), ("more than 20 bucks", "lo", 20),
     ("below £8", "hi", 8), ("50元以下", "hi", 50), ("低于50元", "hi", 50), ("100元以上", "lo", 100)],
)
def test_strict_price_bounds_exclude_the_number(query, side, bound):
    (c,) = understand_query(query, SHOP).understood
    assert c.kind == "price" and getattr(c, side) == bound and not getattr(c, f"{side}_inclusive")
    lo, hi = c.as_filter().ranges["price"]
    if side == "hi":
        assert lo is None and bound - 1e-9 < hi < bound
    else:
        assert hi is None and bound < lo < bound + 1e-9


@pytest.mark.parametrize(
    "query, text, lo, hi",
    [
        ("horror from the 90s", "", 1990, 1999),
        ("comedy 1990s", "", 1990, 1999),
        ("the '80s", "", 1980, 1989),
        ("sci-fi from the seventies", "", 1970, 1979),
        ("90年代 喜剧", "喜剧", 1990, 1999),
        ("1995 movies", "", 1995, 1995),
        ("films in 1977", "", 1977, 1977),
        ("toy story 1995", "toy story", 1995, 1995),
        ("comedies between 1990 and 1995", "", 1990, 1995),
        ("since 1995", "", 1995, None),
        ("until 1960", "", None, 1960),
    ],
)
def test_years(query, text, lo, hi):
    u = understand_query(query, MOVIES)
    assert u.text == text
    assert u.filter.ranges == {"release_year": (lo, hi)}


def test_before_and_after_are_strict_and_combine():
    u = understand_query("after 1980 before 1990", MOVIES)
    lo, hi = u.filter.ranges["release_year"]
    assert 1980 < lo < 1980.001 and 1989.999 < hi < 1990


def test_a_year_that_starts_a_title_stays_text():
    u = understand_query("2001 a space odyssey", MOVIES)
    assert u.understood == [] and u.text == "2001 a space odyssey"


@pytest.mark.parametrize(
    "query, values",
    [
        ("Comedies", ["Comedy"]),
        ("children's films", ["Children's"]),
        ("kids", ["Children's"]),  # a configured synonym
        ("film noir", ["Film-Noir"]),
        ("SCI FI", ["Sci-Fi"]),
        ("documentaries", ["Documentary"]),
        ("horror or comedy", ["Horror", "Comedy"]),
    ],
)
def test_category_words_case_plural_and_punctuation_tolerant(query, values):
    u = understand_query(query, MOVIES)
    assert u.filter.equals == {"genres": values}
    assert u.text == ""


def test_chinese_values_match_inside_unsegmented_text():
    u = understand_query("红色连衣裙 50元以下", SHOP)
    assert u.filter.equals == {"colour": ["红色"], "category": ["连衣裙"]}
    assert u.filter.ranges["price"][1] < 50 and u.text == ""


def test_nothing_is_understood_without_a_matching_attribute():
    u = understand_query("red dress under $50 from the 90s", CatalogueFields(frozenset(), {}))
    assert u.understood == [] and u.text == "red dress under $50 from the 90s"
    assert u.filter.empty


def test_configured_fields_and_boost_action():
    fields = CatalogueFields(frozenset({"cost"}), {"shade": ["red", "blue"]})
    config = QueryUnderstandingConfig(price_fields=["cost"], colour_fields=["shade"], colour_action="boost")
    u = understand_query("red scarf under 20", fields, config)
    assert u.text == "scarf"
    assert set(u.filter.ranges) == {"cost"} and u.filter.equals == {}
    assert [b.equals for b in u.boosts] == [{"shade": ["red"]}]
    assert u.understood[0].describe() == "shade = red (boost)"
    with pytest.raises(ValidationError):
        QueryUnderstandingConfig(price_field=["cost"])  # a typo is an error
    with pytest.raises(ValidationError):
        QueryUnderstandingConfig(colour_action="maybe")
    assert QueryUnderstandingConfig.from_json(config.to_json()) == config


def test_singular():
    assert [singular(w) for w in ["dresses", "comedies", "shoes", "thrillers", "glass", "bus", "fi"]] == [
        "dress", "comedy", "shoe", "thriller", "glass", "bus", "fi"
    ]


# ------------------------------------------------------------------------------------------ through the index
PRODUCTS = [
    ("d1", "Summer dress", "red", "Dress", 40.0),
    ("d2", "Evening dress", "red", "Dress", 50.0),  # exactly 50: not under $50
    ("d3", "Day dress", "Blue", "Dress", 30.0),
    ("s1", "Running shoes", "red", "Shoes", 20.0),
    ("d4", "Party dress", "red", "Dress", 60.0),
    ("t1", "Red t-shirt with a dress print", "red", "T-Shirt", 15.0),
]


@pytest.fixture
def shop() -> SearchIndex:
    index = SearchIndex(SearchIndexConfig(encoder=None))
    index.add(
        {"id": i, "fields": {"title": t}, "categorical": {"colour": c, "category": cat}, "numeric": {"price": p}}
        for i, t, c, cat, p in PRODUCTS
    )
    return index


def test_understood_filters_exclude_items(shop):
    plain = shop.search("red dress under $50", k=10)
    assert {h.doc_id for h in plain.hits} >= {"d1", "d2", "d3", "d4"}  # the text alone matches them all
    result = shop.search("red dress under $50", k=10, understand=True)
    assert [h.doc_id for h in result.hits] == ["d1"]
    assert result.total == 1
    assert result.facets["colour"] == {"red": 1}
    assert [c.kind for c in result.understanding.understood] == ["colour", "category", "price"]
    assert result.understanding.text == ""


def test_understanding_combines_with_an_explicit_filter(shop):
    from fathom.retrieval.filters import SearchFilter

    result = shop.search("dress over 35", k=10, understand=True, filter=SearchFilter(equals={"colour": ["red"]}))
    assert {h.doc_id for h in result.hits} == {"d1", "d2", "d4"}


def test_remaining_text_is_searched(shop):
    result = shop.search("red summer dress", k=10, understand=True)
    assert result.understanding.text == "summer"
    assert [h.doc_id for h in result.hits] == ["d1"]


def test_boosts_reorder_without_excluding(shop):
    shop.config = shop.config.replace(understanding={"colour_action": "boost", "boost_weight": 1.0})
    result = shop.search("blue day summer party", k=10, understand=True)
    ids = [h.doc_id for h in result.hits]
    assert ids[0] == "d3" and set(ids) == {"d1", "d3", "d4"}  # blue first; red matches kept
    assert result.hits[0].scores["boost"] == 1.0 and result.hits[1].scores["boost"] == 0.0
    assert result.understanding.boosts[0].equals == {"colour": ["Blue"]}


def test_understanding_config_is_saved_with_the_index(shop, tmp_path):
    shop.config = shop.config.replace(understanding={"category_action": "boost"})
    loaded = SearchIndex.load(shop.save(tmp_path / "idx"))
    assert loaded.config.understanding.category_action == "boost"
    assert loaded.search("shoes", understand=True).understanding.boosts[0].equals == {"category": ["Shoes"]}
