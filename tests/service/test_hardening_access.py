"""Who may write and from where: same-origin writes (CSRF), allowed hosts, the key from a file, and
idempotent event ingestion."""

from __future__ import annotations

import pytest

from fathom.service.settings import ServiceSettings

EVENT = {"user_id": "u0", "item_id": "s7", "event": "click"}


def test_a_foreign_sites_page_cannot_write_through_the_operators_browser(client):
    events = client.get("/health").json()["events"]
    for method, path in [("POST", "/models/train"), ("POST", "/models/1/activate"), ("POST", "/models/rollback"),
                         ("DELETE", "/users/u1"), ("PUT", "/items/z")]:
        r = client.request(method, path, content="x", headers={"content-type": "text/plain",
                                                               "origin": "https://evil.example"})
        assert r.status_code == 403 and "Origin" in r.json()["detail"], (path, r.text)
    r = client.post("/events", json=EVENT, headers={"sec-fetch-site": "cross-site"})
    assert r.status_code == 403
    r = client.post("/events", json=EVENT, headers={"origin": "null"})
    assert r.status_code == 403
    assert client.get("/health").json()["events"] == events
    assert client.get("/users/u1").status_code == 200
    # the service's own page (same origin), and clients that are not browsers (no Origin), may write
    assert client.post("/events", json=EVENT, headers={"origin": "http://testserver"}).status_code == 201
    assert client.post("/events", json=EVENT).status_code == 201
    # reads from anywhere are fine
    assert client.get("/search?q=space", headers={"origin": "https://evil.example"}).status_code == 200


def test_allowed_origins_let_another_sites_pages_write(make_client):
    client = make_client(allowed_origins=["https://shop.example"])
    assert client.post("/events", json=EVENT, headers={"origin": "https://shop.example"}).status_code == 201
    assert client.post("/events", json=EVENT, headers={"origin": "https://evil.example"}).status_code == 403


def test_allowed_hosts_refuse_other_host_names(make_client):
    client = make_client(allowed_hosts=["localhost", "127.0.0.1", "*.shop.example"])
    assert client.get("/health", headers={"host": "localhost:8000"}).status_code == 200
    assert client.get("/health", headers={"host": "api.shop.example"}).status_code == 200
    r = client.get("/health", headers={"host": "rebind.attacker.example:8000"})
    assert r.status_code == 400 and "rebind.attacker.example" in r.json()["detail"]


def test_the_key_can_come_from_a_file_and_never_reaches_the_environment(make_client, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    client = make_client(api_key_file=key_file)
    assert client.post("/events", json=EVENT).status_code == 401
    assert client.post("/events", json=EVENT, headers={"X-API-Key": "from-a-file"}).status_code == 201
    settings = ServiceSettings(api_key_file=key_file)
    env = settings.to_env()
    assert "from-a-file" not in "".join(env.values()) and env["FATHOM_API_KEY_FILE"] == str(key_file)
    assert ServiceSettings.from_env(env).write_key == "from-a-file"
    with pytest.raises(ValueError, match="api_key_file: .* is empty"):
        (tmp_path / "empty").write_text("")
        ServiceSettings(api_key_file=tmp_path / "empty")
    with pytest.raises(ValueError, match="not both"):
        ServiceSettings(api_key="k", api_key_file=key_file)


@pytest.mark.parametrize("path", ["/events", "/events/batch"])
def test_a_retried_batch_with_its_idempotency_key_is_stored_once(client, path):
    body = EVENT if path == "/events" else {"events": [EVENT, {**EVENT, "item_id": "s8"}]}
    n = 1 if path == "/events" else 2
    before = client.get("/health").json()["events"]
    first = client.post(path, json=body, headers={"Idempotency-Key": "batch-1"})
    assert first.status_code == 201 and first.json() == {"stored": n}
    assert "idempotency-replayed" not in first.headers
    again = client.post(path, json=body, headers={"Idempotency-Key": "batch-1"})
    assert again.status_code == 201 and again.json() == {"stored": n}
    assert again.headers["idempotency-replayed"] == "true"
    assert client.get("/health").json()["events"] == before + n
    # the same key with other events is refused; a new key stores again
    other = client.post(path, json={**body, "user_id": "u1"} if path == "/events" else {"events": [EVENT]},
                        headers={"Idempotency-Key": "batch-1"})
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    assert client.post(path, json=body, headers={"Idempotency-Key": "batch-2"}).json() == {"stored": n}
    assert client.get("/health").json()["events"] == before + 2 * n


def test_a_retry_is_answered_as_stored_even_after_its_item_left_the_catalogue(client):
    r = client.post("/events", json=EVENT, headers={"Idempotency-Key": "k-1"})
    assert r.status_code == 201
    assert client.delete("/items/s7").status_code == 204
    again = client.post("/events", json=EVENT, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.headers["idempotency-replayed"] == "true"  # stored: not a 404
    assert client.post("/events", json=EVENT).status_code == 404  # a new batch with that item is refused


def test_forgetting_old_keys_uses_an_index_and_durable_commits_sync_fully(data_dir):
    from fathom.online.store import Store

    store = Store(data_dir, durable=True)
    try:
        plan = store._query("EXPLAIN QUERY PLAN DELETE FROM ingest_keys WHERE at < 1")
        assert any("ingest_keys_by_time" in str(row) for row in plan), plan
        assert store._query("PRAGMA synchronous")[0][0] == 2  # FULL
    finally:
        store.close()
    store = Store(data_dir)
    assert store._query("PRAGMA synchronous")[0][0] == 1  # NORMAL: survives kill -9 (benchmarks/durability.py)
    store.close()
