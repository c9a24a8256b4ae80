"""Load benchmark on PostgreSQL with several hosts: `fathom serve --store postgresql://...` in three processes with
their own data folders (as three hosts would run it), one database and one shared artefacts folder, MovieLens-100K
with EASE; the load generator (benchmarks/service_loadgen.py) sends each request to the next server in turn, as a
round-robin balancer would. Then kill -9 of one server while clients send batches to it: acknowledged events
against stored ones, batch by batch (tests/service/durability_client.py, the kill test's clients).

    nice -n 19 .venv/bin/python benchmarks/service_load_pg.py             # ~6 min, results/service_load_pg_3hosts.*
    nice -n 19 .venv/bin/python benchmarks/service_load_pg.py --quick     # smoke run, results/*_3hosts_quick.*
    .venv/bin/python benchmarks/service_load_pg.py --store postgresql://user:pw@host/db   # your own server

Without ``--store`` a throw-away PostgreSQL cluster is started from this machine's binaries (Debian's postgresql
package) with its default durability (fsync and synchronous_commit on). The SQLite figures of the same scenarios
are in results/service_load.md (one server process) and results/service_load_2w.md (two worker processes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # tests/: the PostgreSQL helper and the kill test's clients

from service_load import (  # noqa: E402
    check_targets,
    free_port,
    print_table,
    render_markdown,
    run_scenario,
    search_label,
    start_server,
    stop_server,
)
from tests.service.durability_client import (  # noqa: E402
    Ingester,
    KillableServer,
    batch_counts,
    compare,
    kill_and_restart,
    next_marker,
)

OUT = HERE / "results"
RECOMMEND_P99_MS = 30.0  # the aim on PostgreSQL with several hosts (one process on SQLite: 20 ms)


def scenarios(quick: bool) -> list[dict[str, Any]]:
    if quick:
        reads = [("open", 100, 2.0)]
        ingest = [("closed", 4, 2.0, 500)]
    else:
        reads = [("open", 50, 20.0), ("open", 100, 20.0), ("closed", 4, 15.0)]
        ingest = [("closed", 1, 15.0, 500), ("closed", 4, 15.0, 500), ("closed", 16, 15.0, 500),
                  ("open", 10, 15.0, 500)]
    plan = [{"kind": kind, "mode": m, "level": n, "duration": d, "batch": 0}
            for kind in ("recommend", "search") for m, n, d in reads]
    plan += [{"kind": "ingest", "mode": m, "level": n, "duration": d, "batch": b} for m, n, d, b in ingest]
    return plan


def prepare(folder: Path, url: str, shared: Path) -> dict[str, Any]:
    from fathom.online.bootstrap import bootstrap
    from fathom.online.stats import recent_users
    from fathom.online.store import Store

    start = time.perf_counter()
    bootstrap(folder, log=lambda m: print("  " + m, flush=True), url=url, artefacts=shared)
    took = time.perf_counter() - start
    store = Store(folder, url=url, artefacts=shared)
    try:
        items = store.items()
        active = store.active_version()
        users = [u for u, _ in recent_users(store, limit=100_000)]
    finally:
        store.close()
    rng = random.Random(0)
    words = [w.lower() for i in items for w in i.title.replace(",", " ").split() if len(w) > 3 and w.isalpha()]
    queries = [" ".join(rng.sample(words, 2 if rng.random() < 0.5 else 1)) for _ in range(500)]
    return {"items": [i.item_id for i in items], "users": users, "queries": queries, "bootstrap_s": took,
            "model": f"{active.model} v{active.version}" if active else "none"}


def kill_row(folder: Path, url: str, shared: Path, items: list[str], seconds: float, log: Path) -> dict[str, Any]:
    """Clients send 500-event batches (each retried unchanged, with its idempotency key, until acknowledged) to one
    more server process on the same store; it is killed with SIGKILL while requests are in flight and restarted."""
    server = KillableServer(folder, log, "--store", url, "--artefacts", str(shared), "--encoder", "none",
                            "--log-level", "warning")
    server.start()
    clients = Ingester(server.port, items, next_marker(url), batch_size=500, threads=4).start()
    try:
        time.sleep(seconds / 2)
        kill = kill_and_restart(server, clients, "in flight")
        time.sleep(seconds / 2)
        clients.stop()
        server.stop()
    finally:
        clients.abort()
        server.kill()
    outcome = compare(clients, batch_counts(url, clients.marker))
    return {"flying_at_kill": len(kill.flying), "restart_s": kill.restart_s, "batches": outcome.batches,
            "events_acknowledged": outcome.events_acknowledged, "events_stored": outcome.events_stored,
            "lost": outcome.lost, "duplicated": outcome.duplicated, "retries": clients.stats.retries,
            "dropped": clients.stats.dropped, "refused": clients.stats.refused,
            "replayed": sum(b.replayed for b in clients.sent.values())}


def render(result: dict[str, Any]) -> str:
    text = render_markdown(result)
    text = text.replace("# Service load benchmark", "# Service load benchmark on PostgreSQL, several hosts", 1)
    k = result["kill"]
    meta = result["meta"]
    hosts = (f"\n\nHosts: {meta['servers']} `fathom serve` processes (one worker each), each with its own data folder "
             f"and search index, one PostgreSQL {meta['postgres']} database ({meta['postgres_settings']}) and one "
             "shared artefacts folder; requests go to the servers in turn. Stored = rows added to PostgreSQL's "
             "`events` table.")
    text = text.replace("\n\nFirst start", hosts + "\n\nFirst start", 1)
    text = text.replace("rows added to the SQLite `events` table", "rows added to PostgreSQL's `events` table")
    text += (f"\n## kill -9 of one server during ingestion\n\nFour client threads sent 500-event batches (each with "
             f"an idempotency key, retried unchanged until acknowledged) to one more server on the same store; it "
             f"was killed with SIGKILL while {k['flying_at_kill']} requests were in flight and restarted "
             f"({k['restart_s']:.1f} s to answer again).\n\n"
             "| batches acknowledged | events acknowledged | events stored | lost | duplicated | retries | "
             "requests cut by the kill | retries answered as replays |\n|---|---|---|---|---|---|---|---|\n"
             f"| {k['batches']:,} | {k['events_acknowledged']:,} | {k['events_stored']:,} | {k['lost']} | "
             f"{k['duplicated']} | {k['retries']} | {k['dropped']} | {k['replayed']} |\n")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: BM25 search, seconds per scenario")
    parser.add_argument("--store", help="postgresql:// URL of an empty database (default: a throw-away server)")
    parser.add_argument("--servers", type=int, default=3, help="server processes (default 3)")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from tests.postgres import fresh_database, postgres_server

    from fathom.online.store import Store
    from fathom.online.store_pg import PgConnection

    encoder = "none" if args.quick else "minilm-int8"
    root = Path(tempfile.mkdtemp(prefix="fathom-load-pg-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        if args.store:
            url = args.store
        else:
            server_url = stack.enter_context(postgres_server(durable=True))
            if server_url is None:
                print("no PostgreSQL server: pass --store URL or install PostgreSQL", file=sys.stderr)
                return 3
            url = fresh_database(server_url)
        shared = root / "shared-artefacts"
        folders = [root / f"host-{chr(97 + n)}" for n in range(args.servers)]
        print(f"preparing {folders[0]} on PostgreSQL", flush=True)
        data = prepare(folders[0], url, shared)
        procs, bases = [], []
        started = time.perf_counter()
        for folder in folders:
            port = free_port()
            procs.append(start_server(folder, port, encoder, root / f"{folder.name}.log",
                                      options=("--store", url, "--artefacts", str(shared))))
            bases.append(f"http://127.0.0.1:{port}")
        label, signals = search_label(bases[0], data["queries"], encoder)
        print(f"{len(bases)} servers ready in {time.perf_counter() - started:.0f} s; search: {label}", flush=True)
        store = Store(folders[0], url=url, artefacts=shared)
        stack.callback(store.close)
        rows = []
        for spec in scenarios(args.quick):
            row = run_scenario(bases, spec, data, store)
            rows.append(row)
            print(f"  {row['endpoint']:<9} {row['level']:<15} {row['throughput_rps']:7.1f} req/s  "
                  f"p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}", flush=True)
        codes = [stop_server(p) for p in procs]
        print("kill -9 of a server during ingestion", flush=True)
        kill = kill_row(root / "host-killed", url, shared, data["items"], 6.0 if args.quick else 20.0,
                        root / "killed.log")
        print(f"  acknowledged {kill['events_acknowledged']:,}, stored {kill['events_stored']:,}, lost "
              f"{kill['lost']}, duplicated {kill['duplicated']}", flush=True)
        for row in rows:
            if row["endpoint"] == "search":
                row["endpoint"] = "search (hybrid)" if "dense" in signals else "search (BM25)"
        server = PgConnection(url)
        version = server.execute("SHOW server_version").fetchone()[0]
        settings = {name: server.execute(f"SHOW {name}").fetchone()[0] for name in ("fsync", "synchronous_commit")}
        server.close()
        meta = {"command": "python benchmarks/service_load_pg.py" + (" --quick" if args.quick else "")
                + (f" --servers {args.servers}" if args.servers != 3 else ""),
                "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M"), "workers": 1,
                "servers": args.servers, "postgres": version.split()[0],
                "postgres_settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
                "data": "MovieLens-100K", "model": data["model"], "search": label, "search_signals": signals,
                "search_encoder": encoder, "bootstrap_s": data["bootstrap_s"], "cpus": os.cpu_count(),
                "platform": platform.platform(), "python": platform.python_version(),
                "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()), "server_exit_codes": codes}
        ingest = [r for r in rows if r["endpoint"] == "ingest"]
        totals = {"events_sent": sum(r["events_sent"] for r in ingest),
                  "events_stored": sum(r["events_stored"] for r in ingest), "errors": sum(r["errors"] for r in rows)}
        targets = check_targets(rows, label, recommend_p99_ms=RECOMMEND_P99_MS)
        targets.append({"target": "no acknowledged event lost across the kill -9", "measured": kill["lost"],
                        "unit": "events lost", "met": kill["lost"] == 0})
        result = {"meta": meta, "rows": rows, "totals": totals, "targets": targets, "kill": kill}
        print()
        print_table(rows)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"service_load_pg_{args.servers}hosts" + ("_quick" if args.quick else "")
        (args.out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out_dir / f"{stem}.md").write_text(render(result))
        print(f"\nwrote {args.out_dir / stem}.md and .json")
        for t in targets:
            print(f"  {t['target']}: {t['measured']} -> {'met' if t['met'] else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
