"""Request and response bodies of the web API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, model_validator

from fathom.online.records import ID_PATTERN, AttributeName, AttributeValue, EventRecord, JsonInt, VersionRecord
from fathom.retrieval.filters import SearchFilter


class Body(BaseModel):
    """A request body: unknown fields are refused, and values are taken as the JSON types the schema states (no
    ``true`` for a number, no number for a string)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RecommendRequest(Body):
    """Exactly one of ``user_id`` (a known user) and ``recent_items`` (an anonymous visitor's recent items)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["user_id"]},
                                                           {"required": ["recent_items"]}]})

    user_id: str = Field(None, min_length=1, max_length=256, pattern=ID_PATTERN)  # type: ignore[assignment]
    recent_items: list[Annotated[str, Field(min_length=1, max_length=256, pattern=ID_PATTERN)]] = Field(
        None, min_length=1, max_length=500)  # type: ignore[assignment]
    k: JsonInt = Field(10, ge=1)
    filter: SearchFilter | None = None
    why: bool = Field(False, description="faithful reasons: each item cites the history item whose removal moves "
                                         "it furthest down (one extra scoring per history item, up to 20)")

    @model_validator(mode="after")
    def _one_subject(self) -> RecommendRequest:
        if (self.user_id is None) == (self.recent_items is None):
            raise ValueError("give exactly one of user_id and recent_items")
        return self


class PathStep(BaseModel):
    """One node of a knowledge-graph path: its readable name and type; from the second node on, the relation of
    the edge that reaches it and whether that triple reads previous -> this node."""

    name: str
    type: str
    relation: str | None = None
    forward: bool | None = None


class RecommendedItem(BaseModel):
    item_id: str
    title: str
    score: float
    reason: str
    because: str | None = None
    """The item the reason cites (a history item, or the item similar items are for)."""
    path: list[PathStep] | None = None
    """The knowledge-graph path from ``because`` to this item, when there is one within two hops."""
    path_text: str | None = None
    """That path in a few words (``both: genre Crime``; a longer path written out step by step)."""
    categorical: dict[str, list[str]] = {}
    """The item's categorical attributes (e.g. genres), for item cards."""
    numeric: dict[str, float] = {}


class RecommendResponse(BaseModel):
    user_id: str | None = None
    model_version: int
    items: list[RecommendedItem]


class SimilarResponse(BaseModel):
    item_id: str
    model_version: int
    items: list[RecommendedItem]


class SearchRequest(Body):
    query: str = ""
    k: JsonInt = Field(10, ge=1)
    filter: SearchFilter | None = None
    facets: list[str] | None = None
    weights: dict[str, float] | None = None


class SearchHit(BaseModel):
    item_id: str
    title: str
    score: float
    scores: dict[str, float]
    document: dict[str, Any]


class SearchResponse(BaseModel):
    query: str
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    corrections: dict[str, str]
    """Typo corrections applied: the word as typed -> the word searched for, as the catalogue writes it."""


class EventBatch(Body):
    events: list[EventRecord] = Field(min_length=1)


class Stored(BaseModel):
    stored: int


MAX_ITEM_ATTRIBUTES = 64
"""Most categorical (and, apart, numeric) attributes one item may have."""


class ItemIn(Body):
    """A catalogue item. Attribute names are 1-64 letters, digits or ``_`` (with ``space . : / -`` inside); the
    catalogue as a whole has a limit on distinct attribute names too (the service's ``max_attribute_names``)."""

    title: str = Field(min_length=1, max_length=1000)
    description: str = Field("", max_length=100_000)
    categorical: dict[AttributeName, AttributeValue | Annotated[list[AttributeValue], Field(max_length=100)]] = Field(
        {}, max_length=MAX_ITEM_ATTRIBUTES, description="filterable values, e.g. {\"genres\": [\"Comedy\"]}")
    numeric: dict[AttributeName, FiniteFloat] = Field(
        {}, max_length=MAX_ITEM_ATTRIBUTES, description="finite numbers for range filters, e.g. {\"year\": 1994}")


class UserOut(BaseModel):
    user_id: str
    events: int
    recent_items: list[str]


class UserDeleted(BaseModel):
    user_id: str
    events_removed: int


class ModelsOut(BaseModel):
    active: int | None
    versions: list[VersionRecord]


class Health(BaseModel):
    status: str
    model_version: int | None
    items: int
    users: int
    events: int


class TrainRequest(Body):
    """One online-learning run now; unset fields take the service's ``learning`` settings."""

    force: bool = Field(True, description="train even with fewer than min_new_events new events")
    model: str | None = Field(None, description="model of the candidate (default: the active version's)")
    settings: dict[str, Any] | None = Field(None, description="config overrides of the candidate model")
    tolerance: float | None = Field(None, description="activate when candidate >= active - tolerance")
    metric: Literal["ndcg", "recall"] | None = None
    warm_epochs: JsonInt | None = Field(None, ge=1)
    min_validation_users: JsonInt | None = Field(None, ge=1, description="users with held-out new events needed")


class ChatRequest(Body):
    message: str = Field(min_length=1, max_length=2000, description="what the user wrote, English or Chinese")
    conversation_id: str | None = Field(None, min_length=1, max_length=128, pattern=ID_PATTERN,
                                        description="continue this conversation (absent: start one)")
    user_id: str | None = Field(None, min_length=1, max_length=256, pattern=ID_PATTERN,
                                description="a known user: recommendations become theirs (needs the API key)")


class ChatCitation(BaseModel):
    kind: Literal["item", "faq", "graph", "history"]
    """``item``: a catalogue record; ``faq``: an FAQ entry; ``graph``: the knowledge-graph path between two items;
    ``history``: an item of the user's own history that a recommendation's reason names."""
    id: str
    field: str | None = None
    """The catalogue field an item fact came from."""


class ChatResponse(BaseModel):
    conversation_id: str
    language: Literal["en", "zh"]
    intent: str
    """find, recommend, similar, fact, compare, faq, smalltalk or out_of_scope."""
    follow_up: bool
    """The message edited the previous request (``cheaper ones``, ``what about dramas``)."""
    text: str
    items: list[RecommendedItem]
    citations: list[ChatCitation]
    slots: dict[str, Any]
    millis: float
