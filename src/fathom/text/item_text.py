"""Item text for text-aware recommenders: a per-catalogue template, and the catalogue encoded into vectors.

A :class:`TextTemplate` says which catalogue fields make an item's text, in what order, and how much of each is
kept (characters, cut at a word boundary). ``render(row)`` turns one catalogue row (a mapping) into that text,
e.g. for a product ``"title: Stanley 1/2-inch staples; brand: Stanley; categories: Industrial & Scientific >
Fasteners; description: Heavy-duty staples for insulation ..."``. Lists (genres, cast) are joined with ", ",
missing or empty fields are left out, and a field may be shown without its label.

:func:`encode_items` runs the rendered texts through an :class:`~fathom.text.encoders.Encoder` (cached on disk
when it is a :class:`~fathom.text.encoders.CachedEncoder`), with a progress bar, and measures the throughput:
:class:`ItemVectors` holds the (n_items, d) float32 unit-norm matrix beside the figures.

Presets (:meth:`TextTemplate.preset`): ``product`` (title, brand, categories, description) and ``film`` (title,
year, genres, directors, cast, plot); :meth:`TextTemplate.for_columns` picks the fields a catalogue has.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from fathom.config import Config
from fathom.text.encoders import CachedEncoder, Encoder

PRESETS: dict[str, dict[str, Any]] = {
    "product": {"fields": ("title", "brand", "categories", "description"),
                "max_chars": {"title": 200, "brand": 60, "categories": 160, "description": 400}},
    "film": {"fields": ("title", "year", "genres", "directors", "cast", "plot"),
             "max_chars": {"title": 120, "genres": 120, "directors": 100, "cast": 160, "plot": 400}},
}
#: field names tried, in this order, when a template is picked from a catalogue's columns
COMMON_FIELDS = ("title", "name", "year", "release_year", "brand", "genres", "categories", "category", "tags",
                 "directors", "cast", "description", "plot", "text")


class TextTemplate(Config):
    """Which fields make an item's text, in what order, and how much of each is kept."""

    fields: tuple[str, ...] = Field(("title",), min_length=1, description="catalogue fields, in order")
    labels: bool = Field(True, description="prefix each field with its name ('brand: Stanley')")
    separator: str = Field("; ", description="between fields")
    max_chars: dict[str, int] = Field(default_factory=dict, description="field -> characters kept (cut at a word)")
    default_max_chars: int = Field(300, ge=1, description="characters kept of a field not in max_chars")
    list_separator: str = Field(", ", description="between the values of a list field (genres, cast)")

    @field_validator("max_chars")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for name, n in value.items():
            if n < 1:
                raise ValueError(f"max_chars[{name!r}] must be at least 1, got {n}")
        return value

    @classmethod
    def preset(cls, name: str) -> TextTemplate:
        if name not in PRESETS:
            raise ValueError(f"unknown text template {name!r}; presets: {', '.join(PRESETS)}")
        return cls(**PRESETS[name])

    @classmethod
    def for_columns(cls, columns: Sequence[str]) -> TextTemplate:
        """The common text fields a catalogue has (title first); a preset's lengths where it names the field."""
        have = set(columns)
        fields = tuple(f for f in COMMON_FIELDS if f in have)
        if not fields:
            raise ValueError(f"no text field among the catalogue's columns {sorted(have)}; name them with "
                             f"a template's fields (e.g. {list(COMMON_FIELDS[:4])})")
        lengths = {**PRESETS["film"]["max_chars"], **PRESETS["product"]["max_chars"]}
        return cls(fields=fields, max_chars={f: lengths[f] for f in fields if f in lengths})

    def _value(self, name: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if isinstance(value, list | tuple | set | np.ndarray):
            text = self.list_separator.join(str(v).strip() for v in value if str(v).strip())
        elif isinstance(value, float) and value.is_integer():
            text = str(int(value))  # a year read as 1995.0
        else:
            text = " ".join(str(value).split())
        return cut(text, self.max_chars.get(name, self.default_max_chars))

    def render(self, row: Mapping[str, Any]) -> str:
        """One item's text from its catalogue row; fields the row lacks or leaves empty are skipped."""
        parts = []
        for name in self.fields:
            text = self._value(name, row.get(name))
            if text:
                parts.append(f"{name.replace('_', ' ')}: {text}" if self.labels else text)
        return self.separator.join(parts)


def cut(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at the last space when there is one in the second half."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def item_texts(rows: Sequence[Mapping[str, Any]], template: TextTemplate) -> list[str]:
    """Rendered text of every row, in row order (row i = item index i)."""
    return [template.render(row) for row in rows]


@dataclass(frozen=True)
class ItemVectors:
    """A catalogue's item text vectors and how they were made.

    vectors: (n_items, d) float32, unit rows (an item without any text gets a zero row); encoder: the encoder's
    name; seconds / items_per_second: the wall-clock encoding time (cache hits included); cached: how many
    texts were already in the encoder's cache before the call (0 where unknown).
    """

    vectors: np.ndarray
    encoder: str
    seconds: float
    items_per_second: float
    cached: int
    empty: int

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


def encode_items(texts: Sequence[str], encoder: Encoder, batch_size: int = 64, progress: bool = True) -> ItemVectors:
    """Encode item texts as passages; empty texts get zero rows. Progress bar when ``progress``."""
    texts = list(texts)
    cached = encoder.cached(texts) if isinstance(encoder, CachedEncoder) else 0
    filled = [i for i, t in enumerate(texts) if t.strip()]
    out = np.zeros((len(texts), encoder.dim), np.float32)  # (n, d)
    start = time.perf_counter()
    if filled:
        out[filled] = encoder.encode([texts[i] for i in filled], batch_size=batch_size, progress=progress,
                                     kind="passage")
    seconds = time.perf_counter() - start
    return ItemVectors(out, encoder.name, seconds, len(filled) / max(seconds, 1e-9), cached,
                       len(texts) - len(filled))
