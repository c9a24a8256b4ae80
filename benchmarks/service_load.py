"""Load benchmark of the real-time service: `fathom serve` on MovieLens-100K (EASE, prepared by the service's
first-start bootstrap) in one process, the load generator (benchmarks/service_loadgen.py, asyncio + httpx) in
another, both on loopback.

Scenarios: recommend and search at fixed open-loop rates (25, 50, 100 requests/s) and closed-loop concurrency
(1, 4, 16); batched event ingestion (500 events per request) closed-loop and at a fixed rate. Reports throughput,
p50/p95/p99 latency and errors; for ingestion events/s and stored-vs-sent (rows counted in the SQLite store).
Search is hybrid (BM25 + MiniLM, no reranking) unless ``--search bm25``; the label says which signals answered.
Queries are encoded by MiniLM's int8 copy (``--encoder minilm-int8``, the default; its speed and retrieval quality
beside float32 are in benchmarks/results/search_beir.md) or in float32 (``--encoder minilm``).

    nice -n 19 .venv/bin/python benchmarks/service_load.py            # full run (~6 min), results/service_load.*
    nice -n 19 .venv/bin/python benchmarks/service_load.py --quick    # ~1 min smoke run, results/*_quick.*

Latencies measured on a shared 2-core machine include the load generator competing for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
GENERATOR = HERE / "service_loadgen.py"
TARGETS = {"recommend_p99_ms": 20.0, "search_p99_ms": 40.0, "target_rate": 100, "ingest_events_per_s": 5000.0}


def scenarios(quick: bool) -> list[dict[str, Any]]:
    """The plan: reads first (the store is unchanged while they run), ingestion last."""
    if quick:
        reads = [("open", 50, 2.0), ("closed", 4, 2.0)]
        ingest = [("closed", 2, 2.0, 200), ("open", 10, 2.0, 100)]
    else:
        reads = [("open", 25, 20.0), ("open", 50, 20.0), ("open", 100, 20.0),
                 ("closed", 1, 15.0), ("closed", 4, 15.0), ("closed", 16, 15.0)]
        ingest = [("closed", 1, 15.0, 500), ("closed", 4, 15.0, 500), ("closed", 16, 15.0, 500),
                  ("open", 10, 15.0, 500)]
    plan = []
    for kind in ("recommend", "search"):
        for mode, level, duration in reads:
            plan.append({"kind": kind, "mode": mode, "level": level, "duration": duration, "batch": 0})
    for mode, level, duration, batch in ingest:
        plan.append({"kind": "ingest", "mode": mode, "level": level, "duration": duration, "batch": batch})
    return plan


# ------------------------------------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def prepare(folder: Path) -> dict[str, Any]:
    """Bootstrap ``folder`` (MovieLens-100K + EASE + index) when empty; returns what the load needs from it."""
    from fathom.online.bootstrap import bootstrap
    from fathom.online.store import Store

    start = time.perf_counter()
    record = bootstrap(folder, log=lambda m: print("  " + m, flush=True))
    took = time.perf_counter() - start
    store = Store(folder)
    try:
        items = store.items()
        users = [u for u, _ in _users(folder)]
        active = store.active_version()
    finally:
        store.close()
    rng = random.Random(0)
    words = [w.lower() for i in items for w in i.title.replace(",", " ").split() if len(w) > 3 and w.isalpha()]
    queries = [" ".join(rng.sample(words, 2 if rng.random() < 0.5 else 1)) for _ in range(500)]
    return {"items": [i.item_id for i in items], "users": users, "queries": queries,
            "bootstrap_s": took if record is not None else None,
            "model": f"{active.model} v{active.version}" if active else "none"}


def _users(folder: Path) -> list[tuple[str, int]]:
    from fathom.online.stats import recent_users

    return recent_users(folder, limit=100_000)


def start_server(folder: Path, port: int, encoder: str, log_path: Path, workers: int = 1,
                 options: tuple[str, ...] = ()) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FATHOM_")}
    env["FATHOM_ASSISTANT_WARM_UP"] = "0"  # nothing loads beside the measured requests (the load never chats)
    log = log_path.open("w")
    cmd = [sys.executable, "-m", "fathom.cli.main", "serve", "--data-dir", str(folder), "--port", str(port),
           "--encoder", encoder, "--log-level", "warning", "--workers", str(workers), *options]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 900
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            get_json(f"http://127.0.0.1:{port}/health")
            return proc
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the server did not start within 900 s") from None
            time.sleep(0.5)


def stop_server(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def search_label(base: str, queries: list[str], encoder: str = "minilm") -> tuple[str, list[str]]:
    """What answers a query: the signals present in the hits' per-signal scores."""
    signals: set[str] = set()
    for q in queries[:10]:
        for hit in get_json(f"{base}/search?q={urllib.parse.quote(q)}&k=3")["hits"]:
            signals |= set(hit["scores"]) - {"fused"}
    names = sorted(signals)
    dense = "MiniLM dense (int8 queries)" if encoder == "minilm-int8" else "MiniLM dense"
    label = f"hybrid BM25 + {dense}, no reranking" if "dense" in signals else "BM25 only (no dense encoder)"
    return label, names


# --------------------------------------------------------------------------------------------------- the load
def run_scenario(base: str | list[str], spec: dict[str, Any], data: dict[str, Any], folder: Any) -> dict[str, Any]:
    """One scenario against ``base`` (or several servers in turn); ``folder``: the store (a data folder, or an
    open PostgreSQL :class:`~fathom.online.store.Store`) whose events are counted."""
    from fathom.online.stats import stored_event_count

    plan = {"base" if isinstance(base, str) else "bases": base, "kind": spec["kind"], "mode": spec["mode"],
            "duration": spec["duration"],
            "rate": spec["level"], "concurrency": spec["level"], "batch": spec["batch"], "warmup": 20,
            "users": data["users"], "items": data["items"], "queries": data["queries"], "seed": 7}
    before = stored_event_count(folder)
    proc = subprocess.run([sys.executable, str(GENERATOR)], input=json.dumps(plan), capture_output=True, text=True,
                          timeout=spec["duration"] * 10 + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{proc.stderr[-3000:]}")
    raw = json.loads(proc.stdout)
    stored = stored_event_count(folder) - before
    lat = np.array(raw["latencies_ms"]) if raw["latencies_ms"] else np.zeros(1)
    p50, p95, p99 = (float(x) for x in np.percentile(lat, [50, 95, 99]))
    row = {"endpoint": spec["kind"], "mode": spec["mode"],
           "level": (f"{spec['level']} req/s" if spec["mode"] == "open" else f"concurrency {spec['level']}")
           + (f" x {spec['batch']} ev" if spec["batch"] else ""),
           "target_rate": spec["level"] if spec["mode"] == "open" else None, "duration_s": spec["duration"],
           "requests": raw["requests"], "errors": raw["errors"], "error_samples": raw["error_samples"],
           "throughput_rps": raw["requests"] / raw["elapsed_s"], "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
           "max_ms": float(lat.max()),
           "lag_p99_ms": float(np.percentile(raw["lags_ms"], 99)) if raw["lags_ms"] else None}
    if spec["kind"] == "ingest":
        row.update(batch=spec["batch"], events_sent=raw["events_sent"], events_accepted=raw["events_accepted"],
                   events_stored=stored, events_per_s=stored / raw["elapsed_s"])
    return row


def check_targets(rows: list[dict[str, Any]], search: str,
                  recommend_p99_ms: float = TARGETS["recommend_p99_ms"]) -> list[dict[str, Any]]:
    rate = TARGETS["target_rate"]

    def p99_at(kind: str) -> float | None:
        at_rate = (r for r in rows if r["endpoint"].startswith(kind) and r["target_rate"] == rate)
        return next((r["p99_ms"] for r in at_rate), None)

    ingest = [r["events_per_s"] for r in rows if r["endpoint"] == "ingest"]
    checks = [("recommend p99 at 100 req/s", p99_at("recommend"), recommend_p99_ms, "ms", "<"),
              (f"search p99 at 100 req/s ({search})", p99_at("search"), TARGETS["search_p99_ms"], "ms", "<"),
              ("ingestion, best events/s", max(ingest) if ingest else None, TARGETS["ingest_events_per_s"],
               "events/s", ">=")]
    out = []
    for name, value, target, unit, op in checks:
        met = None if value is None else (value < target if op == "<" else value >= target)
        out.append({"target": f"{name} {op} {target:g} {unit}", "measured": value, "unit": unit, "met": met})
    return out


# ------------------------------------------------------------------------------------------------- reporting
COLUMNS = [("endpoint", "endpoint", "{}"), ("load", "level", "{}"), ("requests", "requests", "{}"),
           ("req/s", "throughput_rps", "{:.1f}"), ("p50 ms", "p50_ms", "{:.1f}"), ("p95 ms", "p95_ms", "{:.1f}"),
           ("p99 ms", "p99_ms", "{:.1f}"), ("errors", "errors", "{}"), ("gen. lag p99 ms", "lag_p99_ms", "{:.1f}"),
           ("events/s", "events_per_s", "{:,.0f}"), ("stored / sent", None, "")]


def cells(row: dict[str, Any]) -> list[str]:
    out = []
    for _, key, fmt in COLUMNS:
        if key is None:
            out.append(f"{row['events_stored']:,} / {row['events_sent']:,}" if "events_sent" in row else "")
        else:
            value = row.get(key)
            out.append("" if value is None else fmt.format(value))
    return out


def _seconds(value: float | None) -> str:
    return "not timed (folder already prepared)" if value is None else f"{value:.0f} s"


def render_markdown(result: dict[str, Any]) -> str:
    meta = result["meta"]
    lines = [f"# Service load benchmark{' (--quick)' if meta['quick'] else ''}", "",
             f"`{meta['command']}` on {meta['date']}: `fathom serve` ({meta['workers']} worker process"
             f"{'es' if meta['workers'] != 1 else ''}) on "
             f"{meta['data']} with {meta['model']}; search: {meta['search']}. Load generator: a separate process "
             "(asyncio + httpx) on the same machine, loopback HTTP/1.1 with keep-alive.", "",
             f"First start (bootstrap: load, train, index): {_seconds(meta['bootstrap_s'])}.", "",
             f"Machine: {meta['cpus']} CPU cores, {meta['platform']}; load average at start {meta['loadavg']} "
             "(shared machine: other jobs and the load generator compete with the server for the same cores).", "",
             "Open loop: requests sent at the fixed rate whatever the answers do (gen. lag: how late the generator "
             "sent them). Closed loop: N workers, each sending when its previous answer arrived. Ingestion: "
             "batches of events to `POST /events/batch`; stored = rows added to the SQLite `events` table.", "",
             "| " + " | ".join(c[0] for c in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(r)) + " |" for r in result["rows"]]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for t in result["targets"]:
        measured = "not measured" if t["measured"] is None else f"{t['measured']:,.1f} {t['unit']}"
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "no")
        lines.append(f"| {t['target']} | {measured} | {met} |")
    totals = result["totals"]
    lines += ["", f"Events: {totals['events_stored']:,} stored of {totals['events_sent']:,} sent; "
                  f"{totals['errors']} request errors in total.", ""]
    errors = [s for r in result["rows"] for s in r["error_samples"]]
    if errors:
        lines += ["Error samples:", "", *[f"- `{e}`" for e in errors[:10]], ""]
    return "\n".join(lines)


def print_table(rows: list[dict[str, Any]]) -> None:
    table = [[c[0] for c in COLUMNS]] + [cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    for n, row in enumerate(table):
        padded = (c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        print("  ".join(padded))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short smoke run (BM25 search, seconds per scenario)")
    parser.add_argument("--search", choices=["hybrid", "bm25"], help="default: hybrid, or bm25 with --quick")
    parser.add_argument("--data-dir", type=Path, help="store folder to use (prepared when empty); default: a "
                                                      "fresh temporary one, removed afterwards")
    parser.add_argument("--out-dir", type=Path, default=OUT, help=f"where results go (default {OUT})")
    parser.add_argument("--encoder", choices=["minilm-int8", "minilm"], default="minilm-int8",
                        help="hybrid search's query encoder: MiniLM through its int8 copy (default) or float32; "
                             "documents are float32 either way (results of float32 go to *_fp32 files)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--only", nargs="+", choices=["recommend", "search", "ingest"],
                        help="run only these scenarios (results go to service_load_<kinds>... files)")
    args = parser.parse_args(argv)
    search = args.search or ("bm25" if args.quick else "hybrid")
    temporary = args.data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="fathom-load-")) / "data" if temporary else args.data_dir
    proc = None
    try:
        print(f"preparing {folder}", flush=True)
        try:
            data = prepare(folder)
        except Exception as exc:  # noqa: BLE001 - reported as one line
            from fathom.data.sources import WheelUnavailableError

            if isinstance(exc, WheelUnavailableError):
                print(f"MovieLens-100K unavailable: {exc}", file=sys.stderr)
                return 3
            raise
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        encoder = args.encoder if search == "hybrid" else "none"
        print(f"starting fathom serve on {base} (search encoder: {encoder})", flush=True)
        started = time.perf_counter()
        proc = start_server(folder, port, encoder, folder / "server.log", args.workers)
        label, signals = search_label(base, data["queries"], encoder)
        print(f"server ready in {time.perf_counter() - started:.0f} s; search: {label}", flush=True)
        rows = []
        for spec in [p for p in scenarios(args.quick) if not args.only or p["kind"] in args.only]:
            row = run_scenario(base, spec, data, folder)
            rows.append(row)
            print(f"  {row['endpoint']:<9} {row['level']:<15} {row['throughput_rps']:7.1f} req/s  "
                  f"p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}", flush=True)
        rc = stop_server(proc)
        proc = None
        for row in rows:
            if row["endpoint"] == "search":
                row["endpoint"] = "search (hybrid)" if "dense" in signals else "search (BM25)"
        meta = {"command": "python benchmarks/service_load.py" + (" --quick" if args.quick else "")
                + (f" --workers {args.workers}" if args.workers != 1 else "")
                + (f" --encoder {args.encoder}" if args.encoder != "minilm-int8" and search == "hybrid" else "")
                + (f" --only {' '.join(args.only)}" if args.only else ""),
                "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M"), "workers": args.workers,
                "data": "MovieLens-100K", "model": data["model"], "search": label, "search_signals": signals,
                "search_encoder": encoder,
                "bootstrap_s": data["bootstrap_s"], "cpus": os.cpu_count(), "platform": platform.platform(),
                "python": platform.python_version(), "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                "server_exit_code": rc}
        ingest = [r for r in rows if r["endpoint"] == "ingest"]
        totals = {"events_sent": sum(r["events_sent"] for r in ingest),
                  "events_stored": sum(r["events_stored"] for r in ingest),
                  "errors": sum(r["errors"] for r in rows)}
        result = {"meta": meta, "rows": rows, "totals": totals, "targets": check_targets(rows, label)}
        print()
        print_table(rows)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        stem = ("service_load_quick" if args.quick else "service_load") + (
            f"_{args.workers}w" if args.workers != 1 else "") + ("_fp32" if encoder == "minilm" else "") + (
            "_" + "_".join(args.only) if args.only else "")
        (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out_dir / f"{stem}.md").write_text(render_markdown(result))
        print(f"\nwrote {args.out_dir / stem}.md and .json")
        for t in result["targets"]:
            print(f"  {t['target']}: {t['measured'] if t['measured'] is None else round(t['measured'], 1)} "
                  f"-> {'n/a' if t['met'] is None else ('met' if t['met'] else 'not met')}")
        return 0
    finally:
        if proc is not None:
            stop_server(proc)
        if temporary:
            shutil.rmtree(folder.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
