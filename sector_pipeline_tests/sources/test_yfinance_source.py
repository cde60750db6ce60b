"""YFinanceSource against frames shaped exactly like yfinance 1.7's ``download`` output, offline."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest
import requests
import yfinance
import yfinance.base
import yfinance.data
from yfinance.exceptions import YFRateLimitError

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA
from sector_pipeline.sources.fred import FredClient, HttpResponse
from sector_pipeline.sources.yfinance_source import (
    YFinanceSource,
    is_transient_error,
    missing_tickers,
)
from sector_pipeline.universe import Instrument, MacroSeries, Universe
from sector_pipeline_tests.sources.yahoo_fakes import FakeDownload, chart_json, ohlcv, yf_frame

TODAY = dt.date(2024, 1, 8)


def source(**kwargs: Any) -> YFinanceSource:
    """The source with a fixed download day (the clock is injected) and no real sleeping."""
    kwargs.setdefault("today", lambda: TODAY)
    kwargs.setdefault("sleep", lambda seconds: None)
    return YFinanceSource(**kwargs)


def history_for(ticker: str, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """A deterministic history: ticker-specific level, one cent steps, so every value is known."""
    level = 10.0 * (sum(map(ord, ticker)) % 17 + 1)
    rows = {}
    for i, day in enumerate(dates):
        close = level + i / 100
        rows[day.strftime("%Y-%m-%d")] = (close - 0.5, close + 1.0, close - 1.0, close, close * 0.9, 1000 + i)
    return ohlcv(rows)


def instruments(*tickers: str) -> list[Instrument]:
    return [Instrument(ticker=t, name=t, inception=dt.date(1990, 1, 2)) for t in tickers]


def no_sleep(recorded: list[float]) -> Callable[[float], None]:
    return recorded.append


XLK = {
    "2024-01-02": (200.5, 201.25, 198.75, 199.875, 198.0625, 7_000_000),
    "2024-01-03": (199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000),
    "2024-01-04": (197.0, 198.0, 195.5, 196.25, 194.4375, 6_500_000),
}
XLF = {
    "2024-01-02": (37.5, 37.75, 37.25, 37.625, 36.5, 40_000_000),
    "2024-01-03": (37.5, 37.5, 37.0, 37.125, 36.0, 41_000_000),
    "2024-01-04": (37.25, 37.5, 37.0, 37.375, 36.25, 39_000_000),
}
START, END = dt.date(2024, 1, 2), dt.date(2024, 1, 5)


class _ChartResponse:
    """What yfinance reads of an HTTP answer from Yahoo's chart endpoint."""

    def __init__(self, payload: dict[str, Any]):
        self.payload = payload
        self.text = str(payload)

    def json(self) -> dict[str, Any]:
        return self.payload


# Yahoo's side of the real-download test: two ETFs (XLK pays a dividend on its last bar, XLF has one bar
# less and its dividend arrives after it) and a stock with a 4-for-1 split (no Capital Gains column).
CHARTS = {
    "XLK": chart_json("XLK", {"2024-03-14": (200.5, 201.25, 198.75, 199.875, 198.0625, 7_000_000),
                              "2024-03-15": (199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000),
                              "2024-03-18": (197.0, 198.0, 195.5, 196.25, 196.25, 6_500_000)},
                      dividends={"2024-03-18": 0.3541}),
    "XLF": chart_json("XLF", {"2024-03-14": (37.5, 37.75, 37.25, 37.625, 36.5, 40_000_000),
                              "2024-03-15": (37.5, 37.5, 37.0, 37.125, 36.0, 41_000_000)},
                      dividends={"2024-03-18": 0.1722}),
    "AAPL": chart_json("AAPL", {"2024-03-14": (172.0, 174.0, 171.0, 173.0, 172.5, 60_000_000),
                                "2024-03-15": (43.0, 43.5, 42.5, 43.25, 43.125, 240_000_000),
                                "2024-03-18": (43.5, 44.0, 43.0, 43.75, 43.625, 200_000_000)},
                       splits={"2024-03-15": (4, 1)}, instrument_type="EQUITY"),
}


# yfinance 1.7 calls DataFrame.rename/sort_index/set_index with inplace=True, which pandas 3.1 deprecates.
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_yf_frame_matches_what_yfinance_download_assembles(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real yf.download and Ticker.history with only Yahoo's HTTP answers replaced: proves the helpers'
    # shape, including where yfinance puts dividends and splits.
    def chart(self: Any, url: str, params: Any = None, timeout: float = 30) -> _ChartResponse:
        return _ChartResponse(CHARTS[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(yfinance.data.YfData, "get", chart)
    monkeypatch.setattr(yfinance.data.YfData, "cache_get", chart)
    # Unknown symbols have no exchange time zone: yfinance gives up on them ("possibly delisted").
    monkeypatch.setattr(yfinance.base.TickerBase, "_get_ticker_tz",
                        lambda self, timeout: "America/New_York" if self.ticker in CHARTS else None)
    real = yfinance.download(tickers=["XLK", "XLF", "AAPL", "NOPE"], start="2024-03-14", end="2024-03-19",
                             auto_adjust=False, actions=True, group_by="column", multi_level_index=True,
                             progress=False, threads=False, interval="1d")
    assert real is not None
    expected = yf_frame({
        "XLK": ohlcv({"2024-03-14": (200.5, 201.25, 198.75, 199.875, 198.0625, 7_000_000),
                      "2024-03-15": (199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000),
                      "2024-03-18": (197.0, 198.0, 195.5, 196.25, 196.25, 6_500_000)},
                     "America/New_York", dividends={"2024-03-18": 0.3541}),
        "XLF": ohlcv({"2024-03-14": (37.5, 37.75, 37.25, 37.625, 36.5, 40_000_000),
                      "2024-03-15": (37.5, 37.5, 37.0, 37.125, 36.0, 41_000_000)},
                     "America/New_York", dividends={"2024-03-18": 0.1722}),
        "AAPL": ohlcv({"2024-03-14": (172.0, 174.0, 171.0, 173.0, 172.5, 60_000_000),
                       "2024-03-15": (43.0, 43.5, 42.5, 43.25, 43.125, 240_000_000),
                       "2024-03-18": (43.5, 44.0, 43.0, 43.75, 43.625, 200_000_000)},
                      "America/New_York", splits={"2024-03-15": 4.0}, etf=False),
        "NOPE": None,
    })
    pd.testing.assert_frame_equal(real, expected, check_freq=False, check_index_type=False)
    assert list(real.columns.names) == ["Price", "Ticker"]
    assert real.index.name == "Date" and real.index.tz is None
    labels = list(dict.fromkeys(real.columns.get_level_values("Price")))
    assert labels == ["Adj Close", "Capital Gains", "Close", "Dividends", "High", "Low", "Open", "Stock Splits",
                      "Volume"]
    # A failed ticker has no action columns; ETFs have Capital Gains, the stock has not.
    assert {t for p, t in real.columns if p == "Dividends"} == {"XLK", "XLF", "AAPL"}
    assert {t for p, t in real.columns if p == "Capital Gains"} == {"XLK", "XLF"}
    # No event: 0.0 on the ticker's own rows; NaN on rows that only exist for other tickers.
    assert real[("Dividends", "XLK")].tolist() == [0.0, 0.0, 0.3541]
    assert real[("Stock Splits", "AAPL")].tolist() == [0.0, 4.0, 0.0]
    # XLF's dividend after its last bar: a row of NaN prices, volume 0, the dividend.
    assert np.isnan(real.loc["2024-03-18", ("Close", "XLF")]) and real.loc["2024-03-18", ("Volume", "XLF")] == 0
    assert real.loc["2024-03-18", ("Dividends", "XLF")] == 0.1722

    # And the source on top of the real download function (the default `download`) converts it.
    rows = source().fetch_prices(instruments("XLK", "XLF", "AAPL"), dt.date(2024, 3, 14), dt.date(2024, 3, 19))
    assert rows.height == 9
    xlf = rows.filter(pl.col("ticker") == "XLF").sort("date")
    assert xlf.select("date", "close", "dividend", "split_ratio").rows() == [
        (dt.date(2024, 3, 14), 37.625, 0.0, 1.0), (dt.date(2024, 3, 15), 37.125, 0.0, 1.0),
        (dt.date(2024, 3, 18), None, 0.1722, 1.0)]
    aapl = rows.filter(pl.col("ticker") == "AAPL").sort("date")
    assert aapl["split_ratio"].to_list() == [1.0, 4.0, 1.0] and aapl["dividend"].to_list() == [0.0, 0.0, 0.0]
    assert set(rows["fetched_on"]) == {TODAY}


def test_conversion_keeps_values_exactly_and_drops_dates_outside_the_window() -> None:
    extra = {"2024-01-01": (1.0, 1.0, 1.0, 1.0, 1.0, 1), **XLK, "2024-01-05": (2.0, 2.0, 2.0, 2.0, 2.0, 2)}
    fake = FakeDownload(lambda tickers, n: yf_frame({"XLK": ohlcv(extra), "XLF": ohlcv(XLF)}))
    rows = YFinanceSource(download=fake).fetch_prices(instruments("XLK", "XLF"), START, END)

    assert dict(rows.schema) == PRICE_SCHEMA
    assert rows.height == 6
    assert rows["date"].min() == dt.date(2024, 1, 2) and rows["date"].max() == dt.date(2024, 1, 4)
    assert set(rows["source"]) == {"yfinance"}
    row = rows.filter((pl.col("ticker") == "XLK") & (pl.col("date") == dt.date(2024, 1, 3))).row(0, named=True)
    assert (row["open"], row["high"], row["low"], row["close"], row["adj_close"], row["volume"]) == (
        199.0, 199.5, 196.0, 197.125, 195.3125, 8_000_000.0)
    xlf = rows.filter(pl.col("ticker") == "XLF").sort("date")
    assert xlf["close"].to_list() == [37.625, 37.125, 37.375]
    assert xlf["adj_close"].to_list() == [36.5, 36.0, 36.25]


def test_one_request_per_batch_for_a_multi_month_range(universe: Universe) -> None:
    dates = pd.bdate_range("2024-01-02", "2024-03-28")
    fake = FakeDownload(lambda tickers, n: yf_frame({t: history_for(t, dates) for t in tickers}))
    start, end = dt.date(2024, 1, 2), dt.date(2024, 4, 1)
    rows = YFinanceSource(batch_size=5, download=fake).fetch_prices(universe.instruments, start, end)

    assert len(universe.instruments) == 12
    assert len(fake.calls) == 3
    assert [call["tickers"] for call in fake.calls] == [universe.tickers[0:5], universe.tickers[5:10],
                                                        universe.tickers[10:12]]
    for call in fake.calls:
        assert call["start"] == "2024-01-02" and call["end"] == "2024-04-01"  # end exclusive, ISO
        assert call["auto_adjust"] is False and call["actions"] is True
        assert call["group_by"] == "column" and call["multi_level_index"] is True
        assert call["interval"] == "1d" and call["progress"] is False
    assert rows.height == 12 * len(dates)
    assert sorted(rows["ticker"].unique()) == sorted(universe.tickers)
    last = rows.filter((pl.col("ticker") == "XLRE") & (pl.col("date") == dt.date(2024, 3, 28)))
    assert last["close"].item() == history_for("XLRE", dates)["Close"].iloc[-1]


def test_no_data_raises_source_error_naming_the_tickers_after_backoff() -> None:
    sleeps: list[float] = []
    # What download returns with the network down: every ticker failed, 0 rows (columns still exist).
    fake = FakeDownload(lambda tickers, n: yf_frame({t: None for t in tickers}))
    source = YFinanceSource(download=fake, sleep=no_sleep(sleeps))

    with pytest.raises(SourceError) as error:
        source.fetch_prices(instruments("XLK", "XLF"), START, END)

    assert len(fake.calls) == 4
    assert sleeps == [2.0, 4.0, 8.0]
    message = str(error.value)
    assert "XLK, XLF" in message and "2024-01-02" in message and "2024-01-05 (end exclusive)" in message
    assert "after 4 attempts" in message


@pytest.mark.parametrize("failure", [
    YFRateLimitError(),
    requests.exceptions.ConnectionError("connection refused"),
    requests.exceptions.ReadTimeout("read timed out"),
    TimeoutError("timed out"),
], ids=["rate-limit", "connection-error", "timeout", "builtin-timeout"])
def test_transient_error_then_success_returns_the_data(failure: Exception) -> None:
    sleeps: list[float] = []
    fake = FakeDownload(lambda tickers, n: failure if n == 1 else yf_frame({"XLK": ohlcv(XLK)}))
    rows = YFinanceSource(download=fake, sleep=no_sleep(sleeps)).fetch_prices(instruments("XLK"), START, END)

    assert len(fake.calls) == 2 and sleeps == [2.0]
    assert rows["close"].to_list() == [199.875, 197.125, 196.25]


def test_other_errors_are_not_retried() -> None:
    sleeps: list[float] = []
    fake = FakeDownload(lambda tickers, n: ValueError("bad argument"))
    with pytest.raises(ValueError, match="bad argument"):
        YFinanceSource(download=fake, sleep=no_sleep(sleeps)).fetch_prices(instruments("XLK"), START, END)
    assert len(fake.calls) == 1 and sleeps == []
    assert is_transient_error(YFRateLimitError()) and not is_transient_error(KeyError("x"))


def test_a_ticker_missing_from_a_batch_is_requested_once_alone_then_left_out() -> None:
    def respond(tickers: list[str], n: int) -> pd.DataFrame:
        return yf_frame({t: ohlcv({"XLK": XLK, "XLF": XLF}[t]) if t != "XLRE" else None for t in tickers})

    fake = FakeDownload(respond)
    sleeps: list[float] = []
    rows = YFinanceSource(download=fake, sleep=no_sleep(sleeps)).fetch_prices(
        instruments("XLK", "XLRE", "XLF"), START, END)

    assert [call["tickers"] for call in fake.calls] == [["XLK", "XLRE", "XLF"], ["XLRE"]]
    assert sleeps == []
    assert sorted(rows["ticker"].unique()) == ["XLF", "XLK"]
    assert rows.filter(pl.col("ticker") == "XLK").sort("date")["close"].to_list() == [199.875, 197.125, 196.25]
    assert rows.filter(pl.col("ticker") == "XLF").height == 3


def test_a_ticker_recovered_by_the_second_request_is_returned() -> None:
    def respond(tickers: list[str], n: int) -> pd.DataFrame:
        return yf_frame({t: None if (t == "XLF" and n == 1) else ohlcv({"XLK": XLK, "XLF": XLF}[t])
                         for t in tickers})

    fake = FakeDownload(respond)
    rows = YFinanceSource(download=fake).fetch_prices(instruments("XLK", "XLF"), START, END)
    assert len(fake.calls) == 2
    assert rows.filter(pl.col("ticker") == "XLF").sort("date")["close"].to_list() == [37.625, 37.125, 37.375]


def test_a_row_with_some_prices_missing_is_kept() -> None:
    xlk = ohlcv(XLK)
    xlk.loc[pd.Timestamp("2024-01-03"), "Close"] = np.nan
    fake = FakeDownload(lambda tickers, n: yf_frame({"XLK": xlk}))
    rows = YFinanceSource(download=fake).fetch_prices(instruments("XLK"), START, END).sort("date")

    assert rows.height == 3
    row = rows.row(1, named=True)
    assert row["date"] == dt.date(2024, 1, 3)
    assert row["close"] is None  # NaN arrives as null, the canonical missing value
    assert (row["open"], row["adj_close"]) == (199.0, 195.3125)


def test_single_ticker_download_is_still_a_multiindex() -> None:
    frame = yf_frame({"SPY": ohlcv({"2024-01-02": (472.0, 473.5, 470.5, 472.625, 465.0, 123_456_789)})})
    assert isinstance(frame.columns, pd.MultiIndex) and frame.shape == (1, 9)
    fake = FakeDownload(lambda tickers, n: frame)
    rows = source(download=fake).fetch_prices(instruments("SPY"), START, END)
    assert rows.rows() == [(dt.date(2024, 1, 2), "SPY", 472.0, 473.5, 470.5, 472.625, 465.0, 123_456_789.0,
                            0.0, 1.0, TODAY, "yfinance")]


def test_tz_aware_index_keeps_the_exchange_local_date() -> None:
    # Midnight in Tokyo is the previous day in UTC: the date must be the local one.
    tokyo = ohlcv({"2024-01-04": (1.0, 2.0, 0.5, 1.5, 1.5, 10)}, tz="Asia/Tokyo")
    frame = pd.concat({"1306.T": tokyo}, axis=1, names=["Ticker", "Price"]).swaplevel(0, 1, axis=1)
    fake = FakeDownload(lambda tickers, n: frame.sort_index(level=0, axis=1))
    rows = YFinanceSource(download=fake).fetch_prices(instruments("1306.T"), START, END)
    assert rows["date"].to_list() == [dt.date(2024, 1, 4)]


def test_tickers_keep_the_requested_spelling() -> None:
    # yfinance upper-cases every symbol it is given.
    fake = FakeDownload(lambda tickers, n: yf_frame({t: ohlcv(XLK) for t in tickers}))
    rows = YFinanceSource(download=fake).fetch_prices(instruments("xlk"), START, END)
    assert rows["ticker"].unique().to_list() == ["xlk"] and rows.height == 3


def test_macro_values_are_the_close(universe: Universe) -> None:
    vix = {"2024-01-02": (13.2, 14.2, 13.1, 13.2, 13.2, 0), "2024-01-03": (13.9, 14.7, 13.8, 14.04, 14.04, 0)}
    tnx = {"2024-01-02": (3.9, 3.96, 3.89, 3.944, 3.944, 0), "2024-01-03": (3.93, 3.95, 3.88, 3.905, 3.905, 0)}
    series = [m for m in universe.macro if m.ticker in ("^VIX", "^TNX")]
    fake = FakeDownload(lambda tickers, n: yf_frame({"^VIX": ohlcv(vix), "^TNX": ohlcv(tnx)}))
    rows = YFinanceSource(download=fake).fetch_macro(series, START, END).sort("series", "date")

    assert dict(rows.schema) == MACRO_SCHEMA
    assert rows.select("series", "ticker", "value").rows() == [
        ("us10y_yield_pct", "^TNX", 3.944), ("us10y_yield_pct", "^TNX", 3.905),
        ("vix", "^VIX", 13.2), ("vix", "^VIX", 14.04),
    ]


def test_missing_tickers_helper() -> None:
    frame = yf_frame({"XLK": ohlcv(XLK), "XLRE": None})
    assert missing_tickers(frame, ["XLK", "XLRE", "XLC"]) == ["XLRE", "XLC"]
    assert missing_tickers(pd.DataFrame(), ["XLK"]) == ["XLK"]
    # yfinance upper-cases symbols; the helper matches regardless of case.
    assert missing_tickers(frame, ["xlk"]) == []


# --- dividends, splits, download date (actions=True) --------------------------------------------------------

def test_dividends_and_splits_are_mapped_and_no_event_means_zero_and_one() -> None:
    xlk = ohlcv(XLK, dividends={"2024-01-03": 0.4112})
    # Yahoo books a 2-for-1 split as Stock Splits = 2.0; XLF has no event at all: its columns are all 0.0.
    xlf = ohlcv(XLF, splits={"2024-01-04": 2.0})
    quiet = {"XLK": ohlcv(XLK), "XLF": ohlcv(XLF)}
    fake = FakeDownload(lambda tickers, n: yf_frame({"XLK": xlk, "XLF": xlf}) if n == 1 else yf_frame(quiet))
    rows = source(download=fake).fetch_prices(instruments("XLK", "XLF"), START, END).sort("ticker", "date")

    assert dict(rows.schema) == PRICE_SCHEMA
    assert rows.select("ticker", "date", "dividend", "split_ratio").rows() == [
        ("XLF", dt.date(2024, 1, 2), 0.0, 1.0), ("XLF", dt.date(2024, 1, 3), 0.0, 1.0),
        ("XLF", dt.date(2024, 1, 4), 0.0, 2.0),
        ("XLK", dt.date(2024, 1, 2), 0.0, 1.0), ("XLK", dt.date(2024, 1, 3), 0.4112, 1.0),
        ("XLK", dt.date(2024, 1, 4), 0.0, 1.0),
    ]
    # When no ticker has any event in the window, every row still says so (0.0 and 1.0, never null).
    again = source(download=fake).fetch_prices(instruments("XLK", "XLF"), START, END)
    assert again["dividend"].to_list() == [0.0] * 6 and again["split_ratio"].to_list() == [1.0] * 6


def test_fetched_on_is_the_download_day_also_for_a_re_requested_ticker() -> None:
    days = iter([dt.date(2024, 1, 5), dt.date(2024, 1, 6)])

    def respond(tickers: list[str], n: int) -> pd.DataFrame:
        return yf_frame({t: None if (t == "XLF" and n == 1) else ohlcv({"XLK": XLK, "XLF": XLF}[t])
                         for t in tickers})

    rows = source(download=FakeDownload(respond), today=lambda: next(days)).fetch_prices(
        instruments("XLK", "XLF"), START, END)
    # One download day per batch: the re-request belongs to the same batch and fetch.
    assert set(rows["fetched_on"]) == {dt.date(2024, 1, 5)} and rows.height == 6


def test_actions_of_a_ticker_that_failed_are_unknown_not_zero() -> None:
    # A failed ticker has no Dividends column; if a bar of it still came back (not in yfinance 1.7, but a
    # frame from another version or a repair could), its dividend must be null: the source cannot tell.
    frame = yf_frame({"XLK": ohlcv(XLK)}).drop(columns=["Dividends", "Stock Splits", "Capital Gains"], level=0)
    rows = source(download=FakeDownload(lambda tickers, n: frame)).fetch_prices(instruments("XLK"), START, END)
    assert rows.height == 3 and rows["dividend"].null_count() == 3 and rows["split_ratio"].null_count() == 3


def test_capital_gains_are_reported_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    xlk = ohlcv(XLK)
    xlk.loc[pd.Timestamp("2024-01-03"), "Capital Gains"] = 0.25
    with caplog.at_level(logging.WARNING, logger="sector_pipeline.sources.yfinance_source"):
        rows = source(download=FakeDownload(lambda tickers, n: yf_frame({"XLK": xlk}))).fetch_prices(
            instruments("XLK"), START, END)
    assert rows["dividend"].to_list() == [0.0, 0.0, 0.0]
    assert "XLK has capital gain distributions on 2024-01-03" in caplog.text


# --- FRED series through the yfinance source ----------------------------------------------------------------

CPI = MacroSeries("cpi_index", "CPIAUCSL", "index", dt.date(1947, 1, 1), provider="fred", frequency="monthly",
                  release_lag_days=48)


def test_fred_series_come_from_fred_and_market_series_from_yahoo(universe: Universe) -> None:
    vix = [m for m in universe.macro if m.ticker == "^VIX"]
    bars = {"2024-02-15": (14.0, 14.5, 13.5, 14.01, 14.01, 0), "2024-02-16": (14.2, 14.7, 13.9, 14.24, 14.24, 0)}
    fake = FakeDownload(lambda tickers, n: yf_frame({t: ohlcv(bars, etf=False) for t in tickers}))
    fred_urls: list[str] = []

    def fred_get(url: str, timeout: float) -> HttpResponse:
        fred_urls.append(url)
        return HttpResponse(200, "observation_date,CPIAUCSL\n2023-12-01,308.742\n2024-01-01,309.685\n")

    src = source(download=fake, fred=FredClient(http_get=fred_get))
    rows = src.fetch_macro([*vix, CPI], dt.date(2024, 2, 15), dt.date(2024, 2, 20)).sort("series", "date")

    assert dict(rows.schema) == MACRO_SCHEMA
    assert [call["tickers"] for call in fake.calls] == [["^VIX"]]  # Yahoo is never asked for a FRED id
    assert len(fred_urls) == 1 and "id=CPIAUCSL" in fred_urls[0]
    # January's CPI (observed 2024-01-01) is public from 2024-02-18, a Sunday: first session Tue 02-20 (after
    # Presidents' Day) is outside the window, so no CPI row; December's came out on 2024-01-18.
    assert rows.select("date", "series", "observation_date", "value", "source").rows() == [
        (dt.date(2024, 2, 15), "vix", dt.date(2024, 2, 15), 14.01, "yfinance"),
        (dt.date(2024, 2, 16), "vix", dt.date(2024, 2, 16), 14.24, "yfinance"),
    ]
    later = src.fetch_macro([CPI], dt.date(2024, 2, 20), dt.date(2024, 2, 21))
    assert later.select("date", "observation_date", "value", "source").rows() == [
        (dt.date(2024, 2, 20), dt.date(2024, 1, 1), 309.685, "fred")]


def test_fred_unreachable_is_an_error_never_a_substitute(universe: Universe) -> None:
    fake = FakeDownload(lambda tickers, n: AssertionError("Yahoo must not be asked"))

    def down(url: str, timeout: float) -> HttpResponse:
        raise TimeoutError("timed out")

    src = source(download=fake, fred=FredClient(http_get=down, sleep=lambda s: None))
    with pytest.raises(SourceError, match="FRED series CPIAUCSL: no answer after 4 attempts"):
        src.fetch_macro([CPI], dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert fake.calls == []
