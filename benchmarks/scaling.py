"""How cost grows: time and peak memory of each model family's fit, of full-ranking evaluation, of a recommendation,
of building the search index and of a search query, as users, items and events grow in 10x steps.

    nice -n 19 .venv/bin/python benchmarks/scaling.py                 # sizes S1-S3, ~30 min on 2 cores
    .venv/bin/python benchmarks/scaling.py --sizes S1 --models pop,bpr   # a quick look

Synthetic logs shaped like real ones: item popularity follows a power law (Zipf exponent 1.0 over the items,
shuffled), user activity a log-normal with a floor of 5 events (a long tail of light users, a few heavy ones),
events in time order; a (user, item) pair repeated collapses to one interaction. Each user's last interaction is
held out as the test item, the rest trains. Sizes: S1 2k users / 1k items / 50k events, S2 20k / 10k / 500k, S3
200k / 100k / 5M.

Every measurement runs in a process of its own (peak memory = that process's maximum resident set, data included):
a model's fit is one epoch for the neural models (cost per epoch; epochs to converge differ by data, not by
size), the whole fit for the others; evaluation ranks every item for each evaluated test user (at most 20,000
users: the column says how many, the rate is per 1,000 users), training items excluded; a recommendation is one
user's scores over all items and the top 10, median over 200 users. Search: the catalogue index (BM25 over
synthetic titles + 384-d vectors, exact up to 50k items, HNSW above, as the service builds it) and one hybrid
query with its vector given. A step that would need more memory than this machine has (a dense items x items
matrix) is not run, and the table says why. Writes benchmarks/results/scaling/scaling.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "results" / "scaling"
SIZES = {"S1": (2_000, 1_000, 50_000), "S2": (20_000, 10_000, 500_000), "S3": (200_000, 100_000, 5_000_000)}
FAMILIES = {"pop": "popularity", "itemknn": "neighbourhood", "ease": "linear autoencoder", "bpr": "factorisation",
            "neumf": "neural CF", "lightgcn": "graph", "multvae": "variational autoencoder", "sasrec": "sequence"}
NEURAL = {"bpr", "neumf", "lightgcn", "multvae", "sasrec"}
DENSE_ITEMS = {"itemknn": 4, "ease": 24}  # bytes per items x items entry the fit holds at its peak (about)
EVAL_USERS = 20_000
MEMORY_GB = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9


def synthetic(size: str, seed: int = 0) -> tuple[Any, Any]:
    """(train, test) Interactions of size ``size``."""
    from fathom.data.interactions import Interactions

    n_users, n_items, n_events = SIZES[size]
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity = rng.permutation(popularity / popularity.sum())
    activity = np.maximum(5, rng.lognormal(mean=2.5, sigma=1.1, size=n_users))
    counts = np.maximum(5, np.round(activity * n_events / activity.sum())).astype(np.int64)
    user = np.repeat(np.arange(n_users), counts)
    item = rng.choice(n_items, size=len(user), p=popularity)
    ts = rng.permutation(len(user))  # interleaved over time
    order = np.lexsort((ts, user))
    user, item, ts = user[order], item[order], ts[order].astype(np.int64)
    _, first = np.unique(np.stack([user, item], axis=1), axis=0, return_index=True)  # one interaction per pair
    keep = np.sort(first)
    user, item, ts = user[keep], item[keep], ts[keep]
    last = np.r_[user[1:] != user[:-1], True]  # each user's last interaction is the test item
    train = Interactions.from_arrays(user[~last], item[~last], n_users, n_items, timestamp=ts[~last])
    test = Interactions.from_arrays(user[last], item[last], n_users, n_items, timestamp=ts[last])
    return train, test


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_model(size: str, model: str) -> dict[str, Any]:
    from fathom.metrics.evaluator import Evaluator
    from fathom.models.registry import get_model_class

    train, test = synthetic(size)
    cls = get_model_class(model)
    settings = {"epochs": 1, "patience": None, "progress": False} if model in NEURAL else {}
    start = time.perf_counter()
    fitted = cls(**settings).fit(train)
    fit_s = time.perf_counter() - start
    fit_mb = peak_mb()
    users = np.unique(test.user)
    users = np.sort(np.random.default_rng(1).choice(users, min(len(users), EVAL_USERS), replace=False))
    evaluator = Evaluator(test, exclude=(train,), ks=(10,), users=users)
    start = time.perf_counter()
    ndcg = evaluator(fitted)["ndcg@10"]
    eval_s = time.perf_counter() - start
    one = []
    for u in users[:200]:
        start = time.perf_counter()
        fitted.recommend(np.array([u]), k=10)
        one.append(time.perf_counter() - start)
    return {"fit_s": fit_s, "fit_peak_mb": fit_mb, "eval_users": len(users), "eval_s": eval_s,
            "eval_s_per_1k_users": eval_s / len(users) * 1000, "ndcg@10": ndcg,
            "recommend_ms": float(np.median(one) * 1000), "peak_mb": peak_mb(), "train_interactions": len(train)}


def measure_search(size: str) -> dict[str, Any]:
    from fathom.retrieval.search_index import SearchIndex, SearchIndexConfig
    from fathom.text.encoders import Encoder

    class Given(Encoder):
        """The vectors are given (synthetic): nothing is encoded."""

        name, dim = "given", 384

        def _encode_batch(self, texts, kind):  # noqa: ANN001, ANN202
            raise AssertionError("the benchmark gives every vector")

    n_items = SIZES[size][1]
    rng = np.random.default_rng(2)
    vocabulary = np.array([f"w{n}" for n in range(20_000)])
    zipf = 1.0 / np.arange(1, len(vocabulary) + 1)
    zipf /= zipf.sum()
    lengths = rng.integers(3, 9, size=n_items)
    words = vocabulary[rng.choice(len(vocabulary), size=int(lengths.sum()), p=zipf)]
    cuts = np.cumsum(lengths)[:-1]
    titles = [" ".join(t) for t in np.split(words, cuts)]
    categories = rng.choice(50, size=n_items, p=(w := 1.0 / np.arange(1, 51)) / w.sum())
    centres = rng.standard_normal((200, 384)).astype(np.float32)
    vectors = centres[rng.integers(0, 200, n_items)] + rng.standard_normal((n_items, 384)).astype(np.float32) * 0.05
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    docs = [{"id": f"i{n}", "fields": {"title": t}, "categorical": {"category": f"c{c}"}}
            for n, (t, c) in enumerate(zip(titles, categories, strict=True))]
    index = SearchIndex(SearchIndexConfig(), encoder=Given())
    start = time.perf_counter()
    index.add(docs, vectors=vectors)
    build_s = time.perf_counter() - start
    build_mb = peak_mb()
    latencies = []
    for n in range(200):
        query = " ".join(rng.choice(titles[n].split(), size=2))
        qv = vectors[n] + rng.standard_normal(384).astype(np.float32) * 0.05
        start = time.perf_counter()
        index.search(query, k=10, query_vector=qv / np.linalg.norm(qv))
        latencies.append(time.perf_counter() - start)
    lat = np.array(latencies) * 1000
    return {"items": n_items, "build_s": build_s, "build_peak_mb": build_mb, "vector_index": type(index.vectors)
            .__name__, "query_p50_ms": float(np.percentile(lat, 50)), "query_p99_ms": float(np.percentile(lat, 99)),
            "peak_mb": peak_mb()}


def skip_reason(size: str, model: str) -> str | None:
    n_items = SIZES[size][1]
    if model in DENSE_ITEMS:
        need = n_items**2 * DENSE_ITEMS[model] / 1e9
        if need > MEMORY_GB / 2:
            return f"not run: its items x items matrices need about {need:,.0f} GB ({MEMORY_GB:.0f} GB here)"
    return None


def run_one(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``job`` in a process of its own; its result, or why there is none."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--one", json.dumps(job)], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"did not finish in {timeout / 60:.0f} min"}
    if proc.returncode != 0:
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit code {proc.returncode}"
        return {"skipped": f"failed: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _num(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}" if value < 100 else f"{value:,.0f}"


def render(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = ["# How cost grows with users, items and events", "",
             f"`{meta['command']}` on {meta['date']}"
             + (" (rows of " + ", ".join(f"`{c}`" for c in meta["merged"]) + " merged in)" if "merged" in meta
                else "")
             + f"; {meta['machine']}. Synthetic logs with power-law popularity "
             "(see the script's docstring); each measurement in a fresh process. Neural models: one epoch (cost per "
             "epoch); others: the whole fit. Evaluation: full ranking of every item for each evaluated user.", "",
             "| size | users | items | train interactions |", "|---|---|---|---|"]
    for size, (users, items, _) in SIZES.items():
        if size in result["data"]:
            lines.append(f"| {size} | {users:,} | {items:,} | {result['data'][size]:,} |")
    lines += ["", "## Models", "", "| model (family) | size | fit s | fit peak MB | evaluated users | eval s | "
              "eval s / 1k users | recommend ms (one user) | NDCG@10 |", "|---|---|---|---|---|---|---|---|---|"]
    for row in result["models"]:
        name = f"{row['model']} ({FAMILIES[row['model']]})"
        if "skipped" in row:
            lines.append(f"| {name} | {row['size']} | {row['skipped']} | | | | | | |")
            continue
        lines.append(f"| {name} | {row['size']} | {_num(row['fit_s'], 2)} | {row['fit_peak_mb']:,.0f} | "
                     f"{row['eval_users']:,} | {_num(row['eval_s'], 2)} | {_num(row['eval_s_per_1k_users'], 3)} | "
                     f"{_num(row['recommend_ms'], 2)} | {row['ndcg@10']:.4f} |")
    lines += ["", "## Search index", "", "| size | items | vector index | build s | build peak MB | query p50 ms | "
              "query p99 ms |", "|---|---|---|---|---|---|---|"]
    for row in result["search"]:
        if "skipped" in row:
            lines.append(f"| {row['size']} | | {row['skipped']} | | | | |")
            continue
        lines.append(f"| {row['size']} | {row['items']:,} | {row['vector_index']} | {_num(row['build_s'], 2)} | "
                     f"{row['build_peak_mb']:,.0f} | {_num(row['query_p50_ms'], 2)} | {_num(row['query_p99_ms'], 2)} |")
    lines += ["", "Read with docs/scaling.md (which model and store at which size). NDCG@10 on random synthetic "
              "logs says only that a model learnt the popularity skew; it is not a quality comparison."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--models", default=",".join(FAMILIES))
    parser.add_argument("--timeout-min", type=float, default=15.0, help="most minutes one measurement may take")
    parser.add_argument("--parts", default="models,search", help="models, search or both")
    parser.add_argument("--merge", action="store_true", help="replace these rows in the committed results, keep "
                                                              "the others")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        job = json.loads(args.one)
        out = measure_search(job["size"]) if job["kind"] == "search" else measure_model(job["size"], job["model"])
        print(json.dumps(out))
        return 0
    models, data, search = [], {}, []
    for size in args.sizes:
        train, _ = synthetic(size)
        data[size] = len(train)
        print(f"{size}: {SIZES[size][0]:,} users, {SIZES[size][1]:,} items, {len(train):,} train interactions",
              flush=True)
        for model in args.models.split(",") if "models" in args.parts else []:
            reason = skip_reason(size, model)
            row = {"skipped": reason} if reason else run_one({"kind": "model", "size": size, "model": model},
                                                              args.timeout_min * 60)
            models.append({"model": model, "size": size, **row})
            shown = row.get("skipped") or (f"fit {row['fit_s']:.2f} s ({row['fit_peak_mb']:,.0f} MB), eval "
                                           f"{row['eval_s']:.2f} s, recommend {row['recommend_ms']:.2f} ms")
            print(f"  {model:<9} {shown}", flush=True)
        if "search" not in args.parts:
            continue
        row = run_one({"kind": "search", "size": size}, args.timeout_min * 60)
        search.append({"size": size, **row})
        shown = row.get("skipped") or f"build {row['build_s']:.2f} s, query p50 {row['query_p50_ms']:.2f} ms"
        print(f"  search    {shown}", flush=True)
    meta = {"command": "python benchmarks/scaling.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
            "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"{MEMORY_GB:.0f} GB, Python {platform.python_version()}"}
    result = {"meta": meta, "data": data, "models": models, "search": search}
    if args.merge and (args.out / "scaling.json").exists():
        old = json.loads((args.out / "scaling.json").read_text())
        new_models = {(r["model"], r["size"]) for r in models}
        new_search = {r["size"] for r in search}
        merged = [*old["meta"].get("merged", []), meta["command"]]
        result = {"meta": {**old["meta"], "merged": merged}, "data": {**old["data"], **data},
                  "models": [r for r in old["models"] if (r["model"], r["size"]) not in new_models] + models,
                  "search": [r for r in old["search"] if r["size"] not in new_search] + search}
        order = list(SIZES)
        result["models"].sort(key=lambda r: (order.index(r["size"]), list(FAMILIES).index(r["model"])))
        result["search"].sort(key=lambda r: order.index(r["size"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(result, indent=1))
    (args.out / "scaling.md").write_text(render(result))
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
