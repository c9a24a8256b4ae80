"""Adapting search's dense encoder to a collection: query splits, training pairs from judgements, and the adapted
encoder under a name of its own.

- :func:`split_validation`: a seeded slice of the training queries kept for validation (fusion weights, early
  stopping), so neither is chosen on the queries that train the encoder, nor on the held-out test queries;
  :func:`adaptation_splits` gives a collection's three query sets (train, validation, test).
- :func:`judgement_pairs`: ``(query text, relevant document text)`` pairs from graded judgements, the input of
  :func:`fathom.text.finetune.finetune_encoder` (contrastive training with in-batch negatives).
- :func:`set_max_seq_length` and :func:`rename_encoder`: a MiniLM encoder (frozen, or fine-tuned and loaded with
  :func:`fathom.text.finetune.load_finetuned`) cut at another number of word pieces, under a name that says so.
  The embedding cache (:class:`~fathom.text.encoders.CachedEncoder`) keys vectors by encoder name and text, so
  an encoder whose weights or truncation differ must not keep another's name, or it is served that one's vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fathom.retrieval.beir import BeirCollection, split_queries
from fathom.text.encoders import Encoder

Pair = tuple[str, str]


def split_validation(
    query_ids: Sequence[str], share: float, seed: int = 0, max_queries: int | None = None
) -> tuple[list[str], list[str]]:
    """``(train, validation)``: a seeded uniform ``share`` of ``query_ids`` (at least one, at most ``max_queries``)
    for validation, the rest for training; both keep the input order."""
    if not 0.0 < share < 1.0:
        raise ValueError(f"validation share must be in (0, 1), got {share}")
    ids = list(query_ids)
    n = max(1, round(share * len(ids)))
    if max_queries is not None:
        n = min(n, max_queries)
    picked = set(np.random.default_rng(seed).permutation(len(ids))[:n].tolist())
    return [q for i, q in enumerate(ids) if i not in picked], [q for i, q in enumerate(ids) if i in picked]


@dataclass
class AdaptationSplits:
    """Disjoint query sets (id -> text) of one collection and the judgements of all of them."""

    train: dict[str, str]
    validation: dict[str, str]
    test: dict[str, str]
    qrels: dict[str, dict[str, int]]


def adaptation_splits(
    coll: BeirCollection, validation_share: float, seed: int = 0, validation_max: int | None = None
) -> AdaptationSplits:
    """Train / validation / test queries of ``coll``. With an official training split (scifact's
    ``qrels_train.tsv``), the judged queries of ``qrels.tsv`` are the test set and the training queries are cut
    into train and validation; without one, the test set is the held-out half of
    :func:`fathom.retrieval.beir.hash_split` (as in :func:`fathom.retrieval.evaluation.evaluate_collection`) and
    the other half is cut. Training queries without a relevant judgement are left out."""
    qrels = {**coll.qrels, **coll.train_qrels}
    judged = coll.judged_queries()
    if coll.train_queries:
        test, pool = judged, {q: t for q, t in coll.train_queries.items() if q not in judged}
    else:
        test, pool = split_queries(judged, "test"), split_queries(judged, "train")
    pool = {q: t for q, t in pool.items() if any(g > 0 for g in qrels.get(q, {}).values())}
    train_ids, val_ids = split_validation(list(pool), validation_share, seed, validation_max)
    return AdaptationSplits({q: pool[q] for q in train_ids}, {q: pool[q] for q in val_ids}, test, qrels)


def judgement_pairs(
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    docs: Mapping[str, str],
    min_grade: int = 1,
    max_per_query: int | None = None,
    seed: int = 0,
) -> list[Pair]:
    """``(query text, document text)`` for every judgement of grade ``>= min_grade`` of the given ``queries`` (id ->
    text; only these are read from ``qrels``), documents looked up in ``docs`` (id -> text; missing ones skipped).
    A query with more than ``max_per_query`` such documents keeps its highest grades, ties drawn with ``seed``.
    Pairs come grouped by query, in the order of ``queries``; shuffling is the trainer's job."""
    if min_grade < 1:
        raise ValueError("min_grade must be at least 1: grade 0 means judged not relevant")
    rng = np.random.default_rng(seed)
    pairs: list[Pair] = []
    for qid, text in queries.items():
        judged = sorted((d, g) for d, g in qrels.get(qid, {}).items() if g >= min_grade and d in docs)
        if max_per_query is not None and len(judged) > max_per_query:
            tiebreak = rng.permutation(len(judged))
            order = sorted(range(len(judged)), key=lambda i: (-judged[i][1], tiebreak[i]))
            judged = [judged[i] for i in sorted(order[:max_per_query])]
        pairs.extend((text, docs[d]) for d, _ in judged)
    return pairs


def rename_encoder(encoder: Encoder, name: str) -> Encoder:
    """``encoder`` renamed in place (its query-side name too), before any cache wraps it; returns it."""
    if hasattr(encoder, "query_name"):
        suffix = encoder.query_name.removeprefix(encoder.name)  # e.g. "+int8"
        encoder.query_name = name + suffix
    encoder.name = name
    return encoder


def set_max_seq_length(encoder: Encoder, length: int) -> None:
    """Truncate a MiniLM encoder's texts at ``length`` word pieces (both its sentence-transformers pipeline and its
    direct path)."""
    model = getattr(encoder, "_model", None)
    if model is None:
        raise TypeError(f"{type(encoder).__name__} has no sentence-transformers model to set a length on")
    model.max_seq_length = length
    direct = getattr(encoder, "_direct", None)
    if direct is not None:
        direct.max_len = length
