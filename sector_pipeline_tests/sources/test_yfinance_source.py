"""YFinanceSource against frames shaped exactly like yfinance 1.7's ``download`` output, offline."""

from __future__ import annotations

import datetime as dt
import inspect
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import pandas as pd
import polars as pl
import pytest
import requests
import yfinance
import yfinance.multi
from yfinance.exceptions import YFRateLimitError

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import MACRO_SCHEMA, PRICE_SCHEMA
from sector_pipeline.sources.yfinance_source import (
    YFinanceSource,
    is_transient_error,
    missing_tickers,
)
from sector_pipeline.universe import Instrument, Universe

PRICE_LABELS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
DOWNLOAD_SIGNATURE = inspect.signature(yfinance.download)


def ohlcv(rows: dict[str, tuple[float, float, float, float, float, int]], tz: str | None = None) -> pd.DataFrame:
    """One ticker's history as ``Ticker.history(auto_adjust=False, actions=False)`` returns it."""
    index = pd.DatetimeIndex(list(rows), name="Date", tz=tz)
    frame = pd.DataFrame(list(rows.values()), index=index, columns=PRICE_LABELS)
    return frame.astype({"Volume": np.int64})


def yf_frame(data: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Assemble per-ticker histories as yfinance 1.7 ``download`` does (multi.py, daily bars).

    A None or empty history is a failed ticker (yfinance substitutes ``utils.empty_df()``); histories are
    made tz-naive, reindexed to the union of dates (failed tickers become all-NaN columns), concatenated
    with keys ('Ticker', 'Price'), swapped to ('Price', 'Ticker') and sorted, as group_by='column' does.
    """
    dfs = {}
    for ticker, history in data.items():
        if history is None or history.empty:
            history = pd.DataFrame(index=pd.DatetimeIndex([], name="Date"),
                                   data={label: np.nan for label in PRICE_LABELS})
        else:
            history = history.copy()
            history.index = history.index.tz_localize(None)
        dfs[ticker.upper()] = history
    index = None
    for history in dfs.values():
        if not history.empty:
            index = history.index if index is None else index.union(history.index)
    if index is None:
        index = pd.DatetimeIndex([])
    dfs = {ticker: history.reindex(index) for ticker, history in dfs.items()}
    frame = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    frame.columns = frame.columns.swaplevel(0, 1)
    return frame.sort_index(level=0, axis=1)


class FakeDownload:
    """Stands in for ``yfinance.download``: checks the call against its real signature and records it."""

    def __init__(self, respond: Callable[[list[str], int], pd.DataFrame | BaseException]):
        self.respond = respond
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **kwargs: Any) -> pd.DataFrame:
        DOWNLOAD_SIGNATURE.bind(**kwargs)  # a misspelt or unknown keyword fails the test here
        self.calls.append(kwargs)
        result = self.respond(list(kwargs["tickers"]), len(self.calls))
        if isinstance(result, BaseException):
            raise result
        return result


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


# yfinance 1.7 calls DataFrame.rename/sort_index with inplace=True, which pandas 3.1 deprecates.
@pytest.mark.filterwarnings("ignore:The inplace keyword")
def test_yf_frame_matches_what_yfinance_download_assembles(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real yf.download with only the per-ticker network call replaced: proves the helper's shape.
    histories = {"XLK": ohlcv(XLK, tz="America/New_York"), "XLF": ohlcv(dict(list(XLF.items())[1:]),
                                                                        tz="America/New_York")}

    class OfflineTicker:
        def __init__(self, ticker: str):
            self.ticker = ticker.upper()
            self._price_history = SimpleNamespace(_last_error=None)

        def history(self, **_: Any) -> pd.DataFrame:
            if self.ticker not in histories:
                raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")
            return histories[self.ticker].copy()

    monkeypatch.setattr(yfinance.multi, "Ticker", OfflineTicker)
    real = yfinance.download(tickers=["XLK", "XLF", "NOPE"], start="2024-01-02", end="2024-01-05",
                             auto_adjust=False, actions=False, group_by="column", multi_level_index=True,
                             progress=False, threads=False, interval="1d")
    assert real is not None
    expected = yf_frame({"XLK": histories["XLK"], "XLF": histories["XLF"], "NOPE": None})
    pd.testing.assert_frame_equal(real, expected)
    assert list(real.columns.names) == ["Price", "Ticker"]
    assert real.index.name == "Date" and real.index.tz is None
    assert real[("Close", "NOPE")].isna().all() and len(real) == 3

    # And the source on top of the real download function (the default `download`) converts it.
    rows = YFinanceSource(sleep=no_sleep([])).fetch_prices(instruments("XLK", "XLF"), START, END)
    assert rows.height == 5
    assert rows.filter(pl.col("ticker") == "XLF")["date"].to_list() == [dt.date(2024, 1, 3), dt.date(2024, 1, 4)]


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
        assert call["auto_adjust"] is False and call["actions"] is False
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
    assert isinstance(frame.columns, pd.MultiIndex) and frame.shape == (1, 6)
    fake = FakeDownload(lambda tickers, n: frame)
    rows = YFinanceSource(download=fake).fetch_prices(instruments("SPY"), START, END)
    assert rows.rows() == [(dt.date(2024, 1, 2), "SPY", 472.0, 473.5, 470.5, 472.625, 465.0, 123_456_789.0,
                            "yfinance")]


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
