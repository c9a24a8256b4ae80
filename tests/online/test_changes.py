"""What lets several processes share one store: the state query, the catalogue change log, leases, and the
registry's newer columns on a store file written before they existed."""

from __future__ import annotations

import sqlite3
import time

from fathom.online.records import ItemRecord
from fathom.online.store import DB_NAME, Store


def test_state_and_catalogue_changes_since_a_revision(tmp_path):
    store = Store(tmp_path)
    assert store.state() == (0, None, 0) and store.catalogue_changes(0) == (0, [])
    store.upsert_items([ItemRecord(item_id="a", title="A"), ItemRecord(item_id="b", title="B")])
    store.upsert_items([ItemRecord(item_id="c", title="C")])
    store.delete_item("a")
    assert store.state() == (3, None, 0)
    revision, changed = store.catalogue_changes(1)
    assert revision == 3 and sorted(changed) == ["a", "c"]  # c upserted, a deleted since revision 1
    assert store.get_items(changed) == {"c": ItemRecord(item_id="c", title="C")}  # a is gone
    assert store.catalogue_changes(3) == (3, [])
    other = Store(tmp_path)  # another process's change is seen through the same queries
    other.upsert_items([ItemRecord(item_id="d", title="D")])
    version = other.add_version("pop", "models/x", 1, 1, 1)
    other.activate(version)
    other.close()
    assert store.state() == (4, version, 0) and store.catalogue_changes(3) == (4, ["d"])
    # a log that does not reach back to the asked revision says so (the caller rebuilds)
    store._query("DELETE FROM catalogue_changes WHERE revision <= 2")
    assert store.catalogue_changes(1) == (4, None) and store.catalogue_changes(2) == (4, ["a", "d"])
    assert store.catalogue_changes(9) == (4, None)  # ahead of the store: a replaced file
    store.close()


def test_leases_exclude_other_owners_until_released_or_expired(tmp_path):
    store = Store(tmp_path)
    assert store.try_lease("job", "p1", 60) and store.try_lease("job", "p1", 60)  # taken, then renewed
    assert not store.try_lease("job", "p2", 60)
    store.release_lease("job", "p2")  # not the holder: no effect
    assert not store.try_lease("job", "p2", 60)
    store.release_lease("job", "p1")
    assert store.try_lease("job", "p2", 0.05)
    time.sleep(0.1)
    assert store.try_lease("job", "p1", 60)  # p2's lease expired
    store.close()


def test_a_store_file_from_before_the_registry_metrics_is_upgraded_on_open(tmp_path):
    con = sqlite3.connect(tmp_path / DB_NAME)
    con.executescript("""CREATE TABLE model_versions (version INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL,
        path TEXT NOT NULL, created_at REAL NOT NULL, n_users INTEGER NOT NULL, n_items INTEGER NOT NULL,
        n_events INTEGER NOT NULL, config TEXT NOT NULL DEFAULT '{}', active INTEGER NOT NULL DEFAULT 0);
        INSERT INTO model_versions (model, path, created_at, n_users, n_items, n_events, active)
        VALUES ('ease', 'models/old', 1.0, 2, 3, 4, 1);""")
    con.close()
    store = Store(tmp_path)
    record = store.active_version()
    assert record.version == 1 and record.metrics == {} and record.trained_through == 0 and record.note == ""
    v2 = store.add_version("ease", "models/new", 2, 3, 5, metrics={"ndcg@10": 0.5}, trained_through=9, parent=1,
                           note="online learning")
    assert store.version(v2).metrics == {"ndcg@10": 0.5} and store.version(v2).parent == 1
    store.close()
