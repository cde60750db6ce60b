import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from sector_pipeline.warehouse import Warehouse, WarehouseError, WindowWrite

D = dt.date


def _prices(days: list[dt.date], value: float) -> pl.DataFrame:
    return pl.DataFrame({"date": days, "ticker": ["XLK"] * len(days), "close": [value] * len(days)},
                        schema={"date": pl.Date(), "ticker": pl.String(), "close": pl.Float64()})


def test_replace_window_touches_only_the_window(warehouse_path):
    store = Warehouse(warehouse_path)
    store.replace_windows([WindowWrite("raw.t", _prices([D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)], 1.0))],
                          D(2024, 1, 2), D(2024, 1, 5))
    store.replace_windows([WindowWrite("raw.t", _prices([D(2024, 1, 3)], 2.0))], D(2024, 1, 3), D(2024, 1, 4))
    rows = store.query("select date, close from raw.t order by date").rows()
    assert rows == [(D(2024, 1, 2), 1.0), (D(2024, 1, 3), 2.0), (D(2024, 1, 4), 1.0)]


def test_scope_limits_the_delete_to_matching_rows(warehouse_path):
    store = Warehouse(warehouse_path)
    q = pl.DataFrame({"date": [D(2024, 1, 2)] * 2, "dataset": ["prices", "macro"], "reason": ["a", "b"]})
    store.replace_windows([WindowWrite("validated.q", q)], D(2024, 1, 2), D(2024, 1, 3))
    store.replace_windows([WindowWrite("validated.q", q.filter(dataset="prices").with_columns(reason=pl.lit("c")),
                                       scope={"dataset": "prices"})], D(2024, 1, 2), D(2024, 1, 3))
    assert store.query("select dataset, reason from validated.q order by all").rows() == [("macro", "b"),
                                                                                           ("prices", "c")]


def test_a_failed_write_rolls_back_every_table(warehouse_path):
    store = Warehouse(warehouse_path)
    store.replace_windows([WindowWrite("raw.a", _prices([D(2024, 1, 2)], 1.0)),
                           WindowWrite("raw.b", _prices([D(2024, 1, 2)], 1.0))], D(2024, 1, 2), D(2024, 1, 3))
    wrong = pl.DataFrame({"date": [D(2024, 1, 2)], "other": [1]})
    with pytest.raises(WarehouseError, match="raw.b stores columns"):
        store.replace_windows([WindowWrite("raw.a", _prices([D(2024, 1, 2)], 9.0)), WindowWrite("raw.b", wrong)],
                              D(2024, 1, 2), D(2024, 1, 3))
    assert store.query("select close from raw.a").rows() == [(1.0,)]
    assert store.query("select close from raw.b").rows() == [(1.0,)]


def test_bad_table_name_is_rejected():
    with pytest.raises(WarehouseError, match="schema.table"):
        Warehouse(":memory:").replace_windows([WindowWrite("t; drop table x", _prices([], 1.0))], D(2024, 1, 1),
                                              D(2024, 1, 2))


KILLED_WRITER = textwrap.dedent("""
    import datetime as dt, sys, time
    import polars as pl
    from sector_pipeline.warehouse import Warehouse, WindowWrite
    store = Warehouse(sys.argv[1])
    original = Warehouse._insert
    def insert_then_hang(self, conn, table, frame):
        original(self, conn, table, frame)   # the window is deleted and half the new rows are in
        print("in-transaction", flush=True)
        time.sleep(120)                       # killed here, before commit
    Warehouse._insert = insert_then_hang
    frame = pl.DataFrame({"date": [dt.date(2024, 1, 2)], "ticker": ["XLK"], "close": [999.0]})
    store.replace_windows([WindowWrite("raw.t", frame)], dt.date(2024, 1, 2), dt.date(2024, 1, 3))
""")


def test_killing_a_writer_mid_transaction_keeps_the_previous_state(warehouse_path, tmp_path):
    store = Warehouse(warehouse_path)
    before = _prices([D(2024, 1, 2)], 1.0)
    store.replace_windows([WindowWrite("raw.t", before)], D(2024, 1, 2), D(2024, 1, 3))
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), str(warehouse_path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert proc.stdout.readline().strip() == "in-transaction"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert store.query("select date, ticker, close from raw.t").rows() == [(D(2024, 1, 2), "XLK", 1.0)]
