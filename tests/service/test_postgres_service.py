"""``fathom serve --store postgresql://...``: the service on a real PostgreSQL database, with two worker processes
(each with its own connection): reads, writes seen by the other worker, a model activated through one worker and
served by both, and the status page's counts read from PostgreSQL."""

from __future__ import annotations

import json
import urllib.request

from fathom.online.store import Store
from fathom.online.versions import train_version
from tests.service.server import serve
from tests.service.synthetic import prepare_folder


def call(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.status, json.loads(resp.read()), dict(resp.headers)


def test_two_hosts_with_their_own_data_folders_share_the_database_and_the_artefacts(tmp_path, postgres_url):
    """Two `fathom serve` processes as two hosts, host A with two worker processes: separate data folders (each
    its own search index), one PostgreSQL database, one shared artefacts folder (what each would mount). A write
    through one worker or host is read through every other, a version trained by one host is served by all at
    their next request, and the status counts come from PostgreSQL."""
    shared = tmp_path / "shared-artefacts"
    prepare_folder(tmp_path / "host-a", url=postgres_url, artefacts=shared)
    assert not (tmp_path / "host-a" / "fathom.sqlite3").exists()  # the rows live in PostgreSQL
    options = ("--store", postgres_url, "--artefacts", str(shared))
    with serve(tmp_path / "host-a", *options, "--workers", "2") as a, serve(tmp_path / "host-b", *options) as b:
        assert not (tmp_path / "host-b" / "fathom.sqlite3").exists()  # host b prepared nothing: the store was ready
        _, body, _ = call(a.base, "GET", "/recommend/u0?k=4")
        assert {r["item_id"] for r in body["items"]} == {"s6", "s7", "s8", "s9"}
        status, stored, _ = call(a.base, "POST", "/events/batch", {"events": [
            {"user_id": "new", "item_id": f"s{n}", "event": "click"} for n in range(3)]})
        assert status == 201 and stored["stored"] == 3
        workers, seen = set(), []
        for _ in range(20):  # both of host A's workers answer, and both see the new user's events
            _, user, headers = call(a.base, "GET", "/users/new")
            workers.add(headers["x-fathom-worker"])
            seen.append(user["events"])
        assert seen == [3] * 20 and len(workers) == 2
        assert call(a.base, "GET", "/status")[1]["counts"]["events"] == 20 * 6 + 3
        first = call(a.base, "GET", "/recommend/u0?k=4")[1]
        assert call(b.base, "GET", "/recommend/u0?k=4")[1] == first
        call(a.base, "POST", "/events/batch", {"events": [{"user_id": "roamer", "item_id": "c1", "event": "click"}]})
        assert call(b.base, "GET", "/users/roamer")[1]["events"] == 1
        call(b.base, "PUT", "/items/n1", {"title": "Nebula Kitchen Atlas", "categorical": {"genre": ["Sci-Fi"]}})
        assert [h["item_id"] for h in call(a.base, "GET", "/search?q=nebula%20atlas&k=1")[1]["hits"]] == ["n1"]
        store_b = Store(tmp_path / "host-b", url=postgres_url, artefacts=shared)  # host b's learner
        version = train_version(store_b, "pop", evaluate=False).version
        store_b.close()
        assert call(b.base, "POST", f"/models/{version}/activate")[1]["active"]
        assert call(a.base, "GET", "/recommend/u0?k=4")[1]["model_version"] == version  # loaded from the share
        assert (shared / "models").is_dir() and not (tmp_path / "host-b" / "artefacts" / "models").exists()
