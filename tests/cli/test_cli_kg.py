"""``fathom kg``: build a knowledge graph from a user's own catalogue columns with one command, then read an item's
entities and the paths between two items, with readable names; bad input is named."""

from __future__ import annotations

import json

from fathom.data.kg import KnowledgeGraph
from tests.cli.test_cli_data_files import run_cli

CATALOGUE = """item_id,title,brand,categories,year
s1,Heavy-duty staples,Stanley,"Office,Staplers,Staples",2015
s2,Sharpshooter stapler,Stanley,"Office,Staplers",2016
s3,Desk stapler,Swingline,"Office,Staplers",2018
p1,Ballpoint pens,Bic,"Office,Pens",2009
"""


def test_build_show_and_path_from_catalogue_columns(tmp_path, capsys):
    catalogue = tmp_path / "items.csv"
    catalogue.write_text(CATALOGUE)
    out = tmp_path / "kg"
    assert run_cli("kg", "build", "--catalog", catalogue, "--columns", "brand,categories:path,year:decade",
                   "--out", out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] == 4 and summary["triples by relation"]["brand"] == 4
    assert KnowledgeGraph.load(out).names[KnowledgeGraph.load(out).item("s1")] == "Heavy-duty staples"

    assert run_cli("kg", "show", "--kg", out, "s1") == 0
    shown = capsys.readouterr().out
    assert "Heavy-duty staples (s1):" in shown and "brand: Stanley  (shared by 1 other items)" in shown
    assert "category: Staples" in shown and "decade: 2010s" in shown

    assert run_cli("kg", "path", "--kg", out, "s1", "s2", "-k", "1") == 0
    assert capsys.readouterr().out.strip() == "Heavy-duty staples -[brand]-> Stanley <-[brand]- Sharpshooter stapler"
    assert run_cli("kg", "path", "--kg", out, "s1", "p1", "--json") == 0
    paths = json.loads(capsys.readouterr().out)["paths"]
    assert paths and all(p.startswith("Heavy-duty staples") and p.endswith("Ballpoint pens") for p in paths)


def test_bad_input_is_named(tmp_path, capsys):
    catalogue = tmp_path / "items.csv"
    catalogue.write_text(CATALOGUE)
    assert run_cli("kg", "build", "--catalog", catalogue, "--columns", "brand,colour", "--out", tmp_path / "kg") == 2
    assert "['colour']" in capsys.readouterr().err
    assert run_cli("kg", "build", "--catalog", catalogue, "--columns", "brand:list:x", "--out", tmp_path / "kg") == 2
    assert "whole number" in capsys.readouterr().err
    assert run_cli("kg", "build", "--catalog", catalogue, "--out", tmp_path / "kg") == 0
    capsys.readouterr()
    assert run_cli("kg", "show", "--kg", tmp_path / "kg", "zz") == 2
    assert "item:zz" in capsys.readouterr().err
    assert run_cli("kg", "show", "--kg", tmp_path / "nowhere", "s1") == 2
    assert "fathom kg build" in capsys.readouterr().err


def test_recommend_why_gives_removal_reasons_with_graph_paths(tmp_path, capsys):
    """Items m0-m19 are space films by one director, m20-m39 cooking shows by another: a space fan's reasons
    name a space film they watched and the director they share; removing the cited film lowers the item."""
    from tests.cli.test_cli_data_files import events_text

    events = tmp_path / "events.csv"
    events.write_text(events_text())
    lines = ["item_id,title,directors"] + [f"m{i},Space Voyage {i},Ann Vega" for i in range(20)] + [
        f"m{i},Kitchen Recipe {i},Bo Chef" for i in range(20, 40)]
    catalogue = tmp_path / "items.csv"
    catalogue.write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    assert run_cli("train", "ease", "--data", events, "--catalog", catalogue, "--out", run) == 0
    assert run_cli("kg", "build", "--catalog", catalogue, "--columns", "directors", "--out", run / "kg") == 0
    capsys.readouterr()
    assert run_cli("recommend", "--run", run, "--user", "u0", "-k", "3", "--why", "--json") == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert items and all("because" in r for r in items)
    for r in items:
        assert r["because_title"].startswith("Space Voyage") and r["reason"] == "both: directed by Ann Vega"
        assert r["path"] == f"{r['because_title']} -[directed by]-> Ann Vega <-[directed by]- {r['title']}"
    assert run_cli("recommend", "--run", run, "--user", "u0", "-k", "2", "--why") == 0
    assert "why: Space Voyage" in capsys.readouterr().out


def test_builtin_movielens_graph_has_readable_names(tmp_path, capsys):
    out = tmp_path / "kg"
    assert run_cli("kg", "build", "--builtin", "movielens-100k", "--out", out, "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["items"] == 1682 and set(summary["triples by relation"]) == {"genre", "decade"}
    assert run_cli("kg", "path", "--kg", out, "100", "24", "-k", "1") == 0
    assert capsys.readouterr().out.strip() == "Fargo -[genre]-> Crime <-[genre]- Rumble in the Bronx"
