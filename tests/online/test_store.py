"""The SQLite store: WAL mode, items, users, events, batches, model registry and rollback."""

from __future__ import annotations

import sqlite3

import pytest

from fathom.online.errors import Conflict, NotFound
from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import DB_NAME, Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path)
    yield s
    s.close()


def test_wal_mode_and_schema(store, tmp_path):
    con = sqlite3.connect(tmp_path / DB_NAME)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"items", "users", "events", "model_versions", "activations", "meta"} <= tables
    con.close()
    assert store.is_empty() and (tmp_path / "artefacts").is_dir()


def test_items_upsert_replace_delete_and_revision(store):
    store.upsert_items([ItemRecord(item_id="a", title="Alpha", categorical={"g": ["x"]}, numeric={"p": 1.5}),
                        ItemRecord(item_id="b", title="Beta")])
    assert store.catalogue_revision == 1 and store.item_count() == 2
    store.upsert_items([ItemRecord(item_id="a", title="Alpha 2")])
    assert store.get_item("a") == ItemRecord(item_id="a", title="Alpha 2")
    assert store.catalogue_revision == 2 and store.item_count() == 2
    assert store.missing_items(["b", "zz", "a", "zz"]) == ["zz"]
    store.delete_item("a")
    assert store.catalogue_revision == 3
    with pytest.raises(NotFound, match="unknown item 'a'"):
        store.get_item("a")
    with pytest.raises(NotFound):
        store.delete_item("a")


def test_events_batch_users_and_recency(store):
    events = [EventRecord(user_id="u", item_id=i, timestamp=t) for t, i in enumerate(["a", "b", "a", "c"], 1)]
    assert store.add_events(events) == 4
    assert store.add_events([]) == 0
    assert store.event_count() == 4 and store.event_count("u") == 4 and store.has_user("u")
    assert store.user_items("u") == ["c", "a", "b"]  # distinct, most recent first
    assert store.user_items("u", limit=1) == ["c"]
    assert store.item_popularity() == {"a": 1, "b": 1, "c": 1}
    frame = store.events_frame()
    assert list(frame.columns) == ["user_id", "item_id", "event", "value", "timestamp"]
    assert frame["timestamp"].tolist() == [1, 2, 3, 4]
    assert store.delete_user("u") == 4
    assert store.event_count() == 0 and not store.has_user("u")
    with pytest.raises(NotFound, match="unknown user 'u'"):
        store.delete_user("u")


def test_a_second_connection_sees_committed_writes(store, tmp_path):
    other = Store(tmp_path)
    store.add_events([EventRecord(user_id="u", item_id="a")])
    assert other.event_count() == 1 and other.has_user("u")
    other.close()


def test_registry_activation_and_stack_rollback(store):
    v1 = store.add_version("ease", "models/a", 3, 4, 5, {"reg": 1.0})
    v2 = store.add_version("pop", "models/b", 3, 4, 5)
    v3 = store.add_version("itemknn", "models/c", 3, 4, 5)
    assert (v1, v2, v3) == (1, 2, 3) and store.active_version() is None
    assert store.version(1).config == {"reg": 1.0}
    for v in (1, 2, 3):
        assert store.activate(v).active
    assert [v.active for v in store.versions()] == [False, False, True]
    assert store.rollback().version == 2
    assert store.rollback().version == 1
    assert store.active_version().version == 1
    with pytest.raises(Conflict, match="no earlier model version"):
        store.rollback()
    with pytest.raises(NotFound, match="unknown model version 9"):
        store.activate(9)
    assert store.active_version().version == 1
