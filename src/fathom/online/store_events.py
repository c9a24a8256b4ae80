"""The user and event tables of the store: users, events, idempotency keys of event batches, forgotten users."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

import pandas as pd

from fathom.online.errors import Conflict, NotFound
from fathom.online.records import EventRecord
from fathom.online.store_base import StoreBase

INGEST_KEY_DAYS = 7  # how long an idempotency key of an event batch is remembered


class EventTables(StoreBase):
    """``users``, ``events``, ``ingest_keys`` and ``forgotten_users``."""

    # ----------------------------------------------------------------------------------------------- users
    def add_users(self, user_ids: Iterable[str]) -> None:
        now = time.time()
        with self._tx() as c:
            c.executemany("INSERT INTO users (user_id, created_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
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
        with self._lock:
            return _seen(self._conn, key, _digest(list(events)))

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
                if (stored := _seen(c, key, digest)) is not None:
                    return stored, True
                c.execute("DELETE FROM ingest_keys WHERE at < ?", (now - INGEST_KEY_DAYS * 86400,))
                c.execute("INSERT INTO ingest_keys (key, digest, stored, at) VALUES (?, ?, ?, ?)",
                          (key, digest, len(rows), now))
            c.executemany("INSERT INTO users (user_id, created_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
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

    def known_user_items(self, user_id: str) -> list[str] | None:
        """:meth:`user_items` of a known user (most recent first), None for a user the store does not have: one
        query for what a recommendation reads (a round trip less on a database server)."""
        rows = self._query("SELECT e.item_id FROM users u LEFT JOIN events e ON e.user_id = u.user_id "
                           "WHERE u.user_id = ? GROUP BY e.item_id ORDER BY MAX(e.id) DESC", (user_id,))
        if not rows:
            return None
        return [r[0] for r in rows if r[0] is not None]

    def item_popularity(self) -> dict[str, int]:
        """Number of distinct users per item over all stored events."""
        return dict(self._query("SELECT item_id, COUNT(DISTINCT user_id) FROM events GROUP BY item_id"))

    def events_frame(self, with_id: bool = False) -> pd.DataFrame:
        """Every event as a frame with columns user_id, item_id, event, value, timestamp (arrival order), and
        first the event ``id`` (increasing with arrival) when ``with_id``."""
        cols = ("id, " if with_id else "") + "user_id, item_id, event, value, timestamp"
        rows = self._query(f"SELECT {cols} FROM events ORDER BY id")
        frame = pd.DataFrame(rows, columns=[c.strip() for c in cols.split(",")])
        return frame.astype({"value": "float64", "timestamp": "int64", **({"id": "int64"} if with_id else {})})

    def events_after(self, event_id: int) -> int:
        """How many stored events arrived after the event ``event_id`` (0: all of them)."""
        return int(self._query("SELECT COUNT(*) FROM events WHERE id > ?", (int(event_id),))[0][0])


def _seen(c: Any, key: str, digest: str) -> int | None:
    """The count stored under idempotency ``key``, None for a new key; Conflict when it was used for other events."""
    row = c.execute("SELECT digest, stored FROM ingest_keys WHERE key = ?", (key,)).fetchone()
    if row is None:
        return None
    if row[0] != digest:
        raise Conflict(f"header Idempotency-Key: {key!r} was used for another batch of events")
    return int(row[1])


def _digest(events: list[EventRecord]) -> str:
    """A fingerprint of a batch of events (what an idempotency key stands for)."""
    rows = [[e.user_id, e.item_id, e.event, float(e.value), e.timestamp] for e in events]
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()
