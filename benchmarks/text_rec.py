"""Text-aware recommenders against ID-only ones, warm and cold, on data with item text. One command:

    .venv/bin/python benchmarks/text_rec.py                                  # both data sets, every model
    .venv/bin/python benchmarks/text_rec.py --data amazon_scientific --models SASRec TextSASRec-text
    .venv/bin/python benchmarks/text_rec.py --encoder lora=runs/encoders/amazon_scientific-lora

Protocols (``fathom.benchmarks.text_data``): leave-one-out by time or position (last item test, the one before
validation, the rest train), full ranking over every item, nothing excluded (repeats allowed, as RecBole's
sequential protocol, so the RecBole peers of ``benchmarks/peers/recbole_text.py`` compare on the same split); and
the cold-item protocol (a seeded 20% of the items held out of training and validation entirely; test cases with a
cold item and with a warm item reported apart). Each model's settings come from
``benchmarks/configs/text/<data>_<label>.json`` (chosen on validation by ``benchmarks/text_seq_tune.py`` and
``benchmarks/text_general_tune.py``), else the model's defaults. Sequence models rank the test item after their
history with the validation item appended; the others score it from the train + validation history through
``score_history`` (exact fold-in for the linear models).

``--encoder NAME=FOLDER`` adds rows for the text models over item vectors from an adapted encoder (a folder
written by ``fathom.text.finetune``). Writes ``benchmarks/results/text-rec/<data>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fathom.benchmarks.sequential import for_test
from fathom.benchmarks.text_data import (
    TEXT_DATASETS,
    HistoryScorer,
    cold_item_split,
    history_buckets,
    load_text_data,
    loo_split,
)
from fathom.data.interactions import Interactions
from fathom.metrics.evaluator import Evaluator
from fathom.models.registry import get_model_class
from fathom.text.encoders import get_encoder
from fathom.text.item_text import encode_items

HERE = Path(__file__).resolve().parent
CONFIGS = HERE / "configs" / "text"
OUT = HERE / "results" / "text-rec"
METRICS = ("ndcg", "recall")


@dataclass(frozen=True)
class Spec:
    label: str
    model: str
    config: str | None = None  # file stem suffix under configs/text: <data>_<config>.json


SPECS = [
    Spec("Pop", "pop"),
    Spec("EASE", "ease", "ease"),
    Spec("TextMean", "textmean", "textmean"),
    Spec("SASRec", "sasrec", "sasrec"),
    Spec("TextSASRec-text", "textsasrec", "textsasrec_text"),
    Spec("TextSASRec-id+text", "textsasrec", "textsasrec_idtext"),
    Spec("TextSASRec-id", "textsasrec", "textsasrec_id"),
    Spec("TextEASE", "textease", "textease"),
    Spec("TwoTower", "twotower", "twotower"),
]


def settings_for(data: str, spec: Spec) -> tuple[dict[str, Any], str]:
    path = CONFIGS / f"{data}_{spec.config}.json" if spec.config else None
    if path is not None and path.is_file():
        settings = json.loads(path.read_text())
        return settings.get("config", settings) if "model" in settings else settings, path.name  # a spec file
    return ({"progress": False} if hasattr(get_model_class(spec.model).Config(), "progress") else {}), "defaults"


def evaluate(model: Any, target: Interactions, history: tuple[Interactions, ...],
             users: np.ndarray | None = None) -> dict[str, float]:
    """Full-ranking metrics of ``target``'s items (of ``users`` only, when given), ranked after ``history``."""
    if len(target) == 0 or (users is not None and not np.isin(users, target.user).any()):
        return {"ndcg@10": float("nan"), "recall@10": float("nan"), "n_users": 0}
    evaluator = Evaluator(target, exclude=(), ks=(10,), metrics=METRICS, users=users)
    if hasattr(model, "with_history"):  # a sequence model: its stored histories are the train sequences
        scorer = for_test(model, history[1]) if len(history) > 1 else model
    else:
        scorer = HistoryScorer(model, *history)
    return evaluator(scorer)


def fit(spec: Spec, settings: dict[str, Any], train: Interactions, valid: Interactions,
        vectors: np.ndarray) -> tuple[Any, float]:
    cls = get_model_class(spec.model)
    kwargs = {"item_vectors": vectors} if cls.reads_item_text else {}
    start = time.perf_counter()
    model = cls(**settings).fit(train, valid, **kwargs)
    return model, time.perf_counter() - start


def per_epoch(model: Any) -> float | None:
    secs = [h["seconds"] for h in model.meta.get("history", []) if "seconds" in h]
    return float(np.mean(secs)) if secs else None


def run_data(name: str, specs: list[Spec], encoders: dict[str, str], cold: bool) -> list[dict[str, Any]]:
    data = load_text_data(name)
    texts = data.texts()
    vectors = {"frozen": encode_items(texts, get_encoder("minilm"), progress=True)}
    for label, folder in encoders.items():
        vectors[label] = encode_items(texts, get_encoder_at(folder), progress=True)
    for label, v in vectors.items():
        print(f"{name}: item vectors '{label}' {v.vectors.shape}, {v.items_per_second:.1f} items/s "
              f"({v.cached} cached)", flush=True)
    split = loo_split(data.inter)
    cold_split = cold_item_split(data.inter, 0.2, seed=0) if cold else None
    rows = []
    for spec in specs:
        settings, source = settings_for(name, spec)
        reads_text = get_model_class(spec.model).reads_item_text
        for enc in (vectors if reads_text else ["frozen"]):
            label = spec.label if enc == "frozen" else f"{spec.label} [{enc} encoder]"
            model, seconds = fit(spec, settings, split.train, split.valid, vectors[enc].vectors)
            row: dict[str, Any] = {"data": name, "model": label, "config": source, "fit_s": round(seconds, 1),
                                   "s_per_epoch": per_epoch(model), "best_epoch": model.meta.get("best_epoch")}
            valid = evaluate(model, split.valid, (split.train,))
            test = evaluate(model, split.test, (split.train, split.valid))
            row.update({f"valid {k}": valid[k] for k in ("ndcg@10", "recall@10")})
            row.update({f"test {k}": test[k] for k in ("ndcg@10", "recall@10")})
            short = history_buckets(split.train)["1-3"]  # cold users: 1-3 training items
            row["cold-user ndcg@10"] = evaluate(model, split.test, (split.train, split.valid), short)["ndcg@10"]
            row["cold users"] = len(short)
            if cold_split is not None:
                cmodel, _ = fit(spec, settings, cold_split.train, cold_split.valid, vectors[enc].vectors)
                history = (cold_split.train, cold_split.valid)
                row["cold ndcg@10"] = evaluate(cmodel, cold_split.cold_test, history)["ndcg@10"]
                row["warm ndcg@10"] = evaluate(cmodel, cold_split.warm_test, history)["ndcg@10"]
                row["cold cases"], row["warm cases"] = len(cold_split.cold_test), len(cold_split.warm_test)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def get_encoder_at(folder: str) -> Any:
    """An adapted encoder, cached under a name of its own (its vectors never mix with the frozen ones)."""
    from fathom.text.finetune import load_finetuned

    return load_finetuned(folder, cache=True)


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(name: str, rows: list[dict[str, Any]]) -> str:
    base = next((r["test ndcg@10"] for r in rows if r["model"] == "SASRec"), None)
    head = ("| model | valid NDCG@10 | test NDCG@10 | test Recall@10 | vs SASRec | users with 1-3 items | "
            "cold items | warm items | cold / warm | fit s | s / epoch | config |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        gain = f"{(r['test ndcg@10'] / base - 1) * 100:+.1f}%" if base else "-"
        ratio = (r["cold ndcg@10"] / r["warm ndcg@10"]) if r.get("warm ndcg@10") else None
        lines.append(f"| {r['model']} | {fmt(r['valid ndcg@10'])} | {fmt(r['test ndcg@10'])} | "
                     f"{fmt(r['test recall@10'])} | {gain} | {fmt(r.get('cold-user ndcg@10'))} | "
                     f"{fmt(r.get('cold ndcg@10'))} | "
                     f"{fmt(r.get('warm ndcg@10'))} | {fmt(ratio, 2)} | {fmt(r['fit_s'], 1)} | "
                     f"{fmt(r['s_per_epoch'], 2)} | {r['config']} |")
    peers = OUT / "recbole_peers.json"
    if peers.is_file() and name == "amazon_scientific":
        lines += ["", "RecBole 1.2.1 on the same split (`benchmarks/peers/recbole_text.py`):", "",
                  "| model | valid NDCG@10 | test NDCG@10 | test Recall@10 |", "|---|---|---|---|"]
        for p in json.loads(peers.read_text()).get("runs", []):
            lines.append(f"| RecBole {p['label']} ({p.get('stopped_by', '')}) | {fmt(p['valid']['ndcg@10'])} | "
                         f"{fmt(p['test']['ndcg@10'])} | {fmt(p['test']['recall@10'])} |")
    return "\n".join(lines)


def throughput(names: list[str], n: int = 512) -> str:
    """Items per second of the uncached MiniLM on ``n`` item texts of each catalogue, at one and two threads."""
    import torch

    encoder = get_encoder("minilm", cache=False)
    encoder.encode(["warm-up"] * 8)
    lines = ["| data | texts | mean characters | threads | items / s |", "|---|---|---|---|---|"]
    before = torch.get_num_threads()
    try:
        for name in names:
            texts = load_text_data(name).texts()[:n]
            for threads in (1, 2):
                torch.set_num_threads(threads)
                v = encode_items(texts, encoder, progress=False)
                lines.append(f"| {name} | {len(texts)} | {np.mean([len(t) for t in texts]):.0f} | {threads} | "
                             f"{v.items_per_second:.1f} |")
                print(lines[-1], flush=True)
    finally:
        torch.set_num_threads(before)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=list(TEXT_DATASETS), choices=list(TEXT_DATASETS))
    parser.add_argument("--models", nargs="+", help="labels of the models to run (default: all)")
    parser.add_argument("--encoder", action="append", default=[], metavar="NAME=FOLDER",
                        help="an adapted encoder's folder; the text models also run on its item vectors")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-item protocol")
    parser.add_argument("--throughput", action="store_true", help="only measure encoding throughput (uncached)")
    parser.add_argument("--render-only", action="store_true", help="rewrite the tables from the JSON files")
    args = parser.parse_args(argv)
    if args.throughput:
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "encoding.md").write_text("# Item text encoding throughput (all-MiniLM-L6-v2, uncached, batch 64)\n\n"
                                         "Written by `benchmarks/text_rec.py --throughput`.\n\n"
                                         + throughput(args.data) + "\n")
        return 0
    specs = [s for s in SPECS if not args.models or s.label in args.models]
    encoders = dict(e.split("=", 1) for e in args.encoder)
    OUT.mkdir(parents=True, exist_ok=True)
    for name in args.data:
        try:
            rows = [] if args.render_only else run_data(name, specs, encoders, not args.no_cold)
        except FileNotFoundError as err:
            print(f"skipped {name}: {err}", file=sys.stderr)
            continue
        out_json = OUT / f"{name}.json"
        previous = json.loads(out_json.read_text())["rows"] if out_json.is_file() else []
        kept = {r["model"]: r for r in previous}
        kept.update({r["model"]: r for r in rows})
        ordered = list(kept.values())
        out_json.write_text(json.dumps({"data": name, "rows": ordered}, indent=2) + "\n")
        text = table(name, ordered)
        (OUT / f"{name}.md").write_text(f"# {name}: text-aware and ID-only recommenders\n\nWritten by "
                                        f"`benchmarks/text_rec.py`; protocol in its docstring. NDCG@10 (full ranking) "
                                        "of the test items, then of the test items of users with 1-3 training "
                                        "items (cold users), then on the cold-item protocol of its test cases whose "
                                        f"item is cold / warm.\n\n{text}\n")
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
