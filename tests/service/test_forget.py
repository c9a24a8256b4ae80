"""Deleting a user forgets them: their id leaves every model version's vocabulary (on disk and in the served
model), a user re-created under the same id is a new user to the model, and later versions never hold the id."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from fathom.online.versions import FORGOTTEN
from fathom.service import ServiceSettings, create_app
from tests.service.synthetic import prepare_folder


def _vocab(folder, record) -> list[str]:
    return json.loads((folder / "artefacts" / record["path"] / "user_vocab.json").read_text())["ids"]


def test_a_deleted_user_is_forgotten_by_the_trained_model(tmp_path):
    folder = prepare_folder(tmp_path / "bpr", "bpr", {"factors": 8, "epochs": 40, "lr": 0.05, "seed": 0})
    with TestClient(create_app(ServiceSettings(data_dir=folder))) as client:
        _forget_and_come_back(client, folder)


def _forget_and_come_back(client: TestClient, folder) -> None:
    version = client.get("/models").json()["versions"][0]
    assert "u3" in _vocab(folder, version)
    assert client.get("/recommend/u3?k=5").json()["items"][0]["reason"].startswith("because")
    assert client.delete("/users/u3").json() == {"user_id": "u3", "events_removed": 6}
    ids = _vocab(folder, version)
    assert "u3" not in ids and ids[3] == FORGOTTEN.format(index=3)  # same index, no id reaches the row
    assert "u3" not in client.app.state.engine.bundle.users
    assert client.get("/recommend/u3").status_code == 404 and client.get("/users/u3").status_code == 404
    # re-created with one event, u3 is served exactly like a brand-new user with that event (fold-in), not from
    # the vector learned from their deleted history
    for user in ("u3", "stranger"):
        assert client.post("/events", json={"user_id": user, "item_id": "c0", "timestamp": 50_000}).status_code == 201
    again, stranger = (client.get(f"/recommend/{u}?k=10").json()["items"] for u in ("u3", "stranger"))
    assert [r["item_id"] for r in again] == [r["item_id"] for r in stranger]
    # a version learned afterwards starts from the forgotten vocabulary: the old u3 slot stays a placeholder,
    # the new u3 is a new entry
    for n in range(1, 5):
        client.post("/events", json={"user_id": "u3", "item_id": f"c{n}", "timestamp": 50_000 + n})
    report = client.post("/models/train", json={"min_validation_users": 1, "tolerance": 1.0}).json()
    assert report["status"] == "activated", report
    later = client.get("/models").json()["versions"][-1]
    ids = _vocab(folder, later)
    assert ids[3] == FORGOTTEN.format(index=3) and ids.count("u3") == 1 and ids.index("u3") >= 20
    assert client.get("/recommend/u3").status_code == 200  # the new u3 is known to the new version


def test_another_worker_forgets_at_its_next_request(make_client, data_dir):
    first, second = make_client(), make_client()
    assert "u5" in second.app.state.engine.bundle.users
    first.delete("/users/u5")
    second.get("/health")  # any request catches up
    assert "u5" not in second.app.state.engine.bundle.users
    # and the deleted user is unknown to it from then on
    assert second.get("/recommend/u5").status_code == 404
