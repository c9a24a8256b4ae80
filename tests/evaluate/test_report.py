"""Benchmark tables: cells formatted by what their column holds."""

from fathom.evaluate.report import markdown_table, table_cell


def test_cells_by_column_kind():
    assert table_cell(None, "ndcg@10") == "-"
    assert table_cell(0.12345, "ndcg@10") == "0.1235"  # metrics: four decimals
    assert table_cell(0.1, "test positive share") == "0.1000"
    assert table_cell(2.5, "s/epoch") == "2.50"  # seconds: three significant figures at most
    assert table_cell(53.84, "s/epoch timed alone") == "53.8"
    assert table_cell(1714.0, "RecBole s/epoch") == "1714"
    assert table_cell(0.0, "fit s") == "0.00"
    assert table_cell(0.763, "RecBole eval s") == "0.76"
    assert table_cell(127.0, "peak MB") == "127"  # memory: whole megabytes
    assert table_cell(12, "epochs") == "12"
    assert table_cell("x2.0", "RecBole time / ours") == "x2.0"
    assert table_cell(3.0, "settings") == "3.0000"  # a column name merely containing "s" is not seconds


def test_markdown_table_columns_in_first_seen_order():
    text = markdown_table([{"model": "A", "ndcg@10": 0.25, "s/epoch": 3.0}, {"model": "B", "peak MB": 10.0}])
    assert text.splitlines() == [
        "| model | ndcg@10 | s/epoch | peak MB |",
        "|---|---|---|---|",
        "| A | 0.2500 | 3.00 | - |",
        "| B | - | - | 10 |",
    ]
