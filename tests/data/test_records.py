"""Typed tables: canonical dtypes, contract checks and Parquet round trips."""

import numpy as np
import pandas as pd
import pytest

from fathom.data.records import Catalog, EventTable, UserTable


def test_event_table_brings_columns_to_canonical_dtypes():
    frame = pd.DataFrame({
        "user_id": [1, 2],
        "item_id": ["a", "b"],
        "event": ["click", "purchase"],
        "value": [1, 5],
        "timestamp": pd.to_datetime(["1970-01-01 00:00:10", "2020-01-01 00:00:00"]),
    })
    table = EventTable(frame)
    f = table.frame
    assert f["user_id"].tolist() == ["1", "2"] and isinstance(f["user_id"].dtype, pd.StringDtype)
    assert f["value"].dtype == np.float64 and f["timestamp"].dtype == np.int64
    assert f["timestamp"].tolist() == [10, 1577836800]
    assert table.schema["event"] == "event" and len(table) == 2


def test_event_table_contract_violations_raise():
    base = {"user_id": ["u"], "item_id": ["i"], "event": ["click"], "value": [1.0], "timestamp": [0]}
    with pytest.raises(ValueError, match="unknown event type 'like'"):
        EventTable(pd.DataFrame({**base, "event": ["like"]}))
    with pytest.raises(ValueError, match="missing values"):
        EventTable(pd.DataFrame({**base, "user_id": [None]}))
    with pytest.raises(ValueError, match="lacks column"):
        EventTable(pd.DataFrame({k: v for k, v in base.items() if k != "value"}))
    with pytest.raises(ValueError, match="not in the schema"):
        EventTable(pd.DataFrame({**base, "session": ["s"]}))
    assert EventTable(pd.DataFrame({**base, "session": ["s"]}), {"session": "category"}).columns[-1] == "session"


def test_from_frame_fills_defaults():
    t = EventTable.from_frame(pd.DataFrame({"user_id": ["u"], "item_id": ["i"]}))
    assert t.frame.iloc[0].tolist() == ["u", "i", "click", 1.0, 0]
    t = EventTable.from_frame(pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "value": [4]}))
    assert t.frame.loc[0, "event"] == "rating"


def test_catalog_keys_are_unique_and_lists_are_lists():
    with pytest.raises(ValueError, match="duplicate item_id 'a'"):
        Catalog(pd.DataFrame({"item_id": ["a", "a"], "title": ["x", "y"]}))
    cat = Catalog(pd.DataFrame({"item_id": ["a", "b"], "title": ["x", None], "tags": [("p", "q"), None]}),
                  {"tags": "list"})
    assert cat.frame["tags"].tolist() == [["p", "q"], []] and cat.frame["title"].tolist() == ["x", ""]


def test_parquet_round_trip_keeps_schema_and_lists(tmp_path):
    cat = Catalog(
        pd.DataFrame({"item_id": ["a", "b"], "title": ["A", "B"], "genres": [["x"], []], "year": [1999.0, np.nan],
                      "brand": ["k", ""]}),
        {"genres": "list", "year": "float", "brand": "category"},
    )
    cat.to_parquet(tmp_path / "c.parquet")
    back = Catalog.read_parquet(tmp_path / "c.parquet")
    assert back.schema == cat.schema
    pd.testing.assert_frame_equal(back.frame, cat.frame)
    assert type(back.frame["genres"][0]) is list
    users = UserTable(pd.DataFrame({"user_id": ["u"], "age": [3.0]}), {"age": "float"})
    users.to_parquet(tmp_path / "u.parquet")
    pd.testing.assert_frame_equal(UserTable.read_parquet(tmp_path / "u.parquet").frame, users.frame)
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "plain.parquet")
    with pytest.raises(ValueError, match="not a Fathom table"):
        Catalog.read_parquet(tmp_path / "plain.parquet")
