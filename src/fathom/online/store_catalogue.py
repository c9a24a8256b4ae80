"""The catalogue tables of the store: items, and the change log that lets each process catch up."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from fathom.online.errors import NotFound
from fathom.online.records import ItemRecord
from fathom.online.store_base import StoreBase

logger = logging.getLogger(__name__)


class CatalogueTables(StoreBase):
    """``items`` and ``catalogue_changes``; every change bumps the catalogue revision in ``meta``."""

    @property
    def catalogue_revision(self) -> int:
        """Bumped by every item upsert or delete."""
        return int(self.meta("catalogue_revision", "0") or 0)

    def _log_changes(self, c: Any, item_ids: Iterable[str]) -> None:
        revision = self._bump(c, "catalogue_revision")
        c.executemany("INSERT INTO catalogue_changes (revision, item_id) VALUES (?, ?)",
                      [(revision, i) for i in item_ids])

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
