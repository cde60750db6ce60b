"""Offline stand-ins for Yahoo Finance, shaped exactly like yfinance 1.7 returns its data.

* ``ohlcv`` / ``yf_frame``: one ticker's ``Ticker.history(auto_adjust=False, actions=True)`` and what
  ``yfinance.download(..., group_by="column", multi_level_index=True)`` assembles from several of them
  (proved against the real ``download`` in test_yfinance_source.py);
* ``chart_json``: the JSON of Yahoo's v8 chart endpoint, to drive the real yfinance code offline;
* ``Listing`` / ``yahoo_history``: a security's traded history with dividends and splits, and the frame
  Yahoo serves for it on a given download day (Close split-adjusted and Adj Close dividend-adjusted as of
  that day), to test that total returns do not depend on the download dates.
"""

from __future__ import annotations

import datetime as dt
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import yfinance

PRICE_LABELS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]
DOWNLOAD_SIGNATURE = inspect.signature(yfinance.download)
NEW_YORK = ZoneInfo("America/New_York")

Bar = tuple[float, float, float, float, float, int]  # open, high, low, close, adj close, volume


def ohlcv(rows: dict[str, Bar], tz: str | None = None, *, dividends: dict[str, float] | None = None,
          splits: dict[str, float] | None = None, etf: bool = True) -> pd.DataFrame:
    """One ticker's history as ``Ticker.history(auto_adjust=False, actions=True)`` returns it (daily bars).

    Price columns first, then ``Dividends`` and ``Stock Splits`` (0.0 on days without an event) and, for an
    ETF or mutual fund, ``Capital Gains``. An event dated after the last bar gets a row of its own with NaN
    prices and volume 0, as yfinance's ``safe_merge_dfs`` adds it.
    """
    dividends, splits = dividends or {}, splits or {}
    index = pd.DatetimeIndex(list(rows), name="Date")
    frame = pd.DataFrame(list(rows.values()), index=index, columns=PRICE_LABELS).astype({"Volume": np.float64})
    late = sorted({pd.Timestamp(d) for d in (*dividends, *splits)} - set(index))
    assert all(day > index.max() for day in late), "yfinance maps an event between bars onto the earlier bar"
    if late:
        empty = pd.DataFrame({**{label: np.nan for label in PRICE_LABELS[:5]}, "Volume": 0.0},
                             index=pd.DatetimeIndex(late, name="Date"))
        frame = pd.concat([frame, empty])
    frame["Dividends"] = [dividends.get(day.strftime("%Y-%m-%d"), 0.0) for day in frame.index]
    frame["Stock Splits"] = [splits.get(day.strftime("%Y-%m-%d"), 0.0) for day in frame.index]
    if etf:
        frame["Capital Gains"] = 0.0
    frame["Volume"] = frame["Volume"].astype(np.int64)
    if tz is not None:
        frame.index = frame.index.tz_localize(tz)
    return frame


def _empty_history() -> pd.DataFrame:
    """yfinance's ``utils.empty_df()``: what a failed ticker contributes (no action columns)."""
    return pd.DataFrame(index=pd.DatetimeIndex([], name="Date"), data={label: np.nan for label in PRICE_LABELS})


def yf_frame(data: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Assemble per-ticker histories as yfinance 1.7 ``download`` does (multi.py, daily bars).

    A None or empty history is a failed ticker (yfinance substitutes ``utils.empty_df()``); histories are
    made tz-naive, reindexed to the union of dates (failed tickers become all-NaN columns, and every
    ticker's columns are NaN on the other tickers' dates), concatenated with keys ('Ticker', 'Price'),
    swapped to ('Price', 'Ticker') and sorted, as group_by='column' does.
    """
    dfs = {}
    for ticker, history in data.items():
        if history is None or history.empty:
            history = _empty_history()
        else:
            history = history.copy()
            history.index = history.index.tz_localize(None) if history.index.tz is not None else history.index
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


def _open_timestamp(day: str) -> int:
    # Yahoo stamps a daily bar and its events with the session's opening time, 09:30 New York.
    return int(dt.datetime.fromisoformat(day).replace(hour=9, minute=30, tzinfo=NEW_YORK).timestamp())


def chart_json(symbol: str, rows: dict[str, Bar], *, dividends: dict[str, float] | None = None,
               splits: dict[str, tuple[int, int]] | None = None, instrument_type: str = "ETF") -> dict[str, Any]:
    """The body of Yahoo's ``/v8/finance/chart/<symbol>`` for daily bars with events (the fields yfinance reads)."""
    days = sorted(rows)
    events: dict[str, Any] = {}
    if dividends:
        events["dividends"] = {str(_open_timestamp(d)): {"amount": a, "date": _open_timestamp(d)}
                               for d, a in dividends.items()}
    if splits:
        events["splits"] = {str(_open_timestamp(d)): {"date": _open_timestamp(d), "numerator": n,
                                                      "denominator": m, "splitRatio": f"{n}:{m}"}
                            for d, (n, m) in splits.items()}
    result: dict[str, Any] = {
        "meta": {"currency": "USD", "symbol": symbol, "exchangeName": "PCX", "instrumentType": instrument_type,
                 "firstTradeDate": 0, "regularMarketTime": 0, "gmtoffset": -18000, "timezone": "EST",
                 "exchangeTimezoneName": "America/New_York", "priceHint": 2, "dataGranularity": "1d",
                 "range": "", "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "max"]},
        "timestamp": [_open_timestamp(d) for d in days],
        "indicators": {
            "quote": [{"open": [rows[d][0] for d in days], "high": [rows[d][1] for d in days],
                       "low": [rows[d][2] for d in days], "close": [rows[d][3] for d in days],
                       "volume": [rows[d][5] for d in days]}],
            "adjclose": [{"adjclose": [rows[d][4] for d in days]}],
        },
    }
    if events:
        result["events"] = events
    return {"chart": {"result": [result], "error": None}}


# --- a security's life, and what Yahoo shows of it on a given day ------------------------------------------

@dataclass
class Listing:
    """A security as traded: closes in the share units of their own day, events on their ex-dates."""

    closes: dict[dt.date, float]  # traded close per session
    dividends: dict[dt.date, float] = field(default_factory=dict)  # cash per share of the ex-date
    splits: dict[dt.date, float] = field(default_factory=dict)  # new shares per old on the ex-date

    def true_total_returns(self) -> dict[dt.date, float]:
        """(k_t * (P_t + D_t)) / P_(t-1) - 1 with P in its own day's units: what an investor earned."""
        days = sorted(self.closes)
        return {day: self.splits.get(day, 1.0) * (self.closes[day] + self.dividends.get(day, 0.0))
                / self.closes[before] - 1 for before, day in zip(days, days[1:])}


def yahoo_history(listing: Listing, start: dt.date, end: dt.date, as_of: dt.date) -> pd.DataFrame:
    """``Ticker.history(auto_adjust=False, actions=True)`` of `listing` for [start, end) downloaded on `as_of`.

    Close, Open, High, Low and Dividends are divided by every split whose ex-date is after the row and on or
    before `as_of`; Adj Close multiplies Close by (1 - D / previous Close) for every dividend after the row
    up to `as_of` (Yahoo's back-adjustment), so it is re-based by each new dividend.
    """
    days = [d for d in sorted(listing.closes) if start <= d < end and d <= as_of]
    every = [d for d in sorted(listing.closes) if d <= as_of]

    def later_splits(day: dt.date) -> float:
        return float(np.prod([k for ex, k in listing.splits.items() if day < ex <= as_of]))

    close = {d: listing.closes[d] / later_splits(d) for d in every}
    dividend = {d: a / later_splits(d) for d, a in listing.dividends.items() if d <= as_of}
    factor: dict[dt.date, float] = {}
    running = 1.0  # product over the dividends after the row
    for i in range(len(every) - 1, -1, -1):
        factor[every[i]] = running
        if every[i] in dividend and i > 0:
            running *= 1 - dividend[every[i]] / close[every[i - 1]]
    rows = {d.isoformat(): (close[d] * 0.995, close[d] * 1.01, close[d] * 0.99, close[d], close[d] * factor[d],
                            1_000_000 + i) for i, d in enumerate(days)}
    return ohlcv(rows, dividends={d.isoformat(): dividend[d] for d in days if d in dividend},
                 splits={d.isoformat(): listing.splits[d] for d in days if d in listing.splits})
