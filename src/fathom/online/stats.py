"""Read-only statistics of a store, for status pages and benchmarks.

Each call opens its own connection (SQLite: read-only, WAL lets it read beside the service's writer; PostgreSQL: a
new connection to the store's database), so it never takes the :class:`~fathom.online.store.Store` lock and never
blocks a write. ``source``: a store folder (SQLite) or an open :class:`~fathom.online.store.Store` of either kind.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fathom.online.schema import DB_NAME


@contextmanager
def _read_only(source: Any) -> Iterator[Any]:
    if getattr(source, "dialect", "sqlite") == "postgresql":
        from fathom.online.store_pg import PgConnection

        pg = PgConnection(source.url)
        try:
            yield pg
        finally:
            pg.close()
        return
    folder = getattr(source, "folder", source)
    path = Path(folder) / DB_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no store here (no {DB_NAME})")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
    try:
        yield conn
    finally:
        conn.close()


@dataclass
class EventCounts:
    """Row counts of a store; ``last_minute`` / ``last_hour`` count events by arrival time."""

    items: int
    users: int
    events: int
    by_type: dict[str, int] = field(default_factory=dict)
    last_minute: int = 0
    last_hour: int = 0


def event_counts(folder: Any, now: float | None = None) -> EventCounts:
    """Items, users and events of the store in ``folder``, events also by type and by recent arrival."""
    now = time.time() if now is None else now
    with _read_only(folder) as c:
        items = c.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        users = c.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        by_type = dict(c.execute("SELECT event, COUNT(*) FROM events GROUP BY event ORDER BY event").fetchall())
        minute, hour = c.execute(
            "SELECT COALESCE(SUM(CASE WHEN received_at >= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN received_at >= ? THEN 1 ELSE 0 END), 0) FROM events",
            (now - 60, now - 3600),
        ).fetchone()
    return EventCounts(int(items), int(users), int(sum(by_type.values())), {str(k): int(v) for k, v in by_type.items()},
                       int(minute), int(hour))


@dataclass
class EventSeries:
    """Events by arrival time in ``len(counts)`` consecutive buckets of ``bucket_s`` seconds from ``start`` (epoch
    seconds, a multiple of ``bucket_s``), oldest first; the last bucket holds the current, unfinished one."""

    bucket_s: int
    start: float
    counts: list[int]


def event_history(folder: Any, now: float | None = None) -> tuple[EventSeries, EventSeries]:
    """Events received per minute over the last hour (60 buckets) and per hour over the last day (24 buckets),
    by the store's ``received_at``, buckets aligned on whole minutes and hours (UTC) and ending with the one that
    holds ``now``; events stamped after that bucket (a clock set back) are left out. One read of the events."""
    now = time.time() if now is None else now
    hour_end = (int(now // 3600) + 1) * 3600
    day_start = hour_end - 24 * 3600
    minute_end = (int(now // 60) + 1) * 60
    minute_start = minute_end - 60 * 60
    with _read_only(folder) as c:
        # minutes from day_start (never negative here: SQLite's CAST truncates, PostgreSQL's rounds, so FLOOR there)
        minute = "CAST(FLOOR((received_at - ?) / 60) AS BIGINT)" if getattr(c, "dialect", "") == "postgresql" \
            else "CAST((received_at - ?) / 60 AS INTEGER)"
        rows = c.execute(  # events per minute of the day, as (minute from day_start, count)
            f"SELECT {minute} AS m, COUNT(*) FROM events "
            "WHERE received_at >= ? AND received_at < ? GROUP BY m",
            (day_start, day_start, hour_end),
        ).fetchall()
    per_minute = [0] * (24 * 60)
    for m, n in rows:
        per_minute[min(max(int(m), 0), 24 * 60 - 1)] += int(n)
    first = (minute_start - day_start) // 60  # minute_end <= hour_end, so the hour's 60 minutes are all there
    last_hour = per_minute[first : first + 60]
    last_day = [sum(per_minute[h * 60 : (h + 1) * 60]) for h in range(24)]
    return EventSeries(60, float(minute_start), last_hour), EventSeries(3600, float(day_start), last_day)


def stored_event_count(folder: Any) -> int:
    """Rows in the events table (what a load test compares with the events it sent)."""
    with _read_only(folder) as c:
        return int(c.execute("SELECT COUNT(*) FROM events").fetchone()[0])


def recent_users(folder: Any, limit: int = 50) -> list[tuple[str, int]]:
    """(user id, number of events) of the ``limit`` most recently active users, most recent first."""
    with _read_only(folder) as c:
        rows = c.execute("SELECT user_id, COUNT(*) FROM events GROUP BY user_id ORDER BY MAX(id) DESC LIMIT ?",
                         (int(limit),)).fetchall()
    return [(str(u), int(n)) for u, n in rows]
