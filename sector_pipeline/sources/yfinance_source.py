"""Daily prices and market-implied macro series from Yahoo Finance through ``yfinance.download``.

One request per batch of tickers covers the whole ``[start, end)`` window. What yfinance 1.7 returns, and
what this module relies on (see ``yfinance/multi.py``):

* with ``group_by="column"`` and ``multi_level_index=True`` the columns are a MultiIndex named
  ``("Price", "Ticker")``, sorted, with Price values ``Adj Close, Close, High, Low, Open, Volume``
  (``auto_adjust=False``), also for a single ticker; the index is a DatetimeIndex named ``Date``, tz-naive
  for daily bars (local exchange date) because ``ignore_tz`` defaults to True for daily intervals;
* tickers come back upper-cased (yfinance upper-cases and de-duplicates the request);
* ``download`` does not raise for failed tickers: each error (DNS failure, HTTP 429 rate limit, unknown
  ticker) is caught per ticker and only logged. A failed ticker becomes all-NaN columns on the union of
  the other tickers' dates, and when every ticker fails the frame has 0 rows (its columns still exist).
  Network down, rate limited and unknown ticker therefore all look the same: no data.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import polars as pl

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import (
    PRICE_SCHEMA,
    closes_as_macro,
    empty_prices,
)
from sector_pipeline.universe import Instrument, MacroSeries

logger = logging.getLogger(__name__)

# yfinance's Price-level labels -> canonical column names.
_PRICE_COLUMNS: dict[str, str] = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
# Labels whose all-NaN on a date means "no bar" (Volume is excluded: yfinance fills a real bar's missing
# volume with 0, and pads an absent one with NaN, so it carries no extra information).
_BAR_LABELS = ("Open", "High", "Low", "Close", "Adj Close")

# Exception classes (matched by name anywhere in the MRO so neither `requests` nor `curl_cffi` has to be
# imported: yfinance uses whichever is installed) that mean "try again later".
_TRANSIENT_CLASS_NAMES = frozenset({"ConnectionError", "Timeout", "TimeoutError"})


def is_transient_error(exc: BaseException) -> bool:
    """True for rate limits (yfinance's YFRateLimitError) and connection errors or timeouts."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & _TRANSIENT_CLASS_NAMES) or any("RateLimit" in name for name in names)


def missing_tickers(frame_pd: pd.DataFrame, requested: Sequence[str]) -> list[str]:
    """The requested tickers with no bar at all in a yfinance frame, in request order.

    A ticker is missing when it has no columns (yfinance upper-cases symbols, so the match ignores case)
    or when its Open/High/Low/Close/Adj Close are NaN on every row: that is how yfinance pads a ticker
    whose own download failed.
    """
    if frame_pd.empty or not isinstance(frame_pd.columns, pd.MultiIndex):
        return list(requested)
    present = set()
    for ticker in frame_pd.columns.get_level_values("Ticker").unique():
        bars = frame_pd.xs(ticker, axis=1, level="Ticker")
        labels = [label for label in _BAR_LABELS if label in bars.columns]
        if labels and bars[labels].notna().any().any():
            present.add(str(ticker).upper())
    return [ticker for ticker in requested if ticker.upper() not in present]


def _prepare(frame_pd: pd.DataFrame, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Check the frame's shape, make the index tz-naive local dates, and keep dates in [start, end)."""
    if not isinstance(frame_pd.columns, pd.MultiIndex) or list(frame_pd.columns.names) != ["Price", "Ticker"]:
        raise SourceError(
            "yfinance returned columns of an unexpected shape "
            f"(names {list(getattr(frame_pd.columns, 'names', []))}, expected ['Price', 'Ticker']); "
            "was download called with group_by='column' and multi_level_index=True?"
        )
    absent = sorted(set(_PRICE_COLUMNS) - set(frame_pd.columns.get_level_values("Price")))
    if absent:
        raise SourceError(f"yfinance frame lacks the price columns {absent} (auto_adjust must be False)")
    index = pd.DatetimeIndex(frame_pd.index)
    if index.tz is not None:
        # Wall-clock time in the exchange's zone; converting to UTC first could move a bar to another date.
        index = index.tz_localize(None)
    index = index.normalize()
    frame_pd = frame_pd.set_axis(index, axis=0)
    in_range = (index >= pd.Timestamp(start)) & (index < pd.Timestamp(end))
    return frame_pd.loc[in_range]


def _to_long(frame_pd: pd.DataFrame, requested: Sequence[str]) -> pl.DataFrame:
    """The prepared wide frame as canonical rows, dropping yfinance's all-NaN padding rows."""
    if frame_pd.empty:
        return empty_prices()
    spelled = {ticker.upper(): ticker for ticker in requested}
    dates = pl.Series("date", frame_pd.index.values.astype("datetime64[D]"), dtype=pl.Date)
    parts = []
    for ticker in frame_pd.columns.get_level_values("Ticker").unique():
        bars = frame_pd.xs(ticker, axis=1, level="Ticker")
        parts.append(pl.DataFrame({
            "date": dates,
            "ticker": spelled.get(str(ticker).upper(), str(ticker)),
            **{name: bars[label].to_numpy(dtype=np.float64, na_value=np.nan)
               for label, name in _PRICE_COLUMNS.items()},
            "source": YFinanceSource.name,
        }))
    bar_columns = [_PRICE_COLUMNS[label] for label in _BAR_LABELS]
    return (
        pl.concat(parts)
        # pandas marks missing values with NaN; the canonical frame uses null.
        .with_columns(pl.col(list(_PRICE_COLUMNS.values())).fill_nan(None))
        .filter(~pl.all_horizontal(pl.col(bar_columns).is_null()))
        .select([pl.col(name).cast(dtype) for name, dtype in PRICE_SCHEMA.items()])
    )


class YFinanceSource:
    """Market data from Yahoo Finance; ``download`` is injectable so tests run without a network."""

    name = "yfinance"

    def __init__(
        self,
        *,
        batch_size: int = 20,
        max_attempts: int = 4,
        backoff_seconds: float = 2.0,
        download: Callable[..., pd.DataFrame] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self._download = download
        self._sleep = sleep

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in PRICE_SCHEMA on dates in [start, end); tickers Yahoo has nothing for are left out."""
        return self._fetch([i.ticker for i in instruments], start, end)

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA on dates in [start, end); ``value`` is Yahoo's Close."""
        return closes_as_macro(self._fetch([s.ticker for s in series], start, end), series)

    def _fetch(self, tickers: Sequence[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        unique = list(dict.fromkeys(tickers))
        if not unique or start >= end:
            return empty_prices()
        frames = [
            self._fetch_batch(unique[i:i + self.batch_size], start, end)
            for i in range(0, len(unique), self.batch_size)
        ]
        return pl.concat(frames)

    def _fetch_batch(self, batch: list[str], start: dt.date, end: dt.date) -> pl.DataFrame:
        frame = _prepare(self._download_with_retry(batch, start, end), start, end)
        absent = missing_tickers(frame, batch)
        parts = [_to_long(frame, batch)]
        if absent:
            # yfinance swallows per-ticker errors, so a ticker missing from a batch that otherwise worked is
            # either a transient failure (one 429 among many requests) or genuinely absent (not listed yet,
            # unknown symbol). One more request tells them apart; a second miss is left to the caller's
            # completeness check, which names the missing (ticker, session) pairs.
            logger.warning("yfinance: no data for %s in %s..%s (end exclusive); requesting them once more",
                           ", ".join(absent), start, end)
            retried = self._retry_absent(absent, start, end)
            still_absent = missing_tickers(retried, absent)
            if still_absent:
                logger.warning("yfinance: still no data for %s in %s..%s; returning without them",
                               ", ".join(still_absent), start, end)
            parts.append(_to_long(retried, absent))
        return pl.concat(parts)

    def _retry_absent(self, tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """One request for tickers a batch did not deliver; no data, or a transient error, means absent."""
        try:
            frame = self._call(tickers, start, end)
        except Exception as exc:
            if not is_transient_error(exc):
                raise
            logger.warning("yfinance: re-request for %s failed: %r", ", ".join(tickers), exc)
            return pd.DataFrame()
        return _prepare(frame, start, end) if not frame.empty else frame

    def _download_with_retry(self, tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        """The batch's raw frame, retrying empty results and transient errors with exponential backoff."""
        last_failure = "empty result"
        for attempt in range(self.max_attempts):
            logger.info("yfinance: requesting %d ticker(s) %s for %s..%s (end exclusive), attempt %d of %d",
                        len(tickers), ", ".join(tickers), start, end, attempt + 1, self.max_attempts)
            try:
                frame = self._call(tickers, start, end)
            except Exception as exc:
                if not is_transient_error(exc):
                    raise
                last_failure = f"{type(exc).__name__}: {exc}"
            else:
                if not frame.empty:
                    return frame
                last_failure = "empty result"
            if attempt + 1 < self.max_attempts:
                delay = self.backoff_seconds * 2 ** attempt
                logger.warning("yfinance: attempt %d for %s failed (%s); retrying in %.1f s",
                               attempt + 1, ", ".join(tickers), last_failure, delay)
                self._sleep(delay)
        raise SourceError(
            f"yfinance returned no data for {', '.join(tickers)} between {start} and {end} (end exclusive) "
            f"after {self.max_attempts} attempts: network down, rate limited or tickers unknown "
            f"(last failure: {last_failure})"
        )

    def _call(self, tickers: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
        download = self._download
        if download is None:
            import yfinance  # imported on first use: it pulls in curl_cffi and sets up HTTP sessions

            download = yfinance.download
        frame: Any = download(
            tickers=list(tickers),
            start=start.isoformat(),
            end=end.isoformat(),  # exclusive in yfinance as in our interface
            # Keep both Close (split-adjusted) and Adj Close (split- and dividend-adjusted).
            auto_adjust=False,
            actions=False,
            group_by="column",
            # A MultiIndex even for one ticker, so every batch has the same shape.
            multi_level_index=True,
            progress=False,
            # Sequential per-ticker requests: gentler on Yahoo's rate limit, and yfinance's thread pool
            # (the `multitasking` package) is process-global state shared by concurrent runs.
            threads=False,
            interval="1d",
        )
        # yfinance's annotation allows None; treat it like the empty frame it returns when all fails.
        return frame if frame is not None else pd.DataFrame()
