"""Item text vectors in the service: what a text-aware model is trained with, and how a new item joins it.

A text-aware model (``reads_item_text``) trained by the service gets the vectors of its items' catalogue text:
each :class:`~fathom.online.records.ItemRecord` is rendered as ``title: ...; <attribute>: ...; description: ...``
(categorical attributes in name order, then numeric ones) and encoded by the encoder named in
:data:`ITEM_TEXT_ENCODER` (cached on disk; the name is kept in the model's ``meta["item_text"]``). Items in the
events but not in the catalogue get a zero vector.

When the catalogue holds items the served version was not trained on (added with ``PUT /items`` after it was
trained), :func:`grow_bundle` gives a copy of the bundle with those items appended to the model through
``Recommender.add_items`` (their text vectors) and to its item vocabulary: they are recommended at once, scored
by the model itself. Models that do not read text keep borrowing their neighbours' scores
(:mod:`fathom.online.cold`).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from fathom.data.vocab import Vocabulary
from fathom.models.base import Recommender
from fathom.online.records import ItemRecord
from fathom.online.store import Store
from fathom.online.versions import ModelBundle
from fathom.text.encoders import Encoder, EncoderName, get_encoder
from fathom.text.item_text import TextTemplate

ITEM_TEXT_ENCODER: EncoderName = "minilm"
_ENCODERS: dict[str, Encoder] = {}
_ENCODERS_LOCK = threading.Lock()


def item_text_encoder(name: EncoderName = ITEM_TEXT_ENCODER) -> Encoder:
    """The process's (cached) encoder called ``name``, loaded on first use."""
    with _ENCODERS_LOCK:
        if name not in _ENCODERS:
            _ENCODERS[name] = get_encoder(name)
        return _ENCODERS[name]


def record_text(record: ItemRecord, template: TextTemplate | None = None) -> str:
    """An item's text through ``template`` (the one the model was trained with, e.g. by ``fathom train``), else
    title, categorical attributes (by name), numeric attributes, description."""
    row: dict[str, Any] = {"title": record.title, **record.categorical, **record.numeric,
                           "description": record.description}
    if template is None:
        fields = ("title", *sorted(record.categorical), *sorted(record.numeric), "description")
        template = TextTemplate(fields=tuple(dict.fromkeys(fields)), max_chars={"description": 400})
    return template.render(row)


def catalogue_vectors(store: Store, item_ids: Sequence[str], encoder: Encoder,
                      template: TextTemplate | None = None) -> np.ndarray:
    """(len(item_ids), d) float32 text vectors of the catalogue items (zero rows for ids without a record)."""
    records = store.get_items(item_ids)
    texts = [record_text(records[i], template) if i in records else "" for i in item_ids]
    out = np.zeros((len(item_ids), encoder.dim), np.float32)
    filled = [j for j, t in enumerate(texts) if t]
    if filled:
        out[filled] = encoder.encode([texts[j] for j in filled], kind="passage")
    return out


def fit_arguments(model_cls: type[Recommender], store: Store, items: Vocabulary,
                  encoder_name: EncoderName = ITEM_TEXT_ENCODER) -> dict[str, Any]:
    """Extra ``fit`` arguments for ``model_cls``: the item text vectors when it reads text, else nothing."""
    if not model_cls.reads_item_text:
        return {}
    return {"item_vectors": catalogue_vectors(store, list(items.ids), item_text_encoder(encoder_name))}


def note_encoder(model: Recommender, encoder_name: EncoderName = ITEM_TEXT_ENCODER) -> Recommender:
    """Record in the model's metadata which encoder made its item vectors (new items must use the same)."""
    if model.reads_item_text:
        model.meta["item_text"] = {"encoder": encoder_name}
    return model


def grow_bundle(bundle: ModelBundle, store: Store, catalogue_ids: Sequence[str]) -> ModelBundle | None:
    """A copy of ``bundle`` whose model also scores the ``catalogue_ids`` it does not know, from their text;
    None when the model does not read text or knows them all. ``bundle`` itself is left as it is."""
    model = bundle.model
    new_ids = [i for i in catalogue_ids if i not in bundle.items]
    if not model.reads_item_text or not new_ids:
        return None
    noted = model.meta.get("item_text", {})
    template = TextTemplate.from_dict(noted["template"]) if "template" in noted else None
    vectors = catalogue_vectors(store, new_ids, item_text_encoder(noted.get("encoder", ITEM_TEXT_ENCODER)), template)
    grown = copy.deepcopy(model)
    grown.add_items(vectors)
    items = Vocabulary(list(bundle.items.ids) + new_ids)
    return ModelBundle(grown, bundle.users, items, bundle.version)
