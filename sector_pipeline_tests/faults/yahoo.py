"""Offline Yahoo Finance and FRED for the fault suite: answers shaped like yfinance 1.7's `download` and FRED's
CSV endpoint, scripted per call (data, yfinance's all-failed frame, a raised error), with the synthetic market's
prices as the data."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.parse
from typing import Any

import pandas as pd
import polars as pl
import pytest
import yfinance

from sector_pipeline.sources.fred import FredClient, HttpResponse
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.sources.yfinance_source import YFinanceSource
from sector_pipeline.universe import Universe
from sector_pipeline_tests.sources.yahoo_fakes import DOWNLOAD_SIGNATURE, ohlcv, yf_frame

# What a scripted call does: "data" (every ticker), "failed" (yfinance caught an error for every ticker: 0 rows),
# "empty" (no frame at all), ("without", {tickers}) (those tickers failed), ("until", day) (bars end on `day`),
# or an exception instance to raise.
Answer = Any


class FakeYahoo:
    """Stands in for `yfinance.download` and FRED's HTTP GET; records calls and the backoff sleeps."""

    def __init__(self, universe: Universe, *script: Answer, fred: Answer = "data"):
        self.market = SyntheticSource(universe, seed=42)
        self.script = list(script) or ["data"]
        self.fred = fred
        self.calls: list[list[str]] = []
        self.fred_calls: list[str] = []
        self.sleeps: list[float] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> "FakeYahoo":
        monkeypatch.setattr(yfinance, "download", self.download)
        # the sources take their clock and HTTP client as keyword defaults: no real sleeping, no network
        monkeypatch.setitem(YFinanceSource.__init__.__kwdefaults__, "sleep", self.sleeps.append)
        monkeypatch.setitem(FredClient.__init__.__kwdefaults__, "http_get", self.fred_get)
        monkeypatch.setitem(FredClient.__init__.__kwdefaults__, "sleep", self.sleeps.append)
        return self

    def _answer(self) -> Answer:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def download(self, **kwargs: Any) -> pd.DataFrame:
        DOWNLOAD_SIGNATURE.bind(**kwargs)
        tickers = list(kwargs["tickers"])
        self.calls.append(tickers)
        answer = self._answer()
        if isinstance(answer, BaseException):
            raise answer
        if answer == "empty":
            return pd.DataFrame()
        start, end = dt.date.fromisoformat(kwargs["start"]), dt.date.fromisoformat(kwargs["end"])
        failed: set[str] = set(tickers) if answer == "failed" else set()
        if isinstance(answer, tuple) and answer[0] == "without":
            failed = set(answer[1])
        if isinstance(answer, tuple) and answer[0] == "until":
            end = min(end, answer[1] + dt.timedelta(days=1))
        return yf_frame({t: None if t in failed else self.history(t, start, end) for t in tickers})

    def history(self, ticker: str, start: dt.date, end: dt.date) -> pd.DataFrame | None:
        """One ticker's `Ticker.history(auto_adjust=False, actions=True)`: the synthetic market's bars."""
        instrument = next((i for i in self.market.universe.instruments if i.ticker == ticker), None)
        if instrument is None:   # a macro proxy ticker: its series' closes as bars
            series = [s for s in self.market.universe.macro if s.ticker == ticker]
            frame = self.market.fetch_macro(series, start, end).select(
                "date", *(pl.col("value").alias(c) for c in ("open", "high", "low", "close", "adj_close")),
                pl.lit(1_000_000.0).alias("volume"), pl.lit(0.0).alias("dividend"))
        else:
            frame = self.market.fetch_prices([instrument], start, end)
        if frame.is_empty():
            return None
        rows = {d.isoformat(): (o, h, lo, c, a, int(v)) for d, o, h, lo, c, a, v in
                frame.select("date", "open", "high", "low", "close", "adj_close", "volume").iter_rows()}
        dividends = {d.isoformat(): x for d, x in frame.select("date", "dividend").iter_rows() if x}
        return ohlcv(rows, dividends=dividends)

    def fred_get(self, url: str, timeout: float) -> HttpResponse:
        self.fred_calls.append(url)
        if isinstance(self.fred, BaseException):
            raise self.fred
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        series_id, first, last = query["id"][0], *(dt.date.fromisoformat(query[k][0]) for k in ("cosd", "coed"))
        series = [s for s in self.market.universe.macro if s.ticker == series_id]
        released = self.market.fetch_macro(series, first, last + dt.timedelta(days=series[0].release_lag_days + 30))
        lines = [f"{o.isoformat()},{v!r}" for o, v in released.select("observation_date", "value").unique()
                 .sort("observation_date").iter_rows() if first <= o <= last]
        return HttpResponse(200, "\n".join([f"observation_date,{series_id}", *lines]) + "\n")


def network_down() -> urllib.error.URLError:
    """What urllib raises for FRED when the machine has no network."""
    return urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))
