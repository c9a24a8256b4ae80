"""The connection helpers every table group of the store shares (:class:`StoreBase`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class StoreBase:
    """One SQLite connection shared by a process's threads (guarded by ``_lock``): write transactions, queries,
    the ``meta`` key-value table. :class:`~fathom.online.store.Store` opens it; the table groups use it."""

    _conn: sqlite3.Connection
    _lock: threading.RLock

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

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    @staticmethod
    def _bump(c: sqlite3.Connection, key: str) -> int:
        c.execute("INSERT INTO meta (key, value) VALUES (?, '1') "
                  "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1", (key,))
        return int(c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
