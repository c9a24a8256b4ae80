"""Vector search as the catalogue grows: exact search against faiss HNSW on synthetic embeddings, 10x steps up to
one million vectors.

    .venv/bin/python benchmarks/ann_scale.py [--sizes 10000 100000 1000000] [--queries 200]

The corpus is shaped like sentence embeddings: 384-d unit vectors around 2,000 topic centres (a vector is its
topic's centre plus Gaussian noise of the same norm, normalised), topics drawn with power-law sizes (Zipf 1.1) as
popular subjects are; queries are fresh draws from the same topics. For each size: the build time and the
process's peak resident memory after it, the recall@10 of HNSW against exact search over the same rows, and the
latency of one query (k = 10; p50 and p99 over the queries, one thread, as a worker serves), at several efSearch
(the service uses 128). Index settings are those :func:`fathom.retrieval.vector_index.build_vector_index` uses
above its exact limit (M 32), with efConstruction lowered to 64 for the million-vector build to fit this machine
(the column says which).
Writes ``benchmarks/results/ann_scale.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from fathom.evaluate.report import markdown_table
from fathom.retrieval.vector_index import ExactIndex, HNSWIndex

OUT = Path(__file__).resolve().parent / "results"
DIM, TOPICS = 384, 2000
EF_SEARCH = (64, 128, 256, 512)  # the service's setting is 128


def corpus(n: int, rng: np.random.Generator, centres: np.ndarray, weights: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        topic = rng.choice(len(centres), size=m, p=weights)
        x = centres[topic] + rng.standard_normal((m, DIM), dtype=np.float32) / np.sqrt(DIM)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(2)  # the build uses both cores
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((TOPICS, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, TOPICS + 1) ** 1.1
    weights /= weights.sum()
    queries = corpus(args.queries, rng, centres, weights)
    rows = []
    for n in args.sizes:
        vectors = corpus(n, rng, centres, weights)
        ef_construction = 200 if n < 1_000_000 else 64
        started = time.perf_counter()
        hnsw = HNSWIndex(DIM, m=32, ef_construction=ef_construction, ef_search=128)
        hnsw.add(vectors)
        build_s = time.perf_counter() - started
        memory = peak_mb()
        exact = ExactIndex(DIM)
        exact.vectors = hnsw.vectors  # the same rows, no copy
        faiss.omp_set_num_threads(1)
        exact_rows, exact_ms = [], []
        for q in queries:
            t = time.perf_counter()
            found, _ = exact.search(q, 10)
            exact_ms.append((time.perf_counter() - t) * 1000)
            exact_rows.append(set(found.tolist()))
        for ef_search in EF_SEARCH:
            hnsw.ef_search = ef_search
            hnsw_ms, recalls = [], []
            for q, truth in zip(queries, exact_rows, strict=True):
                t = time.perf_counter()
                found, _ = hnsw.search(q, 10)
                hnsw_ms.append((time.perf_counter() - t) * 1000)
                recalls.append(len(truth & set(found.tolist())) / 10)
            row = {"vectors": n, "efConstruction": ef_construction, "efSearch": ef_search,
                   "HNSW build s": round(build_s, 1), "peak MB": round(memory),
                   "recall@10": round(float(np.mean(recalls)), 4),
                   "HNSW ms p50": round(float(np.percentile(hnsw_ms, 50)), 3),
                   "HNSW ms p99": round(float(np.percentile(hnsw_ms, 99)), 3),
                   "exact ms p50": round(float(np.percentile(exact_ms, 50)), 2),
                   "exact ms p99": round(float(np.percentile(exact_ms, 99)), 2)}
            print(json.dumps(row), flush=True)
            rows.append(row)
        faiss.omp_set_num_threads(2)
        del hnsw, exact, vectors
    OUT.mkdir(exist_ok=True)
    (OUT / "ann_scale.json").write_text(json.dumps({"rows": rows, "dim": DIM, "topics": TOPICS,
                                                   "queries": args.queries}, indent=2) + "\n")
    text = ("# Vector search as the catalogue grows (synthetic 384-d embeddings)\n\n"
            "Written by `benchmarks/ann_scale.py` (corpus and settings in its docstring). One query at a time on "
            "one thread; build on two threads; peak MB is the process's peak resident memory so far.\n\n"
            + markdown_table(rows) + "\n")
    (OUT / "ann_scale.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
