"""Query understanding: structured constraints pulled out of free text, applied as filters or boosts.

``"red dress under $50"`` over a catalogue with a ``colour`` attribute holding ``red``, a ``category`` holding
``Dress`` and a numeric ``price`` becomes: colour = red, category = Dress, price < 50, remaining text ``""``.

What is recognised (English, plus the common Chinese forms):

- price (needs a numeric price-like attribute): ``under $50``, ``below 50``, ``cheaper than 30``, ``up to 40``,
  ``over 100``, ``more than 20 dollars``, ``at least 10``, ``between 10 and 20 dollars``, ``$10-$20``,
  ``50元以下``, ``低于50元``, ``100元以上``, ``10到20元``;
- year (needs a numeric year-like attribute): ``from the 90s``, ``1990s``, ``'80s``, ``nineties``, ``90年代``,
  ``before 1990``, ``after 2000``, ``since 1995``, ``between 1990 and 1995``, and a single year when it reads as
  one: ``1995 movies``, ``in 1995``, a year ending the query, ``1995年``. A year at the start of a title
  (``2001 a space odyssey``) is left as text;
- colour and category (categorical attributes): a query word or phrase equal to one of the attribute's
  values in the catalogue, ignoring case, punctuation, a possessive ``'s`` and a plural ending (``comedies``
  finds ``Comedy``, ``film noir`` finds ``Film-Noir``, ``children`` finds ``Children's``); a value written in
  Chinese matches as a substring (``红色连衣裙`` finds ``红色`` and ``连衣裙``).

Bounds written as strict (``under``, ``over``, ``before``, ``after``) exclude the number itself. The words a
constraint came from are removed from the query text, together with generic words such as ``movies`` once
something was understood; when nothing remains, the search browses the constrained catalogue. Several values
of one attribute combine with OR (``comedy or drama``), as in :class:`~fathom.retrieval.filters.SearchFilter`.

:func:`understand_query` is a pure function of the text, the catalogue's attributes (:class:`CatalogueFields`)
and a :class:`QueryUnderstandingConfig`, which says which attributes are price-, year-, colour- and
category-like and whether colour and category words filter or only boost.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from fathom.config import Config
from fathom.retrieval.filters import AttributeStore, SearchFilter

ConstraintKind = Literal["price", "year", "colour", "category"]
Action = Literal["filter", "boost"]


class QueryUnderstandingConfig(Config):
    """Which attributes play which role (the first one present in the catalogue is used for price, year and
    colour; every present category-like one is matched), what colour / category words do, and the boost weight
    (a fusion weight beside the search weights, which are 0.5 + 0.5 by default)."""

    price_fields: list[str] = ["price"]
    year_fields: list[str] = ["year", "release_year"]
    colour_fields: list[str] = ["colour", "color"]
    category_fields: list[str] = ["category", "categories", "genre", "genres", "type"]
    colour_action: Action = "filter"
    category_action: Action = "filter"
    boost_weight: float = Field(0.3, ge=0)
    synonyms: dict[str, str] = {"kids": "children", "animated": "animation", "scifi": "sci fi"}
    filler_words: list[str] = ["movie", "movies", "film", "films", "priced", "costing", "released", "from", "in",
                               "or", "and", "电影"]


class Constraint(Config):
    """One understood constraint: the attribute, the query words it came from, values or a range."""

    kind: ConstraintKind
    field: str
    action: Action
    phrase: str
    values: list[str] = []
    lo: float | None = None
    hi: float | None = None
    lo_inclusive: bool = True
    hi_inclusive: bool = True

    def describe(self) -> str:
        """``price < 50``, ``release_year 1990-1999``, ``genres = Comedy or Drama (boost)``."""
        if self.values:
            text = f"{self.field} = {' or '.join(self.values)}"
        elif self.lo is not None and self.hi is not None:
            text = f"{self.field} = {self.lo:g}" if self.lo == self.hi else f"{self.field} {self.lo:g}-{self.hi:g}"
        elif self.hi is not None:
            text = f"{self.field} {'<=' if self.hi_inclusive else '<'} {self.hi:g}"
        else:
            text = f"{self.field} {'>=' if self.lo_inclusive else '>'} {self.lo:g}"
        return text + (" (boost)" if self.action == "boost" else "")

    def as_filter(self) -> SearchFilter:
        """This constraint as a one-clause filter (strict bounds moved to the next float inwards)."""
        if self.values:
            return SearchFilter(equals={self.field: list(self.values)})
        lo = self.lo if self.lo is None or self.lo_inclusive else float(np.nextafter(self.lo, np.inf))
        hi = self.hi if self.hi is None or self.hi_inclusive else float(np.nextafter(self.hi, -np.inf))
        return SearchFilter(ranges={self.field: (lo, hi)})


class QueryUnderstanding(Config):
    """The remaining query ``text``, the ``filter`` and ``boosts`` built from ``understood``, and the original."""

    original: str
    text: str
    filter: SearchFilter = SearchFilter()
    boosts: list[SearchFilter] = []
    understood: list[Constraint] = []

    def describe(self) -> list[str]:
        return [f"{c.describe()}  <- {c.phrase!r}" for c in self.understood]


@dataclass(frozen=True)
class CatalogueFields:
    """What the catalogue offers: numeric attribute names, and categorical attribute -> values present."""

    numeric: frozenset[str]
    categorical: Mapping[str, Sequence[str]]

    @classmethod
    def from_attributes(
        cls, attributes: AttributeStore, alive: np.ndarray | None = None, names: Iterable[str] | None = None
    ) -> CatalogueFields:
        """From an index's attribute store: values of the categorical attributes among ``names`` (any case;
        None: all), counted over ``alive`` (N,) bool rows (None: all rows)."""
        mask = np.ones(len(attributes), dtype=bool) if alive is None else alive
        wanted = None if names is None else {n.lower() for n in names}
        cats = [n for n in attributes.categorical_names if wanted is None or n.lower() in wanted]
        return cls(frozenset(attributes.numeric_names), {n: list(c) for n, c in attributes.facets(mask, cats).items()})


# ---------------------------------------------------------------------------------------------- patterns
_NUM = r"\d+(?:,\d{3})*(?:\.\d+)?"
_CUR_BEFORE = r"[$€£¥￥]"
_CUR_AFTER = r"(?:[$€£¥￥元块]|(?:dollars?|bucks?|usd|euros?|eur|pounds?|gbp|yuan|rmb)\b)"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_UPPER = {"under": False, "below": False, "less than": False, "cheaper than": False, "lower than": False,
          "<": False, "up to": True, "at most": True, "max": True, "maximum": True, "no more than": True, "<=": True}
_LOWER = {"over": False, "above": False, "more than": False, "greater than": False, "higher than": False,
          "pricier than": False, "more expensive than": False, ">": False, "at least": True, "min": True,
          "minimum": True, ">=": True}
_YEAR_OPS = {"before": ("hi", False), "pre": ("hi", False), "earlier than": ("hi", False),
             "older than": ("hi", False), "until": ("hi", True), "till": ("hi", True), "after": ("lo", False),
             "post": ("lo", False), "later than": ("lo", False), "newer than": ("lo", False), "since": ("lo", True)}
_DECADE_WORDS = {"twenties": 1920, "thirties": 1930, "forties": 1940, "fifties": 1950, "sixties": 1960,
                 "seventies": 1970, "eighties": 1980, "nineties": 1990}


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


def _money(i: int) -> str:
    """An amount with an optional currency before or after it; groups c{i}a, n{i}, c{i}b."""
    return rf"(?P<c{i}a>{_CUR_BEFORE})?\s?(?P<n{i}>{_NUM})(?:\s?(?P<c{i}b>{_CUR_AFTER}))?"


_RE_BETWEEN = [  # "between A and B", "from A to B", "A-B" (the last only with a currency)
    re.compile(rf"\bbetween\s+{_money(1)}\s+(?:and|to|-)\s+{_money(2)}", re.IGNORECASE),
    re.compile(rf"\bfrom\s+{_money(1)}\s+to\s+{_money(2)}", re.IGNORECASE),
    re.compile(rf"{_money(1)}\s?(?:-|–|~|to|到|至)\s?{_money(2)}", re.IGNORECASE),
]
_RE_UPPER = re.compile(rf"(?:(?<!\w)(?P<op>{_alternatives(_UPPER)}))\s*{_money(1)}", re.IGNORECASE)
_RE_LOWER = re.compile(rf"(?:(?<!\w)(?P<op>{_alternatives(_LOWER)}))\s*{_money(1)}", re.IGNORECASE)
_RE_ZH_PRICE = re.compile(
    rf"(?:(?P<pre>低于|少于|不超过|不到|高于|超过|多于)\s?(?P<n1>{_NUM})\s?[元块]?|(?P<n2>{_NUM})\s?[元块]\s?(?P<post>以下|以内|以上))"
)
_RE_DECADE = re.compile(
    rf"(?:\b(?:from|in|of|during)\s+)?(?:\bthe\s+)?(?:(?<![\w'’])['’]?(?P<dec>(?:1[89]|20)?\d0)['’]?s\b"
    rf"|\b(?P<word>{_alternatives(_DECADE_WORDS)})\b|(?P<zh>(?:19|20)?\d0)年代)",
    re.IGNORECASE,
)
_RE_YEAR_OP = re.compile(rf"\b(?P<op>{_alternatives(_YEAR_OPS)})[\s-]*(?P<y>{_YEAR})\b", re.IGNORECASE)
_RE_YEAR = re.compile(
    rf"(?:\b(?P<pre>in|from|of|year|released\s+in)\s+)?(?<!\d)(?P<y>{_YEAR})(?P<zh>年(?!代))?(?!\d)"
    rf"(?:\s+(?P<post>movies?|films?)\b)?",
    re.IGNORECASE,
)
_RE_WORD = re.compile(r"\w+(?:['’]s)?")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def singular(word: str) -> str:
    """A crude English singular, enough to match a plural query word to a catalogue value."""
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ses", "xes", "zes", "ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


@functools.lru_cache(maxsize=1 << 16)
def _key(text: str) -> tuple[str, ...]:
    """Normalised word tuple of a value or a query phrase: lower case, no possessive, singular."""
    words = [re.sub(r"['’]s$", "", w.lower()) for w in _RE_WORD.findall(text)]
    return tuple(singular(w) for w in words if w)


# ---------------------------------------------------------------------------------------------- the parser
class _Parse:
    """Query text with a character mask of what has been understood so far."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.taken = np.zeros(len(text), dtype=bool)
        self.found: list[tuple[int, Constraint]] = []  # (start, constraint), sorted at the end

    def free(self, start: int, end: int) -> bool:
        return not self.taken[start:end].any()

    def take(self, start: int, end: int, **constraint) -> None:
        self.taken[start:end] = True
        self.found.append((start, Constraint(phrase=self.text[start:end].strip(), **constraint)))

    def matches(self, pattern: re.Pattern[str]) -> Iterable[re.Match[str]]:
        return (m for m in pattern.finditer(self.text) if m.end() > m.start() and self.free(m.start(), m.end()))


def _plausible_year(x: float) -> bool:
    return x.is_integer() and 1800 <= x <= 2100


def _price_or_year(has_currency: bool, numbers: Sequence[float], price: str | None, year: str | None) -> str | None:
    """Which numeric role a bare comparison takes: currency or no year attribute -> price; plausible years
    without a price attribute, or between two plausible years -> year."""
    if has_currency:
        return "price" if price else None
    if year and all(_plausible_year(x) for x in numbers) and (price is None or len(numbers) == 2):
        return "year"
    return "price" if price else None


def _numeric_constraints(p: _Parse, price: str | None, year: str | None) -> None:
    def role_field(role: str | None) -> str | None:
        return {"price": price, "year": year}.get(role or "")

    for m in (m for pattern in _RE_BETWEEN for m in p.matches(pattern)):
        g = m.groupdict()
        a, b = sorted((_number(g["n1"]), _number(g["n2"])))
        currency = any(g[k] for k in ("c1a", "c1b", "c2a", "c2b"))
        if not currency and not m.group(0).lower().startswith(("between", "from")):
            continue  # "3-4" alone is not a price range
        role = _price_or_year(currency, (a, b), price, year)
        if role_field(role):
            p.take(m.start(), m.end(), kind=role, field=role_field(role), action="filter", lo=a, hi=b)
    for pattern, table, side in ((_RE_UPPER, _UPPER, "hi"), (_RE_LOWER, _LOWER, "lo")):
        for m in p.matches(pattern):
            op = re.sub(r"\s+", " ", m.group("op").lower())
            x = _number(m.group("n1"))
            role = _price_or_year(bool(m.group("c1a") or m.group("c1b")), (x,), price, year)
            if role_field(role):
                bound = {side: x, f"{side}_inclusive": table[op]}
                p.take(m.start(), m.end(), kind=role, field=role_field(role), action="filter", **bound)
    if price:
        for m in p.matches(_RE_ZH_PRICE):
            x = _number(m.group("n1") or m.group("n2"))
            word = m.group("pre") or m.group("post")
            upper = word in ("低于", "少于", "不超过", "不到", "以下", "以内")
            inclusive = word in ("不超过", "以内")
            bound = {"hi": x, "hi_inclusive": inclusive} if upper else {"lo": x, "lo_inclusive": False}
            p.take(m.start(), m.end(), kind="price", field=price, action="filter", **bound)


def _year_constraints(p: _Parse, year: str | None) -> None:
    if not year:
        return
    for m in p.matches(_RE_DECADE):
        if m.group("word"):
            start = _DECADE_WORDS[m.group("word").lower()]
        else:
            digits = m.group("dec") or m.group("zh")
            start = int(digits) if len(digits) == 4 else (2000 if int(digits) < 20 else 1900) + int(digits)
        p.take(m.start(), m.end(), kind="year", field=year, action="filter", lo=start, hi=start + 9)
    for m in p.matches(_RE_YEAR_OP):
        side, inclusive = _YEAR_OPS[re.sub(r"\s+", " ", m.group("op").lower())]
        bound = {side: float(m.group("y")), f"{side}_inclusive": inclusive}
        p.take(m.start(), m.end(), kind="year", field=year, action="filter", **bound)
    for m in p.matches(_RE_YEAR):
        at_end = not p.text[m.end():].strip()
        if m.group("pre") or m.group("post") or m.group("zh") or at_end:
            y = float(m.group("y"))
            p.take(m.start(), m.end(), kind="year", field=year, action="filter", lo=y, hi=y)


def _value_constraints(p: _Parse, fields: Sequence[tuple[str, ConstraintKind, Action]],
                       values: Mapping[str, Sequence[str]], synonyms: Mapping[str, str]) -> None:
    """Words (or n-grams) equal to a categorical value, and Chinese values as substrings; longest first."""
    by_key: dict[tuple[str, ...], list[tuple[str, ConstraintKind, Action, str]]] = {}
    for name, kind, action in fields:
        for v in sorted(values.get(name, ()), key=len, reverse=True):
            if _CJK.search(v):
                for m in re.finditer(re.escape(v), p.text):
                    if p.free(m.start(), m.end()):
                        p.take(m.start(), m.end(), kind=kind, field=name, action=action, values=[v])
            elif (key := _key(v)) and all(k for k in key):
                by_key.setdefault(key, []).append((name, kind, action, v))
    if not by_key:
        return
    longest = max(len(k) for k in by_key)
    words = [m for m in _RE_WORD.finditer(p.text) if p.free(m.start(), m.end())]
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            span = words[i : i + n]
            if n > 1 and not re.fullmatch(r"[\s\-_/&.]*", "".join(
                    p.text[a.end():b.start()] for a, b in zip(span, span[1:], strict=False))):
                continue  # the words of a phrase must be adjacent
            phrase = " ".join(synonyms.get(w.group(0).lower(), w.group(0)) for w in span)
            targets = by_key.get(_key(phrase))
            if targets:
                for name, kind, action, value in targets:
                    p.take(span[0].start(), span[-1].end(), kind=kind, field=name, action=action, values=[value])
                i += n
                break
        else:
            i += 1


def _first(candidates: Sequence[str], present: Iterable[str]) -> str | None:
    lower = {name.lower(): name for name in present}
    return next((lower[c.lower()] for c in candidates if c.lower() in lower), None)


def _merge(constraints: Sequence[Constraint]) -> list[Constraint]:
    """One constraint per (field, action) for categorical values (OR of the values, phrases joined)."""
    out: list[Constraint] = []
    for c in constraints:
        same = next((o for o in out if c.values and o.values and (o.field, o.action) == (c.field, c.action)), None)
        if same is None:
            out.append(c)
            continue
        merged = same.replace(values=same.values + [v for v in c.values if v not in same.values],
                              phrase=f"{same.phrase}, {c.phrase}")
        out[out.index(same)] = merged
    return out


def _filter_of(constraints: Sequence[Constraint]) -> SearchFilter:
    equals: dict[str, list[str]] = {}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for c in constraints:
        clause = c.as_filter()
        equals.update(clause.equals)
        for name, (lo, hi) in clause.ranges.items():  # several bounds on one field: their intersection
            old_lo, old_hi = ranges.get(name, (None, None))
            lo = lo if old_lo is None else old_lo if lo is None else max(lo, old_lo)
            hi = hi if old_hi is None else old_hi if hi is None else min(hi, old_hi)
            ranges[name] = (lo, hi)
    return SearchFilter(equals=equals, ranges=ranges)


def understand_query(
    query: str, fields: CatalogueFields, config: QueryUnderstandingConfig | None = None
) -> QueryUnderstanding:
    """Constraints in ``query`` that the catalogue's attributes can answer; see the module docstring."""
    config = config or QueryUnderstandingConfig()
    price = _first(config.price_fields, fields.numeric)
    year = _first(config.year_fields, fields.numeric)
    colour = _first(config.colour_fields, fields.categorical)
    categories = [c for name in config.category_fields if (c := _first([name], fields.categorical))]
    p = _Parse(query)
    _numeric_constraints(p, price, year)
    _year_constraints(p, year)
    roles: list[tuple[str, ConstraintKind, Action]] = [(colour, "colour", config.colour_action)] if colour else []
    roles += [(c, "category", config.category_action) for c in dict.fromkeys(categories) if c != colour]
    _value_constraints(p, roles, fields.categorical, {k.lower(): v for k, v in config.synonyms.items()})

    constraints = _merge([c for _, c in sorted(p.found, key=lambda sc: sc[0])])
    rest = "".join(ch if not t else " " for ch, t in zip(query, p.taken, strict=True))
    if constraints:
        filler = {w.lower() for w in config.filler_words}
        rest = " ".join(w for w in rest.split() if w.lower().strip(".,;:!?") not in filler)
    rest = re.sub(r"\s+", " ", rest).strip(" ,;:-")
    filters = [c for c in constraints if c.action == "filter"]
    return QueryUnderstanding(
        original=query,
        text=rest,
        filter=_filter_of(filters),
        boosts=[c.as_filter() for c in constraints if c.action == "boost"],
        understood=constraints,
    )


def boost_signal(attributes: AttributeStore, boosts: Sequence[SearchFilter]):
    """A candidate signal: the share of ``boosts`` each candidate row satisfies, (M,) rows -> (M,) in [0, 1]."""
    if not boosts:
        raise ValueError("no boosts to score")
    share = np.mean([attributes.mask(b) for b in boosts], axis=0)  # (N,)

    def score(rows: np.ndarray) -> np.ndarray:
        return share[rows]

    return score
