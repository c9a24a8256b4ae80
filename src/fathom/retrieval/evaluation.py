"""Evaluate search methods on a BEIR-format collection: quality (nDCG@10, Recall@100, MRR@10) and speed.

Methods: ``bm25``, ``dense-minilm``, ``dense-e5``, ``hybrid-minilm``, ``hybrid-e5``. Every method ranks
through :func:`fathom.retrieval.hybrid.hybrid_search`, the same core as :class:`SearchIndex`. With a trained
cross-encoder (``reranker=``), ``hybrid-minilm+rerank`` / ``hybrid-e5+rerank`` rerank the top
``config.rerank.depth`` hybrid hits (same fusion weights as the plain hybrid); the reranking time per query is
reported on its own (``rerank_p50_ms``, ``rerank_p50_cpu_ms``) and is also part of the total latency.

Query splits: crowdflower has no official split, so its queries are divided by
:func:`fathom.retrieval.beir.hash_split` (sha256 of ``"fathom-search:" + query id``, first 8 bytes as an
integer / 2**64 < 0.5 -> test, else train). Its figures are on the test half; fusion weights, when tuned
(``tune_weights``), are chosen on the train half only, then applied unchanged to the test half. Other
collections are evaluated on all their judged queries; with ``tune_weights=True`` a collection with an
official training split (scifact's ``qrels_train.tsv``) has its weights tuned on those training queries.

Speed: per-query latency includes analysis, BM25 scoring, query encoding, vector search and fusion; QPS is
1 / mean latency (one query at a time). Latency is reported as wall clock and as process CPU time (all
threads), the latter being steadier when other jobs share the CPU. Indexing speed is documents per second
for BM25 (analysis + matrix) and for each encoder (measured on a fresh, uncached sample, since corpus
embeddings come from the on-disk cache when present).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from fathom.config import Config
from fathom.metrics.queries import mean_metrics
from fathom.retrieval.beir import BeirCollection, Split, doc_text, load_beir, split_queries
from fathom.retrieval.hybrid import HybridConfig, hybrid_search
from fathom.retrieval.lexical import LexicalConfig, LexicalIndex
from fathom.retrieval.rerank import CrossEncoder, CrossEncoderReranker, RerankConfig
from fathom.retrieval.vector_index import VectorIndex, build_vector_index
from fathom.text.encoders import CachedEncoder, Encoder, EncoderName, get_encoder

Method = Literal["bm25", "dense-minilm", "dense-minilm-int8", "dense-e5", "hybrid-minilm", "hybrid-minilm-int8",
                 "hybrid-e5"]
ALL_METHODS: tuple[Method, ...] = ("bm25", "dense-minilm", "dense-minilm-int8", "dense-e5", "hybrid-minilm",
                                   "hybrid-minilm-int8", "hybrid-e5")
RerankMethod = Literal["hybrid-minilm+rerank", "hybrid-e5+rerank"]
RERANK_METHODS: tuple[RerankMethod, ...] = ("hybrid-minilm+rerank", "hybrid-e5+rerank")  # need a reranker
# Collections evaluated on a held-out half of their queries, with fusion weights tuned on the other half.
HELD_OUT = {"crowdflower"}
WEIGHT_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class SearchEvalConfig(Config):
    lexical: LexicalConfig = LexicalConfig()
    hybrid: HybridConfig = HybridConfig()
    split: Split | Literal["auto"] = "auto"  # auto: test for HELD_OUT collections, else all
    # auto: tune hybrid weights on the train half of HELD_OUT collections; True also uses an official train split
    tune_weights: bool | Literal["auto"] = "auto"
    batch_size: int = 32
    max_queries: int | None = None
    speed_sample: int = 32  # documents encoded without cache to measure encoder throughput
    vector_index: Literal["exact", "hnsw"] = "exact"
    rerank: RerankConfig = RerankConfig(depth=20)  # for the +rerank methods
    # also report each +rerank method with this fused_weight, as "<method>(mix w)", from the same model scores
    rerank_mix: float | None = None


@dataclass
class MethodResult:
    collection: str
    method: str
    split: str
    n_queries: int
    ndcg10: float
    recall100: float
    mrr10: float
    qps: float
    p50_ms: float
    p99_ms: float
    p50_cpu_ms: float  # process CPU time per query (all threads): robust to other jobs sharing the CPU
    index_docs_per_s: float
    weights: dict[str, float] = field(default_factory=dict)
    rerank_p50_ms: float = 0.0  # +rerank methods: cross-encoder time per query alone (wall clock, process CPU)
    rerank_p50_cpu_ms: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _encoder_of(method: str) -> EncoderName | None:
    method = method.removesuffix("+rerank")
    return method.split("-", 1)[1] if "-" in method else None  # type: ignore[return-value]


@dataclass
class _Prepared:
    """Per-query inputs, each with the time it took: BM25 score vectors and query embeddings."""

    bm25: dict[str, tuple[np.ndarray, float, float]] = field(default_factory=dict)  # (scores, wall s, cpu s)
    vectors: dict[str, dict[str, tuple[np.ndarray, float, float]]] = field(default_factory=dict)


def _prepare(queries: dict[str, str], lexical: LexicalIndex | None, encoders: dict[str, Encoder]) -> _Prepared:
    prep = _Prepared()
    for qid, text in queries.items():
        if lexical is not None:
            t, c = time.perf_counter(), time.process_time()
            s = lexical.scores(text)
            prep.bm25[qid] = (s, time.perf_counter() - t, time.process_time() - c)
        for name, enc in encoders.items():
            t, c = time.perf_counter(), time.process_time()
            v = enc.encode([text], batch_size=1, kind="query")[0]
            prep.vectors.setdefault(name, {})[qid] = (v, time.perf_counter() - t, time.process_time() - c)
    return prep


def _run(
    method: str,
    queries: Sequence[str],
    prep: _Prepared,
    index: dict[str, VectorIndex],
    config: HybridConfig,
    weights: dict[str, float],
    doc_ids: list[str],
    reranker: CrossEncoderReranker | None = None,
    texts: dict[str, str] | None = None,
) -> tuple[dict[str, list[str]], np.ndarray]:
    """Runs of ``method`` and its (Q, 4) latencies in seconds: total wall clock and process CPU time, then the
    reranking part of each (0 without ``reranker``; ``texts``: query id -> text, needed with it)."""
    enc = _encoder_of(method)
    runs: dict[str, list[str]] = {}
    latency = np.zeros((len(queries), 4))
    for i, qid in enumerate(queries):
        spent = np.zeros(2)
        bm25 = qvec = None
        if method == "bm25" or method.startswith("hybrid"):
            bm25, *dt = prep.bm25[qid]
            spent += dt
        if enc is not None:
            qvec, *dt = prep.vectors[enc][qid]
            spent += dt
        t, c = time.perf_counter(), time.process_time()
        hits = hybrid_search(100, config, bm25, qvec, index.get(enc) if enc else None, weights=weights)
        latency[i, :2] = spent + [time.perf_counter() - t, time.process_time() - c]
        if reranker is not None and texts is not None:
            t, c = time.perf_counter(), time.process_time()
            hits = reranker.rerank(texts[qid], hits)
            latency[i, 2:] = [time.perf_counter() - t, time.process_time() - c]
            latency[i, :2] += latency[i, 2:]
        runs[qid] = [doc_ids[h.row] for h in hits]
    return runs, latency


def _method_weights(method: str, config: HybridConfig) -> dict[str, float]:
    if method == "bm25":
        return {"bm25": 1.0}
    if method.startswith("dense"):
        return {"dense": 1.0}
    return dict(config.weights)


def evaluate_collection(
    collection: BeirCollection | str,
    methods: Sequence[Method] = ALL_METHODS,
    config: SearchEvalConfig | None = None,
    encoder_factory: Callable[[EncoderName], Encoder] = get_encoder,
    progress: bool = False,
    log: Callable[[str], None] = lambda _: None,
    reranker: CrossEncoder | None = None,
) -> list[MethodResult]:
    """Evaluate ``methods`` on ``collection`` (a loaded collection or a name/folder for :func:`load_beir`);
    ``reranker`` is the cross-encoder the ``+rerank`` methods use."""
    config = config or SearchEvalConfig()
    if reranker is None and any(m.endswith("+rerank") for m in methods):
        raise ValueError(f"methods {[m for m in methods if m.endswith('+rerank')]} need a trained reranker")
    coll = load_beir(collection) if isinstance(collection, str) else collection
    held_out = coll.name in HELD_OUT
    split = ("test" if held_out else "all") if config.split == "auto" else config.split
    tune = held_out if config.tune_weights == "auto" else config.tune_weights
    judged = coll.judged_queries()
    eval_queries = split_queries(judged, split)
    if config.max_queries:
        eval_queries = dict(list(eval_queries.items())[: config.max_queries])
    train_queries: dict[str, str] = {}
    qrels = dict(coll.qrels)
    if tune and coll.train_queries:  # an official training split
        train_queries = {q: t for q, t in coll.train_queries.items() if q not in eval_queries}
        qrels.update({q: coll.train_qrels[q] for q in train_queries})
    elif tune and split == "test":
        train_queries = split_queries(judged, "train")
    doc_ids = coll.doc_ids

    lexical = None
    speed: dict[str, float] = {}
    if any(m == "bm25" or m.startswith("hybrid") for m in methods):
        t = time.perf_counter()
        lexical = LexicalIndex(config.lexical)
        lexical.add([{f: d.get(f) or "" for f in config.lexical.field_weights} for d in coll.corpus])
        lexical.rebuild()
        if config.lexical.typo_tolerance:
            lexical.typo_corrector()  # built with the index, not inside the first query's latency
        speed["bm25"] = len(doc_ids) / (time.perf_counter() - t)
        log(f"{coll.name}: BM25 indexed {len(doc_ids)} docs ({lexical.analyzer_name} analyser)")

    encoders: dict[str, Encoder] = {}
    index: dict[str, VectorIndex] = {}
    texts = [doc_text(d) for d in coll.corpus]
    for name in sorted({e for m in methods if (e := _encoder_of(m))}):
        enc = encoder_factory(name)  # type: ignore[arg-type]
        encoders[name] = enc
        vectors = enc.encode(texts, batch_size=config.batch_size, progress=progress)  # (N, d)
        index[name] = build_vector_index(vectors, kind=config.vector_index)
        raw = enc.inner if isinstance(enc, CachedEncoder) else enc
        sample = texts[: config.speed_sample]
        t = time.perf_counter()
        raw.encode(sample, batch_size=config.batch_size)
        speed[name] = len(sample) / (time.perf_counter() - t)
        log(f"{coll.name}: {enc.name} embedded {len(texts)} docs")

    prep = _prepare({**train_queries, **eval_queries}, lexical, encoders)
    results = []
    tuned: dict[str, dict[str, float]] = {}
    for method in methods:
        weights = _method_weights(method, config.hybrid)
        base = method.removesuffix("+rerank")
        if tune and method.startswith("hybrid") and train_queries:
            if base not in tuned:
                tuned[base] = tune_weights(base, list(train_queries), prep, index, config.hybrid, doc_ids, qrels)
                log(f"{coll.name}: {base} weights tuned on {len(train_queries)} train queries: {tuned[base]}")
            weights = tuned[base]
        variants: list[tuple[str, CrossEncoderReranker | None]] = [(method, None)]
        if method.endswith("+rerank"):
            cache: dict[tuple[str, int], float] = {}  # model scores shared by the variants
            variants = [(method, CrossEncoderReranker(reranker, texts, config.rerank, cache))]  # type: ignore[arg-type]
            if config.rerank_mix is not None:
                mix = config.rerank.replace(fused_weight=config.rerank_mix)
                rr_mix = CrossEncoderReranker(reranker, texts, mix, cache)  # type: ignore[arg-type]
                variants.append((f"{method}(mix {config.rerank_mix:g})", rr_mix))
        first_latency = None
        for label, rr in variants:
            runs, latency = _run(method, list(eval_queries), prep, index, config.hybrid, weights, doc_ids, rr,
                                 eval_queries)
            if first_latency is None:
                first_latency = latency
            else:  # the model scores came from the cache: report the time of scoring them
                latency = first_latency
            m = mean_metrics(runs, coll.qrels)
            enc = _encoder_of(method)
            docs_per_s = speed.get(enc, 0.0) if method.startswith("dense") else speed.get("bm25", 0.0)
            if method.startswith("hybrid"):  # both indexes are built: harmonic combination of the two rates
                docs_per_s = 1.0 / (1.0 / speed["bm25"] + 1.0 / speed[enc])
            results.append(_result(coll.name, label, split, len(eval_queries), m, latency, docs_per_s, weights, rr))
            log(f"{coll.name}: {label} nDCG@10 {m['ndcg@10']:.4f}")
    return results


def _result(
    collection: str, method: str, split: str, n: int, m: dict, latency: np.ndarray, docs_per_s: float,
    weights: dict[str, float], reranker: CrossEncoderReranker | None,
) -> MethodResult:
    """A :class:`MethodResult` from metrics ``m`` and (Q, 4) ``latency`` seconds (see :func:`_run`)."""
    def p50(col: int) -> float:
        return float(np.percentile(latency[:, col], 50) * 1e3) if len(latency) else 0.0

    return MethodResult(
        collection=collection,
        method=method,
        split=split,
        n_queries=n,
        ndcg10=m["ndcg@10"],
        recall100=m["recall@100"],
        mrr10=m["mrr@10"],
        qps=float(1.0 / latency[:, 0].mean()) if len(latency) else 0.0,
        p50_ms=p50(0),
        p99_ms=float(np.percentile(latency[:, 0], 99) * 1e3) if len(latency) else 0.0,
        p50_cpu_ms=p50(1),
        index_docs_per_s=docs_per_s,
        weights=weights,
        rerank_p50_ms=p50(2) if reranker is not None else 0.0,
        rerank_p50_cpu_ms=p50(3) if reranker is not None else 0.0,
    )


def tune_weights(
    method: str,
    queries: Sequence[str],
    prep: _Prepared,
    index: dict[str, VectorIndex],
    config: HybridConfig,
    doc_ids: list[str],
    qrels: dict[str, dict[str, int]],
    grid: Sequence[float] = WEIGHT_GRID,
) -> dict[str, float]:
    """The BM25 weight ``w`` of ``grid`` (dense gets ``1 - w``) with the best mean nDCG@10 on ``queries``."""
    best: tuple[float, float] | None = None
    for w in grid:
        weights = {"bm25": w, "dense": 1.0 - w}
        runs, _ = _run(method, queries, prep, index, config, weights, doc_ids)
        score = mean_metrics(runs, qrels)["ndcg@10"]
        if best is None or score > best[0] + 1e-12:
            best = (score, w)
    assert best is not None
    return {"bm25": best[1], "dense": round(1.0 - best[1], 6)}


def results_table(results: Sequence[MethodResult]) -> str:
    """Markdown table of results (with rerank-latency columns when a row was reranked)."""
    reranked = any(r.rerank_p50_ms > 0 for r in results)
    head = (
        "| collection | method | split | queries | nDCG@10 | R@100 | MRR@10 | QPS | p50 ms | p99 ms | p50 CPU ms "
        "| index docs/s |" + (" rerank p50 ms | rerank p50 CPU ms |" if reranked else "")
    )
    lines = [head, "|" + "---|" * (14 if reranked else 12)]
    for r in results:
        extra = ""
        if reranked:
            extra = f" {r.rerank_p50_ms:.1f} | {r.rerank_p50_cpu_ms:.1f} |" if r.rerank_p50_ms > 0 else " - | - |"
        lines.append(
            f"| {r.collection} | {r.method} | {r.split} | {r.n_queries} | {r.ndcg10:.4f} | {r.recall100:.4f} | "
            f"{r.mrr10:.4f} | {r.qps:.0f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.p50_cpu_ms:.1f} | "
            f"{r.index_docs_per_s:.0f} |{extra}"
        )
    return "\n".join(lines)
