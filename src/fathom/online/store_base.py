"""The connection helpers every table group of the store shares (:class:`StoreBase`)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class StoreBase:
    """One connection (SQLite, or PostgreSQL through :class:`~fathom.online.store_pg.PgConnection`) shared by a
    process's threads (guarded by ``_lock``): write transactions, queries, the ``meta`` key-value table.
    :class:`~fathom.online.store.Store` opens it; the table groups use it with SQL both engines read (``?``
    placeholders, ``ON CONFLICT``, ``RETURNING``)."""

    _conn: Any  # sqlite3.Connection or PgConnection
    _lock: threading.RLock
    dialect: str = "sqlite"

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN and the writers' advisory lock; then
        COMMIT, rolled back on error): one writer at a time."""
        with self._lock:
            if self.dialect == "postgresql":
                self._conn.begin_write()
            else:
                self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    _readers: Any = None  # PostgreSQL: a ReadPool; reads outside a write transaction take a connection of it

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        if self._readers is not None:
            with self._readers.connection() as conn:
                return conn.execute(sql, tuple(params)).fetchall()
        with self._lock:
            return self._conn.execute(sql, tuple(params)).fetchall()

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    @staticmethod
    def _bump(c: Any, key: str) -> int:
        c.execute("INSERT INTO meta (key, value) VALUES (?, '1') "
                  "ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)", (key,))
        return int(c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])
