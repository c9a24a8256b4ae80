"""Fine-tuning the text encoder on a catalogue's behaviour: full vs LoRA vs the frozen encoder, on TextMean.

    python benchmarks/text_finetune.py            # trains both methods, evaluates, prints the table
    python benchmarks/text_finetune.py --write    # ... and writes benchmarks/results/text-rec/finetune.{md,json}
    python benchmarks/text_finetune.py --reuse    # evaluate folders already trained under --out-dir
    # the committed runs (a crowded 2-core CPU): --pairs 1280 --max-seq-length 64 --encode-length 64
    #     --lr 1e-4 2e-3 (run A) or --lr 2e-5 2e-4 (run B) --max-minutes 11

Pairs: (the previous item's text -> the next item's text) from the *training* part of the cold-item split of
amazon_scientific (the leave-one-out training part without the 20% cold items), a seeded sample of ``--pairs``;
the same adapted encoder is then measured on both protocols, so it never saw a cold item, a validation item or a
test item as a positive. Each method trains in its own process (its peak resident set is its own); both run at
once by default (``--serial`` runs one after the other: cleaner timings, twice the wall clock).

Measured: the catalogue re-encoded with each encoder, then TextMean (a user = the mean of their history's text
vectors, no training) scored with full ranking, nothing excluded: validation ranked from the training history,
test from train + validation (HistoryScorer); cold-item split: cold_test / warm_test. NDCG@10 and Recall@10.
With ``--encode-length L`` below 256 a ``frozen @L`` row (the frozen encoder reading as much of each text as the
adapted ones) is the fair baseline.
The adapted encoders are saved under ``--out-dir`` (default ``$FATHOM_CACHE_DIR/finetuned``, else
``runs/text-finetune``; both outside git) and their paths printed, for the text-aware sequential models.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fathom.benchmarks.text_data import HistoryScorer, cold_item_split, load_text_data, loo_split
from fathom.data.interactions import Interactions
from fathom.evaluate.report import markdown_table
from fathom.metrics.evaluator import Evaluator
from fathom.models.behaviour_pairs import next_item_pairs
from fathom.models.textmean import TextMean
from fathom.text.encoders import CachedEncoder, MiniLMEncoder, get_encoder, minilm_model_path
from fathom.text.finetune import FinetuneConfig, finetune_encoder, load_finetuned
from fathom.text.item_text import encode_items

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "text-rec"
#: the settings each method trains with (budgets: --pairs, --epochs, --max-seq-length, --max-minutes)
METHODS: dict[str, dict[str, Any]] = {
    "full": {"method": "full", "lr": 1e-4},
    "lora": {"method": "lora", "lr": 2e-3, "lora_rank": 8, "lora_alpha": 16.0, "lora_targets": "all_linear"},
}


def default_out_dir() -> Path:
    root = os.environ.get("FATHOM_CACHE_DIR")
    return Path(root) / "finetuned" if root else Path("runs") / "text-finetune"


def evaluate(vectors: Any, test: Interactions, train: Interactions, *history: Interactions) -> dict[str, float]:
    """TextMean fitted on ``train``; ``test`` ranked from ``train`` + ``history`` (full ranking, nothing excluded)."""
    model = TextMean().fit(train, item_vectors=vectors)
    result = Evaluator(test, exclude=(), ks=(10,), metrics=("ndcg", "recall"))(HistoryScorer(model, train, *history))
    return {"ndcg@10": round(float(result["ndcg@10"]), 5), "recall@10": round(float(result["recall@10"]), 5)}


def measure(vectors: Any, split: Any, cold: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for part, args in {"valid": (split.valid, split.train), "test": (split.test, split.train, split.valid),
                       "cold_test": (cold.cold_test, cold.train, cold.valid),
                       "warm_test": (cold.warm_test, cold.train, cold.valid)}.items():
        for metric, value in evaluate(vectors, *args).items():
            out[f"{part} {metric}"] = value
    return out


def truncated_frozen(length: int, out_dir: Path) -> Any:
    """The frozen encoder reading ``length`` word pieces of each text (a copy of the folder with that limit)."""
    from sentence_transformers import SentenceTransformer

    folder = out_dir / f"frozen-len{length}"
    if not (folder / "model.safetensors").is_file():
        st = SentenceTransformer(str(minilm_model_path()), device="cpu")
        st.max_seq_length = length
        st.save(str(folder), create_model_card=False, safe_serialization=True)
    encoder = MiniLMEncoder(model_path=folder)
    encoder.name = encoder.query_name = f"{MiniLMEncoder.name}@{length}"
    return CachedEncoder(encoder)


def row_for(label: str, encoder: Any, report: dict[str, Any], texts: list[str], split: Any, cold: Any,
            vectors: Any = None) -> dict[str, Any]:
    """One table row: the catalogue encoded with ``encoder`` (or the given ``vectors``), TextMean measured on both
    protocols; the vectors are kept under the row's ``"_vectors"`` key (dropped before the table is written)."""
    start = time.perf_counter()
    vectors = encode_items(texts, encoder, progress=True).vectors if vectors is None else vectors
    encode_s = time.perf_counter() - start
    row = {"encoder": label, "trainable params": report.get("trainable_params", 0),
           "trainable share": report.get("trainable_share", 0.0),
           "s / epoch": (report.get("seconds_per_epoch") or [None])[0],
           "peak RSS MB": report.get("peak_rss_mb"), "pairs": report.get("pairs", 0), "steps": report.get("steps", 0),
           "loss / epoch": " ".join(f"{v:.3f}" for v in report.get("loss_per_epoch", [])),
           "stopped": report.get("stopped", ""), "encode s": round(encode_s, 1), **measure(vectors, split, cold)}
    print(json.dumps(row), flush=True)
    return {**row, "_vectors": vectors}


def mixed(adapted: Any, frozen: Any) -> Any:
    """The adapted and the frozen vector of each item added and re-normalised (keeps general similarity)."""
    v = adapted + frozen
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def train_worker(method: str, config_json: str, pairs_file: str, out_dir: str) -> None:
    """One method in this process: train, save, print the report as the last line of stdout."""
    pairs = [tuple(p) for p in json.loads(Path(pairs_file).read_text(encoding="utf-8"))]
    report = finetune_encoder(pairs, FinetuneConfig.from_json(config_json), out_dir, progress=True)
    print(report.to_json().replace("\n", " "))


def launch(method: str, config: FinetuneConfig, pairs_file: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--threads", str(torch.get_num_threads()), "--worker", method,
           "--config", config.to_json(), "--pairs-file", str(pairs_file), "--save", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="amazon_scientific")
    ap.add_argument("--pairs", type=int, default=1280, help="pairs sampled (seeded) from the training behaviour")
    ap.add_argument("--history", type=int, default=1, help="anchor = the last k items' texts (most recent first)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seq-length", type=int, default=128, help="word pieces per text, training and encoding")
    ap.add_argument("--encode-length", type=int, default=None,
                    help="word pieces the adapted encoders read when encoding; default: the base's 256")
    ap.add_argument("--max-minutes", type=float, default=20.0, help="each method stops after this much training")
    ap.add_argument("--lr", nargs=2, type=float, default=None, metavar=("FULL", "LORA"),
                    help="peak learning rates of full fine-tuning and LoRA (default: those in METHODS)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--out-dir", type=Path, default=None)
    ap.add_argument("--reuse", action="store_true", help="evaluate the folders under --out-dir without training")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads per process (1 avoids idle spinning on a crowded CPU)")
    ap.add_argument("--mix", action="store_true", help="also a row per method with the adapted and the frozen "
                    "vectors added (the frozen one reading as much of each text: frozen @L where given)")
    ap.add_argument("--serial", action="store_true", help="train the methods one after the other")
    ap.add_argument("--write", action="store_true", help="write the results under benchmarks/results/text-rec")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--config", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--pairs-file", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    if args.worker:
        train_worker(args.worker, args.config, args.pairs_file, args.save)
        return

    out_dir = args.out_dir or default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = load_text_data(args.dataset)
    texts = data.texts()
    split, cold = loo_split(data.inter), cold_item_split(data.inter)
    pairs = next_item_pairs(texts, cold.train, history=args.history, max_pairs=args.pairs, seed=0,
                            history_chars=None if args.history == 1 else 300)
    pairs_file = out_dir / f"{args.dataset}-pairs.json"
    pairs_file.write_text(json.dumps(pairs), encoding="utf-8")
    budget = {"dataset": args.dataset, "pairs": len(pairs), "history": args.history, "epochs": args.epochs,
              "batch_size": args.batch_size, "max_seq_length": args.max_seq_length,
              "encode_length": args.encode_length or 256, "max_minutes": args.max_minutes,
              "torch threads per process": args.threads}
    methods = {m: dict(METHODS[m]) for m in args.methods}
    for m, lr in zip(METHODS, args.lr or (), strict=False):
        if m in methods:
            methods[m]["lr"] = lr
    configs = {m: FinetuneConfig(**methods[m], epochs=args.epochs, batch_size=args.batch_size,
                                 max_seq_length=args.max_seq_length, encode_max_seq_length=args.encode_length,
                                 max_minutes=args.max_minutes, max_pairs=args.pairs, seed=0) for m in args.methods}
    folders = {m: out_dir / f"{args.dataset}-{m}" for m in args.methods}
    reports: dict[str, dict[str, Any]] = {}
    running = {}
    if not args.reuse:
        for m in args.methods:
            running[m] = launch(m, configs[m], pairs_file, folders[m])
            if args.serial:
                running[m].wait()
    rows = [row_for("frozen", get_encoder("minilm"), {}, texts, split, cold)]  # while the methods train
    if args.encode_length not in (None, 256):  # the frozen encoder reading as little of each text
        rows.append(row_for(f"frozen @{args.encode_length}", truncated_frozen(args.encode_length, out_dir), {},
                            texts, split, cold))
    for m, proc in running.items():
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{m}: training failed (exit {proc.returncode})")
        reports[m] = json.loads(stdout.strip().splitlines()[-1])
    names = {}
    for m in args.methods:
        info = json.loads((folders[m] / "fathom_finetune.json").read_text(encoding="utf-8"))
        reports.setdefault(m, info)
        encoder = load_finetuned(folders[m])
        names[m] = encoder.name
        rows.append(row_for(m, encoder, reports[m], texts, split, cold))
        if args.mix:
            base = rows[1] if args.encode_length not in (None, 256) else rows[0]  # frozen, as much text read
            rows.append(row_for(f"{m} + {base['encoder']}", None, reports[m], texts, split, cold,
                                vectors=mixed(rows[-1]["_vectors"], base["_vectors"])))
    rows = [{k: v for k, v in r.items() if k != "_vectors"} for r in rows]
    frozen = rows[0]
    for row in rows:
        row["test ndcg gain"] = round(row["test ndcg@10"] / frozen["test ndcg@10"] - 1, 4)
        row["cold ndcg gain"] = round(row["cold_test ndcg@10"] / frozen["cold_test ndcg@10"] - 1, 4)
    table = markdown_table(rows)
    print(table)
    for m in args.methods:
        print(f"adapted encoder ({m}): {folders[m]}  name {names[m]}")
    if args.write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        payload = {"budget": budget, "configs": {m: c.to_dict() for m, c in configs.items()}, "rows": rows,
                   "folders": {m: str(f) for m, f in folders.items()}}
        (RESULTS / "finetune.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "finetune.md").write_text(render(budget, configs, table), encoding="utf-8")


def render(budget: dict[str, Any], configs: dict[str, FinetuneConfig], table: str) -> str:
    lines = [f"# Fine-tuned text encoder on {budget['dataset']}: TextMean with frozen, full and LoRA MiniLM", "",
             "Command: `python benchmarks/text_finetune.py --write`. Full ranking over every item, nothing excluded.",
             "", f"Budget: {json.dumps(budget)}", ""]
    for m, c in configs.items():
        lines.append(f"- {m}: `{json.dumps(c.to_dict(), sort_keys=True)}`")
    return "\n".join(lines + ["", table, ""])


if __name__ == "__main__":
    main()
