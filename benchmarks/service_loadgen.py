"""Load generator of benchmarks/service_load.py: one scenario against a running service, in its own process.

Reads a plan (JSON) on stdin, sends requests with asyncio + httpx, writes raw results (JSON) on stdout. Imports
nothing from fathom, so that it stays a light client process beside the server.

Plan: ``{"base": URL (or "bases": [URL, ...], taken in turn as a round-robin balancer would), "kind": "recommend" |
"search" | "ingest", "mode": "open" | "closed", "rate": requests/s
(open loop), "concurrency": workers (closed loop), "duration": s, "batch": events per ingest request, "warmup":
reads sent first and not measured, "users": [...], "items": [...], "queries": [...], "seed": int}``.

Open loop: request i is sent at t0 + i / rate whatever the earlier ones are doing (latency is measured from the
actual send; ``lag`` is how late the generator sent it, so a generator that falls behind shows up). Closed loop:
``concurrency`` workers, each sending its next request when the previous one is answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from typing import Any

import httpx


class Scenario:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.kind: str = plan["kind"]
        self.rng = random.Random(plan.get("seed", 0))
        self.latencies: list[float] = []  # ms, measured requests only
        self.lags: list[float] = []  # ms, open loop only
        self.errors = 0
        self.error_samples: list[str] = []
        self.events_sent = 0
        self.events_accepted = 0

    def request(self) -> tuple[str, str, dict | None]:
        """(method, path, JSON body) of the next request."""
        p, rng = self.plan, self.rng
        if self.kind == "recommend":
            return "GET", f"/recommend/{rng.choice(p['users'])}?k=10", None
        if self.kind == "search":
            return "GET", "/search", {"q": rng.choice(p["queries"]), "k": 10}
        now = int(time.time())
        events = [{"user_id": rng.choice(p["users"]), "item_id": rng.choice(p["items"]), "event": "view",
                   "timestamp": now} for _ in range(p["batch"])]
        return "POST", "/events/batch", {"events": events}

    async def send(self, client: httpx.AsyncClient, measure: bool = True, lag: float | None = None) -> None:
        method, path, body = self.request()
        n_events = len(body["events"]) if method == "POST" and body else 0
        self.events_sent += n_events
        start = time.perf_counter()
        try:
            if method == "GET":
                resp = await client.get(path, params=body)
            else:
                resp = await client.post(path, json=body)
            ok = resp.status_code < 400
            detail = f"{resp.status_code} {resp.text[:200]}"
            if ok and n_events:
                self.events_accepted += int(resp.json()["stored"])
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        elapsed = (time.perf_counter() - start) * 1000
        if not measure:
            return
        self.latencies.append(elapsed)
        if lag is not None:
            self.lags.append(lag)
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(detail)


async def open_loop(s: Scenario, client: httpx.AsyncClient, rate: float, duration: float) -> float:
    n = max(1, int(rate * duration))
    loop = asyncio.get_running_loop()
    t0 = loop.time() + 0.01
    tasks = []
    for i in range(n):
        due = t0 + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(s.send(client, lag=max(0.0, loop.time() - due) * 1000)))
    await asyncio.gather(*tasks)
    return loop.time() - t0


async def closed_loop(s: Scenario, client: httpx.AsyncClient, concurrency: int, duration: float) -> float:
    start = time.perf_counter()
    deadline = start + duration

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await s.send(client)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start


class RoundRobin:
    """Clients of several servers, one request each in turn (what a round-robin load balancer does)."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.clients, self.turn = clients, 0

    def _next(self) -> httpx.AsyncClient:
        self.turn += 1
        return self.clients[self.turn % len(self.clients)]

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self._next().get(path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self._next().post(path, **kw)


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    s = Scenario(plan)
    width = max(int(plan.get("concurrency") or 1), 8)
    limits = httpx.Limits(max_connections=max(width, 256), max_keepalive_connections=max(width, 64))
    bases = plan.get("bases") or [plan["base"]]
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(httpx.AsyncClient(base_url=b, limits=limits, timeout=60.0))
                   for b in bases]
        client: Any = clients[0] if len(clients) == 1 else RoundRobin(clients)
        if s.kind != "ingest":  # warm the connection and the server; never for writes (they would be counted)
            for _ in range(int(plan.get("warmup", 0))):
                await s.send(client, measure=False)
        if plan["mode"] == "open":
            elapsed = await open_loop(s, client, float(plan["rate"]), float(plan["duration"]))
        else:
            elapsed = await closed_loop(s, client, int(plan["concurrency"]), float(plan["duration"]))
    return {"requests": len(s.latencies), "errors": s.errors, "error_samples": s.error_samples,
            "elapsed_s": elapsed, "latencies_ms": s.latencies, "lags_ms": s.lags,
            "events_sent": s.events_sent, "events_accepted": s.events_accepted}


if __name__ == "__main__":
    json.dump(asyncio.run(run(json.load(sys.stdin))), sys.stdout)
