"""A conversation's state: the request in force (what a follow-up edits), the results last shown (what
``the second one`` points at) and the items last talked about (what ``it`` means). Stored as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from fathom.assistant.understanding import Reading, field_for
from fathom.config import Config
from fathom.online.records import ItemRecord
from fathom.retrieval.query_understanding import CatalogueFields


class Request(Config):
    """A find / recommend / similar request with its constraints."""

    intent: Literal["find", "recommend", "similar"]
    query: str = ""
    equals: dict[str, list[str]] = {}
    excludes: dict[str, list[str]] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    item: str | None = None  # the item a similar request is for

    def slots(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.query:
            out["query"] = self.query
        if self.equals:
            out["equals"] = self.equals
        if self.excludes:
            out["excludes"] = self.excludes
        if self.ranges:
            out["ranges"] = {k: list(v) for k, v in self.ranges.items()}
        if self.item:
            out["item"] = self.item
        return out

    def edited(self, reading: Reading, shown: Sequence[ItemRecord], fields: CatalogueFields) -> Request:
        """This request changed by a follow-up: new values of an attribute replace the old ones (``what about
        dramas`` after comedies), exclusions add up, ranges replace, new search words replace the old ones;
        ``cheaper`` / ``pricier``: below / above the median price of the results shown; ``older`` / ``newer``:
        before the oldest / after the newest year shown."""
        equals = {**self.equals, **reading.equals}
        excludes = {k: list(v) for k, v in self.excludes.items()}
        for name, values in reading.excludes.items():
            excludes[name] = list(dict.fromkeys([*excludes.get(name, []), *values]))
            if name in equals:
                equals[name] = [v for v in equals[name] if v not in values]
                if not equals[name]:
                    del equals[name]
        ranges = {**self.ranges, **reading.ranges}
        numeric = list(fields.numeric)
        for edit in reading.edits:
            name = field_for("price" if edit in ("cheaper", "pricier") else "year", numeric)
            values = sorted(r.numeric[name] for r in shown if name is not None and name in r.numeric)
            if name is None or not values:
                continue
            lo, hi = ranges.get(name, (None, None))
            middle = values[(len(values) - 1) // 2]  # the median price shown (the lower one of an even count)
            if edit == "cheaper":
                hi = float(np.nextafter(middle, -np.inf))
            elif edit == "pricier":
                lo = float(np.nextafter(middle, np.inf))
            elif edit == "older":
                lo, hi = None, values[0] - 1  # older than every year shown
            else:
                lo, hi = values[-1] + 1, None
            ranges[name] = (lo, hi)
        return Request(intent=self.intent, query=reading.query or self.query, equals=equals, excludes=excludes,
                       ranges=ranges, item=self.item)


class ConversationState(BaseModel):
    """Mutable during a turn; unknown fields of a state stored by another version are ignored."""

    model_config = ConfigDict(extra="ignore")

    turns: int = 0
    language: str = "en"
    user_id: str | None = None
    request: Request | None = None
    shown: list[str] = []
    focus: list[str] = []

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ConversationState:
        return cls.model_validate(json.loads(text))
