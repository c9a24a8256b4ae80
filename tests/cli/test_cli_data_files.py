"""``fathom validate`` and ``fathom train`` on awkward data files: encodings, compression, binary, bad rows."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from fathom.cli.main import main

HEADER = "user_id,item_id,event,value,timestamp\n"


def run_cli(*args: object) -> int:
    return main([str(a) for a in args])


def events_text(bad_rows: dict[int, str] | None = None) -> str:
    """Two taste communities, 60 users x 12 items; ``bad_rows`` replaces the timestamp of those data rows."""
    rng = np.random.default_rng(0)
    lines = [HEADER.strip()]
    for u in range(60):
        block = range(0, 20) if u < 30 else range(20, 40)
        for i in rng.choice(list(block), size=12, replace=False):
            lines.append(f"u{u},m{i},rating,{rng.integers(3, 6)},{1_600_000_000 + int(rng.integers(0, 10**6))}")
    for row, value in (bad_rows or {}).items():
        fields = lines[row].split(",")
        lines[row] = ",".join([*fields[:4], value])
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ validate


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_validate_reads_a_file_with_a_byte_order_mark(tmp_path, capsys, encoding):
    path = tmp_path / "data.csv"
    path.write_bytes((HEADER + "u1,café,click,1,1600000000\n").encode(encoding))
    assert run_cli("validate", path) == 0
    assert capsys.readouterr().out == f"{path}: 1 rows read, 1 valid, 0 with problems\n"


def test_validate_latin1_names_file_line_and_encoding(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes((HEADER + "u1,i1,click,1,5\nu2,caf\xe9,click,1,6\n").encode("latin-1"))
    assert run_cli("validate", path) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fathom validate: error: {path}: not UTF-8 text (invalid byte 0xe9 at line 3, byte offset ")
    assert "--encoding latin-1" in err and len(err.strip().splitlines()) == 1
    assert run_cli("validate", path, "--encoding", "latin-1") == 0
    assert "2 rows read, 2 valid" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["data.csv.gz", "data.csv"])
def test_validate_reads_gzip(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress((HEADER + "u1,i1,click,1,5\nu2,i2,click,1,6\n").encode()))
    assert run_cli("validate", path) == 0
    assert "2 rows read, 2 valid, 0 with problems" in capsys.readouterr().out


def test_validate_random_bytes_says_binary_never_empty(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(random.Random(0).randbytes(2048))
    assert run_cli("validate", path) == 2
    err = capsys.readouterr().err
    assert err == f"fathom validate: error: {path}: not a text table (binary content)\n"


def test_validate_empty_file_still_says_empty(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_bytes(b"")
    assert run_cli("validate", path) == 2
    assert capsys.readouterr().err == f"fathom validate: error: {path}: the file is empty\n"


def test_validate_reports_an_overflowing_timestamp(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "u1,i1,click,1,1600000000\nu2,i2,click,1,12345678901234567890123\n")
    assert run_cli("validate", path) == 1
    out = capsys.readouterr().out
    assert "2 rows read, 1 valid, 1 with problems" in out
    assert f"{path} row 2 (line 3), column 'timestamp': timestamp out of range" in out
    assert "'12345678901234567890123'" in out


def test_validate_refuses_a_column_named_twice(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("user_id,item_id,event,value,timestamp,item_id\nu1,i1,click,1,5,i9\n")
    assert run_cli("validate", path) == 2
    err = capsys.readouterr().err
    assert f"{path}: column 'item_id' appears more than once in the header (columns 2 and 6)" in err


def test_validate_header_only_is_a_problem(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text(HEADER)
    assert run_cli("validate", path) == 1
    out = capsys.readouterr().out
    assert f"  {path}: no data rows (nothing below the header)" in out


def test_validate_report_is_mentioned_only_when_written(tmp_path, capsys):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + "u1,i1,click,1,5\n")
    bad.write_text(HEADER + "u1,i1,click,1,never\n")
    report = tmp_path / "report.csv"
    assert run_cli("validate", good, "--report", report) == 0
    out = capsys.readouterr().out
    assert not report.exists() and "report written" not in out
    assert f"no problems, so {report} was not written" in out
    assert run_cli("validate", bad, "--report", report) == 1
    assert f"report written to {report}" in capsys.readouterr().out and report.exists()


# --------------------------------------------------------------------------------------------------- train


@pytest.fixture
def bad_events(tmp_path) -> Path:
    """720 events; data rows 3, 10, ..., 52 (8 of them) have unparsable timestamps."""
    path = tmp_path / "events.csv"
    path.write_text(events_text({row: "never" for row in range(3, 53, 7)}))
    return path


def test_train_stops_on_bad_rows_and_names_them(bad_events, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", "pop", "--data", bad_events, "--out", "run") == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[:5] == [f"  {bad_events} row {r} (line {r + 1}), column 'timestamp': unparsable timestamp: 'never'"
                         for r in (3, 10, 17, 24, 31)]
    assert lines[5] == (f"fathom train: error: {bad_events}: 8 problem(s) in 8 of 720 rows (the first 5 above), so "
                        "nothing was done; pass --skip-bad-rows to go on with the 712 valid rows; "
                        f"`fathom validate {bad_events}` lists every problem")
    assert len(lines) == 6 and not (tmp_path / "run").exists()


def test_train_skip_bad_rows_goes_on_and_says_what_it_left_out(bad_events, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("train", "pop", "--data", bad_events, "--skip-bad-rows", "--out", "run") == 0
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[0] == f"{bad_events}: 8 problem(s) in 8 of 720 rows: --skip-bad-rows left them out and kept 712"
    assert err[1] == f"  {bad_events} row 3 (line 4), column 'timestamp': unparsable timestamp: 'never'"
    assert err[6] == f"  ... and 3 more; `fathom validate {bad_events}` lists every problem"
    assert '"total": 712' in captured.out and "saved to" in captured.out


def test_train_hint_repeats_the_mapping_and_encoding(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "my events.csv"
    text = events_text({5: "never"}).replace("user_id,", "uid,", 1)
    path.write_bytes(text.encode("latin-1"))
    assert run_cli("train", "pop", "--data", path, "--map", "uid=user_id", "--encoding", "latin-1") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"  {path} row 5 (line 6), column 'timestamp': unparsable timestamp: 'never'"
    assert err[-1].endswith(f"`fathom validate '{path}' --map uid=user_id --encoding latin-1` lists every problem")


def test_train_reads_utf16_and_gzip_events(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    utf16, gz = tmp_path / "events.csv", tmp_path / "events2.csv.gz"
    utf16.write_bytes(events_text().encode("utf-16"))
    gz.write_bytes(gzip.compress(events_text().encode()))
    for path, out in ((utf16, "run16"), (gz, "rungz")):
        assert run_cli("train", "pop", "--data", path, "--out", out) == 0
        assert '"total": 720' in capsys.readouterr().out


def test_train_on_a_header_only_file_says_no_data_rows(tmp_path, capsys):
    path = tmp_path / "events.csv"
    path.write_text(HEADER)
    for extra in ([], ["--skip-bad-rows"]):
        assert run_cli("train", "pop", "--data", path, "--out", tmp_path / "run", *extra) == 2
        assert capsys.readouterr().err == f"fathom train: error: {path}: no data rows\n"
