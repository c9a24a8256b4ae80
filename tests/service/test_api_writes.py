"""Writes and their immediate effect on reads; input errors; API keys; model versions."""

from __future__ import annotations

import pytest

from fathom.online.records import ItemRecord
from fathom.online.versions import train_version
from tests.service.synthetic import history


def ids(payload: dict, key: str = "items") -> list[str]:
    return [row["item_id"] for row in payload[key]]


def test_seen_items_disappear_right_after_an_event(client):
    top = ids(client.get("/recommend/u0?k=4").json())
    assert top[0] in ("s6", "s9")
    r = client.post("/events", json={"user_id": "u0", "item_id": top[0], "event": "purchase"})
    assert r.status_code == 201 and r.json() == {"stored": 1}
    after = ids(client.get("/recommend/u0?k=4").json())
    assert top[0] not in after
    assert set(top) - {top[0]} <= set(after)  # the other unseen space items stay
    user = client.get("/users/u0").json()
    assert user["events"] == 7 and user["recent_items"][0] == top[0]


def test_new_user_from_events_gets_fold_in_recommendations(client):
    assert client.get("/recommend/newcomer").status_code == 404
    client.post("/events", json={"user_id": "newcomer", "item_id": "s3"})
    body = client.get("/recommend/newcomer?k=2").json()
    assert set(ids(body)) == {"s2", "s4"}  # the ring neighbours of s3
    assert {row["because"] for row in body["items"]} == {"s3"}


def test_batch_ingestion_stores_exactly_the_count_sent_in_one_transaction(client):
    batch = [{"user_id": f"b{i % 7}", "item_id": f"c{i % 10}", "event": "view", "timestamp": 5_000 + i}
             for i in range(37)]
    before = client.get("/health").json()
    r = client.post("/events/batch", json={"events": batch})
    assert r.status_code == 201 and r.json() == {"stored": 37}
    after = client.get("/health").json()
    assert after["events"] - before["events"] == 37 and after["users"] - before["users"] == 7
    # one unknown item rejects the whole batch: nothing is stored
    bad = batch[:5] + [{"user_id": "b0", "item_id": "nope"}]
    r = client.post("/events/batch", json={"events": bad})
    assert r.status_code == 404 and "unknown item 'nope'" in r.json()["detail"]
    assert client.get("/health").json()["events"] == after["events"]


def test_upserted_item_is_searchable_at_once_and_deleted_item_disappears(client):
    assert client.get("/search?q=banjo").json()["hits"] == []
    item = {"title": "Quantum Banjo Manual", "description": "strings and tunes",
            "categorical": {"genre": "Music"}, "numeric": {"year": 2020}}
    r = client.put("/items/n1", json=item)
    assert r.status_code == 200
    assert r.json() == {"item_id": "n1", "title": "Quantum Banjo Manual", "description": "strings and tunes",
                        "categorical": {"genre": ["Music"]}, "numeric": {"year": 2020.0}}
    hits = client.get("/search?q=banjo").json()["hits"]
    assert [h["item_id"] for h in hits] == ["n1"] and hits[0]["title"] == "Quantum Banjo Manual"
    assert client.get("/search", params={"q": "", "filter": "genre=Music"}).json()["total"] == 1
    assert client.get("/items/n1").json()["title"] == "Quantum Banjo Manual"
    # the model does not know n1 yet: similar items come from its text
    client.put("/items/n2", json={"title": "Banjo Tunes for Beginners"})
    sim = client.get("/similar/n1?k=1").json()
    assert ids(sim) == ["n2"] and sim["items"][0]["reason"] == "text similar to Quantum Banjo Manual"
    # an update replaces the text
    client.put("/items/n1", json={"title": "Quantum Ukulele Manual"})
    assert [h["item_id"] for h in client.get("/search?q=ukulele").json()["hits"]] == ["n1"]
    assert [h["item_id"] for h in client.get("/search?q=banjo").json()["hits"]] == ["n2"]
    # deleting a catalogue item removes it from search and from recommendations at once
    assert "s9" in ids(client.get("/recommend/u0?k=4").json())
    assert client.delete("/items/s9").status_code == 204
    assert "s9" not in ids(client.get("/recommend/u0?k=4").json())
    assert "s9" not in [h["item_id"] for h in client.get("/search?q=space&k=20").json()["hits"]]
    assert client.get("/items/s9").status_code == 404
    assert client.delete("/items/s9").json() == {"detail": "unknown item 's9'"}


def test_delete_user_removes_them_and_all_their_events(client):
    before = client.get("/health").json()
    r = client.delete("/users/u3")
    assert r.status_code == 200 and r.json() == {"user_id": "u3", "events_removed": 6}
    after = client.get("/health").json()
    assert before["events"] - after["events"] == 6 and before["users"] - after["users"] == 1
    assert client.get("/users/u3").status_code == 404
    r = client.get("/recommend/u3")
    assert r.status_code == 404 and r.json() == {"detail": "unknown user 'u3'"}
    assert client.delete("/users/u3").status_code == 404


def test_unknown_ids_give_404_with_the_id(client):
    assert client.get("/recommend/ghost").json() == {"detail": "unknown user 'ghost'"}
    assert client.get("/similar/nothing").status_code == 404
    assert client.get("/similar/nothing").json() == {"detail": "unknown item 'nothing'"}
    r = client.post("/recommend", json={"recent_items": ["s1", "zzz"]})
    assert r.status_code == 404 and r.json()["detail"] == "unknown item 'zzz'"
    r = client.post("/events", json={"user_id": "u1", "item_id": "zzz"})
    assert r.status_code == 404 and "unknown item 'zzz'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path", "payload", "status", "field"),
    [
        ("post", "/recommend", {"user_id": "u0", "k": 0}, 422, "body.k"),
        ("post", "/recommend", {"user_id": "u0", "k": "many"}, 422, "body.k"),
        ("post", "/recommend", {"user_id": "u0", "recent_items": ["s1"]}, 422, "exactly one of user_id"),
        ("post", "/recommend", {"user_id": "u0", "colour": "red"}, 422, "body.colour"),
        ("post", "/recommend", {"user_id": "u0", "filter": {"equals": {"colour": ["red"]}}}, 400,
         "filter.equals.colour"),
        ("post", "/events", {"user_id": "u0"}, 422, "body.item_id"),
        ("post", "/events", {"user_id": "u0", "item_id": "s1", "event": "bogus"}, 422, "body.event"),
        ("post", "/events/batch", {"events": []}, 422, "body.events"),
        ("post", "/events/batch", {"events": [{"user_id": "u0", "item_id": "s1", "value": "x"}]}, 422,
         "body.events.0.value"),
        ("put", "/items/x1", {"title": ""}, 422, "body.title"),
        ("post", "/search", {"query": "x", "facets": ["nope"]}, 400, "facets.nope"),
        ("get", "/recommend/u0?k=abc", None, 422, "query.k"),
        ("get", "/search?q=x&filter=genre", None, 422, "query.filter"),
        ("get", "/search?q=x&k=100000", None, 422, "k: at most"),
    ],
)
def test_bad_input_gives_4xx_naming_the_field(client, method, path, payload, status, field):
    r = client.request(method.upper(), path, json=payload)
    assert r.status_code == status, r.text
    assert field in r.json()["detail"]


def test_malformed_json_and_oversized_bodies(make_client):
    client = make_client(max_body_bytes=2_000)
    r = client.post("/events", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "body" in r.json()["detail"]
    big = {"events": [{"user_id": "u0", "item_id": "s1"}] * 100}
    r = client.post("/events/batch", json=big)
    assert r.status_code == 413 and "2000 bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        yield b'{"events": ['
        for _ in range(100):
            yield b'{"user_id": "u0", "item_id": "s1"},'
        yield b'{"user_id": "u0", "item_id": "s1"}]}'

    r = client.post("/events/batch", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert client.get("/users/u0").json()["events"] == 6


def test_api_key_is_required_for_writes_and_reads_of_a_users_data(make_client):
    client = make_client(api_key="s3cret")
    event = {"user_id": "u0", "item_id": "s7"}
    r = client.post("/events", json=event)
    assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
    r = client.post("/events", json=event, headers={"X-API-Key": "wrong"})
    assert r.status_code == 403 and "wrong API key" in r.json()["detail"]
    for method, path in [("PUT", "/items/z"), ("DELETE", "/items/s1"), ("DELETE", "/users/u1"),
                         ("POST", "/models/1/activate"), ("POST", "/models/rollback")]:
        assert client.request(method, path, json={"title": "z"}).status_code == 401, path
    key = {"X-API-Key": "s3cret"}
    assert client.get("/users/u0", headers=key).json()["events"] == 6  # nothing was written
    assert client.post("/events", json=event, headers=key).status_code == 201
    assert client.get("/users/u0", headers=key).json()["events"] == 7
    # one user's data (events, recommendations with their reasons, who is active) is read with the key only
    for path in ("/users/u0", "/recommend/u0", "/status/users"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"X-API-Key": "wrong"}).status_code == 403, path
        assert client.get(path, headers=key).status_code == 200, path
    assert client.post("/recommend", json={"user_id": "u0"}).status_code == 401
    assert client.post("/recommend", json={"user_id": "u0"}, headers=key).status_code == 200
    # catalogue reads and an anonymous visitor's recommendations stay open
    assert client.post("/recommend", json={"recent_items": ["s1"]}).status_code == 200
    for path in ("/search?q=space", "/similar/s1", "/items/s1", "/health", "/status"):
        assert client.get(path).status_code == 200, path


def test_model_versions_activate_and_rollback(client):
    store = client.app.state.engine.store
    listing = client.get("/models").json()
    assert listing["active"] == 1 and [v["model"] for v in listing["versions"]] == ["ease"]
    assert train_version(store, "pop").version == 2  # registered, not active
    assert client.get("/models").json()["active"] == 1
    r = client.post("/models/2/activate")
    assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["active"] is True
    body = client.get("/recommend/u0?k=3").json()
    assert body["model_version"] == 2
    assert all(row["reason"] == "popular" for row in body["items"])
    assert not set(ids(body)) & set(history(0))
    listing = client.get("/models").json()
    assert listing["active"] == 2 and [v["active"] for v in listing["versions"]] == [False, True]
    r = client.post("/models/rollback")
    assert r.status_code == 200 and r.json()["version"] == 1
    body = client.get("/recommend/u0?k=3").json()
    assert body["model_version"] == 1 and body["items"][0]["reason"].startswith("because you interacted")
    r = client.post("/models/rollback")
    assert r.status_code == 409 and r.json() == {"detail": "no earlier model version to roll back to"}
    r = client.post("/models/99/activate")
    assert r.status_code == 404 and r.json() == {"detail": "unknown model version 99"}
    assert client.post("/models/two/activate").status_code == 422
    assert "fathom_active_model_version 1.0" in client.get("/metrics").text


def test_catalogue_changes_survive_a_restart(make_client, data_dir):
    client = make_client()
    client.put("/items/n1", json={"title": "Quantum Banjo Manual"})
    client.delete("/items/s0")
    client.__exit__(None, None, None)  # shutdown saves the index with the store's catalogue revision
    stamp = (data_dir / "artefacts/index/revision.txt").read_text()
    again = make_client()
    assert (data_dir / "artefacts/index/revision.txt").read_text() == stamp  # loaded, not rebuilt
    assert [h["item_id"] for h in again.get("/search?q=banjo").json()["hits"]] == ["n1"]
    assert again.get("/health").json()["items"] == 20
    # a change made by another process is picked up at the next request (from the store's change log)
    from fathom.online.store import Store

    other = Store(data_dir)
    other.delete_item("n1")
    other.close()
    assert again.get("/search?q=banjo").json()["hits"] == []
    again.put("/items/n2", json={"title": "Banjo Tunes"})
    again.__exit__(None, None, None)
    assert (data_dir / "artefacts/index/revision.txt").read_text() == str(int(stamp) + 2)
    third = make_client()
    assert [h["item_id"] for h in third.get("/search?q=banjo").json()["hits"]] == ["n2"]
    # a saved index that lags the store (changed while no service ran) is caught up from the change log on start
    other = Store(data_dir)
    other.upsert_items([ItemRecord(item_id="n3", title="Banjo Strings")])
    other.close()
    fourth = make_client()
    assert sorted(h["item_id"] for h in fourth.get("/search?q=banjo").json()["hits"]) == ["n2", "n3"]
