"""The model registry and leases of the store: model versions, activations, and ``lease:NAME`` rows in meta."""

from __future__ import annotations

import json
import logging
import time

from fathom.online.errors import Conflict, NotFound
from fathom.online.processes import owner_alive
from fathom.online.records import VersionRecord
from fathom.online.store_base import StoreBase

logger = logging.getLogger(__name__)


class RegistryTables(StoreBase):
    """``model_versions`` and ``activations``; leases (one process at a time runs a job such as the learner)."""

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

    def try_lease(self, name: str, owner: str, seconds: float, holder_gone: bool = False) -> bool:
        """Take (or renew) the lease ``name`` for ``seconds`` unless another owner holds an unexpired one. A lease
        whose holder is a process of this host that is no longer running (killed during its work) is taken over
        at once, with a warning; a holder on another host keeps it until it expires, unless ``holder_gone`` (the
        caller holds the database lock every live holder keeps: :meth:`Store.session_lock`)."""
        key, now = f"lease:{name}", time.time()
        with self._tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            if row is not None:
                holder, _, until = row[0].rpartition(" ")
                if holder != owner and float(until) > now:
                    if not holder_gone and owner_alive(holder):
                        return False
                    logger.warning("lease %r: its holder %s is no longer running (stopped during its work); "
                                   "taken over by %s", name, holder, owner)
            c.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                      "excluded.value", (key, f"{owner} {now + seconds}"))
        return True

    def release_lease(self, name: str, owner: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM meta WHERE key = ? AND value LIKE ?", (f"lease:{name}", f"{owner} %"))

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
                            " metrics, trained_through, parent, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                            "RETURNING version",
                            (model, path, time.time(), n_users, n_items, n_events, json.dumps(config or {}),
                             json.dumps(metrics or {}), int(trained_through), parent, note))
            return int(cur.fetchone()[0])

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
            c.execute("UPDATE model_versions SET active = CASE WHEN version = ? THEN 1 ELSE 0 END", (version,))
            c.execute("INSERT INTO activations (version, at) VALUES (?, ?)", (version, time.time()))
        return self.version(version)

    def rollback(self) -> VersionRecord:
        """Undo the last activation: the version active before it becomes active again."""
        with self._tx() as c:
            rows = c.execute("SELECT id, version FROM activations ORDER BY id DESC LIMIT 2").fetchall()
            if len(rows) < 2:
                raise Conflict("no earlier model version to roll back to")
            c.execute("DELETE FROM activations WHERE id = ?", (rows[0][0],))
            c.execute("UPDATE model_versions SET active = CASE WHEN version = ? THEN 1 ELSE 0 END", (rows[1][1],))
        return self.version(rows[1][1])
