"""``fathom train`` with a text-aware model on a user's own events and catalogue: the item text comes from the
catalogue's columns (chosen with --text-fields), is encoded by MiniLM and travels with the saved model."""

from __future__ import annotations

import numpy as np

from fathom.models.base import Recommender
from tests.cli.test_cli_data_files import events_text, run_cli


def write_catalogue(path):
    lines = ["item_id,title,description,colour"]
    lines += [f"m{i},Space Voyage {i},a starship crew explores distant galaxies,blue" for i in range(20)]
    lines += [f"m{i},Kitchen Recipe {i},a chef bakes bread and simmers soup,red" for i in range(20, 40)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_a_text_aware_model_on_a_catalogue(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text(events_text())
    catalogue = write_catalogue(tmp_path / "items.csv")
    out = tmp_path / "run"
    assert run_cli("train", "textmean", "--data", events, "--catalog", catalogue, "--text-fields",
                   "title,description", "--out", out) == 0
    printed = capsys.readouterr().out
    assert "item text: ['title', 'description'] encoded by minilm" in printed
    model = Recommender.load(out / "models" / "textmean")
    assert model.meta["item_text"]["encoder"] == "minilm"
    assert model.meta["item_text"]["template"]["fields"] == ["title", "description"]
    assert model.item_text.shape == (model.n_items, 384)
    # a user of the space community (m0..m19) is recommended space items: the text alone tells them apart
    assert run_cli("recommend", "--run", out, "--user", "u0", "-k", "5", "--json") == 0
    import json

    got = [row["item_id"] for row in json.loads(capsys.readouterr().out)["items"]]
    assert len(got) == 5 and all(int(i[1:]) < 20 for i in got), got


def test_a_text_aware_model_needs_a_catalogue_and_known_fields(tmp_path, capsys):
    events = tmp_path / "events.csv"
    events.write_text(events_text())
    assert run_cli("train", "textmean", "--data", events, "--out", tmp_path / "a") == 2
    assert "textmean reads item text: give the item catalogue (--catalog" in capsys.readouterr().err
    catalogue = write_catalogue(tmp_path / "items.csv")
    assert run_cli("train", "textmean", "--data", events, "--catalog", catalogue, "--text-fields", "title,plot",
                   "--out", tmp_path / "b") == 2
    assert "text field(s) ['plot'] are not catalogue columns" in capsys.readouterr().err
    assert not np.any([(tmp_path / p).exists() for p in ("a/models", "b/models")])
