"""The command line on files shaped like MovieLens latest-small (ratings.csv userId,movieId,rating,timestamp and
movies.csv movieId,title,genres): hints in the command line's words, catalogue mapping, the rating note, the preset
line, NA in numbers, genres as facets and filters."""

from __future__ import annotations

import json

import pytest

from fathom.cli.main import main
from tests.data.movielens_files import write_movielens

IDS = ["--map", "userId=user_id", "--map", "movieId=item_id"]
CATALOG = ["--catalog-map", "movieId=item_id"]


def run_cli(*args: object) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def ml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return write_movielens(tmp_path)


def test_validate_hints_the_map_option_not_python(ml, capsys):
    assert run_cli("validate", ml["ratings"]) == 2
    err = capsys.readouterr().err
    assert err == (f"fathom validate: error: {ml['ratings']}: missing required column 'user_id'; columns found: "
                   "['userId', 'movieId', 'rating', 'timestamp'] (map it with --map userId=user_id)\n")
    assert run_cli("validate", ml["movies"], "--kind", "catalog") == 2
    assert "(map it with --map movieId=item_id)" in capsys.readouterr().err


def test_validate_notes_the_unmapped_rating_column(ml, capsys):
    assert run_cli("validate", ml["ratings"], *IDS) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{ml['ratings']}: 720 rows read, 720 valid, 0 with problems",
                   f"note: {ml['ratings']}: column 'rating' looks like ratings but is not mapped, so every row counts "
                   "as a click of value 1; map it with --map rating=value"]
    assert run_cli("validate", ml["ratings"], *IDS, "--map", "rating=value") == 0
    assert "note:" not in capsys.readouterr().out


def test_validate_counts_na_as_missing_numbers(ml, tmp_path, capsys):
    assert run_cli("validate", ml["movies"], "--kind", "catalog", "--map", "movieId=item_id") == 0
    assert capsys.readouterr().out == f"{ml['movies']}: 40 rows read, 40 valid, 0 with problems\n"  # year optional
    events = tmp_path / "events.csv"
    events.write_text("userId,movieId,rating,timestamp\n1,1,4,964982703\n1,2,NA,964982704\n2,1,null,N/A\n")
    assert run_cli("validate", events, *IDS, "--map", "rating=value") == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [f"{events}: 3 rows read, 1 valid, 2 with problems", "problems per column: value 2, timestamp 1"]
    assert out[2] == f"  {events} row 2 (line 3), column 'value': missing value: 'NA'"


def test_train_hints_catalog_map_then_maps_the_catalogue(ml, capsys):
    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--map", "rating=value",
                   "--catalog", ml["movies"], "--out", "run") == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("(map it with --catalog-map movieId=item_id)")
    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--map", "rating=value",
                   "--catalog", ml["movies"], *CATALOG, "--out", "run") == 0
    assert "saved to" in capsys.readouterr().out
    assert run_cli("recommend", "--run", "run", "--user", "1", "-k", "3", "--json") == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert items[0]["title"].startswith("Movie ") and isinstance(items[0]["genres"], str)


def test_a_catalogue_problem_points_at_validate_with_its_mapping(ml, capsys):
    movies = ml["movies"].read_text().splitlines()
    ml["movies"].write_text("\n".join([*movies, movies[1]]) + "\n")  # movie 1 twice
    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--catalog", ml["movies"], *CATALOG) == 2
    err = capsys.readouterr().err
    assert f"`fathom validate {ml['movies']} --kind catalog --map movieId=item_id` lists every problem" in err


def test_train_notes_an_unmapped_rating_and_says_which_preset_and_why(ml, capsys):
    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--out", "clicks") == 0
    captured = capsys.readouterr()
    assert captured.err == (f"note: {ml['ratings']}: column 'rating' looks like ratings but is not mapped, so every "
                            "row counts as a click of value 1; map it with --map rating=value\n")
    assert captured.out.splitlines()[0] == ("preset default (for a data set without a preset of its own; --preset "
                                            "chooses another): no rating events: every event counts as it is")

    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--map", "rating=value", "--out", "ratings") == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines()[0] == (
        "preset default (for a data set without a preset of its own; --preset chooses another): ratings >= 2.75 "
        "(the middle of the 0.5-5 scale) count as positives, the 120 ratings below are left out")
    assert '"total": 600' in captured.out  # 720 ratings, 2 low ones per user left out

    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--map", "rating=value", "--preset",
                   "movielens-100k", "--out", "all") == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "preset movielens-100k (chosen with --preset; --preset chooses another): every rating (0.5-5) counts as "
        "a positive")


def test_genres_become_facets_and_filters_and_an_unknown_value_says_so(ml, capsys):
    assert run_cli("train", "pop", "--data", ml["ratings"], *IDS, "--map", "rating=value",
                   "--catalog", ml["movies"], *CATALOG, "--out", "run") == 0
    capsys.readouterr()
    assert run_cli("search", "--run", "run", "movie", "--filter", "genres=Horror", "-k", "40", "--json") == 0
    result = json.loads(capsys.readouterr().out)
    horror = {str(m) for m in range(1, 41) if m % 8 in (2, 7)}  # Horror and Horror|Mystery
    assert {h["id"] for h in result["hits"]} == horror and result["total"] == len(horror)
    assert result["facets"]["genres"]["Horror"] == len(horror) and result["notes"] == []
    assert run_cli("search", "--run", "run", "movie", "--range", "year=1990:1999", "--json") == 0
    assert json.loads(capsys.readouterr().out)["total"] == 9  # 1990-1999 but 1998 (movie 18: null)

    assert run_cli("search", "--run", "run", "movie", "--filter", "genres=horror") == 0
    captured = capsys.readouterr()
    assert "0 matching" in captured.out
    assert captured.err == "note: no document has genres 'horror'; did you mean 'Horror'?\n"
    assert run_cli("search", "--run", "run", "movie", "--filter", "genre=Horror", "--range", "yr=1:2") == 0
    assert capsys.readouterr().err.splitlines() == [
        "note: no document has the attribute 'genre' to filter on (categorical attributes: genres)",
        "note: no document has the numeric attribute 'yr' (numeric attributes: year)",
    ]
