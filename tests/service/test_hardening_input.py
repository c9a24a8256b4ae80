"""Values nobody validated: non-finite numbers, out-of-range timestamps and unbounded attribute names must be
refused with a 4xx naming the field, and a store holding a bad row from an older release must still open."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest

from fathom.online.engine import Engine
from fathom.online.store import DB_NAME


def _put(client, item_id, body_text):
    return client.put(f"/items/{item_id}", content=body_text, headers={"content-type": "application/json"})


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_item_numbers_are_refused_and_the_store_still_restarts(make_client, data_dir, number):
    client = make_client()
    r = _put(client, "x", '{"title": "t", "numeric": {"release_year": ' + number + "}}")
    assert r.status_code == 422, r.text
    assert "numeric.release_year" in r.json()["detail"]
    assert client.get("/items/x").status_code == 404  # nothing stored
    client.__exit__(None, None, None)
    again = make_client()  # used to exit at start-up once such a value was stored
    assert again.get("/health").json()["items"] == 20


def test_a_bad_row_from_an_older_release_is_repaired_on_open_with_a_warning(data_dir, caplog):
    conn = sqlite3.connect(data_dir / DB_NAME)
    attrs = json.dumps({"categorical": {"genre": ["Sci-Fi"]}, "numeric": {"year": float("nan"), "rank": 3.0}})
    conn.execute("INSERT INTO items (item_id, title, description, attributes, updated_at) VALUES (?, ?, '', ?, 0)",
                 ("bad", "Broken Banjo", attrs))
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'catalogue_revision'")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="fathom"):
        engine = Engine.open(data_dir)
    try:
        assert any("'bad'" in r.getMessage() and "numeric.year" in r.getMessage() for r in caplog.records)
        item = engine.store.get_item("bad")
        assert item.numeric == {"rank": 3.0} and item.categorical == {"genre": ["Sci-Fi"]}
        assert [h.doc_id for h in engine.search("banjo").hits] == ["bad"]
    finally:
        engine.close()
    # the saved index (now written from the repaired item) loads in the next process
    engine = Engine.open(data_dir)
    engine.close()


def test_an_unreadable_saved_index_is_rebuilt(data_dir, caplog):
    Engine.open(data_dir).close()
    (data_dir / "artefacts/index/documents.jsonl").write_text('{"id": "s0", "numeric": {"year": null}}\n')
    with caplog.at_level(logging.WARNING, logger="fathom"):
        engine = Engine.open(data_dir)
    try:
        assert any("rebuilding it from the store" in r.getMessage() for r in caplog.records)
        assert len(engine.index) == 20
    finally:
        engine.close()


@pytest.mark.parametrize(("event", "field"), [
    ({"value": "NaN"}, "value"), ({"value": "Infinity"}, "value"), ({"value": 1e308}, "value"),
    ({"value": -1}, "value"), ({"timestamp": 2**63}, "timestamp"), ({"timestamp": -(2**63)}, "timestamp"),
    ({"timestamp": 10**22}, "timestamp"),
])
def test_event_values_and_timestamps_out_of_range_give_422_and_store_nothing(client, event, field):
    before = client.get("/health").json()["events"]
    good = {"user_id": "u0", "item_id": "c1", "event": "click"}
    bad = json.dumps({**good, **{k: v for k, v in event.items() if not isinstance(v, str)}})
    for k, v in event.items():  # NaN and Infinity as bare JSON literals
        if isinstance(v, str):
            bad = bad[:-1] + f', "{k}": {v}}}'
    batch = '{"events": [' + json.dumps(good) + ", " + bad + "]}"
    for path, body in (("/events", bad), ("/events/batch", batch)):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.text)
        assert field in r.json()["detail"]
    assert client.get("/health").json()["events"] == before


def test_attribute_names_are_limited_per_item_and_in_total(make_client):
    client = make_client(max_attribute_names=30)
    many = {"title": "t", "numeric": {f"n{i}": 1.0 for i in range(65)}}
    r = client.put("/items/x", json=many)
    assert r.status_code == 422 and "numeric" in r.json()["detail"]
    r = client.put("/items/x", json={"title": "t", "categorical": {"a=b": "c"}})
    assert r.status_code == 422 and "categorical" in r.json()["detail"]
    # the catalogue has 2 names (genre, year): 28 more fit, the 29th does not
    assert client.put("/items/x", json={"title": "t", "numeric": {f"n{i}": 1.0 for i in range(28)}}).status_code == 200
    r = client.put("/items/y", json={"title": "t", "categorical": {"colour": "red"}})
    assert r.status_code == 422
    assert "would make 31" in r.json()["detail"] and "max_attribute_names" in r.json()["detail"]
    assert client.get("/items/y").status_code == 404
    # names already in the catalogue are always welcome
    assert client.put("/items/y", json={"title": "t", "numeric": {"n3": 2.0}}).status_code == 200
