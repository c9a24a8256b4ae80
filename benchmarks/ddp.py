"""Data-parallel training: `fathom train MODEL --nproc 2` against one process, quality and throughput.

    python benchmarks/ddp.py                          # bpr, neumf, multvae; 3 seeds; ~15 min on 2 cores
    python benchmarks/ddp.py --models bpr --seeds 2   # a quicker look

Every run is the real command line (`fathom train`, MovieLens-100K, its own preset: random 8:1:1 split, early
stopping on validation NDCG@10), each seed once in one process and once in two (torchrun, gloo, each step's batch
split over the processes). The saved model is then ranked against the test split (full ranking, training and
validation items excluded). The noise is the spread over seeds; the verdict says whether the two-process mean
lies within twice the larger of the two spreads of the one-process mean. Throughput: training interactions per
second of an epoch (median epoch), with the machine's cores shared out: one process uses them all, two processes
one share each. Writes benchmarks/results/ddp/ddp.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "ddp"


def train(model: str, nproc: int, seed: int, folder: Path, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "fathom.cli.main", "train", model, "--nproc", str(nproc),
                           "--set", f"seed={seed}", "--set", "progress=false", "--out", str(folder)],
                          capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{model} --nproc {nproc} seed {seed} failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}")
    from fathom.metrics.evaluator import evaluate_ranking
    from fathom.runs import RunFolder

    run = RunFolder(folder)
    data = run.data()
    _, fitted = run.load_model(model)
    test = evaluate_ranking(fitted, data.test, exclude=(data.train, data.valid), ks=(10, 20))
    history = fitted.meta["history"]
    seconds = statistics.median(r["seconds"] for r in history)
    return {"model": model, "nproc": nproc, "threads": threads, "seed": seed, "wall_s": wall,
            "epochs": len(history), "best_epoch": fitted.meta["best_epoch"], "s_per_epoch": seconds,
            "interactions_per_s": len(data.train) / seconds, "valid_ndcg@10": fitted.meta["history"][
                fitted.meta["best_epoch"] - 1]["ndcg@10"], "test_ndcg@10": test["ndcg@10"],
            "test_recall@20": test["recall@20"], "distributed": fitted.meta.get("distributed")}


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for model in dict.fromkeys(r["model"] for r in rows):
        by_n = {n: [r for r in rows if r["model"] == model and r["nproc"] == n] for n in (1, 2)}
        stats = {}
        for n, runs in by_n.items():
            values = [r["test_ndcg@10"] for r in runs]
            stats[n] = {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "throughput": statistics.median(r["interactions_per_s"] for r in runs),
                        "s_per_epoch": statistics.median(r["s_per_epoch"] for r in runs),
                        "epochs": statistics.mean(r["epochs"] for r in runs),
                        "wall_s": statistics.mean(r["wall_s"] for r in runs), "runs": len(runs)}
        diff = stats[2]["mean"] - stats[1]["mean"]
        noise = 2 * max(stats[1]["sd"], stats[2]["sd"])
        out.append({"model": model, "one": stats[1], "two": stats[2], "difference": diff, "noise": noise,
                    "within_noise": abs(diff) <= noise, "speedup": stats[2]["throughput"] / stats[1]["throughput"]})
    return out


def table(summary: list[dict], meta: dict) -> str:
    lines = ["# Data-parallel training: two processes against one", "",
             f"`{meta['command']}`; MovieLens-100K, `fathom train`'s own preset (random 8:1:1 split), each model at "
             "its defaults with early stopping on validation NDCG@10; test NDCG@10 by full ranking of the saved "
             f"model. {meta['seeds']} seeds per row (mean ± sd over seeds). Throughput: training interactions per "
             f"second over the median epoch; one process uses the machine's {meta['cores']} cores, two processes "
             "half each (gloo on CPU).", "",
             "| model | processes | test NDCG@10 | epochs | s/epoch | interactions/s | wall s (with start-up) |"
             " difference (2 - 1) | within noise (2 sd) | throughput x |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        for n, key in ((1, "one"), (2, "two")):
            st = s[key]
            tail = (f"{s['difference']:+.4f} | {'yes' if s['within_noise'] else 'no'} (±{s['noise']:.4f}) | "
                    f"{s['speedup']:.2f}" if n == 2 else " | | ")
            lines.append(f"| {s['model']} | {n} | {st['mean']:.4f} ± {st['sd']:.4f} | {st['epochs']:.1f} | "
                         f"{st['s_per_epoch']:.2f} | {st['throughput']:,.0f} | {st['wall_s']:.1f} | {tail} |")
    lines += ["", f"Measured on {meta['machine']} ({meta['date']}); no GPU was used (the loop trains on CPU)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="bpr,neumf,multvae")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="fathom-ddp-") as tmp:
        for model in args.models.split(","):
            for seed in range(args.seeds):
                for nproc in (1, 2):
                    row = train(model, nproc, seed, Path(tmp) / f"{model}-{nproc}-{seed}", max(1, cores // nproc))
                    rows.append(row)
                    print(f"{model:<8} nproc {nproc} seed {seed}: test ndcg@10 {row['test_ndcg@10']:.4f}, "
                          f"{row['epochs']} epochs, {row['s_per_epoch']:.2f} s/epoch, {row['wall_s']:.0f} s",
                          flush=True)
    meta = {"command": "python benchmarks/ddp.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
            "seeds": args.seeds, "cores": cores, "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.machine()}, {cores} cores, Python {platform.python_version()}"}
    summary = summarise(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ddp.json").write_text(json.dumps({"meta": meta, "summary": summary, "runs": rows}, indent=1))
    text = table(summary, meta)
    (args.out / "ddp.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
