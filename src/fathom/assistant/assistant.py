"""The shopping assistant: one turn of a conversation, grounded in the engine's own parts.

:meth:`Assistant.reply` reads the message (:mod:`fathom.assistant.understanding`), decides the intent (exact
rules first: a comparison cue with two items, a fact question about an item, a strong FAQ match; then the
encoder classifier of :mod:`fathom.assistant.intents`), acts through the :class:`~fathom.online.engine.Engine`
(search with the constraints read, recommendations for the user, similar items, catalogue records, the knowledge
graph, the FAQ), and writes the answer with :mod:`fathom.assistant.answers` in the user's language, citing every
item and FAQ entry it used. The conversation's state (the request in force, the results shown, the item last
talked about) is kept in the store, so any worker answers the next turn.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fathom.assistant import answers
from fathom.assistant.faq import FaqEntry, FaqIndex, load_faq
from fathom.assistant.generative import Rephraser
from fathom.assistant.intents import IntentClassifier, language_of
from fathom.assistant.state import ConversationState, Request
from fathom.assistant.understanding import Reading, TitleIndex, field_for, normalise, read_message
from fathom.config import Config
from fathom.online.engine import Engine, Recommendation
from fathom.online.errors import NoActiveModel
from fathom.online.records import ItemRecord
from fathom.retrieval.filters import SearchFilter
from fathom.retrieval.query_understanding import CatalogueFields

# a mood word in a "like X but ..." request -> the category value it asks for, where the catalogue has it
MOODS = {"funnier": "Comedy", "funny": "Comedy", "搞笑": "Comedy", "scarier": "Horror", "scary": "Horror",
         "吓人": "Horror", "恐怖": "Horror", "romantic": "Romance", "浪漫": "Romance", "action": "Action",
         "动作": "Action", "for kids": "Children's", "儿童": "Children's", "sadder": "Drama"}


class AssistantConfig(Config):
    k: int = 5
    """Items shown per answer."""
    faq_threshold: dict[str, float] = {"en": 0.50, "zh": 0.91}
    """Cosine similarity (per language: each has its own encoder and scale) from which a FAQ entry answers a
    question the classifier calls a FAQ question; below it the answer is "I don't know" and the nearest topic.
    Set between how alike two wordings of one entry are and how alike an entry is to its nearest other entry, on
    ``benchmarks/assistant/faq.jsonl``'s own wordings (English medians .57 and .45; Chinese .91 and .91: E5 does
    not tell short Chinese policy questions apart by this score alone)."""
    faq_override: dict[str, float] = {"en": 0.80, "zh": 0.96}
    """Cosine similarity from which a FAQ entry answers whatever the classifier says."""


@dataclass
class Citation:
    kind: str  # item | faq | graph | history (an item of the user's own history a reason names)
    id: str
    field: str | None = None


@dataclass
class Reply:
    conversation_id: str
    language: str
    intent: str
    text: str
    items: list[dict[str, Any]] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    follow_up: bool = False
    millis: float = 0.0
    rephrased: bool = False  # the text is the generative model's rewrite, which passed the check


class Assistant:
    """Answers chat turns over ``engine``; ``faq``: entries or a file (:func:`fathom.assistant.faq.load_faq`)."""

    def __init__(self, engine: Engine, faq: list[FaqEntry] | str | Path | None = None,
                 config: AssistantConfig | None = None, classifier: IntentClassifier | None = None,
                 rephraser: Rephraser | None = None) -> None:
        """``rephraser``: an optional local generative model that rewrites answers
        (:class:`~fathom.assistant.generative.Rephraser`); a rewrite that fails its check is dropped."""
        self.engine = engine
        self.rephraser = rephraser
        self.config = config or AssistantConfig()
        self.classifier = classifier or IntentClassifier.shared()
        entries = load_faq(faq) if isinstance(faq, str | Path) else list(faq or [])
        self.faq = FaqIndex(entries, self.classifier)
        self._lock = threading.Lock()
        self._titles: tuple[int, TitleIndex, CatalogueFields] | None = None

    def warm(self) -> None:
        """Load what a first English turn needs now: the encoder and intent head, the catalogue's titles."""
        self.classifier.head("en")
        self.classifier.encoder("en").encode_query("hello")
        self._catalogue()

    # ---------------------------------------------------------------------------------------- catalogue views
    def _catalogue(self) -> tuple[TitleIndex, CatalogueFields]:
        epoch = self.engine.catalogue_epoch
        with self._lock:
            if self._titles is None or self._titles[0] != epoch:
                items = self.engine.store.items()
                popularity = self.engine.store.item_popularity()
                titles = TitleIndex({i.item_id: i.title for i in items}, popularity)
                self._titles = (epoch, titles, self.engine.catalogue_fields())
            return self._titles[1], self._titles[2]

    # ------------------------------------------------------------------------------------------------ a turn
    def reply(self, conversation_id: str, message: str, user_id: str | None = None) -> Reply:
        started = time.perf_counter()
        message = message.strip()
        if not message:
            raise ValueError("message: empty")
        stored = self.engine.store.conversation(conversation_id)
        state = ConversationState.from_json(stored) if stored else ConversationState()
        if user_id is not None:
            state.user_id = user_id
        language = language_of(message)
        titles, fields = self._catalogue()
        reading = read_message(message, titles, fields, state.shown, state.focus, language)
        intent = self._intent(reading, state)
        reply = Reply(conversation_id, language, intent, "")
        handler = getattr(self, f"_{intent}")
        handler(reading, state, reply)
        if self.rephraser is not None and reply.intent not in ("smalltalk", "out_of_scope"):
            rewritten = self.rephraser.rephrase(message, reply.text, [i["title"] for i in reply.items])
            if rewritten is not None:
                reply.text, reply.rephrased = rewritten, True
        state.turns += 1
        state.language = language
        self.engine.store.save_conversation(conversation_id, state.to_json())
        reply.millis = round((time.perf_counter() - started) * 1000, 1)
        return reply

    def _intent(self, reading: Reading, state: ConversationState) -> str:
        items = reading.items
        if reading.compare_cue and len(items) >= 2:
            return "compare"
        if reading.attribute is not None and items:
            return "fact"
        predicted, _ = self.classifier.predict(reading.delexicalised, reading.language)
        entry, similarity = self.faq.match(reading.text, reading.language)
        language = reading.language
        if entry is not None and (similarity >= self.config.faq_override[language] or (
                predicted == "faq" and similarity >= self.config.faq_threshold[language])):
            return "faq"
        if state.request is not None and reading.follow_up and not reading.mentioned and (
                reading.excludes or reading.edits or reading.equals or reading.ranges):
            return "refine"  # "not from Stanley", "cheaper ones", "and dramas?": an edit whatever the classifier says
        if predicted == "faq":
            return "faq"
        if predicted == "compare":
            return "compare" if len(items) >= 2 else "fact" if items else "find"
        if predicted == "fact" and not items:
            return "fact" if reading.attribute else "find"
        if predicted == "similar" and not (items or state.focus):
            return "find"
        if state.request is not None and reading.follow_up and predicted in ("find", "recommend", "similar",
                                                                           "smalltalk", "out_of_scope") \
                and not (predicted == "similar" and reading.items):
            reading.follow_up = True
            return "refine"
        if predicted in ("smalltalk", "out_of_scope") and (reading.equals or reading.query and reading.mentioned):
            return "find"
        reading.follow_up = False
        return predicted

    # ---------------------------------------------------------------------------------------------- actions
    def _records(self, ids: list[str]) -> list[ItemRecord]:
        found = self.engine.store.get_items(ids)
        return [found[i] for i in ids if i in found]

    def _show(self, reply: Reply, state: ConversationState, recs: list[ItemRecord],
              reasons: list[str] | None = None) -> None:
        reply.items = [{"item_id": r.item_id, "title": r.title, "reason": (reasons or [""] * len(recs))[n],
                        "categorical": dict(r.categorical), "numeric": dict(r.numeric)}
                       for n, r in enumerate(recs)]
        reply.citations += [Citation("item", r.item_id) for r in recs]
        if recs:
            state.shown = [r.item_id for r in recs]
            state.focus = [recs[0].item_id]

    def _run_request(self, request: Request, state: ConversationState, reply: Reply) -> None:
        k = self.config.k
        flt = SearchFilter(equals=request.equals, ranges=request.ranges)
        flt = None if flt.empty else flt
        depth = k * 8 if request.excludes else k * 2
        reasons: list[str] = []
        if request.intent == "similar" and request.item is not None:
            recs = self._drop_excluded(self.engine.similar(request.item, depth, flt), request)
            ids = [r.item_id for r in recs][:k]
            source = self._records([request.item])
            text = answers.similar_to(reply.language, source[0], self._records(ids), self._what(request, reply))
            reply.citations.append(Citation("item", request.item))
        elif request.intent == "recommend":
            user = state.user_id
            personal = user is not None and self.engine.store.has_user(user)
            if personal:
                recs = self.engine.recommend_user(user, depth, flt)
            else:
                recs = self.engine.popular(depth, flt)
            recs = self._drop_excluded(recs, request)[:k]
            ids, reasons = [r.item_id for r in recs], [r.reason for r in recs]
            reply.citations += [Citation("history", b) for b in dict.fromkeys(r.because for r in recs if r.because)]
            text = answers.recommended(reply.language, self._records(ids), reasons, personal)
        else:
            ids = self._find_ids(request.query, depth, flt, state.user_id)
            records = {r.item_id: r for r in self._records(ids)}
            ids = [i for i in ids if i in records and not self._excluded(records[i], request)][:k]
            text = answers.found(reply.language, self._records(ids), self._what(request, reply))
        state.request = request
        reply.text = text
        reply.slots = request.slots()
        self._show(reply, state, self._records(ids), reasons or None)

    def _find_ids(self, query: str, depth: int, flt: SearchFilter | None, user: str | None = None) -> list[str]:
        """Item ids for a product request: the search for its words within its constraints; with no words (or
        none of them found within the constraints), the items passing the constraints, most popular first. For a
        known ``user`` the search is personalised: their affinity reorders what it finds, and ranks the
        constrained catalogue when there are no words."""
        if user is not None and self.engine.store.has_user(user):
            try:
                hits = self.engine.personal_search(query, user, depth, flt).hits
            except NoActiveModel:
                hits = []
            if hits:
                return [str(h.doc_id) for h in hits]
        if query:
            hits = self.engine.search(query, k=depth, flt=flt).hits
            if hits or flt is None:
                return [str(h.doc_id) for h in hits]
        if flt is not None:
            try:
                popular = [r.item_id for r in self.engine.popular(depth, flt)]
            except NoActiveModel:
                popular = []
            if popular:
                return popular
        return [str(h.doc_id) for h in self.engine.search("", k=depth, flt=flt).hits]

    def _what(self, request: Request, reply: Reply) -> str:
        return answers.describe_constraints(reply.language, request.query, request.equals, request.excludes,
                                            request.ranges)

    @staticmethod
    def _excluded(record: ItemRecord, request: Request) -> bool:
        for name, values in request.excludes.items():
            have = record.categorical.get(name, [])
            have = [have] if isinstance(have, str) else have
            if {v.lower() for v in have} & {v.lower() for v in values}:
                return True
        return False

    def _drop_excluded(self, recs: list[Recommendation], request: Request) -> list[Recommendation]:
        if not request.excludes:
            return recs
        records = {r.item_id: r for r in self._records([x.item_id for x in recs])}
        return [x for x in recs if x.item_id in records and not self._excluded(records[x.item_id], request)]

    def _find(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        request = Request(intent="find", query=reading.query, equals=reading.equals, excludes=reading.excludes,
                          ranges=reading.ranges)
        self._run_request(request, state, reply)

    def _recommend(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        request = Request(intent="recommend", equals=reading.equals, excludes=reading.excludes, ranges=reading.ranges)
        self._run_request(request, state, reply)

    def _similar(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        item = (reading.items or state.focus)[0]
        equals = dict(reading.equals)
        fields = self._catalogue()[1]
        genre_field = field_for("genres", list(fields.categorical))
        if genre_field is not None:
            lower = reading.text.lower()
            for word, value in MOODS.items():
                if word in lower and value in fields.categorical.get(genre_field, []):
                    equals.setdefault(genre_field, []).append(value)
        request = Request(intent="similar", item=item, equals=equals, excludes=reading.excludes,
                          ranges=reading.ranges)
        self._run_request(request, state, reply)

    def _refine(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        assert state.request is not None
        request = state.request.edited(reading, self._records(state.shown), self._catalogue()[1])
        reply.intent = request.intent
        reply.follow_up = True
        self._run_request(request, state, reply)

    def _fact(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        items = reading.items or state.focus[:1]
        if not items:
            reply.text = answers.which_item(reply.language)
            return
        record = self._records(items[:1])[0]
        state.focus = [record.item_id]
        attribute = reading.attribute or "description"
        language = reply.language
        reply.slots = {"item": record.item_id, "attribute": attribute}
        reply.citations.append(Citation("item", record.item_id, attribute))
        if attribute == "compatibility":
            target = reading.compatible_with or ""
            reply.slots["target"] = target
            reply.text = answers.compatibility(language, record, target, quote_mentioning(record, target))
            return
        values = fact_values(record, attribute)
        if values:
            reply.text = answers.fact(language, record, attribute, values)
        else:
            reply.citations[-1].field = None
            reply.text = answers.unknown_fact(language, record, attribute, known_fields(record))

    def _compare(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        ids = reading.items[:2] if len(reading.items) >= 2 else state.shown[:2]
        records = self._records(ids)
        if len(records) < 2:
            reply.text = answers.which_item(reply.language)
            return
        a, b = records
        rows = []
        for name in dict.fromkeys([*a.numeric, *b.numeric, *a.categorical, *b.categorical]):
            x, y = fact_values(a, name), fact_values(b, name)
            if x or y:
                rows.append((name, ", ".join(x[:4]) or "-", ", ".join(y[:4]) or "-"))
        graph = self.engine.knowledge_graph()
        shared = None
        if graph is not None:
            found = graph.reason(a.item_id, b.item_id)
            if found is not None and len(found["steps"]) == 3:
                shared = found["text"]
                reply.citations.append(Citation("graph", f"{a.item_id}~{b.item_id}"))
        reply.text = answers.comparison(reply.language, a, b, rows[:8], shared)
        reply.citations += [Citation("item", a.item_id), Citation("item", b.item_id)]
        reply.slots = {"items": [a.item_id, b.item_id]}
        state.focus = [a.item_id, b.item_id]

    def _faq(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        entry, similarity = self.faq.match(reading.text, reading.language)
        if entry is None or similarity < self.config.faq_threshold[reading.language]:
            nearest = None
            if entry is not None:
                wordings = entry.questions.get(reading.language) or next(iter(entry.questions.values()))
                nearest = wordings[0]
            reply.text = answers.faq_unknown(reply.language, nearest)
            return
        reply.text = entry.answer(reply.language)
        reply.citations.append(Citation("faq", entry.id))
        reply.slots = {"faq": entry.id}

    def _smalltalk(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        reply.text = answers.smalltalk(reply.language, reading.text)

    def _out_of_scope(self, reading: Reading, state: ConversationState, reply: Reply) -> None:
        reply.text = answers.OUT_OF_SCOPE[reply.language]


def fact_values(record: ItemRecord, attribute: str) -> list[str]:
    """The record's values for ``attribute`` (through its field aliases), as text."""
    available = [*record.categorical, *record.numeric, *(["description"] if record.description else [])]
    name = field_for(attribute, available)
    if name is None:
        return []
    if name == "description":
        return [record.description]
    if name in record.numeric:
        return [answers.fmt_number(record.numeric[name])]
    values = record.categorical[name]
    return [values] if isinstance(values, str) else [str(v) for v in values]


def known_fields(record: ItemRecord) -> list[str]:
    return [*record.categorical, *record.numeric, *(["description"] if record.description else [])]


def quote_mentioning(record: ItemRecord, target: str) -> str | None:
    """The sentence of the record's title or description that names ``target`` (punctuation and case aside)."""
    wanted = normalise(target)
    if not wanted:
        return None
    for sentence in re.split(r"(?<=[.!?。！？])\s+", f"{record.title}. {record.description}"):
        if f" {wanted} " in f" {normalise(sentence)} ":
            return sentence.strip()
    return None
