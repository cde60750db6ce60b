"""Source faults on top of a stored pipeline: network down, rate limits, a missing ticker, an empty frame, a last
session not published yet. A failed fetch writes nothing (not even side tables); a recovered one writes only its
window."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from yfinance.exceptions import YFRateLimitError

from sector_pipeline.defs.resources import YFinanceResource
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import run_range
from sector_pipeline_tests.faults.conftest import (
    NEXT_FIRST,
    NEXT_LAST,
    Stored,
    failure_messages,
    pipeline,
    table_hashes,
    tree_hashes,
)
from sector_pipeline_tests.faults.yahoo import FakeYahoo, network_down

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

TICKERS = ["SPY", "XLK", "XLC", "XLY", "XLF", "XLI", "XLB", "XLE", "XLV", "XLP", "XLU", "XLRE"]


def yahoo_pipeline(stored: Stored, attempts: int = 2):
    return pipeline(stored.warehouse, source="yfinance", resources={
        "market_data": YFinanceResource(max_attempts=attempts)})


def test_network_down_fails_naming_the_tickers_and_writes_nothing_anywhere(stored, universe, monkeypatch) -> None:
    yahoo = FakeYahoo(universe, "failed", fred=network_down()).install(monkeypatch)
    before, published = table_hashes(stored.warehouse), tree_hashes(stored.published)
    result = run_range(yahoo_pipeline(stored), NEXT_FIRST, NEXT_LAST, raise_on_error=False)
    assert not result.success
    message = failure_messages(result)
    assert "yfinance returned no data for SPY, XLK" in message and "network down, rate limited" in message
    assert "between 2024-05-01 and 2024-05-04 (end exclusive) after 2 attempts" in message
    after = table_hashes(stored.warehouse)
    # nothing downstream of the failed fetch ran: prices, membership, planted regimes, signals, marts unchanged
    for table in ("raw.prices", "raw.universe_membership", "raw.synthetic_regimes", "validated.prices",
                  "signals.features", "signals.alerts", "marts.market_overview"):
        assert after[table] == before[table], table
    # the market macro series fail the same way (some of them block), so no macro row moved either
    assert "yfinance returned no data for ^TNX" in message
    assert after == before
    assert tree_hashes(stored.published) == published
    assert len(yahoo.calls) == 4   # two attempts for the price batch, two for the macro proxies


@pytest.mark.parametrize("failure", ["failed", YFRateLimitError()], ids=["swallowed_by_yfinance", "raised"])
def test_rate_limited_three_times_then_success(stored, universe, monkeypatch, failure) -> None:
    yahoo = FakeYahoo(universe, failure, failure, failure, "data").install(monkeypatch)
    before = Warehouse(stored.warehouse).query("select * from raw.prices order by all")
    result = run_range(yahoo_pipeline(stored, attempts=4), NEXT_FIRST, NEXT_LAST, selection="raw/prices")
    assert result.success
    assert yahoo.sleeps == [2.0, 4.0, 8.0] and len(yahoo.calls) == 4   # exponential backoff, one batch
    store = Warehouse(stored.warehouse)
    assert store.query("select * from raw.prices where date < $d order by all", {"d": NEXT_FIRST}).equals(before)
    stored_window = store.query("select date, ticker, close from raw.prices where date >= $d order by all",
                                {"d": NEXT_FIRST})
    expected = yahoo.market.fetch_prices(universe.instruments, NEXT_FIRST, NEXT_LAST + dt.timedelta(days=1))
    assert stored_window.equals(expected.select("date", "ticker", "close").sort(pl.all()))
    assert stored_window.height == 3 * 12


def test_one_ticker_missing_fails_naming_it_and_its_sessions(stored, universe, monkeypatch) -> None:
    yahoo = FakeYahoo(universe, ("without", {"XLV"})).install(monkeypatch)
    before = table_hashes(stored.warehouse)
    result = run_range(yahoo_pipeline(stored), NEXT_FIRST, NEXT_LAST, raise_on_error=False, selection="raw/prices")
    assert not result.success
    assert "missing prices for 1 ticker(s): XLV (3 session(s): 2024-05-01, 2024-05-02, 2024-05-03)" in \
        failure_messages(result)
    assert yahoo.calls[1] == ["XLV"]   # asked once more on its own before giving up
    assert table_hashes(stored.warehouse) == before


def test_an_empty_frame_is_no_data_not_an_empty_day(stored, universe, monkeypatch) -> None:
    FakeYahoo(universe, "empty").install(monkeypatch)
    before = table_hashes(stored.warehouse)
    result = run_range(yahoo_pipeline(stored), NEXT_FIRST, NEXT_LAST, raise_on_error=False, selection="raw/prices")
    assert not result.success
    assert "yfinance returned no data for SPY" in failure_messages(result)
    assert table_hashes(stored.warehouse) == before


def test_a_last_session_not_published_yet_fails_naming_it(stored, universe, monkeypatch) -> None:
    # Yahoo has not published the day's bar yet: its data end on the session before
    FakeYahoo(universe, ("until", NEXT_LAST - dt.timedelta(days=1))).install(monkeypatch)
    before = table_hashes(stored.warehouse)
    result = run_range(yahoo_pipeline(stored), NEXT_FIRST, NEXT_LAST, raise_on_error=False, selection="raw/prices")
    assert not result.success
    message = failure_messages(result)
    assert "missing prices for 12 ticker(s)" in message and "SPY (1 session(s): 2024-05-03)" in message
    assert table_hashes(stored.warehouse) == before


def test_fred_down_during_a_refetch_keeps_the_fred_values_already_stored(stored, universe, monkeypatch) -> None:
    # FRED's series only warn (default universe): the run goes on without them, and must not delete them
    FakeYahoo(universe, "data", fred=network_down()).install(monkeypatch)
    fred = [s.series for s in universe.macro if s.provider == "fred"]
    queries = {table: f"select * from {table} where list_contains($fred, series) and date >= '2024-04-01' "
                      "order by all" for table in ("raw.macro", "validated.macro")}
    before = {table: Warehouse(stored.warehouse).query(q, {"fred": fred}) for table, q in queries.items()}
    assert all(frame.height > 0 for frame in before.values())
    result = run_range(yahoo_pipeline(stored), dt.date(2024, 4, 1), dt.date(2024, 4, 30), raise_on_error=False,
                       selection="key:raw/macro or key:validated/macro")
    assert result.success
    for table, query in queries.items():
        assert Warehouse(stored.warehouse).query(query, {"fred": fred}).equals(before[table]), table
    # the market series of the window were fetched again (from the fake Yahoo): they are there, as received
    market = Warehouse(stored.warehouse).query(
        "select distinct source from raw.macro where not list_contains($fred, series) and date >= '2024-04-01'",
        {"fred": fred})
    assert market.get_column("source").to_list() == ["yfinance"]
