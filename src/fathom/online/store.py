"""The embedded default store: one SQLite file in WAL mode plus an artefacts folder.

Layout of a data folder::

    DATA/
      fathom.sqlite3      items, catalogue_changes, users, events, model_versions, activations, meta
      artefacts/          saved model versions (models/<name>-<n>/) and the search index (index/)

Tables:

- ``items(item_id PK, title, description, attributes JSON)``: the catalogue, upserted and deleted at any time;
- ``catalogue_changes(revision, item_id)``: which items each catalogue revision touched, so that a process holding
  an in-memory copy (a search index) at revision r catches up by re-reading only the items changed since r;
- ``users(user_id PK, created_at)``: every user known to the service (created by their first event);
- ``events(id, user_id, item_id, event, value, timestamp, received_at)``: interactions, indexed by user;
- ``model_versions(version PK, model, path, ..., metrics JSON, trained_through, parent, note, active)``: the
  registry; exactly one row is active once any version was activated; ``trained_through`` is the last event id
  the version saw; ``activations`` keeps the order of activations so that a rollback can undo the last;
- ``meta(key PK, value)``: counters such as the catalogue revision (bumped by every item change) and leases
  (``lease:NAME``: one process at a time runs e.g. the online learner).

Several worker processes serve from one store: :meth:`Store.state` (catalogue revision, active version) is one
cheap query that a worker runs per request to notice another worker's item change or model activation.

One connection is shared by the threads of a process (guarded by a lock); several processes may open the same
file (WAL lets readers run beside one writer). A batch of events is one transaction (``executemany``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from fathom.online.errors import Conflict, NotFound
from fathom.online.processes import owner_alive
from fathom.online.records import EventRecord, ItemRecord, VersionRecord
from fathom.online.schema import ADDED_VERSION_COLUMNS, DB_NAME, SCHEMA

INGEST_KEY_DAYS = 7  # how long an idempotency key of an event batch is remembered

logger = logging.getLogger(__name__)

class Store:
    """SQLite-backed catalogue, users, events and model registry in ``folder`` (created when missing).

    ``durable``: every commit reaches the disk before it returns (SQLite ``synchronous=FULL``), so an acknowledged
    write survives a power cut or an OS crash too; by default (``NORMAL`` in WAL mode) it survives the process
    being killed, and the last commits may roll back after a power cut."""

    def __init__(self, folder: str | Path, durable: bool = False) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.artefacts = self.folder / "artefacts"
        self.artefacts.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.folder / DB_NAME, check_same_thread=False, isolation_level=None,
                                     timeout=30.0)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL (WAL): a commit survives the process being killed; FULL: also a power cut or an OS crash
        self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._conn.execute("PRAGMA busy_timeout=30000")
        with self._lock:
            self._conn.executescript(SCHEMA)
            have = {r[1] for r in self._conn.execute("PRAGMA table_info(model_versions)")}
            for name, declaration in ADDED_VERSION_COLUMNS:
                if name not in have:
                    self._conn.execute(f"ALTER TABLE model_versions ADD COLUMN {name} {declaration}")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def is_empty(self) -> bool:
        """True when the store holds no item, no event and no model version (a fresh data folder)."""
        return not any(self._query(f"SELECT 1 FROM {t} LIMIT 1") for t in ("items", "events", "model_versions"))

    # ------------------------------------------------------------------------------------------------ meta
    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    @property
    def catalogue_revision(self) -> int:
        """Bumped by every item upsert or delete."""
        return int(self.meta("catalogue_revision", "0") or 0)

    @staticmethod
    def _bump(c: sqlite3.Connection, key: str) -> int:
        c.execute("INSERT INTO meta (key, value) VALUES (?, '1') "
                  "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (key,))
        return int(c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def _log_changes(self, c: sqlite3.Connection, item_ids: Iterable[str]) -> None:
        revision = self._bump(c, "catalogue_revision")
        c.executemany("INSERT INTO catalogue_changes (revision, item_id) VALUES (?, ?)",
                      [(revision, i) for i in item_ids])

    def state(self) -> tuple[int, int | None, int]:
        """(catalogue revision, active model version or None, forget revision) in one query: what a worker
        compares per request. The forget revision is bumped by every user deletion."""
        row = self._query("SELECT (SELECT value FROM meta WHERE key = 'catalogue_revision'), "
                          "(SELECT version FROM model_versions WHERE active = 1), "
                          "(SELECT value FROM meta WHERE key = 'forget_revision')")[0]
        return int(row[0] or 0), (None if row[1] is None else int(row[1])), int(row[2] or 0)

    def catalogue_changes(self, since: int) -> tuple[int, list[str] | None]:
        """(current catalogue revision, ids of the items changed after revision ``since`` up to it, upserted or
        deleted); the list is None when the change log does not reach back to ``since`` (rebuild instead)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                revision = int(self.meta("catalogue_revision", "0") or 0)
                oldest = self._conn.execute("SELECT MIN(revision) FROM catalogue_changes").fetchone()[0]
                rows = self._conn.execute("SELECT DISTINCT item_id FROM catalogue_changes WHERE revision > ? AND "
                                          "revision <= ?", (since, revision)).fetchall()
            finally:
                self._conn.execute("COMMIT")
        if revision < since or (revision > since and (oldest is None or oldest > since + 1)):
            return revision, None
        return revision, [r[0] for r in rows]

    def get_items(self, item_ids: Iterable[str]) -> dict[str, ItemRecord]:
        """The catalogue items among ``item_ids`` (absent ids are left out)."""
        ids, out = list(dict.fromkeys(item_ids)), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._query("SELECT item_id, title, description, attributes FROM items WHERE item_id IN "
                               f"({','.join('?' * len(chunk))})", chunk)
            out.update((r[0], self._item(r)) for r in rows)
        return out

    # ------------------------------------------------------------------------------------------------ leases
    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                      "excluded.value", (key, value))

    def lease(self, name: str) -> tuple[str, float] | None:
        """(holder, expiry time) of the lease ``name``, or None when nobody holds it."""
        value = self.meta(f"lease:{name}")
        if value is None:
            return None
        holder, _, until = value.rpartition(" ")
        return holder, float(until)

    def try_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take (or renew) the lease ``name`` for ``seconds`` unless another owner holds an unexpired one. A lease
        whose holder is a process of this host that is no longer running (killed during its work) is taken over
        at once, with a warning; a holder on another host keeps it until it expires."""
        key, now = f"lease:{name}", time.time()
        with self._tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                holder, _, until = row[0].rpartition(" ")
                if holder != owner and float(until) > now:
                    if owner_alive(holder):
                        return False
                    logger.warning("lease %r: its holder %s is no longer running (stopped during its work); "
                                   "taken over by %s", name, holder, owner)
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                      "excluded.value", (key, f"{owner} {now + seconds}"))
        return True

    def release_lease(self, name: str, owner: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM meta WHERE key = ? AND value LIKE ?", (f"lease:{name}", f"{owner} %"))

    # ----------------------------------------------------------------------------------------------- items
    def upsert_items(self, items: Iterable[ItemRecord]) -> int:
        """Insert or replace items; returns how many were written."""
        now = time.time()
        rows = [(i.item_id, i.title, i.description, _attributes_json(i), now) for i in items]
        if not rows:
            return 0
        with self._tx() as c:
            c.executemany("INSERT INTO items (item_id, title, description, attributes, updated_at) "
                          "VALUES (?, ?, ?, ?, ?) ON CONFLICT(item_id) DO UPDATE SET title = excluded.title, "
                          "description = excluded.description, attributes = excluded.attributes, "
                          "updated_at = excluded.updated_at", rows)
            self._log_changes(c, [r[0] for r in rows])
        return len(rows)

    @staticmethod
    def _item(row: tuple) -> ItemRecord:
        """The item of a stored row; a value an older release let in (a non-finite number, a bad attribute name)
        is left out with a warning naming the item, so that one bad row never stops the store from opening."""
        try:
            attrs = json.loads(row[3])
            return ItemRecord(item_id=row[0], title=row[1], description=row[2], **attrs)
        except ValueError as exc:
            return _repaired_item(row, exc)

    def get_item(self, item_id: str) -> ItemRecord:
        rows = self._query("SELECT item_id, title, description, attributes FROM items WHERE item_id = ?", (item_id,))
        if not rows:
            raise NotFound(f"unknown item {item_id!r}")
        return self._item(rows[0])

    def items(self) -> list[ItemRecord]:
        return [self._item(r) for r in self._query("SELECT item_id, title, description, attributes FROM items")]

    def item_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM items")[0][0])

    def titles(self, item_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(item_ids))
        out: dict[str, str] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            out.update(self._query(f"SELECT item_id, title FROM items WHERE item_id IN ({marks})", chunk))
        return out

    def missing_items(self, item_ids: Iterable[str]) -> list[str]:
        """The ids among ``item_ids`` that are not in the catalogue, in input order."""
        ids = list(dict.fromkeys(item_ids))
        known = set(self.titles(ids))
        return [i for i in ids if i not in known]

    def delete_item(self, item_id: str) -> None:
        """Remove an item from the catalogue (its past events stay: they are history)."""
        with self._tx() as c:
            if c.execute("DELETE FROM items WHERE item_id = ?", (item_id,)).rowcount == 0:
                raise NotFound(f"unknown item {item_id!r}")
            self._log_changes(c, [item_id])

    # ----------------------------------------------------------------------------------------------- users
    def add_users(self, user_ids: Iterable[str]) -> None:
        now = time.time()
        with self._tx() as c:
            c.executemany("INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?, ?)",
                          [(u, now) for u in user_ids])

    def has_user(self, user_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM users WHERE user_id = ?", (user_id,)))

    def user_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM users")[0][0])

    def delete_user(self, user_id: str) -> int:
        """Remove a user and all their events in one transaction, and remember that they were forgotten (for
        the model versions trained before: :meth:`forgotten_users`); returns the number of events removed."""
        with self._tx() as c:
            if c.execute("DELETE FROM users WHERE user_id = ?", (user_id,)).rowcount == 0:
                raise NotFound(f"unknown user {user_id!r}")
            removed = c.execute("DELETE FROM events WHERE user_id = ?", (user_id,)).rowcount
            c.execute("INSERT INTO forgotten_users (user_id, at) VALUES (?, ?) ON CONFLICT(user_id) DO UPDATE SET "
                      "at = excluded.at", (user_id, time.time()))
            self._bump(c, "forget_revision")
            return removed

    def forgotten_users(self, before: float | None = None) -> set[str]:
        """Ids of deleted users; with ``before``, those deleted after that time (a model version created at
        ``before`` was trained on their data; a later one only on their data since, if they came back)."""
        rows = self._query("SELECT user_id FROM forgotten_users WHERE at > ?", (-1.0 if before is None else before,))
        return {r[0] for r in rows}

    # ---------------------------------------------------------------------------------------------- events
    def add_events(self, events: Iterable[EventRecord], key: str | None = None) -> int:
        """Store events (and create their users) in one transaction; returns how many were stored.

        ``key``: an idempotency key. The first batch with a key is stored and the key remembered in the same
        transaction (for :data:`INGEST_KEY_DAYS` days); a batch sent again with that key (a client retrying
        after a lost acknowledgement) stores nothing and returns the count first stored (:meth:`replayed`
        tells). The same key with other events is a Conflict."""
        return self.add_events_once(events, key)[0]

    def replayed(self, key: str, events: Iterable[EventRecord]) -> int | None:
        """The count first stored for the batch with idempotency ``key``, or None when the key is new (Conflict
        when it was used for other events)."""
        rows = self._query("SELECT digest, stored FROM ingest_keys WHERE key = ?", (key,))
        if not rows:
            return None
        if rows[0][0] != _digest(list(events)):
            raise Conflict(f"header Idempotency-Key: {key!r} was used for another batch of events")
        return int(rows[0][1])

    def add_events_once(self, events: Iterable[EventRecord], key: str | None = None) -> tuple[int, bool]:
        """:meth:`add_events`, returning (stored, replayed): replayed is True when ``key`` was seen before."""
        events = list(events)
        now = time.time()
        rows = [(e.user_id, e.item_id, e.event, float(e.value), int(e.timestamp or now), now) for e in events]
        if not rows and key is None:
            return 0, False
        with self._tx() as c:
            if key is not None:
                digest = _digest(events)
                seen = c.execute("SELECT digest, stored FROM ingest_keys WHERE key = ?", (key,)).fetchone()
                if seen is not None:
                    if seen[0] != digest:
                        raise Conflict(f"header Idempotency-Key: {key!r} was used for another batch of events")
                    return int(seen[1]), True
                c.execute("DELETE FROM ingest_keys WHERE at < ?", (now - INGEST_KEY_DAYS * 86400,))
                c.execute("INSERT INTO ingest_keys (key, digest, stored, at) VALUES (?, ?, ?, ?)",
                          (key, digest, len(rows), now))
            c.executemany("INSERT OR IGNORE INTO users (user_id, created_at) VALUES (?, ?)",
                          [(u, now) for u in dict.fromkeys(r[0] for r in rows)])
            c.executemany("INSERT INTO events (user_id, item_id, event, value, timestamp, received_at) "
                          "VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows), False

    def event_count(self, user_id: str | None = None) -> int:
        if user_id is None:
            return int(self._query("SELECT COUNT(*) FROM events")[0][0])
        return int(self._query("SELECT COUNT(*) FROM events WHERE user_id = ?", (user_id,))[0][0])

    def user_items(self, user_id: str, limit: int | None = None) -> list[str]:
        """Distinct items the user interacted with, most recent first (by arrival)."""
        sql = "SELECT item_id FROM events WHERE user_id = ? GROUP BY item_id ORDER BY MAX(id) DESC"
        params: tuple = (user_id,)
        if limit is not None:
            sql += " LIMIT ?"
            params += (int(limit),)
        return [r[0] for r in self._query(sql, params)]

    def item_popularity(self) -> dict[str, int]:
        """Number of distinct users per item over all stored events."""
        return dict(self._query("SELECT item_id, COUNT(DISTINCT user_id) FROM events GROUP BY item_id"))

    def events_frame(self, with_id: bool = False) -> pd.DataFrame:
        """Every event as a frame with columns user_id, item_id, event, value, timestamp (arrival order), and
        first the event ``id`` (increasing with arrival) when ``with_id``."""
        cols = ("id, " if with_id else "") + "user_id, item_id, event, value, timestamp"
        with self._lock:
            return pd.read_sql_query(f"SELECT {cols} FROM events ORDER BY id", self._conn)

    def events_after(self, event_id: int) -> int:
        """How many stored events arrived after the event ``event_id`` (0: all of them)."""
        return int(self._query("SELECT COUNT(*) FROM events WHERE id > ?", (int(event_id),))[0][0])

    # -------------------------------------------------------------------------------------- model registry
    _VERSION_KEYS = ("version", "model", "path", "created_at", "active", "n_users", "n_items", "n_events", "config",
                     "metrics", "trained_through", "parent", "note")
    _VERSION_COLS = ", ".join(_VERSION_KEYS)

    @classmethod
    def _version(cls, row: tuple) -> VersionRecord:
        data = dict(zip(cls._VERSION_KEYS, row, strict=True))
        data["config"], data["metrics"] = json.loads(data["config"]), json.loads(data["metrics"])
        return VersionRecord(**data)

    def add_version(self, model: str, path: str, n_users: int, n_items: int, n_events: int,
                    config: dict | None = None, metrics: dict | None = None, trained_through: int = 0,
                    parent: int | None = None, note: str = "") -> int:
        """Register a saved model (``path`` relative to the artefacts folder); returns its version number.

        ``metrics``: its offline metrics; ``trained_through``: the last event id it was trained on; ``parent``:
        the version it was warm-started from or validated against; ``note``: e.g. the activation decision."""
        with self._tx() as c:
            cur = c.execute("INSERT INTO model_versions (model, path, created_at, n_users, n_items, n_events, config,"
                            " metrics, trained_through, parent, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (model, path, time.time(), n_users, n_items, n_events, json.dumps(config or {}),
                             json.dumps(metrics or {}), int(trained_through), parent, note))
            return int(cur.lastrowid)

    def versions(self) -> list[VersionRecord]:
        return [self._version(r) for r in self._query(f"SELECT {self._VERSION_COLS} FROM model_versions "
                                                      "ORDER BY version")]

    def version(self, version: int) -> VersionRecord:
        rows = self._query(f"SELECT {self._VERSION_COLS} FROM model_versions WHERE version = ?", (version,))
        if not rows:
            raise NotFound(f"unknown model version {version}")
        return self._version(rows[0])

    def active_version(self) -> VersionRecord | None:
        rows = self._query(f"SELECT {self._VERSION_COLS} FROM model_versions WHERE active = 1")
        return self._version(rows[0]) if rows else None

    def activate(self, version: int) -> VersionRecord:
        """Make ``version`` the active one (and remember the order, for :meth:`rollback`)."""
        with self._tx() as c:
            if not c.execute("SELECT 1 FROM model_versions WHERE version = ?", (version,)).fetchone():
                raise NotFound(f"unknown model version {version}")
            c.execute("UPDATE model_versions SET active = (version = ?)", (version,))
            c.execute("INSERT INTO activations (version, at) VALUES (?, ?)", (version, time.time()))
        return self.version(version)

    def rollback(self) -> VersionRecord:
        """Undo the last activation: the version active before it becomes active again."""
        with self._tx() as c:
            rows = c.execute("SELECT id, version FROM activations ORDER BY id DESC LIMIT 2").fetchall()
            if len(rows) < 2:
                raise Conflict("no earlier model version to roll back to")
            c.execute("DELETE FROM activations WHERE id = ?", (rows[0][0],))
            c.execute("UPDATE model_versions SET active = (version = ?)", (rows[1][1],))
        return self.version(rows[1][1])


def _digest(events: list[EventRecord]) -> str:
    """A fingerprint of a batch of events (what an idempotency key stands for)."""
    rows = [[e.user_id, e.item_id, e.event, float(e.value), e.timestamp] for e in events]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _attributes_json(item: ItemRecord) -> str:
    """The stored attributes of ``item``; refuses what JSON cannot hold (NaN, infinities) naming the item."""
    try:
        return json.dumps({"categorical": item.categorical, "numeric": item.numeric}, ensure_ascii=False,
                          allow_nan=False)
    except ValueError:
        raise ValueError(f"item {item.item_id!r}: numeric attributes must be finite numbers") from None


def _repaired_item(row: tuple, error: Exception) -> ItemRecord:
    """A stored item whose attributes no longer validate, with the offending values left out (logged)."""
    try:
        attrs = json.loads(row[3])
    except ValueError:
        attrs = {}
    attrs = attrs if isinstance(attrs, dict) else {}
    kept: dict[str, dict] = {"categorical": {}, "numeric": {}}
    dropped = []
    for kind in ("categorical", "numeric"):
        values = attrs.get(kind)
        for name, value in (values.items() if isinstance(values, dict) else ()):
            probe = {kind: {name: value}}
            try:
                ItemRecord(item_id="probe", title="", **probe)
                kept[kind][name] = value
            except ValueError:
                dropped.append(f"{kind}.{name} = {value!r}")
    logger.warning("item %r: stored attributes are invalid (%s); left out: %s", row[0], str(error).splitlines()[0],
                   ", ".join(dropped) or "nothing")
    return ItemRecord(item_id=row[0], title=row[1] or "", description=row[2] or "", **kept)
