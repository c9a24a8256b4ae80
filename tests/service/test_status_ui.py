"""The status endpoints, the read-only store statistics behind them, and the routes serving the web page."""

from __future__ import annotations

import json

from fathom.online.stats import event_counts, event_history, recent_users, stored_event_count
from fathom.online.store import Store
from fathom.online.versions import train_version


def test_status_reports_versions_metrics_counts_and_search_mode(make_client, data_dir):
    store = Store(data_dir)
    train_version(store, "pop", evaluate=False)  # version 2: no registered metrics, a metrics.json beside it
    (store.artefacts / store.version(2).path / "metrics.json").write_text(json.dumps({"ndcg@10": 0.25}))
    train_version(store, "pop", evaluate=False)  # version 3: no metrics at all
    store.close()
    client = make_client()
    assert client.post("/events", json={"user_id": "u0", "item_id": "s7", "event": "purchase"}).status_code == 201
    body = client.get("/status").json()
    assert body["status"] == "ok" and body["active"] == 1 and body["writes_need_key"] is False
    assert [(v["version"], v["model"], v["active"]) for v in body["versions"]] == [
        (1, "ease", True), (2, "pop", False), (3, "pop", False)]
    first, second, third = (v["metrics"] for v in body["versions"])
    assert first["holdout"] == "each user's latest item" and 0 <= first["ndcg@10"] <= 1  # registered when trained
    assert second == {"ndcg@10": 0.25} and third == {}
    assert body["counts"] == {"items": 20, "users": 20, "events": 121, "events_by_type": {"click": 120, "purchase": 1},
                              "events_last_minute": 121, "events_last_hour": 121}
    assert body["search"] == {"encoder": None, "signals": ["bm25"]}
    assert make_client(api_key="k").get("/status").json()["writes_need_key"] is True


def test_status_users_are_the_most_recently_active_first(client):
    assert client.get("/status/users?limit=3").json() == {
        "users": [{"user_id": "u19", "events": 6}, {"user_id": "u18", "events": 6}, {"user_id": "u17", "events": 6}]}
    client.post("/events", json={"user_id": "u4", "item_id": "s0"})
    client.post("/events", json={"user_id": "new", "item_id": "c0"})
    users = client.get("/status/users?limit=2").json()["users"]
    assert users == [{"user_id": "new", "events": 1}, {"user_id": "u4", "events": 7}]
    assert client.get("/status/users?limit=0").status_code == 422


def test_store_statistics_read_beside_a_writer(data_dir):
    store = Store(data_dir)  # an open writer, as in the service
    assert stored_event_count(data_dir) == 120
    counts = event_counts(data_dir, now=0.0)  # every event arrived after time 0
    assert (counts.items, counts.users, counts.events, counts.by_type) == (20, 20, 120, {"click": 120})
    assert counts.last_minute == counts.last_hour == 120
    assert event_counts(data_dir, now=4e9).last_hour == 0  # and none in the hour before 2096
    assert len(recent_users(data_dir, limit=100)) == 20
    store.close()


def test_the_page_and_its_assets_are_served(client):
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="search-input"' in page.text and 'src="/ui/app.js"' in page.text
    assert client.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/style.css").headers["content-type"].startswith("text/css")
    assert 'id="versions"' in client.get("/ui/status").text
    for bad in ("/ui/nothing.js", "/ui/status.py", "/ui/..%2Fapp.py", "/ui/.hidden.js"):
        assert client.get(bad).status_code == 404, bad
    assert "/ui/" not in client.get("/openapi.json").json()["paths"]


def _set_arrivals(data_dir, times: list[float]) -> None:
    """Give the store's events these arrival times, in id order (the remaining ones arrive at time 0)."""
    import sqlite3

    from fathom.online.schema import DB_NAME

    conn = sqlite3.connect(data_dir / DB_NAME)
    with conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM events ORDER BY id")]
        conn.executemany("UPDATE events SET received_at = ? WHERE id = ?",
                         [(times[i] if i < len(times) else 0.0, id_) for i, id_ in enumerate(ids)])
    conn.close()


def test_event_history_buckets_arrivals_by_minute_and_by_hour(data_dir):
    t0 = 1_800_000_000.0  # a whole hour (and minute), UTC
    now = t0 + 30  # half a minute into the hour
    _set_arrivals(data_dir, [
        t0 + 30, t0 + 5,  # this minute: the last minute bucket, the last hour bucket
        t0 - 1,  # the minute before; the hour before
        t0 - 3540, t0 - 3541,  # the first minute of the last hour; a second earlier, outside it
        t0 + 100,  # stamped in the future (after this minute, within this hour): in the day series only
        t0 + 3600,  # after this hour: in neither
        t0 - 82800, t0 - 82801,  # the first second of the last day; a second earlier, outside it
    ])
    minutes, hours = event_history(data_dir, now=now)
    assert (minutes.bucket_s, minutes.start, len(minutes.counts)) == (60, t0 + 60 - 3600, 60)
    assert (hours.bucket_s, hours.start, len(hours.counts)) == (3600, t0 + 3600 - 86400, 24)
    assert {i: n for i, n in enumerate(minutes.counts) if n} == {59: 2, 58: 1, 0: 1}
    assert {i: n for i, n in enumerate(hours.counts) if n} == {23: 3, 22: 3, 0: 1}


def test_status_history_route_counts_recent_events(client):
    body = client.get("/status/history").json()
    minutes, hours = body["per_minute"], body["per_hour"]
    assert (minutes["bucket_s"], len(minutes["counts"]), hours["bucket_s"], len(hours["counts"])) == (60, 60, 3600, 24)
    assert minutes["start"] <= body["now"] < minutes["start"] + 3600 and minutes["start"] % 60 == 0
    assert hours["start"] <= body["now"] < hours["start"] + 86400 and hours["start"] % 3600 == 0
    assert sum(minutes["counts"]) == sum(hours["counts"]) == 120  # every synthetic event arrived just now
    assert client.post("/events", json={"user_id": "u0", "item_id": "s7"}).status_code == 201
    body = client.get("/status/history").json()
    assert sum(body["per_minute"]["counts"]) == sum(body["per_hour"]["counts"]) == 121
