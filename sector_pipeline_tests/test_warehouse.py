import datetime as dt
import logging
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


def test_keep_leaves_the_rows_of_listed_values_as_stored(warehouse_path):
    store = Warehouse(warehouse_path)
    days = [D(2024, 1, 2), D(2024, 1, 3)]
    stored = pl.DataFrame({"date": days * 2, "series": ["vix"] * 2 + ["cpi"] * 2, "value": [1.0, 2.0, 3.0, 4.0]})
    store.replace_windows([WindowWrite("raw.m", stored)], D(2024, 1, 2), D(2024, 1, 4))
    # cpi's provider did not answer: only vix arrives again, cpi's stored rows stay and do not count as changed
    again = stored.filter(series="vix").with_columns(value=pl.col("value") * 10)
    result = store.replace_windows([WindowWrite("raw.m", again, keep={"series": ("cpi",)})],
                                   D(2024, 1, 2), D(2024, 1, 4))["raw.m"]
    assert store.query("select series, value from raw.m order by series, date").rows() == [
        ("cpi", 3.0), ("cpi", 4.0), ("vix", 10.0), ("vix", 20.0)]
    assert (result.rows, result.changed_from, result.changed_through) == (2, D(2024, 1, 2), D(2024, 1, 3))


def test_every_committed_write_logs_one_progress_line(warehouse_path, caplog):
    store = Warehouse(warehouse_path)
    with caplog.at_level(logging.INFO, logger="sector_pipeline.warehouse"):
        store.replace_windows([WindowWrite("raw.t", _prices([D(2024, 1, 2), D(2024, 1, 3)], 1.0))],
                              D(2024, 1, 2), D(2024, 1, 4))
        store.replace_windows([WindowWrite("raw.t", _prices([D(2024, 1, 3)], 1.0))], D(2024, 1, 3), None)
    assert [r.getMessage() for r in caplog.records] == [
        "raw.t: 2 rows written for 2024-01-02 .. 2024-01-03, changed 2024-01-02 .. 2024-01-03",
        "raw.t: 1 rows written for 2024-01-03 on, no stored row changed"]


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
    original = Warehouse._replace_from_incoming
    def replace_then_hang(self, *args, **kwargs):
        result = original(self, *args, **kwargs)   # the window is deleted and the new rows are in
        print("in-transaction", flush=True)
        time.sleep(120)                             # killed here, before commit
        return result
    Warehouse._replace_from_incoming = replace_then_hang
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


def test_changes_record_the_dates_that_differ_and_consumers_see_only_new_ones(warehouse_path):
    store = Warehouse(warehouse_path)
    days = [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4)]
    store.replace_windows([WindowWrite("raw.t", _prices(days, 1.0))], D(2024, 1, 1), D(2024, 2, 1))
    first = store.pending("signals.x", ["raw.t"])
    assert (first.start, first.first_run, first.seqs) == (D(2024, 1, 2), True, {"raw.t": 1})
    store.replace_windows([WindowWrite("signals.x", _prices(days, 5.0))], D(2024, 1, 2), None,
                          consumer="signals.x", consumed=first.seqs)
    assert store.pending("signals.x", ["raw.t"]).start is None  # consumed
    # re-writing identical rows changes nothing; changing one day records that day only
    same = store.replace_windows([WindowWrite("raw.t", _prices(days, 1.0))], D(2024, 1, 1), D(2024, 2, 1))
    assert same["raw.t"].changed_from is None and store.pending("signals.x", ["raw.t"]).start is None
    edited = _prices(days, 1.0).with_columns(close=pl.when(pl.col("date") == D(2024, 1, 3)).then(2.0)
                                             .otherwise(pl.col("close")))
    result = store.replace_windows([WindowWrite("raw.t", edited)], D(2024, 1, 1), D(2024, 2, 1))
    assert (result["raw.t"].changed_from, result["raw.t"].changed_through) == (D(2024, 1, 3), D(2024, 1, 3))
    pending = store.pending("signals.x", ["raw.t"])
    assert (pending.start, pending.first_run) == (D(2024, 1, 3), False)
    # a removed row is a change too
    store.replace_windows([WindowWrite("raw.t", edited.filter(pl.col("date") != D(2024, 1, 4)))], D(2024, 1, 1),
                          D(2024, 2, 1))
    assert store.pending("signals.x", ["raw.t"]).start == D(2024, 1, 3)


def test_bounded_reads_count_each_keys_own_rows(warehouse_path):
    store = Warehouse(warehouse_path)
    frame = pl.DataFrame({"date": [D(2024, 1, d) for d in (2, 3, 4, 5, 8, 9)] + [D(2024, 1, 9)],
                          "ticker": ["A"] * 6 + ["B"], "close": [1.0, 2, 3, 4, 5, 6, 7]})
    store.replace_windows([WindowWrite("raw.t", frame)], D(2024, 1, 1), None)
    read = store.read_rows_before("raw.t", D(2024, 1, 8), None, rows=2, key="ticker")
    assert read.select("date", "ticker").rows() == [(D(2024, 1, 4), "A"), (D(2024, 1, 5), "A"),
                                                    (D(2024, 1, 8), "A"), (D(2024, 1, 9), "A"),
                                                    (D(2024, 1, 9), "B")]
