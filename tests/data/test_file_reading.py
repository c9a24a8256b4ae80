"""What a data file is before its values are checked: encodings, compression, binary and empty files, headers."""

import bz2
import gzip
import json
import random

import pandas as pd
import pytest

from fathom.data.loading import DataWarning, load_catalog, load_events
from fathom.data.readers import read_raw
from fathom.data.validation import DataValidationError

HEADER = "user_id,item_id,event,value,timestamp\n"
ROWS = "u1,i1,click,1,1600000000\nu2,café,click,1,1600000001\nu3,Zoë,view,1,1600000002\n"
EXPECTED_ITEMS = ["i1", "café", "Zoë"]


def load_items(path, **options):
    return load_events(path, **options).table.frame["item_id"].tolist()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-8-sig"])
def test_a_byte_order_mark_names_the_encoding(tmp_path, encoding):
    data = (HEADER + ROWS).encode(encoding)
    if encoding == "utf-16-be":  # Python writes big-endian UTF-16 without a mark: add it
        data = b"\xfe\xff" + data
    path = tmp_path / "events.csv"
    path.write_bytes(data)
    assert load_items(path) == EXPECTED_ITEMS
    assert load_events(path).table.frame["user_id"].tolist() == ["u1", "u2", "u3"]  # no BOM left in a name


def test_utf16_with_a_malformed_record_keeps_its_rows_and_lines(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes((HEADER + "u1,i1,click,1,5\nu2,i2,click\nu3,café,view,1,7\n").encode("utf-16"))
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\): expected 5 fields, found 3"):
        load_events(path)
    with pytest.warns(DataWarning):
        assert load_items(path, on_error="skip") == ["i1", "café"]


def test_jsonl_with_utf8_bom_and_utf16(tmp_path):
    text = "".join(json.dumps({"user_id": f"u{i}", "item_id": item}, ensure_ascii=False) + "\n"
                   for i, item in enumerate(EXPECTED_ITEMS))
    for encoding in ("utf-8-sig", "utf-16"):
        path = tmp_path / f"events-{encoding}.jsonl"
        path.write_bytes(text.encode(encoding))
        assert load_items(path) == EXPECTED_ITEMS


def test_latin1_names_file_line_byte_and_what_to_pass(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes((HEADER + ROWS).encode("latin-1"))
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    message = str(err.value)
    offset = len((HEADER + "u1,i1,click,1,1600000000\nu2,caf").encode("latin-1"))
    assert message == (f"{path}: not UTF-8 text (invalid byte 0xe9 at line 3, byte offset {offset}); "
                       "convert it to UTF-8 or pass --encoding latin-1 (or the file's encoding)")
    assert load_items(path, encoding="latin-1") == EXPECTED_ITEMS


def test_latin1_jsonl_names_the_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes('{"user_id": "u", "item_id": "i"}\n{"user_id": "u", "item_id": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(DataValidationError, match=r"data.jsonl: not UTF-8 text \(invalid byte 0xe9 at line 2"):
        load_events(path)


def test_unknown_encoding_is_named(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + ROWS)
    with pytest.raises(ValueError, match=r"data.csv: unknown encoding 'latin-9000'"):
        load_events(path, encoding="latin-9000")


@pytest.mark.parametrize("name", ["events.csv.gz", "events.csv"])  # the magic bytes decide, not the suffix
def test_gzip_csv_is_read_transparently(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress((HEADER + ROWS).encode()))
    assert load_items(path) == EXPECTED_ITEMS


def test_compressed_files_with_bad_rows_keep_their_line_numbers(tmp_path):
    path = tmp_path / "events.tsv.bz2"
    text = (HEADER + "u1,i1,click,1,5\nu2,i2,click,1,never\n").replace(",", "\t")
    path.write_bytes(bz2.compress(text.encode()))
    with pytest.raises(DataValidationError, match=r"row 2 \(line 3\), column 'timestamp': unparsable"):
        load_events(path)
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_bytes(gzip.compress(b'{"user_id": "u", "item_id": "i"}\n'))
    assert load_items(jsonl) == ["i"]


def test_truncated_gzip_is_named_as_damaged(tmp_path):
    path = tmp_path / "events.csv.gz"
    path.write_bytes(gzip.compress((HEADER + ROWS * 2000).encode())[:300])
    with pytest.raises(DataValidationError, match=r"events.csv.gz: damaged gzip data"):
        load_events(path)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_random_bytes_are_binary_not_empty(tmp_path, suffix):
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(random.Random(0).randbytes(4096))
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    assert str(err.value) == f"{path}: not a text table (binary content)"


def test_utf16_without_a_mark_gets_a_hint(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes((HEADER + ROWS).encode("utf-16-le"))
    with pytest.raises(DataValidationError, match=r"binary content; .* pass --encoding utf-16-le"):
        load_events(path)
    assert load_items(path, encoding="utf-16-le") == EXPECTED_ITEMS


@pytest.mark.parametrize("content", [b"", b"\n\n", gzip.compress(b""), "".encode("utf-16")])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_empty_files_still_say_empty(tmp_path, content, suffix):
    path = tmp_path / f"e{suffix}"
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match=r"e\.(csv|jsonl): the file is empty$"):
        load_events(path)


@pytest.mark.parametrize("text", ["1" * 23, "-" + "9" * 19, "1e300"])
def test_timestamps_outside_the_representable_dates_are_problems(tmp_path, text):
    path = tmp_path / "e.csv"
    path.write_text(HEADER + "u1,i1,click,1,1600000000\n" + f"u2,i2,click,1,{text}\n")
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    (problem,) = list(err.value.report)
    assert (problem.row, problem.line, problem.column, problem.value) == (2, 3, "timestamp", text)
    assert problem.reason.startswith("timestamp out of range")
    with pytest.warns(DataWarning):
        assert load_events(path, on_error="skip").table.frame["timestamp"].tolist() == [1600000000]


def test_timestamp_range_applies_after_the_unit(tmp_path):
    path = tmp_path / "e.csv"
    ms = 1_600_000_000_123  # milliseconds: fine in ms, out of range when read as seconds
    path.write_text(HEADER + f"u1,i1,click,1,{ms}\n")
    assert load_events(path, timestamp_unit="ms").table.frame["timestamp"].tolist() == [1_600_000_000]
    with pytest.raises(DataValidationError, match="timestamp out of range"):
        load_events(path)
    frame = pd.DataFrame({"user_id": ["u"], "item_id": ["i"], "timestamp": [10.0**20]})
    with pytest.raises(DataValidationError, match=r"<frame> row 1, column 'timestamp': timestamp out of range"):
        load_events(frame)


@pytest.mark.parametrize("sep, suffix", [(",", ".csv"), ("\t", ".tsv")])
def test_a_column_named_twice_is_an_error_naming_it(tmp_path, sep, suffix):
    path = tmp_path / f"e{suffix}"
    path.write_text(sep.join(["user_id", "item_id", "timestamp", "item_id"]) + "\n" + sep.join("ui5j") + "\n")
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    assert str(err.value) == (f"{path}: column 'item_id' appears more than once in the header (columns 2 and 4); "
                              "rename or remove the repeat")


def test_a_json_key_given_twice_is_a_row_problem(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"user_id": "u", "item_id": "i"}\n{"user_id": "u", "item_id": "i", "item_id": "j"}\n')
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    (problem,) = list(err.value.report)
    assert (problem.row, problem.line) == (2, 2)
    assert problem.reason == "key 'item_id' appears more than once in the object"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_header_without_rows_is_a_problem(tmp_path, suffix):
    path = tmp_path / f"items{suffix}"
    if suffix == ".csv":
        path.write_text("item_id,title\n")
    else:
        pd.DataFrame({"item_id": pd.Series(dtype=str), "title": pd.Series(dtype=str)}).to_parquet(path)
    with pytest.raises(DataValidationError) as err:
        load_catalog(path)
    assert str(err.value).splitlines() == [f"{path}: no data rows",
                                           f"  {path}: no data rows (nothing below the header)"]
    with pytest.warns(DataWarning, match="no data rows"):
        result = load_catalog(path, on_error="skip")
    assert not result.report.ok and result.report.rows_read == 0 and len(result.table) == 0


def test_a_rejected_load_does_not_claim_it_kept_rows(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(HEADER + "u1,i1,click,1,5\nu2,i2,click,1,never\n")
    with pytest.raises(DataValidationError) as err:
        load_events(path)
    assert str(err.value).splitlines()[0] == f"{path}: 1 problem(s) in 1 of 2 rows; nothing loaded"


def test_plain_tables_share_the_sniffing(tmp_path):
    path = tmp_path / "links.tsv"
    path.write_bytes("item_id\tentity_id\nm1\té1\n".encode("utf-16"))
    raw, name = read_raw(path)
    assert name == str(path) and raw.frame.to_dict("records") == [{"item_id": "m1", "entity_id": "é1"}]
