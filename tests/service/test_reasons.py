"""Reasons with knowledge-graph paths in the API: the path from the cited item to the recommended one, read from
the catalogue's own attributes, from a graph folder (``--kg`` / the data folder's ``kg/``), and faithful
``?why=true`` reasons whose cited item really moves the recommendation down when it is removed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from fathom.data.kg import KnowledgeGraph
from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import history


def names(path: list[dict]) -> list[str]:
    return [step["name"] for step in path]


def test_reasons_carry_the_catalogue_path_from_the_cited_item(client):
    body = client.get("/recommend/u0?k=4").json()
    for row in body["items"]:
        cited = client.get(f"/items/{row['because']}").json()["title"]
        assert names(row["path"]) == [cited, "Sci-Fi", row["title"]]
        assert [s.get("relation") for s in row["path"]] == [None, "genre", "genre"]
        assert [s.get("forward") for s in row["path"]] == [None, True, False]
        assert row["path_text"] == "both: genre Sci-Fi"  # the genre (10 items) before the decade (20 items)
    similar = client.get("/similar/c3?k=3").json()["items"]
    assert all(names(r["path"]) == ["Kitchen Recipe 3", "Cooking", r["title"]] for r in similar)


def test_an_item_upserted_later_gets_a_path_through_its_new_attribute(client):
    item = {"title": "Nebula Patrol", "categorical": {"genre": ["Sci-Fi"], "studio": ["Orbit"]}, "numeric": {}}
    assert client.put("/items/n1", json=item).status_code == 200
    item2 = {"title": "Nebula Kitchen", "categorical": {"genre": ["Cooking"], "studio": ["Orbit"]}, "numeric": {}}
    assert client.put("/items/n2", json=item2).status_code == 200
    rows = client.get("/similar/n1?k=20").json()["items"]
    by_id = {r["item_id"]: r for r in rows}
    assert by_id["n2"]["path_text"] == "both: studio Orbit"  # shared only by the two new items


def test_a_configured_graph_folder_explains_instead_of_the_catalogue(make_client, tmp_path):
    frame = pd.DataFrame({"item_id": [f"s{n}" for n in range(10)] + [f"c{n}" for n in range(10)],
                          "title": [f"Space Voyage {n}" for n in range(10)]
                          + [f"Kitchen Recipe {n}" for n in range(10)],
                          "directors": [["Ann Vega"] if n % 2 else ["Bo Lind"] for n in range(20)]})
    KnowledgeGraph.from_catalog(frame, ["directors"]).save(tmp_path / "kg")
    client = make_client(kg=tmp_path / "kg")
    for row in client.get("/recommend/u0?k=4").json()["items"]:
        odd = int(row["item_id"][1:]) % 2
        if int(row["because"][1:]) % 2 == odd:
            assert row["path_text"] == f"both: directed by {'Ann Vega' if odd else 'Bo Lind'}"
        else:
            assert row["path"] is None  # no path within two hops between the two directors' films


def test_the_data_folders_kg_is_read_when_present(data_dir):
    frame = pd.DataFrame({"item_id": ["s6", "s0", "s1"], "title": ["Space Voyage 6", "Space Voyage 0", "x"],
                          "cast": [["Mia Sol"], ["Mia Sol"], ["Mia Sol"]]})
    KnowledgeGraph.from_catalog(frame, ["cast"]).save(data_dir / "kg")
    with TestClient(create_app(ServiceSettings(data_dir=data_dir))) as client:
        rows = client.get("/similar/s0?k=19").json()["items"]
    by_id = {r["item_id"]: r for r in rows}
    assert by_id["s6"]["path_text"] == "both: stars Mia Sol"
    assert by_id["s7"]["path"] is None  # not in the folder's graph


def test_why_cites_the_history_item_whose_removal_moves_the_recommendation_down(client):
    got = client.get("/recommend/u3?k=4&why=true").json()["items"]
    post = client.post("/recommend", json={"user_id": "u3", "k": 4, "why": True}).json()["items"]
    assert got == post
    seen = history(3)[::-1]  # most recent first, as recent_items takes it
    assert client.post("/recommend", json={"recent_items": seen, "k": 4}).json()["items"] == \
        client.get("/recommend/u3?k=4").json()["items"]  # the visitor with u3's history is served as u3 is
    for rank, row in enumerate(got):
        assert row["because"] in seen and row["reason"].startswith("because you interacted with ")
        without = [i for i in seen if i != row["because"]]
        again = client.post("/recommend", json={"recent_items": without, "k": 20}).json()["items"]
        again = [r for r in again if r["item_id"] != row["because"]]  # the removed item is not ranked
        ids = [r["item_id"] for r in again]
        # without the cited item the recommendation scores lower, and falls or leaves the list
        assert row["item_id"] not in ids or (again[ids.index(row["item_id"])]["score"] < row["score"] - 1e-6
                                             and ids.index(row["item_id"]) >= rank)


def test_movielens_reasons_name_real_genres_and_titles(ml100k_dir):
    with TestClient(create_app(ServiceSettings(data_dir=ml100k_dir))) as client:
        rows = client.get("/recommend/196?k=10&why=true").json()["items"]
        assert len(rows) == 10
        with_path = [r for r in rows if r["path"]]
        assert len(with_path) >= 8
        for row in with_path:
            item = client.get(f"/items/{row['item_id']}").json()
            cited = client.get(f"/items/{row['because']}").json()
            middle = row["path"][1]
            assert row["path"][0]["name"] == cited["title"] and row["path"][-1]["name"] == item["title"]
            if middle["relation"] == "genre":  # a genre both films have, by its readable name
                assert middle["name"] in item["categorical"]["genres"]
                assert middle["name"] in cited["categorical"]["genres"]
            else:
                assert middle["relation"] == "decade" and middle["name"].endswith("0s")
                assert int(item["numeric"]["release_year"]) // 10 * 10 == int(middle["name"][:-1])
        sims = client.get("/similar/50?k=10").json()["items"]  # Star Wars
        jedi = next(r for r in sims if r["title"] == "Return of the Jedi")
        assert jedi["path_text"].startswith("both: genre ")
        assert {"Sci-Fi", "War"} <= set(jedi["path_text"].removeprefix("both: genre ").split(", "))
    assert np.isfinite([r["score"] for r in rows]).all()
