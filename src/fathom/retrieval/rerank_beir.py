"""Training a cross-encoder reranker on a BEIR-format collection's training queries.

Which queries train: a collection's official training split when it has one (scifact's ``qrels_train.tsv``,
none of which are test queries), else, for the collections evaluated on a held-out half
(:data:`fathom.retrieval.evaluation.HELD_OUT`, i.e. crowdflower), the ``train`` half of
:func:`fathom.retrieval.beir.hash_split` — the same split the evaluation uses, so test queries are never seen.
Other collections have no training queries and raise an error.

Hard negatives come from the first stage the reranker will sit on: BM25 + MiniLM hybrid (convex fusion) over
the whole corpus, or BM25 alone (``first_stage="bm25"``, no encoder needed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from fathom.config import Config
from fathom.retrieval.beir import BeirCollection, doc_text, load_beir, split_queries
from fathom.retrieval.hybrid import HybridConfig, hybrid_search
from fathom.retrieval.lexical import LexicalConfig, LexicalIndex
from fathom.retrieval.rerank import CrossEncoder, CrossEncoderConfig
from fathom.retrieval.rerank_train import RerankTrainConfig, TrainReport, save_trained, train_cross_encoder
from fathom.retrieval.vector_index import build_vector_index
from fathom.text.encoders import Encoder, get_encoder


class RerankBeirConfig(Config):
    """Everything needed to reproduce a trained reranker (a JSON file in benchmarks/configs/)."""

    collection: str
    model: CrossEncoderConfig = CrossEncoderConfig()
    train: RerankTrainConfig = RerankTrainConfig()
    first_stage: Literal["hybrid-minilm", "bm25"] = "hybrid-minilm"
    hybrid: HybridConfig = HybridConfig()
    lexical: LexicalConfig = LexicalConfig()
    max_train_queries: int | None = None


def training_queries(coll: BeirCollection) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """(queries, qrels) a reranker of ``coll`` may train on; never one of its evaluation queries."""
    from fathom.retrieval.evaluation import HELD_OUT

    if coll.train_queries:
        return dict(coll.train_queries), {q: dict(coll.train_qrels[q]) for q in coll.train_queries}
    if coll.name in HELD_OUT:
        queries = split_queries(coll.judged_queries(), "train")
        return queries, {q: dict(coll.qrels[q]) for q in queries}
    raise ValueError(f"{coll.name} has no training queries (no qrels_train.tsv, not a held-out collection)")


def first_stage_candidates(
    coll: BeirCollection,
    queries: Mapping[str, str],
    depth: int,
    first_stage: str = "hybrid-minilm",
    hybrid: HybridConfig | None = None,
    lexical_config: LexicalConfig | None = None,
    encoder: Encoder | None = None,
) -> dict[str, list[str]]:
    """Top ``depth`` doc ids per query from BM25 or the BM25 + dense hybrid."""
    lexical_config = lexical_config or LexicalConfig()
    lexical = LexicalIndex(lexical_config)
    lexical.add([{f: d.get(f) or "" for f in lexical_config.field_weights} for d in coll.corpus])
    lexical.rebuild()
    hybrid = (hybrid or HybridConfig()).replace(candidates=max(depth, (hybrid or HybridConfig()).candidates))
    index = enc = None
    weights = {"bm25": 1.0}
    if first_stage != "bm25":
        enc = encoder or get_encoder("minilm")
        index = build_vector_index(enc.encode([doc_text(d) for d in coll.corpus], batch_size=32), kind="exact")
        weights = dict(hybrid.weights)
    ids = coll.doc_ids
    out = {}
    for qid, text in queries.items():
        qvec = enc.encode_query(text) if enc is not None else None
        hits = hybrid_search(depth, hybrid, lexical.scores(text), qvec, index, weights=weights)
        out[qid] = [ids[h.row] for h in hits]
    return out


def train_for_collection(
    config: RerankBeirConfig,
    out: str | Path | None = None,
    model: CrossEncoder | None = None,
    encoder: Encoder | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[CrossEncoder, TrainReport]:
    """Mine candidates, fine-tune (``model``, default MiniLM + fresh head) and save to ``out`` when given."""
    coll = load_beir(config.collection)
    queries, qrels = training_queries(coll)
    if config.max_train_queries:
        queries = dict(list(queries.items())[: config.max_train_queries])
    log(f"{coll.name}: {len(queries)} training queries; mining {config.first_stage} top {config.train.depth}")
    candidates = first_stage_candidates(coll, queries, config.train.depth, config.first_stage, config.hybrid,
                                        config.lexical, encoder)
    model = model or CrossEncoder.from_minilm(config.model, seed=config.train.seed)
    documents = {str(d["_id"]): doc_text(d) for d in coll.corpus}
    report = train_cross_encoder(model, queries, qrels, candidates, documents, config.train, progress, log)
    if out is not None:
        save_trained(model, out, config.train, report,
                     {"collection": coll.name, "train_queries": len(queries), "beir": config.to_dict()})
        log(f"saved reranker to {out}")
    return model, report
