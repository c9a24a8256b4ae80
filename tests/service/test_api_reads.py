"""Read endpoints on the synthetic two-taste catalogue: recommend, similar, search, health, metrics, docs."""

from __future__ import annotations

from tests.service.synthetic import history


def ids(payload: dict, key: str = "items") -> list[str]:
    return [row["item_id"] for row in payload[key]]


def test_recommend_known_user_gets_unseen_items_of_their_taste_with_reasons(client):
    r = client.get("/recommend/u0", params={"k": 4})
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] == "u0" and body["model_version"] == 1
    got = ids(body)
    assert set(got) == {"s6", "s7", "s8", "s9"}  # exactly the four space items u0 has not seen
    scores = [row["score"] for row in body["items"]]
    assert scores == sorted(scores, reverse=True)
    seen_titles = {f"Space Voyage {n}" for n in range(6)}
    for row in body["items"]:
        assert row["title"] == f"Space Voyage {row['item_id'][1:]}"
        assert row["reason"].startswith("because you interacted with ")
        assert row["reason"].removeprefix("because you interacted with ") in seen_titles
        assert row["because"] in history(0)


def test_recommend_post_for_user_matches_get(client):
    got = client.post("/recommend", json={"user_id": "u12", "k": 3}).json()
    assert got == client.get("/recommend/u12?k=3").json()
    assert all(i.startswith("c") and i not in history(12) for i in ids(got))


def test_anonymous_visitor_fold_in_from_recent_items(client):
    r = client.post("/recommend", json={"recent_items": ["c0", "c1"], "k": 5})
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] is None and body["model_version"] == 1
    rows = body["items"]
    # the ring neighbours of c0 / c1 first, each explained by the recent item next to it
    assert {r["item_id"] for r in rows[:2]} == {"c2", "c9"} and {r["item_id"] for r in rows[2:4]} == {"c3", "c8"}
    expected = {"c2": "c1", "c3": "c1", "c9": "c0", "c8": "c0"}
    for row in rows[:4]:
        assert row["because"] == expected[row["item_id"]]
        assert row["reason"] == f"because you interacted with Kitchen Recipe {expected[row['item_id']][1:]}"
    assert rows[4]["reason"] == "popular" and rows[4]["because"] is None
    assert not {"c0", "c1"} & set(ids(body))


def test_recommend_filters_on_catalogue_fields(client):
    # a space fan asking for cooking gets only cooking items (none of which they have seen)
    got = client.get("/recommend/u0", params={"k": 5, "filter": "genre=Cooking"}).json()
    assert len(got["items"]) == 5 and all(i.startswith("c") for i in ids(got))
    # numeric range: their unseen space items from year 2008 on first, then other items of those years
    got = client.post("/recommend", json={"user_id": "u0", "k": 5,
                                          "filter": {"ranges": {"year": [2008, None]}}}).json()
    assert set(ids(got)[:2]) == {"s8", "s9"} and set(ids(got)) == {"s8", "s9", "c8", "c9"}
    assert [row["reason"] for row in got["items"][2:]] == ["popular", "popular"]


def test_similar_items_come_from_the_same_taste(client):
    body = client.get("/similar/s0", params={"k": 3}).json()
    assert body["item_id"] == "s0" and body["model_version"] == 1
    got = ids(body)
    assert len(got) == 3 and all(i.startswith("s") and i != "s0" for i in got)
    assert all(row["reason"] == "similar to Space Voyage 0" for row in body["items"])
    only_late = client.get("/similar/s0", params={"k": 3, "range": "year=2007:"}).json()
    assert {int(i[1:]) for i in ids(only_late)} <= {7, 8, 9}


def test_search_gives_per_signal_scores_facets_and_filters(client):
    body = client.get("/search", params={"q": "kitchen recipe", "k": 4}).json()
    assert body["total"] == 10
    assert len(body["hits"]) == 4 and all(h["item_id"].startswith("c") for h in body["hits"])
    assert all(h["scores"]["bm25"] > 0 and "fused" in h["scores"] for h in body["hits"])
    assert body["facets"]["genre"] == {"Cooking": 10}
    assert body["hits"][0]["title"].startswith("Kitchen Recipe")
    # typo tolerance and a numeric range through the POST form
    body = client.post("/search", json={"query": "starshp", "k": 10,
                                        "filter": {"ranges": {"year": [None, 2002]}}, "facets": ["genre"]}).json()
    assert sorted(h["item_id"] for h in body["hits"]) == ["s0", "s1", "s2"]
    assert body["corrections"] == {"starshp": "starship"}
    assert body["facets"] == {"genre": {"Sci-Fi": 3}}


def test_health_metrics_and_openapi(client):
    health = client.get("/health").json()
    assert health == {"status": "ok", "model_version": 1, "items": 20, "users": 20, "events": 120}
    client.get("/recommend/u0")
    client.post("/recommend", json={"recent_items": ["s1"]})
    text = client.get("/metrics").text
    assert 'fathom_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'fathom_recommendations_total{kind="anonymous"} 1.0' in text
    assert "fathom_active_model_version 1.0" in text
    assert "fathom_catalogue_items 20.0" in text
    spec = client.get("/openapi.json").json()
    assert {"/recommend", "/recommend/{user_id}", "/similar/{item_id}", "/search", "/events", "/events/batch",
            "/items/{item_id}", "/users/{user_id}", "/models", "/models/{version}/activate", "/models/rollback",
            "/health", "/metrics"} <= set(spec["paths"])
    assert "RecommendRequest" in spec["components"]["schemas"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_recommended_and_similar_items_carry_their_attributes(client):
    for path in ("/recommend/u0?k=3", "/similar/s1?k=3"):
        items = client.get(path).json()["items"]
        assert items and all(r["categorical"]["genre"] == ["Sci-Fi"] for r in items), path
        assert all(r["numeric"]["year"] == 2000 + int(r["item_id"][1:]) for r in items), path
    anonymous = client.post("/recommend", json={"recent_items": ["c1"], "k": 2}).json()["items"]
    assert all(r["categorical"]["genre"] == ["Cooking"] for r in anonymous)
