"""The service load benchmark's --quick mode end to end: a real server on MovieLens-100K, a separate load
generator, every request answered and every ingested event stored (timings are reported, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "service_load.py"


def test_quick_load_run_has_no_errors_and_stores_every_event(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 3 and "MovieLens-100K unavailable" in proc.stderr:
        pytest.skip(proc.stderr.strip())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((tmp_path / "service_load_quick.json").read_text())
    rows = result["rows"]
    assert {r["endpoint"] for r in rows} == {"recommend", "search (BM25)", "ingest"}
    assert {r["mode"] for r in rows} == {"open", "closed"}
    for row in rows:
        assert row["requests"] > 0, row
        assert row["errors"] == 0, row["error_samples"]
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
    ingest = [r for r in rows if r["endpoint"] == "ingest"]
    for row in ingest:
        assert row["events_sent"] == row["batch"] * row["requests"]
        assert row["events_stored"] == row["events_accepted"] == row["events_sent"] > 0
    totals = result["totals"]
    assert totals["errors"] == 0
    assert totals["events_stored"] == totals["events_sent"] == sum(r["events_sent"] for r in ingest)
    assert result["meta"]["search_signals"] == ["bm25"] and result["meta"]["server_exit_code"] == 0
    report = (tmp_path / "service_load_quick.md").read_text()
    assert "| ingest |" in report and f"{totals['events_stored']:,} stored of {totals['events_sent']:,} sent" in report
    assert "stored / sent" in proc.stdout
