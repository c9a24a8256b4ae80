"""A click changes what comes next: recent events weigh more when a user's history is folded in, so one click
on an item of another taste moves that taste up the user's next recommendations at once."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import prepare_folder


def _after_a_click(folder, history: dict) -> list[dict]:
    with TestClient(create_app(ServiceSettings(data_dir=folder, history=history))) as client:
        before = client.get("/recommend/u0?k=4").json()["items"]
        assert all(r["item_id"].startswith("s") for r in before)  # a space fan: space items only
        assert client.post("/events", json={"user_id": "u0", "item_id": "c3", "event": "click",
                                            "timestamp": 5_000}).status_code == 201
        return client.get("/recommend/u0?k=8").json()["items"]


def _lead(items: list[dict]) -> float:
    """How far the best item of the clicked taste (cooking) is ahead of the best of the old one (space), as a
    share of the best score (weights scale every score; the share does not depend on that)."""
    best = {g: max(r["score"] for r in items if r["item_id"].startswith(g)) for g in "cs"}
    return (best["c"] - best["s"]) / best["c"]


def test_one_click_weighs_more_than_an_old_event(tmp_path):
    flat = _after_a_click(prepare_folder(tmp_path / "flat"), {"recency_boost": 0.0})  # every event counts once
    recent = _after_a_click(prepare_folder(tmp_path / "recent"), {})  # the service's default policy
    assert recent[0]["item_id"].startswith("c") and recent[0]["because"] == "c3"  # the reason names the click
    cooking = [sum(r["item_id"].startswith("c") for r in items[:4]) for items in (flat, recent)]
    assert cooking[1] >= cooking[0] and cooking[1] >= 3
    assert _lead(recent) > _lead(flat) > 0, (_lead(recent), _lead(flat))  # the clicked taste leads by more
