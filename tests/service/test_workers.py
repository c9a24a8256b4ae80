"""Several worker processes (``fathom serve --workers 2``, a real uvicorn server) serve one store consistently:
an item upsert or a model activation handled by one worker is seen by every worker at its next request."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from fathom.online.store import Store
from fathom.online.versions import train_version
from fathom.service.deps import WORKER_HEADER
from tests.service.server import serve
from tests.service.synthetic import prepare_folder


def call(url: str, body: dict | None = None, method: str | None = None) -> tuple[int, dict, str]:
    """(status, JSON body, answering worker's pid) of one request on a fresh connection."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}, resp.headers.get(WORKER_HEADER, "")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers.get(WORKER_HEADER, "")


def answers_from_every_worker(url: str, check: Callable[[dict], bool], n_workers: int = 2,
                              wait_s: float = 180.0) -> dict[str, int]:
    """Send requests (8 at a time, each on its own connection) until every worker answered at least 5; assert
    that every answer passes ``check``. Returns the number of answers per worker pid. A worker still starting up
    (loading its models on a busy machine) accepts nothing, so this keeps asking for up to ``wait_s`` seconds."""
    per_worker: dict[str, int] = {}
    give_up = time.monotonic() + wait_s
    with ThreadPoolExecutor(8) as pool:
        while len(per_worker) < n_workers or min(per_worker.values()) < 5:
            assert time.monotonic() < give_up, f"not every worker answered within {wait_s} s: {per_worker}"
            for status, body, pid in pool.map(lambda _: call(url), range(8)):
                assert status == 200 and check(body), (pid, body)
                per_worker[pid] = per_worker.get(pid, 0) + 1
            if len(per_worker) < n_workers:
                time.sleep(0.05)  # let a starting worker reach accept()
    return per_worker


@pytest.fixture
def server(tmp_path):
    folder = prepare_folder(tmp_path / "data")
    with serve(folder, "--workers", "2", startup_s=180, stop_s=60) as running:
        yield running.base, folder


def test_two_workers_see_each_others_item_upserts_and_model_activations(server):
    base, folder = server
    # both workers are up and agree: version 1 is served, "banjo" matches nothing
    workers = answers_from_every_worker(f"{base}/search?q=banjo", lambda b: b["hits"] == [])
    assert len(workers) == 2

    # an item upsert handled by one worker: searchable on every worker's next request
    status, _, writer = call(f"{base}/items/n1", {"title": "Quantum Banjo Manual"}, method="PUT")
    assert status == 200 and writer in workers
    answers_from_every_worker(f"{base}/search?q=banjo", lambda b: [h["item_id"] for h in b["hits"]] == ["n1"])
    # and a delete
    assert call(f"{base}/items/n1", method="DELETE")[0] == 204
    answers_from_every_worker(f"{base}/search?q=banjo", lambda b: b["hits"] == [])

    # a new version registered by another process (a trainer), activated through one worker: served by all
    store = Store(folder)
    try:
        assert train_version(store, "pop").version == 2
    finally:
        store.close()
    assert call(f"{base}/recommend/u0?k=3")[1]["model_version"] == 1
    status, body, _ = call(f"{base}/models/2/activate", {}, method="POST")
    assert status == 200 and body["active"] is True
    answers_from_every_worker(f"{base}/recommend/u0?k=3", lambda b: b["model_version"] == 2
                              and all(r["reason"] == "popular" for r in b["items"]))
    # a rollback through one worker: every worker serves version 1 again
    assert call(f"{base}/models/rollback", {}, method="POST")[1]["version"] == 1
    answers_from_every_worker(f"{base}/recommend/u0?k=3", lambda b: b["model_version"] == 1
                              and b["items"][0]["reason"].startswith("because you interacted with"))
    # an event posted to one worker excludes the item on every worker
    assert call(f"{base}/events", {"user_id": "u0", "item_id": "s6"})[0] == 201
    answers_from_every_worker(f"{base}/recommend/u0?k=4", lambda b: "s6" not in [r["item_id"] for r in b["items"]])
