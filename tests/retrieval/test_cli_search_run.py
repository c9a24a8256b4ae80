"""`fathom search` over a run folder's movie catalogue (MovieLens-100K, as `fathom demo` / `fathom train` leave it):
plain, personalised (--user, --personal-weight) and with --understand; bad input gives one line and exit code 2."""

from __future__ import annotations

import json

import pytest

from fathom.cli.main import main

# users 541 and 368 of the seed-2020 split: the strongest children's-film fan and horror/crime fan
# (see test_personalise.py, which finds them from their histories)
KID_FAN, DARK_FAN = "541", "368"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """A working directory holding runs/demo with two cheap models, like `fathom demo` writes it."""
    root = tmp_path_factory.mktemp("search-run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        assert main(["train", "ease", "--out", "runs/demo"]) == 0
        assert main(["train", "pop", "--out", "runs/demo"]) == 0
    return root


@pytest.fixture
def search(demo_dir, monkeypatch, capsys):
    monkeypatch.chdir(demo_dir)
    capsys.readouterr()

    def run(*argv: str, as_json: bool = True):
        code = main(["search", *argv, *(["--json"] if as_json else [])])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if as_json and code == 0 else out), err

    return run


def test_search_the_demo_catalogue_by_default(search, demo_dir):
    code, out, _ = search("toy story")
    assert code == 0
    assert out["hits"][0]["id"] == "1" and out["hits"][0]["document"]["fields"]["title"] == "Toy Story"
    assert out["hits"][0]["document"]["categorical"]["genres"] == ["Animation", "Children's", "Comedy"]
    assert out["hits"][0]["document"]["numeric"]["release_year"] == 1995
    assert set(out["hits"][0]["scores"]) == {"bm25", "fused"} and out["personalised"] is None
    assert (demo_dir / "runs/demo/search/fingerprint.txt").is_file()  # built once, then reused
    code, again, _ = search("runs/demo", "toy story")  # the run folder named as the first argument
    assert code == 0 and again["hits"] == out["hits"]


def test_personalised_orderings_differ_between_users(search):
    code, kid, _ = search("king", "--user", KID_FAN, "--personal-weight", "0.3")
    assert code == 0
    code, dark, _ = search("king", "--user", DARK_FAN, "--personal-weight", "0.3")
    assert code == 0
    assert kid["personalised"] == {"user": KID_FAN, "model": "ease", "weight": 0.3}  # best on validation
    assert [h["id"] for h in kid["hits"]] != [h["id"] for h in dark["hits"]]
    code, dark, _ = search("king", "--user", DARK_FAN, "--personal-weight", "1")
    assert "Children's" in kid["hits"][0]["document"]["categorical"]["genres"]  # The Lion King
    assert {"Horror", "Crime"} & set(dark["hits"][0]["document"]["categorical"]["genres"])
    assert set(kid["hits"][0]["scores"]) == {"bm25", "personal", "fused"}
    code, zero, _ = search("king", "--user", KID_FAN, "--personal-weight", "0")
    code, plain, _ = search("king")
    assert [h["id"] for h in zero["hits"]] == [h["id"] for h in plain["hits"]]
    code, pop, _ = search("king", "--user", KID_FAN, "--model", "pop")
    assert code == 0 and pop["personalised"]["model"] == "pop"


def test_understand_flag(search):
    code, out, _ = search("horror from the 80s", "--understand", "--user", DARK_FAN, "-k", "50")
    assert code == 0
    assert [c["description"] for c in out["understood"]] == ["genres = Horror", "release_year 1980-1989"]
    assert out["query"] == "" and out["total"] == len(out["hits"]) > 5
    for hit in out["hits"]:
        assert "Horror" in hit["document"]["categorical"]["genres"]
        assert 1980 <= hit["document"]["numeric"]["release_year"] <= 1989
    code, text, _ = search("toy story 1995", "--understand", as_json=False)
    assert code == 0
    assert "understood: release_year = 1995" in text and "searching for: 'toy story'" in text
    assert "Toy Story" in text.splitlines()[3]


def test_table_output(search):
    code, text, _ = search("king", "--user", KID_FAN, as_json=False)
    assert code == 0
    assert f"personalised for user {KID_FAN} by ease (weight 0.3)" in text
    assert "Lion King" in text.splitlines()[2] and "personal=1.000" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["king", "--user", "nobody"], "unknown user 'nobody'"),
        (["king", "--user", KID_FAN, "--personal-weight", "-1"], "personal weight must be a non-negative number"),
        (["king", "--user", KID_FAN, "--model", "bpr"], "no model 'bpr'"),
        (["king", "--run", "nowhere"], "nowhere is not a run folder"),
        (["no-such-index", "king"], "neither a search index"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(search, argv, message):
    code, _, err = search(*argv, as_json=False)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
