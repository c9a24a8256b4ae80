"""A real uvicorn server in a subprocess (``fathom serve``) answering real HTTP requests on loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.service.server import serve
from tests.service.synthetic import prepare_folder


def call(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_fathom_serve_answers_real_http_requests(tmp_path):
    folder = prepare_folder(tmp_path / "data")
    with serve(folder, "--api-key", "k1") as server:
        base = server.base
        status, health = call(f"{base}/health")
        assert status == 200 and health["model_version"] == 1 and health["items"] == 20
        assert call(f"{base}/recommend/u0?k=4")[0] == 401  # one user's data needs the key
        status, recs = call(f"{base}/recommend/u0?k=4", headers={"X-API-Key": "k1"})
        assert status == 200 and {r["item_id"] for r in recs["items"]} == {"s6", "s7", "s8", "s9"}
        status, _ = call(f"{base}/events", {"user_id": "u0", "item_id": "s6"})
        assert status == 401
        status, stored = call(f"{base}/events", {"user_id": "u0", "item_id": "s6"}, {"X-API-Key": "k1"})
        assert status == 201 and stored == {"stored": 1}
        status, recs = call(f"{base}/recommend/u0?k=4", headers={"X-API-Key": "k1"})
        got = [r["item_id"] for r in recs["items"]]
        assert "s6" not in got and {"s7", "s8", "s9"} <= set(got)
        assert any(r["because"] == "s6" for r in recs["items"])  # the new event already explains a pick
    assert server.returncode == 0, server.output
    assert f"serving {folder} on http://127.0.0.1:{server.port}" in server.output
