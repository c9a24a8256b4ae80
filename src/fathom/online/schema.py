"""The SQLite schema of the embedded store (:mod:`fathom.online.store`), and the columns added to older files
when they are opened."""

from __future__ import annotations

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
