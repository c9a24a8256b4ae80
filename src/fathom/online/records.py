"""Rows of the online store, as typed records."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fathom.data.records import EventType
from fathom.retrieval.search_index import Document


class ItemRecord(BaseModel):
    """A catalogue item: searched text (``title``, ``description``), categorical attributes (filters, facets)
    and numeric attributes (range filters)."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1)
    title: str
    description: str = ""
    categorical: dict[str, list[str]] = {}
    numeric: dict[str, float] = {}

    def document(self) -> Document:
        """The search-index document of this item (text fields ``title`` and ``description``)."""
        return Document(
            id=self.item_id,
            fields={"title": self.title, "description": self.description},
            categorical=dict(self.categorical),
            numeric=dict(self.numeric),
        )


class EventRecord(BaseModel):
    """One interaction; ``timestamp`` is seconds since the epoch."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1)
    item_id: str = Field(min_length=1)
    event: EventType = "view"
    value: float = 1.0
    timestamp: int = 0


class VersionRecord(BaseModel):
    """One registered model version; ``path`` is relative to the artefacts folder.

    ``metrics``: offline metrics measured when it was trained (for a version from the online learner: its
    full-ranking metrics on held-out recent events, beside those of the version it was compared with, under
    ``baseline``); ``trained_through``: the id of the last stored event it was trained on; ``parent``: the version
    it was warm-started from or validated against; ``note``: how it came to be (e.g. the activation decision).
    """

    version: int
    model: str
    path: str
    created_at: float
    active: bool
    n_users: int
    n_items: int
    n_events: int
    config: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    trained_through: int = 0
    parent: int | None = None
    note: str = ""
