"""Rows of the online store, as typed records."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, FiniteFloat, Strict

from fathom.data.records import EventType
from fathom.retrieval.search_index import Document

MAX_TIMESTAMP = 253_402_300_799
"""The last second of the year 9999: the largest event timestamp accepted (seconds since the epoch)."""
MAX_EVENT_VALUE = 1e9
"""The largest event value accepted (a rating, a quantity, a price, a dwell time)."""
NAME_PATTERN = r"^\w(?:[\w .:/-]{0,62}\w)?$"
"""Attribute names: 1-64 letters, digits and ``_``, with ``space . : / -`` inside (no ``=`` or ``,``, which the
filter syntax ``NAME=V1,V2`` uses)."""

ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""User and item ids: 1-256 characters, no control characters."""

def _json_integer(value: Any) -> Any:
    """JSON's integers: 3 and 3.0, never true/false or "3" (strict models take 3.0 as not an integer)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


JsonInt = Annotated[int, Strict(False), BeforeValidator(_json_integer)]
"""An integer field of a strict model, as JSON Schema's ``integer``: 3 or 3.0, never a boolean or a string."""

AttributeName = Annotated[str, Field(pattern=NAME_PATTERN)]
AttributeValue = Annotated[str, Field(min_length=1, max_length=1000)]


class ItemRecord(BaseModel):
    """A catalogue item: searched text (``title``, ``description``), categorical attributes (filters, facets)
    and numeric attributes (range filters)."""

    model_config = ConfigDict(extra="forbid")

    item_id: str = Field(min_length=1, max_length=256)
    title: str
    description: str = ""
    categorical: dict[AttributeName, list[AttributeValue]] = {}
    numeric: dict[AttributeName, FiniteFloat] = {}

    def document(self) -> Document:
        """The search-index document of this item (text fields ``title`` and ``description``)."""
        return Document(
            id=self.item_id,
            fields={"title": self.title, "description": self.description},
            categorical=dict(self.categorical),
            numeric=dict(self.numeric),
        )


class EventRecord(BaseModel):
    """One interaction; ``timestamp`` is seconds since the epoch (0: the time it is stored). ``value`` is finite
    and not negative (a rating, a quantity, a dwell time: every stored event counts as a positive interaction).
    Values are taken as the JSON types stated (no ``true`` for a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    item_id: str = Field(min_length=1, max_length=256, pattern=ID_PATTERN)
    event: EventType = "view"
    value: FiniteFloat = Field(1.0, ge=0, le=MAX_EVENT_VALUE)
    timestamp: JsonInt = Field(0, ge=0, le=MAX_TIMESTAMP)


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
