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

With ``actions=True`` (``scrapers/history.py``, ``utils.parse_actions``):

* every ticker that downloaded gets ``Dividends`` and ``Stock Splits`` columns, and ETFs and mutual funds
  also ``Capital Gains``; sorted, the Price labels are ``Adj Close, Capital Gains, Close, Dividends, High,
  Low, Open, Stock Splits, Volume``. A failed ticker is yfinance's empty frame of the six price labels
  only, so it has no action columns at all (and when every ticker fails, no action column exists);
* on a ticker's own rows without an event ``Dividends`` and ``Stock Splits`` are 0.0 (also when the
  ticker had no event in the whole window); on the other tickers' dates they are NaN like the prices;
* ``Dividends`` is cash per share on the ex-date, in the share units of the download (Yahoo adjusts past
  dividends for later splits, as it does Close); ``Stock Splits`` is numerator / denominator (2.0 for
  2-for-1, 0.25 for a 1-for-4 reverse split), 0.0 meaning none;
* an event dated after the ticker's last bar but before ``end`` gets a row of its own with NaN prices and
  volume 0 (``utils.safe_merge_dfs``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl

from sector_pipeline.errors import SourceError
from sector_pipeline.sources.base import (
    PRICE_SCHEMA,
    closes_as_macro,
    empty_macro,
    empty_prices,
    split_by_provider,
)
from sector_pipeline.sources.fred import FredClient
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
# Corporate actions (actions=True) -> canonical columns; absent for a ticker whose download failed.
_DIVIDENDS, _SPLITS, _CAPITAL_GAINS = "Dividends", "Stock Splits", "Capital Gains"
_NEW_YORK = ZoneInfo("America/New_York")
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


def _column(bars: pd.DataFrame, label: str) -> np.ndarray:
    """A float column of one ticker's bars, all NaN when yfinance did not return the label for it."""
    if label not in bars.columns:
        return np.full(len(bars), np.nan)
    return bars[label].to_numpy(dtype=np.float64, na_value=np.nan)


def _today_in_new_york() -> dt.date:
    return dt.datetime.now(_NEW_YORK).date()


def _to_long(frame_pd: pd.DataFrame, requested: Sequence[str], fetched_on: dt.date) -> pl.DataFrame:
    """The prepared wide frame as canonical rows, dropping yfinance's all-NaN padding rows.

    A row without any price is kept when it carries a dividend or a split (yfinance adds one for an event
    after the ticker's last bar): the event is data, and validation reports the missing bar.
    """
    if frame_pd.empty:
        return empty_prices()
    spelled = {ticker.upper(): ticker for ticker in requested}
    dates = pl.Series("date", frame_pd.index.values.astype("datetime64[D]"), dtype=pl.Date)
    parts = []
    for ticker in frame_pd.columns.get_level_values("Ticker").unique():
        bars = frame_pd.xs(ticker, axis=1, level="Ticker")
        name = spelled.get(str(ticker).upper(), str(ticker))
        gains = _column(bars, _CAPITAL_GAINS)
        if np.nan_to_num(gains).any():
            # Yahoo's Adj Close already counts capital gain distributions, and its Dividends column sometimes
            # includes them too (yfinance's repair code exists for that): there is no reliable way to add
            # them here, so the total return from dividends leaves them out. Say so.
            shown = [str(d) for d in dates.filter(pl.Series(np.nan_to_num(gains) != 0)).to_list()[:5]]
            logger.warning("yfinance: %s has capital gain distributions on %s; total returns from dividends "
                           "do not include them", name, ", ".join(shown))
        parts.append(pl.DataFrame({
            "date": dates,
            "ticker": name,
            **{column: bars[label].to_numpy(dtype=np.float64, na_value=np.nan)
               for label, column in _PRICE_COLUMNS.items()},
            "dividend": _column(bars, _DIVIDENDS),
            "split_ratio": _column(bars, _SPLITS),
            "fetched_on": fetched_on,
            "source": YFinanceSource.name,
        }))
    bar_columns = [_PRICE_COLUMNS[label] for label in _BAR_LABELS]
    has_event = (pl.col("dividend").fill_null(0.0) != 0) | (pl.col("split_ratio").fill_null(0.0) != 0)
    return (
        pl.concat(parts)
        # pandas marks missing values with NaN; the canonical frame uses null.
        .with_columns(pl.col([*_PRICE_COLUMNS.values(), "dividend", "split_ratio"]).fill_nan(None))
        .filter(~pl.all_horizontal(pl.col(bar_columns).is_null()) | has_event)
        # Yahoo's "no split" is 0.0; the canonical frame's is a ratio of 1.0.
        .with_columns(pl.when(pl.col("split_ratio") == 0).then(1.0).otherwise(pl.col("split_ratio"))
                      .alias("split_ratio"))
        .select([pl.col(name).cast(dtype) for name, dtype in PRICE_SCHEMA.items()])
    )


class YFinanceSource:
    """Market data from Yahoo Finance, FRED series from FRED.

    ``download`` (yfinance's), ``fred`` (the FRED client), ``sleep`` and ``today`` (the download date, in
    New York) are injectable so tests run without a network or a real clock.
    """

    name = "yfinance"

    def __init__(
        self,
        *,
        batch_size: int = 20,
        max_attempts: int = 4,
        backoff_seconds: float = 2.0,
        download: Callable[..., pd.DataFrame] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], dt.date] = _today_in_new_york,
        fred: FredClient | None = None,
        calendar: str = "XNYS",
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
        self._today = today
        self.fred = fred if fred is not None else FredClient(sleep=sleep, calendar=calendar)

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in PRICE_SCHEMA on dates in [start, end); tickers Yahoo has nothing for are left out."""
        return self._fetch([i.ticker for i in instruments], start, end)

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA on release dates in [start, end).

        Market series: Yahoo's Close of the ticker. FRED series: FRED's own CSV download, released after
        their lag (``source`` = "fred"); FRED being unreachable is a SourceError, never a substitute.
        """
        market, fred = split_by_provider(series)
        frames = []
        if market:
            frames.append(closes_as_macro(self._fetch([s.ticker for s in market], start, end), market))
        if fred:
            frames.append(self.fred.fetch_macro(fred, start, end))
        return pl.concat(frames) if frames else empty_macro()

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
        # Yahoo's Close is split-adjusted as of the download: the date is stored with every row.
        fetched_on = self._today()
        absent = missing_tickers(frame, batch)
        parts = [_to_long(frame, batch, fetched_on)]
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
            parts.append(_to_long(retried, absent, fetched_on))
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
            # Dividends and splits, so total returns are computed on one basis whatever the download date.
            actions=True,
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
