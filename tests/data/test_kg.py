"""The knowledge-graph layer: graphs from catalogue columns and from RecBole-style triples, paths with readable
names, the item-entity matrix the models read, KG item vectors, files without pickle, and errors naming the column."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.kg import KnowledgeGraph
from fathom.data.kg_vectors import KGVectors, combine

FILMS = pd.DataFrame([
    {"item_id": 1, "title": "Fargo", "genres": ["Crime", "Thriller"], "directors": "Joel Coen, Ethan Coen",
     "year": 1996},
    {"item_id": 2, "title": "Raising Arizona", "genres": ["Comedy", "Crime"], "directors": "Joel Coen, Ethan Coen",
     "year": 1987},
    {"item_id": 3, "title": "Heat", "genres": ["Crime", "Thriller"], "directors": "Michael Mann", "year": 1995},
    {"item_id": 4, "title": "Toy Story", "genres": ["Animation"], "directors": "John Lasseter", "year": 1995.0},
])


@pytest.fixture(scope="module")
def films() -> KnowledgeGraph:
    return KnowledgeGraph.from_catalog(FILMS, ["genres", "directors", "year"])


def test_catalog_columns_become_named_entities(films):
    fargo = films.item(1)
    assert films.names[fargo] == "Fargo" and films.types[fargo] == "item"
    linked = {(n["relation"], n["entity"]) for n in films.item_neighbours(1)}
    assert linked == {("genre", "Crime"), ("genre", "Thriller"), ("directed by", "Joel Coen"),
                      ("directed by", "Ethan Coen"), ("decade", "1990s")}
    coen = next(n for n in films.item_neighbours(1) if n["entity"] == "Joel Coen")
    assert coen["other items"] == 1  # Raising Arizona
    assert films.summary()["items"] == 4 and films.summary()["relations"] == 3


def test_paths_prefer_the_most_specific_shared_entity(films):
    paths = films.paths(films.item(1), films.item(2))
    assert [len(p) for p in paths] == [3, 3, 3]  # Joel Coen, Ethan Coen, Crime
    assert films.describe_path(paths[0]) in ("Fargo -[directed by]-> Joel Coen <-[directed by]- Raising Arizona",
                                             "Fargo -[directed by]-> Ethan Coen <-[directed by]- Raising Arizona")
    assert "Crime" in films.describe_path(paths[-1])  # shared by three films: least specific, last
    assert films.paths(films.item(2), films.item(4), max_hops=2) == []  # nothing shared within two hops
    # four hops: Raising Arizona - Crime - Heat - 1990s - Toy Story (or through Fargo)
    assert len(films.paths(films.item(2), films.item(4), max_hops=4)[0]) == 5


def test_path_columns_link_every_level_and_levels_to_their_parent():
    frame = pd.DataFrame({"item_id": ["a", "b"], "title": ["Staples", "Stapler"],
                          "categories": ["Office,Staplers,Staples", "Office,Staplers"]})
    g = KnowledgeGraph.from_catalog(frame, ["categories"])
    levels = {n["entity"] for n in g.item_neighbours("a")}
    assert levels == {"Office", "Staplers", "Staples"}
    staples = g.entity("categories:office > staplers > staples")
    described = [g.describe_path(p) for p in g.paths(staples, g.entity("categories:office"), max_hops=2)]
    assert "Staples -[subcategory of]-> Staplers -[subcategory of]-> Office" in described


def test_item_entities_keeps_features_shared_by_enough_items(films):
    m, kept = films.item_entities([1, 2, 3, 4, 99])  # 99 is not in the graph: an empty row
    names = [films.names[e] for e in kept]
    assert sorted(names) == ["Ethan Coen", "Joel Coen", "Thriller"]  # Crime, the 1990s: 3 of 5 > half
    assert m.shape == (5, 3) and m[4].nnz == 0 and set(m.data) == {1.0}
    assert films.names[kept[m[0].indices].tolist()[0]] in names
    m_all, kept_all = films.item_entities([1, 2, 3, 4], min_items=1, max_share=1.0)
    assert len(kept_all) == 10  # every entity (4 genres, 4 directors, 2 decades)


def test_triples_with_links_make_items_of_linked_entities():
    triples = pd.DataFrame({"head_id": ["m.f1", "m.f2", "m.d"], "relation_id": ["film.film.directed_by"] * 2 +
                            ["people.person.nationality"], "tail_id": ["m.d", "m.d", "m.us"]})
    links = pd.DataFrame({"item_id": ["1", "2"], "entity_id": ["m.f1", "m.f2"]})
    g = KnowledgeGraph.from_triples(triples, links, item_names={1: "Fargo", 2: "Raising Arizona"})
    assert g.names[g.item(1)] == "Fargo" and g.types[g.entity("fb:m.d")] == "directed_by"
    path = g.paths(g.item(1), g.item(2))[0]
    assert g.describe_path(path) == "Fargo -[film.film.directed_by]-> m.d <-[film.film.directed_by]- Raising Arizona"
    merged = KnowledgeGraph.merge(KnowledgeGraph.from_catalog(FILMS, ["genres"]), g)
    assert merged.names[merged.item(1)] == "Fargo" and merged.n_entities == 4 + 4 + 2
    assert len(merged.triples) == 7 + 3


def test_save_and_load_round_trip_without_pickle(films, tmp_path):
    folder = films.save(tmp_path / "kg")
    assert sorted(p.name for p in folder.iterdir()) == ["kg.json", "kg_triples.npy"]
    again = KnowledgeGraph.load(folder)
    assert again.keys == films.keys and again.names == films.names and again.relations == films.relations
    np.testing.assert_array_equal(again.triples, films.triples)
    with pytest.raises(FileNotFoundError, match="fathom kg build"):
        KnowledgeGraph.load(tmp_path / "nothing")


def test_bad_columns_are_named():
    with pytest.raises(ValueError, match="'studio'"):
        KnowledgeGraph.from_catalog(FILMS, ["genres", "studio"])
    with pytest.raises(ValueError, match="known kind"):
        KnowledgeGraph.from_catalog(FILMS[["item_id", "title"]])
    with pytest.raises(ValueError, match="item_id"):
        KnowledgeGraph.from_catalog(FILMS.rename(columns={"item_id": "id"}), ["genres"])
    with pytest.raises(KeyError, match="item:42"):
        KnowledgeGraph.from_catalog(FILMS, ["genres"]).item(42)


def test_kg_vectors_place_a_new_item_like_the_fitted_ones(films, tmp_path):
    kv, vectors = KGVectors.fit(films, [1, 2, 3, 4], min_items=1, max_share=1.0)
    assert vectors.shape == (4, kv.dim) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[3]  # Fargo nearer Raising Arizona than Toy Story
    np.testing.assert_allclose(kv.transform(films, [2, 1]), vectors[[1, 0]], atol=1e-6)
    grown = KnowledgeGraph.merge(films, KnowledgeGraph.from_catalog(pd.DataFrame(
        [{"item_id": 5, "title": "Blood Simple", "directors": "Joel Coen, Ethan Coen"}]), ["directors"]))
    new = kv.transform(grown, [5, 6])  # 6: unknown -> zero row
    assert new[0] @ vectors[0] > new[0] @ vectors[3] and not new[1].any()
    small, v2 = KGVectors.fit(films, [1, 2, 3, 4], dim=2, min_items=1, max_share=1.0)
    assert v2.shape == (4, 2)
    again = KGVectors.load(kv.save(tmp_path / "kgv"))
    np.testing.assert_allclose(again.transform(films, [1]), vectors[[0]], atol=1e-6)


def test_combine_weights_blocks_and_keeps_empty_rows_empty():
    text = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], np.float32)
    kg = np.array([[0.0, 3.0], [0.0, 0.0], [0.0, 0.0]], np.float32)
    out = combine([text, kg], weights=[3.0, 1.0])
    np.testing.assert_allclose(out[0], np.array([np.sqrt(3), 0, 0, 1]) / 2, atol=1e-6)
    np.testing.assert_allclose(out[1], [0, 1, 0, 0], atol=1e-6)
    assert not out[2].any()
    with pytest.raises(ValueError, match="one row per item"):
        combine([text, kg[:2]])
