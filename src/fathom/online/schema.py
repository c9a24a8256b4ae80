"""The store's schema (written for SQLite; :func:`fathom.online.store_pg.pg_schema` gives PostgreSQL's types) and
its versions: ``meta.schema_version`` says which version a store holds, and :func:`migrate` brings an older one up
to :data:`SCHEMA_VERSION` when it is opened (and refuses a newer one)."""

from __future__ import annotations

from typing import Any

DB_NAME = "fathom.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}',
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    event TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp INTEGER NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, id);
CREATE INDEX IF NOT EXISTS events_by_arrival ON events (received_at);
CREATE TABLE IF NOT EXISTS model_versions (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at REAL NOT NULL,
    n_users INTEGER NOT NULL,
    n_items INTEGER NOT NULL,
    n_events INTEGER NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    active INTEGER NOT NULL DEFAULT 0,
    metrics TEXT NOT NULL DEFAULT '{}',
    trained_through INTEGER NOT NULL DEFAULT 0,
    parent INTEGER,
    note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS activations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS catalogue_changes (
    revision INTEGER NOT NULL,
    item_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS catalogue_changes_by_revision ON catalogue_changes (revision);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_keys (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    stored INTEGER NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ingest_keys_by_time ON ingest_keys (at);
CREATE TABLE IF NOT EXISTS forgotten_users (
    user_id TEXT PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# columns added after the first release: (name, declaration) added to older files on open
ADDED_VERSION_COLUMNS = (("metrics", "TEXT NOT NULL DEFAULT '{}'"), ("trained_through", "INTEGER NOT NULL DEFAULT 0"),
                          ("parent", "INTEGER"), ("note", "TEXT NOT NULL DEFAULT ''"))

SCHEMA_VERSION = 2
"""1: the tables before versioning (files without ``schema_version``; older ones lack ADDED_VERSION_COLUMNS);
2: the ``conversations`` table. A new version appends a step to :data:`MIGRATIONS`."""

# version -> (SQLite statements, PostgreSQL statements) that bring version - 1 to it; the tables the base schema
# creates with IF NOT EXISTS (conversations, for version 2) need no step
MIGRATIONS: dict[int, tuple[str, str]] = {}


def migrate(store: Any) -> None:
    """Create a new store's tables, or bring an older one to :data:`SCHEMA_VERSION`, in one transaction."""
    conn, dialect = store._conn, store.dialect
    with store._lock:
        if dialect == "postgresql":
            from fathom.online.store_pg import pg_schema

            conn.begin_write()
            script = pg_schema()
        else:
            conn.execute("BEGIN IMMEDIATE")
            script = SCHEMA
        try:
            for statement in (s.strip() for s in script.split(";")):
                if statement:
                    conn.execute(statement)
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            found = int(row[0]) if row else 1
            if found > SCHEMA_VERSION:
                raise RuntimeError(f"the store holds schema version {found}, newer than this Fathom's "
                                   f"{SCHEMA_VERSION}: upgrade Fathom to open it")
            if dialect == "sqlite":
                have = {r[1] for r in conn.execute("PRAGMA table_info(model_versions)").fetchall()}
                for name, declaration in ADDED_VERSION_COLUMNS:
                    if name not in have:
                        conn.execute(f"ALTER TABLE model_versions ADD COLUMN {name} {declaration}")
            for version in range(found + 1, SCHEMA_VERSION + 1):
                if version in MIGRATIONS:
                    for statement in MIGRATIONS[version][0 if dialect == "sqlite" else 1].split(";"):
                        if statement.strip():
                            conn.execute(statement)
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE "
                         "SET value = excluded.value", (str(SCHEMA_VERSION),))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
