"""The store's conformance suite, run on both back-ends: the embedded SQLite store and a real PostgreSQL server
(``tests/postgres.py``). Items, users, events and batches, idempotency keys, deletion, the model registry and
rollback, leases, conversations, concurrent writers from several connections, and schema versions."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from fathom.online.errors import Conflict, NotFound
from fathom.online.leases import LEASE, LEASE_SECONDS, held_lease
from fathom.online.processes import lease_owner
from fathom.online.records import EventRecord, ItemRecord
from fathom.online.schema import SCHEMA_VERSION
from fathom.online.store import DB_NAME, Store


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path):
    """open_store() -> a new connection to the same store (a second worker or host); the first is ``store``."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    opened = []

    def make(folder=None):
        s = Store(folder or tmp_path / "data", url=url)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(open_store):
    return open_store()


def test_a_new_store_is_empty_at_the_current_schema_version(store):
    assert store.is_empty() and store.artefacts.is_dir()
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert store.state() == (0, None, 0)


def test_sqlite_store_uses_wal(tmp_path):
    store = Store(tmp_path)
    con = sqlite3.connect(tmp_path / DB_NAME)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"items", "users", "events", "model_versions", "activations", "meta", "conversations"} <= tables
    con.close()
    store.close()


def test_a_store_from_a_newer_version_is_refused(store, open_store):
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(RuntimeError, match="newer than this Fathom"):
        open_store()


def test_items_upsert_replace_delete_and_revision(store):
    store.upsert_items([ItemRecord(item_id="a", title="Alpha", categorical={"g": ["x"]}, numeric={"p": 1.5}),
                        ItemRecord(item_id="b", title="Beta")])
    assert store.catalogue_revision == 1 and store.item_count() == 2
    assert store.get_item("a").numeric == {"p": 1.5}
    store.upsert_items([ItemRecord(item_id="a", title="Alpha 2")])
    assert store.get_item("a") == ItemRecord(item_id="a", title="Alpha 2")
    assert store.catalogue_revision == 2 and store.item_count() == 2
    assert store.missing_items(["b", "zz", "a", "zz"]) == ["zz"]
    assert store.catalogue_changes(1) == (2, ["a"])
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
    assert store.known_user_items("u") == ["c", "a", "b"] and store.known_user_items("nobody") is None
    assert store.item_popularity() == {"a": 1, "b": 1, "c": 1}
    frame = store.events_frame(with_id=True)
    assert list(frame.columns) == ["id", "user_id", "item_id", "event", "value", "timestamp"]
    assert frame["timestamp"].tolist() == [1, 2, 3, 4] and frame["id"].is_monotonic_increasing
    assert store.events_after(int(frame["id"].iloc[1])) == 2
    assert store.delete_user("u") == 4
    assert store.event_count() == 0 and not store.has_user("u") and store.forgotten_users() == {"u"}
    store.add_users(["quiet"])
    assert store.known_user_items("quiet") == []  # a known user without events
    assert store.state()[2] == 1  # the forget revision
    with pytest.raises(NotFound, match="unknown user 'u'"):
        store.delete_user("u")


def test_an_idempotent_batch_is_stored_once(store):
    batch = [EventRecord(user_id="u", item_id="a", timestamp=1), EventRecord(user_id="v", item_id="b", timestamp=2)]
    assert store.add_events_once(batch, key="k1") == (2, False)
    assert store.add_events_once(batch, key="k1") == (2, True)  # a retry: nothing stored again
    assert store.event_count() == 2 and store.replayed("k1", batch) == 2
    with pytest.raises(Conflict):
        store.add_events_once(batch[:1], key="k1")  # the key with other events


def test_a_second_connection_sees_committed_writes(store, open_store):
    other = open_store()
    store.add_events([EventRecord(user_id="u", item_id="a")])
    assert other.event_count() == 1 and other.has_user("u")


def test_concurrent_writers_lose_nothing(store, open_store):
    """Four connections (as four workers would hold) write batches at once; every event and revision lands."""
    writers = [store] + [open_store() for _ in range(3)]
    errors: list[BaseException] = []

    def write(n: int, s: Store) -> None:
        try:
            for b in range(10):
                s.add_events([EventRecord(user_id=f"w{n}", item_id=f"i{b}", timestamp=b) for _ in range(25)])
                s.upsert_items([ItemRecord(item_id=f"w{n}-{b}", title="t")])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n, s)) for n, s in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.event_count() == 4 * 10 * 25 and store.user_count() == 4
    assert store.catalogue_revision == 40 and store.item_count() == 40


def test_registry_activation_and_stack_rollback(store, open_store):
    v1 = store.add_version("ease", "models/a", 3, 4, 5, {"reg": 1.0})
    v2 = store.add_version("pop", "models/b", 3, 4, 5)
    v3 = store.add_version("itemknn", "models/c", 3, 4, 5, metrics={"ndcg@10": 0.25}, note="n")
    assert (v1, v2, v3) == (1, 2, 3) and store.active_version() is None
    assert store.version(1).config == {"reg": 1.0} and store.version(3).metrics == {"ndcg@10": 0.25}
    for v in (1, 2, 3):
        assert store.activate(v).active
    assert [v.active for v in store.versions()] == [False, False, True]
    assert open_store().state()[1] == 3  # another worker sees the activation
    assert store.rollback().version == 2
    assert store.rollback().version == 1
    assert store.active_version().version == 1
    with pytest.raises(Conflict, match="no earlier model version"):
        store.rollback()
    with pytest.raises(NotFound, match="unknown model version 9"):
        store.activate(9)
    assert store.active_version().version == 1


def test_one_lease_holder_at_a_time_across_connections(store, open_store):
    other = open_store()
    assert store.try_lease("learner", "host-a:1", 60.0)
    assert not other.try_lease("learner", "host-b:2", 60.0)  # another host's live lease is kept
    assert store.try_lease("learner", "host-a:1", 60.0)  # its holder renews it
    store.release_lease("learner", "host-a:1")
    assert other.try_lease("learner", "host-b:2", 60.0)
    assert other.lease("learner")[0] == "host-b:2"
    other.set_meta("lease:learner", "host-b:2 0")  # expired: anyone takes it over
    assert store.try_lease("learner", "host-a:1", 60.0)


HOLDER = """
import sys, time
from fathom.online.leases import held_lease
from fathom.online.processes import lease_owner
from fathom.online.store import Store
store = Store(sys.argv[1], url=sys.argv[2] or None)
with held_lease(store, sys.argv[3] or lease_owner()):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_learner_lease_is_taken_over_at_once_when_its_holder_is_killed(store):
    """A learner killed with SIGKILL while holding the lease: the next one takes it over within seconds, not after
    the lease's expiry. On PostgreSQL the holder names another host, whose processes this one cannot see: the
    database lock its connection held is what frees it; on SQLite (one host) the holder's process id."""
    url = store.url or ""
    owner = "another-host:4242:1" if url else ""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(store.folder), url, owner],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(Conflict, match="lease held by"), held_lease(store, lease_owner("second")):
            pass
        assert store.lease(LEASE)[1] > time.time() + LEASE_SECONDS / 2  # the killed holder's lease is unexpired
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 10
    while True:
        try:
            with held_lease(store, lease_owner("second")):
                assert store.lease(LEASE)[0] == lease_owner("second")
            break
        except Conflict:
            assert time.monotonic() < deadline, "the lease was not taken over within 10 s"
            time.sleep(0.1)
    assert store.lease(LEASE) is None  # released at the end of the block


def test_conversations_are_shared_between_connections(store, open_store):
    store.save_conversation("c1", '{"turns": 1}')
    assert open_store().conversation("c1") == '{"turns": 1}'
    store.save_conversation("c1", '{"turns": 2}')
    assert store.conversation("c1") == '{"turns": 2}' and store.conversation("nope") is None
    assert store.delete_conversation("c1") and store.conversation("c1") is None


def test_a_failed_read_connection_gives_its_slot_back():
    """A read pool whose server is unreachable says so on every read (a failed connection does not keep its slot,
    which would leave the next read waiting for ever)."""
    pytest.importorskip("psycopg")
    from fathom.online.store_pg import ReadPool

    pool = ReadPool("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", size=1)
    for _ in range(2):
        with pytest.raises(ConnectionError, match="cannot connect to the store"), pool.connection():
            pass
