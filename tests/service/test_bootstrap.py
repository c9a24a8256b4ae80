"""First start of an empty data folder: data set into the store, default model trained and active, index built."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fathom.online.bootstrap import bootstrap
from fathom.online.store import Store
from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import dataset


def test_bootstrap_prepares_an_empty_folder_once(tmp_path):
    lines: list[str] = []
    record = bootstrap(tmp_path / "data", dataset(), settings={"reg": 1.0}, log=lines.append)
    assert record is not None and record.version == 1 and record.active and record.model == "ease"
    assert (record.n_users, record.n_items, record.n_events) == (20, 20, 120)
    text = "\n".join(lines)
    for step in ("1/4", "2/4", "3/4", "4/4", "stored 20 catalogue items", "stored 120 events of 20 users",
                 "registered ease as model version 1", "indexed 20 items"):
        assert step in text
    assert (tmp_path / "data/artefacts/index/revision.txt").is_file()
    assert bootstrap(tmp_path / "data", dataset(), log=lines.append) is None  # already prepared: left alone
    store = Store(tmp_path / "data")
    assert len(store.versions()) == 1 and store.event_count() == 120
    assert store.get_item("s3").categorical == {"genre": ["Sci-Fi"]} and store.get_item("s3").numeric == {
        "year": 2003.0}
    store.close()
    with TestClient(create_app(ServiceSettings(data_dir=tmp_path / "data"))) as client:
        body = client.get("/recommend/u0?k=4").json()
        assert {r["item_id"] for r in body["items"]} == {"s6", "s7", "s8", "s9"}


@pytest.mark.slow
def test_bootstrap_movielens_100k_and_serve(tmp_path):
    """The real first start: MovieLens-100K (from the user's data cache), EASE, the search index (about 10 s)."""
    from fathom.data.sources import WheelUnavailableError

    try:
        record = bootstrap(tmp_path / "ml", log=lambda _: None)
    except WheelUnavailableError as exc:
        pytest.skip(f"MovieLens-100K unavailable: {exc}")
    assert record is not None and (record.n_users, record.n_items, record.n_events) == (943, 1682, 100000)
    with TestClient(create_app(ServiceSettings(data_dir=tmp_path / "ml"))) as client:
        hits = client.get("/search?q=star wars&k=1").json()["hits"]
        assert hits[0]["title"] == "Star Wars"
        sims = client.get("/similar/50?k=10").json()["items"]  # Star Wars
        assert "Return of the Jedi" in [s["title"] for s in sims]
        recs = client.get("/recommend/196?k=10").json()["items"]
        assert len(recs) == 10 and all(r["reason"].startswith("because you interacted with") for r in recs)
