"""Kill -9 durability of the real-time service: `fathom serve` on a store prepared from MovieLens-100K (the
service's first-start bootstrap, EASE) is killed with SIGKILL (its whole process group) while client threads send
batches of events, and while it trains; it is restarted on the same data folder each time.

Each client sends batches to `POST /events/batch` in a loop and retries a batch, unchanged, until it is
acknowledged (201). Batch n's events carry the timestamp marker + n, so that the rows of each batch are counted in
the SQLite `events` table (read-only) at the end: lost = events of acknowledged batches missing, duplicated = events
stored more than once. Four ingestion rows: clients with an `Idempotency-Key` per batch and clients without one,
each with kills at a random moment while requests are in flight and with kills that land after a batch was
committed and before it was answered (the server's process group is paused with SIGSTOP until a batch in flight is
found committed; then killed). Training rows: a kill while `POST /models/train` fits a BPR candidate (keyed clients
sending meanwhile), then how soon the restarted service trains again (the dead holder's lease taken over).

    python benchmarks/durability.py --kills 5 --batch 500     # results/hardening/durability.md
    python benchmarks/durability.py --data synthetic --kills 2 --batch 50 --out /tmp/durability.md   # seconds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/service/durability_client.py: the clients and kills the test uses too

from tests.service.durability_client import (  # noqa: E402
    Ingester,
    IngestKill,
    KillableServer,
    KillMode,
    TrainingKill,
    batch_counts,
    catalogue,
    compare,
    integrity_check,
    kill_and_restart,
    kill_during_training,
    learner,
    next_marker,
)

OUT = ROOT / "benchmarks" / "results" / "hardening" / "durability.md"
SLOW_TRAIN = {"model": "bpr", "settings": {"epochs": 1_000_000, "progress": False}, "force": True,
              "min_validation_users": 1}  # fits until killed
AFTER_TRAIN = {"force": True, "min_validation_users": 1}  # the active model (EASE) on every event: seconds


@dataclass
class IngestRow:
    clients: str
    kills_land: str
    kills: list[IngestKill] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def prepare(folder: Path, data: str) -> str:
    """Fill ``folder``: MovieLens-100K through the service's first-start bootstrap, or the tests' synthetic store."""
    from fathom.online.store import Store

    if data == "synthetic":
        from tests.service.synthetic import prepare_folder

        prepare_folder(folder)
    else:
        from fathom.online.bootstrap import bootstrap

        bootstrap(folder, log=lambda m: print("  " + m, flush=True))
    store = Store(folder)
    try:
        active = store.active_version()
        items, events = len(store.items()), store.event_count()
    finally:
        store.close()
    name = "MovieLens-100K" if data == "movielens-100k" else "the tests' synthetic store"
    return f"{name} ({items:,} items, {events:,} events; {active.model} v{active.version} active)"


def kill_pause(rng: random.Random, clients: Ingester, between: int) -> None:
    """Let the clients get ``between`` batches acknowledged, then wait a random moment (up to 1 s)."""
    clients.wait_acknowledged(between)
    time.sleep(rng.uniform(0, 1.0))


def ingestion_row(server: KillableServer, args: argparse.Namespace, rng: random.Random, items: list[str],
                  keys: bool, mode: KillMode) -> IngestRow:
    row = IngestRow("Idempotency-Key" if keys else "no key",
                    "in flight" if mode == "in flight" else "after commit, before the answer")
    tag = f"{'key' if keys else 'nokey'}-{mode.split()[0]}"
    clients = Ingester(server.port, items, next_marker(server.folder), batch_size=args.batch, threads=args.threads,
                       keys=keys, users=args.users, prefix=f"durability-{tag}-").start()
    try:
        for n in range(args.kills):
            kill_pause(rng, clients, args.between)
            kill = kill_and_restart(server, clients, mode)
            row.kills.append(kill)
            caught = f", {len(kill.committed)} of them committed" if mode == "after commit" else ""
            print(f"  [{row.clients}, {row.kills_land}] kill {n + 1}/{args.kills}: {len(kill.flying)} batches in "
                  f"flight{caught}; restarted in {kill.restart_s:.1f} s, integrity {kill.integrity}; "
                  f"{clients.stats.batches} batches acknowledged so far", flush=True)
        clients.wait_acknowledged(args.between)  # the clients go on after the last restart
        clients.stop()
    except BaseException:
        clients.abort()
        raise
    row.stats = outcome(server, clients)
    return row


def outcome(server: KillableServer, clients: Ingester) -> dict[str, Any]:
    result = compare(clients, batch_counts(server.folder, clients.marker))
    stats = clients.stats
    return {"batches": len(clients.sent), "retries": stats.retries, "dropped": stats.dropped,
            "refused": stats.refused, "replayed": stats.replayed, "http_errors": stats.http_errors,
            "acknowledged": result.events_acknowledged, "stored": result.events_stored, "lost": result.lost,
            "duplicated": result.duplicated, "unacknowledged_stored": len(result.unacknowledged_stored),
            "batches_duplicated": len(result.batches_duplicated), "integrity": integrity_check(server.folder)}


def training_rows(server: KillableServer, args: argparse.Namespace, rng: random.Random,
                  items: list[str]) -> tuple[IngestRow, list[TrainingKill]]:
    """Kills during training, keyed clients sending all along (their batches are checked like the others)."""
    row = IngestRow("Idempotency-Key", "during training (POST /models/train)")
    kills: list[TrainingKill] = []
    clients = Ingester(server.port, items, next_marker(server.folder), batch_size=args.batch, threads=args.threads,
                       keys=True, users=args.users, prefix="durability-train-").start()
    try:
        for n in range(args.train_kills):
            kill_pause(rng, clients, args.between)
            kill = kill_during_training(server, SLOW_TRAIN, AFTER_TRAIN, wait_s=600, retry_for_s=400)
            kills.append(kill)
            row.kills.append(IngestKill("in flight", kill.restart_s, kill.integrity, [], [], 0))
            report = kill.train_report if isinstance(kill.train_report, dict) else {}
            print(f"  [kill during training] {n + 1}/{args.train_kills}: lease holder {kill.holder} killed, "
                  f"restarted in {kill.restart_s:.1f} s, takeover logged: {kill.takeover_logged}; POST /models/train "
                  f"-> {kill.train_status} {report.get('status', kill.train_report)} after {kill.conflicts} x 409, "
                  f"{kill.recovery_s:.1f} s after the restart", flush=True)
        clients.wait_acknowledged(args.between)
        clients.stop()
    except BaseException:
        clients.abort()
        raise
    row.stats = outcome(server, clients)
    return row, kills


# ------------------------------------------------------------------------------------------------- reporting
INGEST_COLUMNS = ["clients", "kills land", "kills", "batches sent", "retries", "dropped in flight", "replayed",
                  "events acknowledged", "events stored", "lost", "duplicated", "integrity check",
                  "restart mean s", "restart max s"]
TRAIN_COLUMNS = ["kills during training", "lease takeover logged", "409 answers", "POST /models/train after",
                 "lease recovery mean s", "lease recovery max s", "restart mean s", "restart max s"]


def ingest_cells(row: IngestRow) -> list[str]:
    s, restarts = row.stats, [k.restart_s for k in row.kills]
    checks = {k.integrity for k in row.kills} | {s["integrity"]}
    return [row.clients, row.kills_land, str(len(row.kills)), f"{s['batches']:,}", f"{s['retries']:,}",
            f"{s['dropped']:,}", f"{s['replayed']:,}" if row.clients != "no key" else "n/a",
            f"{s['acknowledged']:,}", f"{s['stored']:,}",
            f"{s['lost']:,}", f"{s['duplicated']:,}", "ok" if checks == {"ok"} else "; ".join(sorted(checks)),
            f"{statistics.mean(restarts):.1f}" if restarts else "", f"{max(restarts):.1f}" if restarts else ""]


def train_cells(kills: list[TrainingKill]) -> list[str]:
    if not kills:
        return ["0"] + [""] * (len(TRAIN_COLUMNS) - 1)
    recovery, restarts = [k.recovery_s for k in kills], [k.restart_s for k in kills]
    answers = sorted({f"{k.train_status} {k.train_report.get('status', '')}".strip() if isinstance(
        k.train_report, dict) else str(k.train_status) for k in kills})
    return [str(len(kills)), f"{sum(k.takeover_logged for k in kills)} / {len(kills)}",
            str(sum(k.conflicts for k in kills)), ", ".join(answers), f"{statistics.mean(recovery):.1f}",
            f"{max(recovery):.1f}", f"{statistics.mean(restarts):.1f}", f"{max(restarts):.1f}"]


def markdown_table(columns: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(r) + " |" for r in rows)]


def render(meta: dict[str, Any], rows: list[IngestRow], kills: list[TrainingKill]) -> str:
    lines = ["# Kill -9 durability", "",
             f"`{meta['command']}` on {meta['date']}. Machine: {meta['machine']}; load average at start "
             f"{meta['loadavg']} (a shared machine: the clients and other jobs compete with the server for the "
             "cores; times are wall-clock).", "",
             f"`fathom serve` ({meta['workers']} worker process{'es' if meta['workers'] != 1 else ''}) on "
             f"{meta['data']}; SIGKILL to its process group, then restarted on the same data folder and port. "
             f"Clients: {meta['threads']} threads in the benchmark's process, batches of {meta['batch']} events "
             f"(clicks of {meta['users']:,} new users per row on random catalogue items) to `POST /events/batch`, "
             "each retried unchanged every 0.05 s until acknowledged (201); "
             f"{meta['between']} batches acknowledged, then up to 1 s more, between kills. Events are counted per "
             "batch in the SQLite `events` table (read-only) once the clients have stopped.", "",
             "## Ingestion", "",
             "Kills land *in flight*: at a random moment while at least one request is on its way or being "
             "answered; *after commit, before the answer*: the server's process group is paused (SIGSTOP) until a "
             "batch in flight is found committed in the store and still unanswered 0.2 s into the pause, and killed "
             "then. Retries: requests sent again (while the server was down, most were refused); dropped in flight: "
             "requests cut by a kill; replayed: retries answered `Idempotency-Replayed: true` (the batch had been "
             "stored before its answer was lost). Integrity check: SQLite `PRAGMA integrity_check` after every kill "
             "(before the restart) and at the end. Restart: from SIGKILL to `/health` answering 200.", ""]
    lines += markdown_table(INGEST_COLUMNS, [ingest_cells(r) for r in rows])
    lines += ["", "## Training", "",
              "A kill once `GET /status` shows the learner lease held and the server log says the run trains (a BPR "
              "candidate fitting for up to a million epochs); after the restart `POST /models/train` "
              f"`{json.dumps(AFTER_TRAIN)}` (the active version's model on every stored event), sent again after a "
              "409 for up to 400 s (the lease lasts 300 s). Lease recovery: from `/health` answering 200 after the "
              "restart to that POST's 200 answer, training included; lease takeover logged: the restarted server's "
              "output names the killed holder (`... is no longer running (stopped during its work); taken over by "
              "...`).", ""]
    lines += markdown_table(TRAIN_COLUMNS, [train_cells(kills)])
    errors = [e for r in rows for e in r.stats["http_errors"]]
    stray = sum(r.stats["unacknowledged_stored"] for r in rows)
    lines += ["", f"Answers other than 201 to event batches: {len(errors)}; batches stored that no client saw "
              f"acknowledged: {stray}; server exit code after the final SIGINT: {meta['exit_code']}.", ""]
    if errors:
        lines += ["Samples:", "", *[f"- `{e}`" for e in errors[:10]], ""]
    return "\n".join(lines)


def print_table(columns: list[str], rows: list[list[str]]) -> None:
    table = [columns, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(columns))]
    for n, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=5, help="kills per ingestion row (4 rows; default 5)")
    parser.add_argument("--train-kills", type=int, default=2, help="kills during training (default 2)")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (default 500)")
    parser.add_argument("--threads", type=int, default=3, help="client threads (default 3)")
    parser.add_argument("--users", type=int, default=1000,
                        help="users per row the events are spread over (new ids; default 1000)")
    parser.add_argument("--between", type=int, default=10,
                        help="batches acknowledged between kills (default 10)")
    parser.add_argument("--data", choices=["movielens-100k", "synthetic"], default="movielens-100k",
                        help="store to prepare (default movielens-100k; synthetic: the tests' 20-item store)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moments of the kills")
    parser.add_argument("--out", type=Path, default=OUT, help=f"markdown table to write (default {OUT})")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())
    work = Path(tempfile.mkdtemp(prefix="fathom-durability-"))
    folder = work / "data"
    server = KillableServer(folder, work / "server.log", "--log-level", "info", "--workers", str(args.workers))
    try:
        print(f"preparing {folder}", flush=True)
        data = prepare(folder, args.data)
        items = catalogue(folder)
        started = server.start()
        print(f"fathom serve on http://127.0.0.1:{server.port} ready in {started:.1f} s ({data})", flush=True)
        rows = [ingestion_row(server, args, rng, items, keys, mode)
                for keys in (True, False) for mode in ("in flight", "after commit")]
        train_row, train_kills = training_rows(server, args, rng, items)
        rows.append(train_row)
        assert learner(server.port)["training"] is False
        exit_code = server.stop()
        print(f"server stopped (exit code {exit_code}); store integrity {integrity_check(folder)}", flush=True)
        command = " ".join(["python benchmarks/durability.py", *(argv if argv is not None else sys.argv[1:])])
        meta = {"command": command, "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": f"{os.cpu_count()} CPU cores, CPU only (no GPU), {platform.platform()}, Python "
                           f"{platform.python_version()}",
                "data": data, "workers": args.workers, "threads": args.threads, "batch": args.batch,
                "between": args.between, "users": args.users, "exit_code": exit_code, "loadavg": loadavg}
        print()
        print_table(INGEST_COLUMNS, [ingest_cells(r) for r in rows])
        print()
        print_table(TRAIN_COLUMNS, [train_cells(train_kills)])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(render(meta, rows, train_kills))
        print(f"\nwrote {args.out}")
        return 0
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
