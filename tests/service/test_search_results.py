"""What a search answers beyond its hits, through the API: the number of matches and the facet counts over every
match whatever ``k``, and typo corrections as written words."""

from __future__ import annotations


def test_total_and_facets_do_not_depend_on_k(client):
    answers = [client.get("/search", params={"q": "space kitchen", "k": k}).json() for k in (3, 10, 20)]
    assert [len(a["hits"]) for a in answers] == [3, 10, 20]
    for a in answers:
        assert a["total"] == 20 and a["facets"] == {"genre": {"Cooking": 10, "Sci-Fi": 10}}
    one = [client.post("/search", json={"query": "galaxies", "k": k, "facets": ["genre"]}).json() for k in (1, 5)]
    assert [(a["total"], a["facets"]) for a in one] == [(10, {"genre": {"Sci-Fi": 10}})] * 2


def test_typo_corrections_name_the_typed_word_and_the_written_word(client):
    body = client.post("/search", json={"query": "Galaxeis", "k": 5}).json()
    assert body["corrections"] == {"Galaxeis": "galaxies"}  # the index reads the stems galaxei -> galaxi
    assert body["total"] == 10 and all(h["item_id"].startswith("s") for h in body["hits"])
    assert client.get("/search", params={"q": "kitchen recipies"}).json()["corrections"] == {"recipies": "recipe"}
