"""Cold items through the service: borrowing neighbours' scores against a text-aware model's own scores.

The cold-item protocol of ``fathom.benchmarks.text_data`` (a seeded 20% of the items held out of training
entirely) run through the service's engine: the whole catalogue is upserted into a store, the training and
validation events (no cold item among them) are ingested, a model version is trained on them with
``train_version`` (the service's own training path) and each user's test item is ranked by
``Engine.recommend_user`` (the code behind ``GET /recommend/{user}``: the user's stored items excluded, the cold
items scored however the model serves them). An ID-only model reaches a cold item only by borrowing the scores of
the known items its text matches in the search index (``fathom.online.cold``); a text-aware model scores it itself
after the served model grows by its text vector (``fathom.online.item_text``). The committed table also has a
row of TextEASE borrowing neighbours' scores instead (measured with an engine option since removed, as it did
worse on cold items: NDCG@10 .0193 against .0337).

    .venv/bin/python benchmarks/cold_service.py --models ease sasrec textease textsasrec

NDCG@10 of cold test cases and of warm ones; writes ``benchmarks/results/text-rec/cold_service.md`` / ``.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from fathom.benchmarks.text_data import cold_item_split, load_text_data
from fathom.models.registry import get_model_class
from fathom.online.engine import Engine, EngineConfig
from fathom.online.errors import NotFound
from fathom.online.records import EventRecord, ItemRecord
from fathom.online.store import Store
from fathom.online.versions import train_version

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "text-rec"


def item_record(item_id: str, row: dict[str, Any]) -> ItemRecord:
    categories = [c.strip() for c in str(row.get("categories") or "").split(",") if c.strip()]
    categorical = {"brand": [str(row["brand"])[:1000]]} if row.get("brand") else {}
    if categories:
        categorical["category"] = [categories[-1][:1000]]
    return ItemRecord(item_id=item_id, title=str(row.get("title") or item_id), categorical=categorical,
                      description=str(row.get("description") or row.get("plot") or ""))


def build_store(folder: Path, data: Any, parts: tuple[Any, ...]) -> None:
    store = Store(folder)
    try:
        store.upsert_items(item_record(str(data.item_ids[i]), row) for i, row in enumerate(data.items))
        events = [EventRecord(user_id=str(data.user_ids[u]), item_id=str(data.item_ids[i]),
                              timestamp=1_000_000 + int(t))
                  for part in parts for u, i, t in zip(part.user, part.item, part.timestamp, strict=True)]
        for start in range(0, len(events), 5000):
            store.add_events(events[start : start + 5000])
    finally:
        store.close()


def settings_for(data: str, model: str) -> dict[str, Any]:
    names = {"textsasrec": "textsasrec_text"}
    path = HERE / "configs" / "text" / f"{data}_{names.get(model, model)}.json"
    settings = json.loads(path.read_text()) if path.is_file() else {}
    return {**settings, "progress": False} if "epochs" in settings or model in ("sasrec", "textsasrec",
                                                                               "twotower") else settings


def measure(folder: Path, data: Any, test: Any, cold_items: np.ndarray, encoder: str | None) -> dict[str, float]:
    engine = Engine.open(folder, EngineConfig(encoder=encoder))
    gains: dict[str, list[float]] = {"cold": [], "warm": []}
    cold = set(cold_items.tolist())
    unknown = 0
    try:
        for u, i in tqdm(list(zip(test.user, test.item, strict=True)), desc="recommend", unit="user"):
            try:
                recs = engine.recommend_user(str(data.user_ids[u]), k=10)
            except NotFound:  # every earlier item of theirs is cold: the store has no event of theirs
                recs, unknown = [], unknown + 1
            ids = [r.item_id for r in recs]
            target = str(data.item_ids[i])
            gain = 1.0 / np.log2(ids.index(target) + 2) if target in ids else 0.0
            gains["cold" if int(i) in cold else "warm"].append(gain)
        served = len(engine.bundle.items) if engine.bundle is not None else 0
    finally:
        engine.close()
    return {"cold ndcg@10": float(np.mean(gains["cold"])), "warm ndcg@10": float(np.mean(gains["warm"])),
            "cold cases": len(gains["cold"]), "warm cases": len(gains["warm"]), "items served by the model": served,
            "users without events (counted as misses)": unknown}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="amazon_scientific")
    parser.add_argument("--models", nargs="+", default=["ease", "textease"])
    parser.add_argument("--encoder", default="minilm", help="the search index's dense encoder (none: BM25 only)")
    args = parser.parse_args(argv)
    encoder = None if args.encoder == "none" else args.encoder
    data = load_text_data(args.data)
    split = cold_item_split(data.inter, 0.2, seed=0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        build_store(base, data, (split.train, split.valid))
        for model in args.models:
            folder = Path(tmp) / model
            shutil.copytree(base, folder)
            store = Store(folder)
            start = time.perf_counter()
            try:
                train_version(store, model, settings_for(args.data, model), activate=True, evaluate=False,
                              log=print)
            finally:
                store.close()
            seconds = time.perf_counter() - start
            way = "model" if get_model_class(model).reads_item_text else "neighbours"
            row = {"model": model, "new items": way, "train_s": round(seconds, 1),
                   **measure(folder, data, split.test, split.cold_items, encoder)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cold_service.json").write_text(json.dumps({"data": args.data, "index_encoder": args.encoder,
                                                      "rows": rows}, indent=2) + "\n")
    lines = ["| model | cold items scored by | cold NDCG@10 | warm NDCG@10 | cold cases | warm cases | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        how = "the model (text vectors)" if r["new items"] == "model" else "borrowed neighbour scores"
        lines.append(f"| {r['model']} | {how} | {r['cold ndcg@10']:.4f} | {r['warm ndcg@10']:.4f} | "
                     f"{r['cold cases']} | {r['warm cases']} | {r['train_s']} |")
    (OUT / "cold_service.md").write_text(
        f"# Cold items through the service ({args.data}, search index encoder: {args.encoder})\n\nWritten by "
        "`benchmarks/cold_service.py`; protocol in its docstring.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
