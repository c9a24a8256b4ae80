"""Vocabulary: encoding, stability on extend, JSON round trip."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.vocab import Vocabulary


def test_encode_decode():
    v = Vocabulary(["b", "a", "c"])
    assert v.encode(["a", "c", "a"]).tolist() == [1, 2, 1]
    assert v.decode(np.array([2, 0])).tolist() == ["c", "b"]
    assert v.decode(1) == "a" and v.index("c") == 2 and "b" in v and "z" not in v
    assert v.encode(pd.Series(["c"], dtype="str")).dtype == np.int64


def test_unknown_id_names_the_first_one():
    v = Vocabulary(["a"])
    with pytest.raises(KeyError, match="unknown id 'x' \\(2 unknown of 3\\)"):
        v.encode(["a", "x", "y"])
    with pytest.raises(KeyError, match="'q'"):
        v.index("q")
    with pytest.raises(IndexError):
        v.decode([0, 1])


def test_extend_appends_without_moving_existing_ids():
    v = Vocabulary(["a", "b"])
    before = v.encode(["a", "b"])
    assert v.extend(["c", "a", "d", "c"]).tolist() == [2, 0, 3, 2]
    assert v.encode(["a", "b"]).tolist() == before.tolist()
    assert v.ids.tolist() == ["a", "b", "c", "d"]
    assert v.encode(["e", "a", "e"], add=True).tolist() == [4, 0, 4]
    assert len(v) == 5


def test_from_ids_first_appearance_and_duplicates_rejected():
    assert Vocabulary.from_ids(["x", "y", "x", "z"]).ids.tolist() == ["x", "y", "z"]
    assert Vocabulary.from_ids([3, 1, 3]).ids.tolist() == ["3", "1"]  # ids become strings
    with pytest.raises(ValueError, match="duplicate id 'x'"):
        Vocabulary(["x", "x"])


def test_json_round_trip(tmp_path):
    v = Vocabulary(["Toy Story (1995)", "ü", "42"])
    v.save(tmp_path / "v.json")
    w = Vocabulary.load(tmp_path / "v.json")
    assert w == v and w.encode(["42"]).tolist() == [2]
    (tmp_path / "bad.json").write_text('{"ids": ["a"]}')
    with pytest.raises(ValueError, match="not a Fathom vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")
