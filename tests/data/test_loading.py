"""Loaders for CSV, TSV, Parquet and JSON Lines, and how they report bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from fathom.data.loading import DataWarning, LoadConfig, load_catalog, load_events, load_users
from fathom.data.readers import detect_format
from fathom.data.validation import DataValidationError

FORMATS = ["csv", "tsv", "parquet", "jsonl"]
SUFFIX = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet", "jsonl": ".jsonl"}


def write(tmp_path, fmt, records, name="events"):
    """Write ``records`` (list of dicts) in ``fmt``; Parquet gets string columns so that bad values survive."""
    path = tmp_path / f"{name}{SUFFIX[fmt]}"
    frame = pd.DataFrame.from_records(records)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif fmt == "parquet":
        frame.astype(str).to_parquet(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


GOOD = [
    {"userId": "u1", "movieId": "10", "rating": 4.5, "ts": 1000},
    {"userId": "u2", "movieId": "11", "rating": 3, "ts": 2000},
    {"userId": "u1", "movieId": "11", "rating": 1, "ts": 3000},
]
MAPPING = {"userId": "user_id", "movieId": "item_id", "rating": "value", "ts": "timestamp"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_loads_the_same_events(tmp_path, fmt):
    path = write(tmp_path, fmt, GOOD)
    result = load_events(path, columns=MAPPING)
    frame = result.table.frame
    assert list(frame.columns) == ["user_id", "item_id", "event", "value", "timestamp"]
    assert frame["user_id"].tolist() == ["u1", "u2", "u1"]
    assert frame["item_id"].tolist() == ["10", "11", "11"]
    assert frame["event"].tolist() == ["rating"] * 3  # a value column and no event column: ratings
    assert frame["value"].tolist() == [4.5, 3.0, 1.0]
    assert frame["timestamp"].tolist() == [1000, 2000, 3000]
    assert frame["timestamp"].dtype == np.int64 and frame["value"].dtype == np.float64
    assert isinstance(frame["user_id"].dtype, pd.StringDtype)
    assert result.report.ok and result.report.rows_read == 3 and result.report.rows_kept == 3


def test_format_from_suffix_or_given(tmp_path):
    assert detect_format("a/b.csv.gz") == "csv"
    assert detect_format("x.inter") == "tsv"
    assert detect_format("x.data", "jsonl") == "jsonl"
    with pytest.raises(ValueError, match="format="):
        detect_format("x.data")
    path = tmp_path / "events.data"
    path.write_text("user_id\titem_id\nu\ti\n")
    assert load_events(path, format="tsv").table.frame["item_id"].tolist() == ["i"]


def test_defaults_iso_timestamps_and_leading_zeros(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "user,item,when\n"
        "007,a,2020-01-01T00:00:00Z\n"
        "8,b,2020-01-01 00:00:01\n"  # naive: UTC
        "9,c,2020-01-01T01:00:00+01:00\n"
        "9,d,1577836800\n"  # numbers are epoch seconds
    )
    res = load_events(path, columns={"user": "user_id", "item": "item_id", "when": "timestamp"},
                      defaults={"event": "purchase", "value": 2})
    f = res.table.frame
    assert f["user_id"].tolist() == ["007", "8", "9", "9"]
    assert f["timestamp"].tolist() == [1577836800, 1577836801, 1577836800, 1577836800]
    assert f["event"].tolist() == ["purchase"] * 4 and f["value"].tolist() == [2.0] * 4


def test_missing_optional_columns_get_defaults(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id\nu,i\n")
    f = load_events(path).table.frame
    assert f.loc[0, "event"] == "click" and f.loc[0, "value"] == 1.0 and f.loc[0, "timestamp"] == 0


def test_timestamp_units_and_formats(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,timestamp\nu,i,1577836800123\n")
    assert load_events(path, timestamp_unit="ms").table.frame["timestamp"].tolist() == [1577836800]
    path.write_text("user_id,item_id,timestamp\nu,i,02/01/2020 10:00\n")
    f = load_events(path, timestamp_format="%d/%m/%Y %H:%M").table.frame
    assert f["timestamp"].tolist() == [int(pd.Timestamp("2020-01-02 10:00", tz="UTC").timestamp())]


def test_recbole_atomic_headers_are_stripped(tmp_path):
    path = tmp_path / "x.inter"
    path.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n")
    f = load_events(path, columns={"rating": "value"}).table.frame
    assert f.iloc[0].tolist() == ["196", "242", "rating", 3.0, 881250949]


@pytest.mark.parametrize("fmt", FORMATS)
def test_catalog_lists_numbers_and_text(tmp_path, fmt):
    records = [
        {"id": "i1", "name": "Alien", "genres": "Horror|Sci-Fi", "price": "9.5", "brand": "X"},
        {"id": "i2", "name": "Heat", "genres": "", "price": "", "brand": ""},
    ]
    path = write(tmp_path, fmt, records, "items")
    res = load_catalog(path, columns={"id": "item_id", "name": "title"},
                       kinds={"genres": "list", "price": "float", "brand": "category"})
    f = res.table.frame
    assert f["genres"].tolist() == [["Horror", "Sci-Fi"], []]
    assert f["price"].iloc[0] == 9.5 and np.isnan(f["price"].iloc[1])  # a missing attribute is NaN, not a problem
    assert f["brand"].tolist() == ["X", ""]
    assert res.table.schema == {"item_id": "id", "title": "text", "genres": "list", "price": "float",
                                "brand": "category"}


def test_list_separator_and_json_lists(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,tags\na, x ; y ;;z\n")
    assert load_catalog(path, kinds={"tags": "list"}, list_separator=";").table.frame["tags"][0] == ["x", "y", "z"]
    path = tmp_path / "items.jsonl"
    path.write_text('{"item_id": 1, "tags": ["x", "y"]}\n')
    f = load_catalog(path, kinds={"tags": "list"}).table.frame
    assert f["item_id"].tolist() == ["1"] and f["tags"][0] == ["x", "y"]


def test_extra_columns_inferred_or_dropped(tmp_path):
    path = tmp_path / "users.csv"
    path.write_text("user_id,age,city\nu1,31,Oslo\nu2,,Lima\n")
    res = load_users(path)
    assert res.table.schema == {"user_id": "id", "age": "float", "city": "text"}
    res = load_users(path, extra_columns="drop")
    assert res.table.columns == ["user_id"] and res.ignored_columns == ("age", "city")


def test_missing_values(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,year\na,1999\nb,unknown\n")
    f = load_catalog(path, kinds={"year": "float"}, missing_values=("unknown",)).table.frame
    assert f["year"].iloc[0] == 1999 and np.isnan(f["year"].iloc[1])


# ------------------------------------------------------------------------------------------------ bad input

BAD_EVENTS = [
    # (bad record, column, reason)
    ({"user_id": "", "item_id": "i", "event": "click", "value": "1", "timestamp": "5"}, "user_id",
     "missing user_id"),
    ({"user_id": "u", "item_id": "", "event": "click", "value": "1", "timestamp": "5"}, "item_id",
     "missing item_id"),
    ({"user_id": "u", "item_id": "i", "event": "click", "value": "1", "timestamp": "yesterday"}, "timestamp",
     "unparsable timestamp"),
    ({"user_id": "u", "item_id": "i", "event": "like", "value": "1", "timestamp": "5"}, "event",
     "unknown event type 'like'"),
    ({"user_id": "u", "item_id": "i", "event": "rating", "value": "five", "timestamp": "5"}, "value",
     "non-numeric value"),
    ({"user_id": "u", "item_id": "i", "event": "rating", "value": "inf", "timestamp": "5"}, "value",
     "non-finite value"),
]
OK_EVENT = {"user_id": "u0", "item_id": "i0", "event": "view", "value": "1", "timestamp": "1"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("bad", "column", "reason"), BAD_EVENTS, ids=[b[2] for b in BAD_EVENTS])
def test_each_bad_event_value_is_reported_with_row_and_column(tmp_path, fmt, bad, column, reason):
    path = write(tmp_path, fmt, [OK_EVENT, OK_EVENT, bad, OK_EVENT])  # the bad record is data row 3
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    message = str(err.value)
    assert str(path) in message and "row 3" in message and f"column {column!r}" in message and reason in message
    if fmt in ("csv", "tsv"):
        assert "(line 4)" in message  # the header is line 1
    (problem,) = list(err.value.report)
    assert (problem.row, problem.column) == (3, column) and reason in problem.reason

    with pytest.warns(DataWarning, match="1 problem"):
        res = load_events(path, on_error="skip")
    assert res.report.rows_read == 4 and res.report.rows_kept == 3 and res.report.rows_dropped == 1
    assert res.table.frame["user_id"].tolist() == ["u0"] * 3


def test_negative_price_and_duplicate_catalog_ids(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,price\na,A,1.5\nb,B,-2\na,A again,3\nc,C,0\n")
    with pytest.raises(DataValidationError) as err:
        load_catalog(path, kinds={"price": "float"})
    problems = list(err.value.report)
    assert [(p.row, p.column) for p in problems] == [(2, "price"), (3, "item_id")]
    assert problems[0].reason == "negative price" and problems[0].value == "-2"
    assert problems[1].reason == "duplicate item_id 'a' (first at row 1)"
    with pytest.warns(DataWarning, match="2 problem"):
        res = load_catalog(path, kinds={"price": "float"}, on_error="skip", report_path=str(tmp_path / "r.csv"))
    assert res.table.frame["item_id"].tolist() == ["a", "c"]


@pytest.mark.parametrize("on_error", ["reject", "skip"])
def test_missing_required_column_names_it_and_lists_columns_found(tmp_path, on_error):
    path = tmp_path / "e.csv"
    path.write_text("userId,item_id\nu,i\n")
    with pytest.raises(DataValidationError) as err:
        load_events(path, on_error=on_error)
    message = str(err.value)
    assert "missing required column 'user_id'" in message
    assert "['userId', 'item_id']" in message
    assert "columns={'userId': 'user_id'}" in message  # a hint for the near miss


def test_mapping_that_names_an_absent_column(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id\nu,i\n")
    with pytest.raises(DataValidationError, match="names \\['uid'\\]"):
        load_events(path, columns={"uid": "user_id"})


def test_reject_message_shows_first_problems_and_total(tmp_path):
    rows = "".join(f"u{i},i,click,1,never\n" for i in range(8))
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,event,value,timestamp\n" + rows)
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    message = str(err.value)
    assert "8 problem(s) in 8 of 8 rows" in message
    assert "row 1 (line 2)" in message and "row 5 (line 6)" in message and "row 6 " not in message
    assert "... and 3 more (8 problems in total)" in message


def test_skip_writes_csv_and_json_reports(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id,event,value,timestamp\nu,i,click,1,5\n,i,click,x,5\nu,j,like,1,5\n")
    for suffix in ("csv", "json"):
        report_path = tmp_path / f"report.{suffix}"
        with pytest.warns(DataWarning, match=f"report written to {report_path}"):
            res = load_events(path, on_error="skip", report_path=str(report_path))
        assert res.report.rows_kept == 1 and len(res.report) == 3
        if suffix == "csv":
            written = pd.read_csv(report_path)
            assert written[["row", "line", "column"]].values.tolist() == [
                [2, 3, "user_id"], [2, 3, "value"], [3, 4, "event"]]
        else:
            data = json.loads(report_path.read_text())
            assert data["rows_read"] == 3 and data["rows_dropped"] == 2
            assert [p["reason"] for p in data["problems"]] == ["missing user_id", "non-numeric value",
                                                                data["problems"][2]["reason"]]
            assert data["problems"][2]["reason"].startswith("unknown event type 'like'")


def test_blank_lines_and_quoted_newlines_keep_true_line_numbers(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text('user_id,item_id,timestamp\nu,"multi\nline",1\n\nu,i,soon\n')
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    (problem,) = list(err.value.report)
    assert (problem.row, problem.line) == (2, 5)


def test_malformed_csv_record_is_reported_and_skippable(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user_id,item_id\nu,i\nu,j,extra\nv,k\n")
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\): expected 2 fields, found 3"):
        load_events(path)
    with pytest.warns(DataWarning):
        res = load_events(path, on_error="skip")
    assert res.table.frame["item_id"].tolist() == ["i", "k"] and res.report.rows_read == 3


def test_invalid_json_line_is_reported(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": "u", "item_id": "i"}\n\n{"user_id": "u", oops}\n[1, 2]\n')
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    problems = list(err.value.report)
    assert [(p.row, p.line) for p in problems] == [(2, 3), (3, 4)]
    assert problems[0].reason.startswith("invalid JSON") and problems[1].reason == "expected a JSON object"


def test_empty_file_is_an_error(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("")
    with pytest.raises(DataValidationError, match="empty"):
        load_events(path)


def test_config_is_typed_and_round_trips():
    config = LoadConfig(columns={"a": "user_id"}, kinds={"tags": "list"}, on_error="skip")
    assert LoadConfig.from_json(config.to_json()) == config
    with pytest.raises(ValueError):
        LoadConfig(on_eror="skip")
    with pytest.raises(ValueError):
        LoadConfig(kinds={"tags": "set"})
