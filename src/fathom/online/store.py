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

The methods come in three table groups, one file each: the catalogue (:mod:`~fathom.online.store_catalogue`),
users and events (:mod:`~fathom.online.store_events`), the model registry and leases
(:mod:`~fathom.online.store_registry`); :class:`Store` opens the connection and answers the per-request
:meth:`Store.state`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fathom.online.schema import DB_NAME, migrate
from fathom.online.store_catalogue import CatalogueTables
from fathom.online.store_conversations import ConversationTables
from fathom.online.store_events import INGEST_KEY_DAYS, EventTables
from fathom.online.store_registry import RegistryTables

__all__ = ["DB_NAME", "INGEST_KEY_DAYS", "Store"]


class Store(CatalogueTables, EventTables, RegistryTables, ConversationTables):
    """The catalogue, users, events and model registry: in SQLite in ``folder`` (created when missing), or in the
    PostgreSQL database ``url`` names (``postgresql://user:password@host:5432/db``), with ``folder`` still holding
    the search index; ``artefacts`` (default ``folder/artefacts``) holds the saved model versions: several hosts
    serving one PostgreSQL store point it at one shared folder (a network mount: NFS, SMB, a cloud file share),
    so that a version one host trains is loaded by every other.

    ``durable`` (SQLite): every commit reaches the disk before it returns (``synchronous=FULL``), so an
    acknowledged write survives a power cut or an OS crash too; by default (``NORMAL`` in WAL mode) it survives
    the process being killed, and the last commits may roll back after a power cut. PostgreSQL commits are as
    durable as the server is configured to make them (``synchronous_commit``, on by default)."""

    def __init__(self, folder: str | Path, durable: bool = False, url: str | None = None,
                 artefacts: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.artefacts = Path(artefacts) if artefacts is not None else self.folder / "artefacts"
        self.artefacts.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.url = url
        if url is not None and url.startswith(("postgresql://", "postgres://")):
            from fathom.online.store_pg import PgConnection, ReadPool

            self.dialect = "postgresql"
            self._conn = PgConnection(url)
            self._readers = ReadPool(url)
        elif url is not None:
            raise ValueError(f"store: {url.split(':', 1)[0]!r} is not a store kind; give a postgresql:// URL, or "
                             "none for the embedded SQLite store")
        else:
            self._conn = sqlite3.connect(self.folder / DB_NAME, check_same_thread=False, isolation_level=None,
                                         timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL (WAL): a commit survives the process being killed; FULL: also a power cut or an OS crash
            self._conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._conn.execute("PRAGMA busy_timeout=30000")
        migrate(self)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
            if self._readers is not None:
                self._readers.close()

    @contextmanager
    def session_lock(self, name: str) -> Iterator[bool | None]:
        """PostgreSQL: a database lock ``name`` held for the block (True when taken, False when a live session of
        any host holds it), released by the server when this process dies. None on SQLite, whose store is on one
        host, where a lease's holder is checked by its process id instead."""
        if self.dialect != "postgresql":
            yield None
            return
        from fathom.online.store_pg import session_lock

        assert self.url is not None
        with session_lock(self.url, name) as got:
            yield got

    def is_empty(self) -> bool:
        """True when the store holds no item, no event and no model version (a fresh data folder)."""
        return not any(self._query(f"SELECT 1 FROM {t} LIMIT 1") for t in ("items", "events", "model_versions"))

    def state(self) -> tuple[int, int | None, int]:
        """(catalogue revision, active model version or None, forget revision) in one query: what a worker
        compares per request. The forget revision is bumped by every user deletion."""
        row = self._query("SELECT (SELECT value FROM meta WHERE key = 'catalogue_revision'), "
                          "(SELECT version FROM model_versions WHERE active = 1), "
                          "(SELECT value FROM meta WHERE key = 'forget_revision')")[0]
        return int(row[0] or 0), (None if row[1] is None else int(row[1])), int(row[2] or 0)
