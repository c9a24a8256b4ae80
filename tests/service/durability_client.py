"""Kill -9 durability, the parts shared by tests/service/test_durability.py and benchmarks/durability.py.

- :class:`KillableServer`: ``fathom serve`` in its own process group, killed with SIGKILL (the whole group: the
  serve process and any workers) and restarted on the same data folder and port; its output goes to one log file
  across restarts.
- :class:`Ingester`: client threads sending ``POST /events/batch`` in a loop. Each batch retries, with the same
  body (and the same ``Idempotency-Key`` unless keys are off), until it is acknowledged with 201; it counts the
  requests the server dropped while they were in flight, the refused connections, and the retries answered with
  ``Idempotency-Replayed: true`` (a batch stored before its acknowledgement was lost).
- :func:`batch_counts` / :func:`compare`: the stored rows of each batch, counted in the ``events`` table (SQLite
  file or PostgreSQL database, read-only). Batch ``n``'s events carry ``timestamp = marker + n``, so that each
  batch is told apart in the store.
- :func:`kill_during_training`: a kill while ``POST /models/train`` trains, the restart, and the next train.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DB_NAME = "fathom.sqlite3"
MARKER_FLOOR = 1_900_000_000  # batch markers start above every real timestamp (2030-03-17)
TAKEN_OVER = "is no longer running (stopped during its work); taken over by"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
            timeout: float = 60) -> tuple[int, dict[str, str], Any]:
    """One HTTP request on a new connection: (status, headers with lower-case names, JSON body or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"content-type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode(errors="replace")
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------- the server
class KillableServer:
    """``fathom serve --data-dir folder`` on a fixed loopback port, in a new session (process group)."""

    def __init__(self, folder: Path, log_path: Path, *options: str, port: int | None = None) -> None:
        self.folder, self.log_path, self.options = Path(folder), Path(log_path), options
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.starts: list[int] = []  # offset in the log where each start's output begins

    @property
    def source(self) -> Path | str:
        """Where its store is: the ``--store`` URL, else the data folder."""
        options = list(self.options)
        return options[options.index("--store") + 1] if "--store" in options else self.folder

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self, timeout: float = 300) -> float:
        """Start and wait until /health answers 200; returns the seconds that took."""
        assert self.proc is None, "already running"
        began = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FATHOM_")}
        env["FATHOM_ASSISTANT_WARM_UP"] = "0"  # these servers never chat
        self.starts.append(self.log_path.stat().st_size if self.log_path.exists() else 0)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fathom.cli.main", "serve", "--data-dir", str(self.folder), "--port",
                 str(self.port), *self.options], stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise RuntimeError(f"fathom serve exited with {code} while starting:\n{self.output(-1)[-3000:]}")
            try:
                if request(self.port, "GET", "/health", timeout=10)[0] == 200:
                    return time.perf_counter() - began
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"fathom serve did not answer /health within {timeout:.0f} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL to the server's whole process group; returns once the serve process is gone."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None

    def stop(self, timeout: float = 60) -> int:
        """Stop with SIGINT (uvicorn's graceful shutdown); SIGKILL when it takes longer than ``timeout``."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -signal.SIGKILL
        self.proc = None
        return code

    def output(self, start: int | None = None) -> str:
        """The server's output: all of it, or that of one start (index into :attr:`starts`, -1 the last)."""
        text = self.log_path.read_bytes() if self.log_path.exists() else b""
        if start is not None:
            begin = self.starts[start]
            end = self.starts[start + 1] if start != -1 and start + 1 < len(self.starts) else len(text)
            text = text[begin:end]
        return text.decode(errors="replace")


# ------------------------------------------------------------------------------------------------ the clients
@dataclass
class Batch:
    number: int
    events: list[dict[str, Any]]
    key: str | None
    attempts: int = 0
    acknowledged: bool = False
    replayed: bool = False


@dataclass
class IngestStats:
    batches: int = 0  # acknowledged
    attempts: int = 0
    dropped: int = 0  # requests that reached the server and got no answer (connection reset / closed)
    refused: int = 0  # connections refused (the server was down)
    replayed: int = 0  # retries answered "Idempotency-Replayed: true"
    http_errors: list[str] = field(default_factory=list)  # answers other than 201

    @property
    def retries(self) -> int:
        return self.attempts - self.batches


class Ingester:
    """``threads`` clients sending batches of ``batch_size`` events to ``POST /events/batch`` until :meth:`stop`.

    Batch ``n`` holds events of users ``{prefix}{0..users-1}`` on items drawn from ``items`` (seeded by ``n``),
    all with ``timestamp = marker + n``; with ``keys`` it carries ``Idempotency-Key: {prefix}{run}-{n}``. A batch
    is sent again, unchanged, after a connection error or an answer other than 201, until it is acknowledged:
    :meth:`stop` lets every client finish the batch it holds."""

    def __init__(self, port: int, items: list[str], marker: int, batch_size: int = 100, threads: int = 2,
                 keys: bool = True, users: int = 50, prefix: str = "durability-", retry_pause: float = 0.05,
                 timeout: float = 120) -> None:
        self.port, self.items, self.marker = port, items, marker
        self.batch_size, self.keys, self.users, self.prefix = batch_size, keys, users, prefix
        self.retry_pause, self.timeout = retry_pause, timeout
        self.run = uuid.uuid4().hex[:12]
        self.sent: dict[int, Batch] = {}
        self.stats = IngestStats()
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._flying: set[int] = set()  # batches with a request on its way or being answered
        self._stop, self._abort = threading.Event(), threading.Event()
        self._progress = threading.Condition(self._lock)
        self._threads = [threading.Thread(target=self._loop, name=f"durability-client-{i}", daemon=True)
                         for i in range(threads)]

    def start(self) -> Ingester:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float = 600) -> None:
        """Stop sending new batches; wait until every client's last batch is acknowledged."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            raise RuntimeError(f"clients still retrying after {timeout:.0f} s: {alive}")

    def abort(self) -> None:
        """Give up at once (after a failure): clients stop retrying."""
        self._stop.set()
        self._abort.set()

    def flying(self) -> list[Batch]:
        """The batches with a request in flight now, not yet acknowledged."""
        with self._lock:
            return [self.sent[n] for n in self._flying if not self.sent[n].acknowledged]

    def batch(self, number: int) -> Batch:
        rng = random.Random(number)
        events = [{"user_id": f"{self.prefix}{rng.randrange(self.users)}", "item_id": rng.choice(self.items),
                   "event": "click", "timestamp": self.marker + number} for _ in range(self.batch_size)]
        return Batch(number, events, f"{self.prefix}{self.run}-{number}" if self.keys else None)

    def wait_acknowledged(self, more: int, timeout: float = 300) -> None:
        """Block until ``more`` further batches have been acknowledged."""
        with self._progress:
            target = self.stats.batches + more
            if not self._progress.wait_for(lambda: self.stats.batches >= target, timeout):
                raise RuntimeError(f"no {more} batches acknowledged within {timeout:.0f} s ({self.stats})")

    def wait_in_flight(self, timeout: float = 60) -> None:
        """Block until at least one request is on its way to the server or being answered."""
        with self._progress:
            if not self._progress.wait_for(lambda: bool(self._flying), timeout):
                raise RuntimeError(f"no request in flight within {timeout:.0f} s")

    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self.batch(next(self._numbers))
            with self._lock:
                self.sent[batch.number] = batch
            self._send(batch)

    def _send(self, batch: Batch) -> None:
        headers = {"Idempotency-Key": batch.key} if batch.key else {}
        body = {"events": batch.events}
        while not self._abort.is_set():
            with self._progress:
                self._flying.add(batch.number)
                self._progress.notify_all()
            batch.attempts += 1
            outcome, detail = "error", ""
            try:
                status, reply_headers, payload = request(self.port, "POST", "/events/batch", body, headers,
                                                         self.timeout)
                if status == 201 and payload == {"stored": len(batch.events)}:
                    outcome = "ok"
                    batch.replayed = reply_headers.get("idempotency-replayed") == "true"
                else:
                    detail = f"batch {batch.number}: {status} {str(payload)[:200]}"
            except ConnectionRefusedError:
                outcome = "refused"
            except (OSError, http.client.HTTPException):  # reset, closed without an answer, timed out
                outcome = "dropped"
            with self._progress:
                self._flying.discard(batch.number)
                self.stats.attempts += 1
                if outcome == "ok":
                    batch.acknowledged = True
                    self.stats.batches += 1
                    self.stats.replayed += batch.replayed
                    self._progress.notify_all()
                    return
                if outcome == "refused":
                    self.stats.refused += 1
                elif outcome == "dropped":
                    self.stats.dropped += 1
                else:
                    self.stats.http_errors.append(detail)
            time.sleep(self.retry_pause)


# --------------------------------------------------------------------------------------------- what is stored
def _readonly(where: Path | str) -> Any:
    """A read-only connection to the store: a data folder's SQLite file, or a ``postgresql://`` URL (``?``
    placeholders either way)."""
    if str(where).startswith("postgresql://"):
        from fathom.online.store_pg import PgConnection

        return PgConnection(str(where))
    return sqlite3.connect(f"file:{Path(where) / DB_NAME}?mode=ro", uri=True, timeout=30)


def next_marker(where: Path | str) -> int:
    """A batch marker above every event timestamp stored in ``folder``."""
    conn = _readonly(where)
    try:
        top = conn.execute("SELECT MAX(timestamp) FROM events").fetchone()[0] or 0
    finally:
        conn.close()
    return max(MARKER_FLOOR, int(top) + 1)


def catalogue(where: Path | str) -> list[str]:
    conn = _readonly(where)
    try:
        return [r[0] for r in conn.execute("SELECT item_id FROM items ORDER BY item_id")]
    finally:
        conn.close()


def integrity_check(where: Path | str) -> str:
    """SQLite's ``PRAGMA integrity_check`` of the store: "ok", or the problems it lists. On PostgreSQL, whose
    files the killed service never writes (the database server survives it), "ok" once every table answers."""
    conn = _readonly(where)
    try:
        if str(where).startswith("postgresql://"):
            for table in ("items", "users", "events", "model_versions", "meta"):
                conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
            return "ok"
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def batch_counts(where: Path | str, marker: int) -> dict[int, int]:
    """Stored events per batch number (rows with ``timestamp >= marker``)."""
    conn = _readonly(where)
    try:
        rows = conn.execute("SELECT timestamp - ?, COUNT(*) FROM events WHERE timestamp >= ? GROUP BY timestamp",
                            (marker, marker)).fetchall()
    finally:
        conn.close()
    return {int(n): int(c) for n, c in rows}


def stored_batches(where: Path | str, marker: int, numbers: list[int]) -> set[int]:
    """Those of batches ``numbers`` that have rows in the store."""
    if not numbers:
        return set()
    conn = _readonly(where)
    try:
        rows = conn.execute(f"SELECT DISTINCT timestamp - ? FROM events WHERE timestamp IN "
                            f"({','.join('?' * len(numbers))})", (marker, *(marker + n for n in numbers))).fetchall()
    finally:
        conn.close()
    return {int(r[0]) for r in rows}


@dataclass
class Comparison:
    batches: int  # acknowledged
    events_acknowledged: int
    events_stored: int
    lost: int  # events of acknowledged batches missing from the store
    duplicated: int  # events stored more often than once
    batches_lost: list[int]
    batches_duplicated: list[int]
    unacknowledged_stored: list[int]  # batches stored that no client saw acknowledged


def compare(ingester: Ingester, counts: dict[int, int]) -> Comparison:
    """Every acknowledged batch against its stored rows: present exactly once, none lost, none duplicated."""
    acked = {n: len(b.events) for n, b in ingester.sent.items() if b.acknowledged}
    lost = {n: size - counts.get(n, 0) for n, size in acked.items() if counts.get(n, 0) < size}
    extra = {n: c - acked.get(n, 0) for n, c in counts.items() if c > acked.get(n, 0) and n in acked}
    return Comparison(batches=len(acked), events_acknowledged=sum(acked.values()),
                      events_stored=sum(counts.values()), lost=sum(lost.values()), duplicated=sum(extra.values()),
                      batches_lost=sorted(lost), batches_duplicated=sorted(extra),
                      unacknowledged_stored=sorted(set(counts) - set(acked)))


# ----------------------------------------------------------------------------------------------- the learner
def learner(port: int) -> dict[str, Any]:
    status, _, payload = request(port, "GET", "/status", timeout=30)
    assert status == 200, payload
    return payload["learner"]


@dataclass
class TrainingKill:
    holder: str  # the lease holder at the kill
    killed_pid: int
    restart_s: float  # kill to /health answering 200
    integrity: str  # PRAGMA integrity_check of the store as the kill left it
    takeover_logged: bool  # the restarted server's output says the dead holder's lease was taken over
    train_status: int  # POST /models/train after the restart (the last answer)
    train_report: Any
    conflicts: int  # 409 answers before it
    recovery_s: float  # healthy to the POST /models/train that succeeded
    training_after: bool  # /status learner.training right after the restart


def kill_during_training(server: KillableServer, train: dict[str, Any], after: dict[str, Any],
                         wait_s: float = 120, retry_for_s: float = 0.0) -> TrainingKill:
    """Start ``POST /models/train`` with ``train`` in a thread, SIGKILL the server once the learner holds the lease
    and the run logged that it trains (needs ``--log-level info``), restart it, then ``POST /models/train`` with
    ``after``; a 409 is retried for ``retry_for_s`` seconds (0: one try)."""
    assert server.port and server.pid
    answers: list[Any] = []

    def post() -> None:
        try:
            status, _, payload = request(server.port, "POST", "/models/train", train, timeout=3600)
            answers.append((status, payload))
        except (OSError, http.client.HTTPException) as exc:
            answers.append(exc)

    thread = threading.Thread(target=post, name="durability-train", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while True:
        state = learner(server.port)
        if state["training"] and "training on" in server.output(-1):
            break
        if answers or time.monotonic() > deadline:
            raise RuntimeError(f"training did not start, or ended before the kill: {answers or state}")
        time.sleep(0.1)
    holder, killed_pid = state["lease_holder"], server.pid
    killed_at = time.perf_counter()
    server.kill()
    killing_s = time.perf_counter() - killed_at
    thread.join(60)
    integrity = integrity_check(server.source)
    restart_s = killing_s + server.start()
    healthy = time.perf_counter()
    training_after = learner(server.port)["training"]
    conflicts = 0
    while True:
        status, _, report = request(server.port, "POST", "/models/train", after, timeout=3600)
        if status != 409 or time.perf_counter() - healthy >= retry_for_s:
            break
        conflicts += 1
        time.sleep(1.0)
    return TrainingKill(holder=holder, killed_pid=killed_pid, restart_s=restart_s, integrity=integrity,
                        takeover_logged=f"{holder} {TAKEN_OVER}" in server.output(-1), train_status=status,
                        train_report=report, conflicts=conflicts, recovery_s=time.perf_counter() - healthy,
                        training_after=training_after)


# ------------------------------------------------------------------------------------------- kills in ingestion
KillMode = Literal["in flight", "after commit"]


@dataclass
class IngestKill:
    mode: KillMode
    restart_s: float  # SIGKILL to /health answering 200 again
    integrity: str  # PRAGMA integrity_check of the store as the kill left it
    flying: list[int]  # batches with a request in flight at the kill
    committed: list[int]  # of those, the ones already committed in the store (after commit: unanswered)
    pauses: int  # SIGSTOP pauses it took to catch a batch after its commit (after commit)


def kill_and_restart(server: KillableServer, ingester: Ingester, mode: KillMode, tries: int = 2000,
                     settle_s: float = 0.2) -> IngestKill:
    """SIGKILL the server while batches are in flight, check the store, start the server again.

    ``in flight``: at once, while at least one request is on its way or being answered. ``after commit``: at a
    moment when a batch in flight is already committed in the store but its request not yet answered: the
    server's process group is paused (SIGSTOP), ``settle_s`` later (answers already written have reached their
    clients by then) the store is read, and the server is killed while paused when such a batch is found, resumed
    otherwise; after ``tries`` pauses without one, it is killed anyway."""
    assert server.proc is not None
    flying: list[int] = []
    committed: set[int] = set()
    pauses = 0
    for attempt in range(tries if mode == "after commit" else 1):
        ingester.wait_in_flight()
        if mode == "in flight":
            flying = [b.number for b in ingester.flying()]
            break
        os.killpg(server.proc.pid, signal.SIGSTOP)
        pauses += 1
        time.sleep(settle_s)  # an answer already written reaches its client meanwhile
        flying = [b.number for b in ingester.flying()]
        committed = stored_batches(server.source, ingester.marker, flying)
        if committed or attempt == tries - 1:
            break
        os.killpg(server.proc.pid, signal.SIGCONT)
        time.sleep(random.uniform(0, 0.005))
    killed_at = time.perf_counter()
    server.kill()
    killing_s = time.perf_counter() - killed_at
    integrity = integrity_check(server.source)
    restart_s = killing_s + server.start()
    return IngestKill(mode, restart_s, integrity, sorted(flying), sorted(committed), pauses)
