"""The conversations table of the store: each assistant conversation's state as JSON, so that any worker process
answers the next turn of a conversation another one started; conversations idle longer than a day are dropped."""

from __future__ import annotations

import time

from fathom.online.store_base import StoreBase

CONVERSATION_TTL_S = 24 * 3600.0


class ConversationTables(StoreBase):
    """``conversations``: id -> state (JSON text) and when it was last written."""

    def conversation(self, conversation_id: str) -> str | None:
        """The stored state of a conversation, None when there is none (or it expired)."""
        rows = self._query("SELECT state FROM conversations WHERE id = ? AND updated_at > ?",
                           (conversation_id, time.time() - CONVERSATION_TTL_S))
        return rows[0][0] if rows else None

    def save_conversation(self, conversation_id: str, state: str) -> None:
        """Store a conversation's state (replacing the earlier one) and drop expired conversations."""
        now = time.time()
        with self._tx() as c:
            c.execute("INSERT INTO conversations (id, state, updated_at) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE "
                      "SET state = excluded.state, updated_at = excluded.updated_at", (conversation_id, state, now))
            c.execute("DELETE FROM conversations WHERE updated_at <= ?", (now - CONVERSATION_TTL_S,))

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._tx() as c:
            return c.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0
