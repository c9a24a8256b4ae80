"""The README's text-aware walk-through: `fathom train` a text-aware model on one's own events and catalogue,
serve the run (`fathom serve --from-run`), add a product, and see it recommended before any retraining."""

from __future__ import annotations

from fastapi.testclient import TestClient

from fathom.cli.main import main
from fathom.online.bootstrap import bootstrap_from_run
from fathom.service import ServiceSettings, create_app
from tests.cli.test_cli_data_files import events_text
from tests.cli.test_cli_text import write_catalogue


def test_a_new_product_is_recommended_by_a_served_text_aware_run_before_retraining(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text(events_text())  # users u0..u29 like items m0..m19 (space), u30..u59 m20..m39 (kitchen)
    catalogue = write_catalogue(tmp_path / "items.csv")
    assert main(["train", "textmean", "--data", str(events), "--catalog", str(catalogue), "--text-fields",
                 "title,description", "--out", str(tmp_path / "run")]) == 0
    assert bootstrap_from_run(tmp_path / "data", tmp_path / "run", log=lambda _: None).version == 1
    capsys.readouterr()
    with TestClient(create_app(ServiceSettings(data_dir=tmp_path / "data"))) as client:
        new = {"title": "Space Voyage Deluxe", "description": "a starship crew explores distant galaxies"}
        assert client.put("/items/m40", json=new).status_code == 200
        space = client.get("/recommend/u0?k=5").json()
        assert "m40" in [r["item_id"] for r in space["items"]], space
        assert space["model_version"] == 1 and len(client.get("/models").json()["versions"]) == 1
        kitchen = client.get("/recommend/u35?k=5").json()["items"]
        assert "m40" not in [r["item_id"] for r in kitchen]
