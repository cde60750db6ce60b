"""The one interface every market-data source implements, and the canonical frames it returns."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, Sequence

import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.universe import Instrument, MacroSeries

# Canonical raw price frame: one row per (date, ticker). Prices are nullable here on purpose: raw data is
# stored as received and validation decides what is usable. `close` is the traded close adjusted for splits
# only (Yahoo's "Close"); `adj_close` also adjusts for dividends (Yahoo's "Adj Close").
# Both are adjusted as of the download day, `fetched_on`: Yahoo re-bases Close at every split and Adj Close
# at every dividend, so rows downloaded on different days can be on different bases
# (sector_pipeline/ingest/total_return.py puts them back on one).
# `dividend`: cash per share going ex on `date`, in the same share units as `close` (Yahoo adjusts past
# dividends for later splits like the prices); 0.0 when the source says there was none, null when the
# source cannot tell (a csv file without a dividend column).
# `split_ratio`: new shares per old share on the ex-date `date` (2.0 for a 2-for-1 split); 1.0 = no split,
# null = unknown.
PRICE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "ticker": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "adj_close": pl.Float64(),
    "volume": pl.Float64(),
    "dividend": pl.Float64(),
    "split_ratio": pl.Float64(),
    "fetched_on": pl.Date(),
    "source": pl.String(),
}

# Canonical raw macro frame: one row per (date, series). `observation_date` is the day or period start the
# value describes (FRED's date); `date` is the session on which it became public: the first session on or
# after observation_date + release_lag_days (`release_sessions`). For a market series (a daily close)
# both are the session. `value`: the close of a market series, the published value of a FRED series.
MACRO_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "series": pl.String(),
    "ticker": pl.String(),
    "observation_date": pl.Date(),
    "value": pl.Float64(),
    "source": pl.String(),
}
# What a FRED-type provider delivers before release dates are attached: one row per observation.
OBSERVATION_SCHEMA: dict[str, pl.DataType] = {"observation_date": pl.Date(), "value": pl.Float64()}
# Days before the first release date of a window from which observations are read: covers the longest run
# of days without a session (the NYSE was closed 2001-09-11..14, a 7-day gap with the weekend), so every
# observation that lands on a session of the window is seen, and the later-observation rule has all the
# observations of that session.
_RELEASE_SLACK_DAYS = 14
# sector_pipeline.calendar builds its exchange calendars from this day on; a value public before it has no
# session to be dated by (FRED series reach back to 1947) and is left out: no partition is that old.
CALENDAR_FIRST_DAY = dt.date(1990, 1, 2)

# Planted regime schedule of the synthetic market: one row per regime spell.
REGIME_SCHEMA: dict[str, pl.DataType] = {
    "regime_id": pl.Int64(),
    "regime": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),  # inclusive: the last session of the spell
}


def empty_prices() -> pl.DataFrame:
    return pl.DataFrame(schema=PRICE_SCHEMA)


def empty_macro() -> pl.DataFrame:
    return pl.DataFrame(schema=MACRO_SCHEMA)


def split_by_provider(series: Sequence[MacroSeries]) -> tuple[list[MacroSeries], list[MacroSeries]]:
    """(market series, FRED series), each in the given order."""
    return [s for s in series if s.provider == "market"], [s for s in series if s.provider == "fred"]


def closes_as_macro(prices: pl.DataFrame, series: Sequence[MacroSeries]) -> pl.DataFrame:
    """Price rows of market macro tickers as MACRO_SCHEMA rows: the value is the ticker's close, observed and
    public on the session itself (observation_date = date)."""
    if prices.is_empty():
        return empty_macro()
    names = pl.DataFrame({"ticker": [s.ticker for s in series], "series": [s.series for s in series]},
                         schema={"ticker": pl.String, "series": pl.String})
    return (
        prices.join(names, on="ticker", how="inner")
        .with_columns(pl.col("close").alias("value"), pl.col("date").alias("observation_date"))
        .select([pl.col(name).cast(dtype) for name, dtype in MACRO_SCHEMA.items()])
    )


def observation_window(series: MacroSeries, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """[first, last) observation dates whose release session can fall in [start, end).

    A value observed on o is public on the first session >= o + lag, which is < end only if o < end - lag.
    The start reaches back by the lag plus a slack longer than any gap between sessions.
    """
    lag = dt.timedelta(days=series.release_lag_days)
    return start - lag - dt.timedelta(days=_RELEASE_SLACK_DAYS), end - lag


def release_sessions(observations: pl.DataFrame, series: MacroSeries, calendar: str, *, source: str,
                     start: dt.date | None = None, end: dt.date | None = None) -> pl.DataFrame:
    """Observations (OBSERVATION_SCHEMA: observation_date, value) of one series as MACRO_SCHEMA rows dated
    by the session on which each value became public.

    date = the first session of `calendar` on or after observation_date + series.release_lag_days. When
    several observations land on the same session (daily values published after a holiday, or a long lag
    over a short month), the later observation is kept: on that session it is the latest value known.
    Rows are returned for release dates in [start, end) when those are given. Read observations over
    `observation_window(series, start, end)` so every observation of a returned session is present.
    """
    frame = observations.select([pl.col(name).cast(dtype) for name, dtype in OBSERVATION_SCHEMA.items()])
    if frame.is_empty():
        return empty_macro()
    repeated = frame.filter(pl.col("observation_date").is_duplicated())["observation_date"].unique().sort()
    if repeated.len():
        shown = ", ".join(str(d) for d in repeated.head(5))
        raise ValueError(f"series {series.series} ({series.ticker}): observation dates occur twice: {shown}")
    public = frame.with_columns(
        (pl.col("observation_date") + pl.duration(days=series.release_lag_days)).alias("public_from")
    ).filter(pl.col("public_from") >= CALENDAR_FIRST_DAY).sort("public_from")
    if public.is_empty():
        return empty_macro()
    first, last = public["public_from"].min(), public["public_from"].max()
    assert isinstance(first, dt.date) and isinstance(last, dt.date)
    grid = pl.DataFrame({"date": sessions(first, last + dt.timedelta(days=_RELEASE_SLACK_DAYS), calendar)},
                        schema={"date": pl.Date()})
    released = (
        public.join_asof(grid, left_on="public_from", right_on="date", strategy="forward")
        .drop_nulls("date")  # beyond the calendar's last known session: not public yet
        .sort("date", "observation_date")
        .unique(subset="date", keep="last", maintain_order=True)
    )
    if start is not None:
        released = released.filter(pl.col("date") >= start)
    if end is not None:
        released = released.filter(pl.col("date") < end)
    return released.select(
        pl.col("date"),
        pl.lit(series.series, dtype=pl.String).alias("series"),
        pl.lit(series.ticker, dtype=pl.String).alias("ticker"),
        pl.col("observation_date"),
        pl.col("value"),
        pl.lit(source, dtype=pl.String).alias("source"),
    ).cast(MACRO_SCHEMA)  # type: ignore[arg-type]


class MarketDataSource(Protocol):
    """Daily prices and macro series for a date range; `end` is exclusive, like yfinance."""

    name: str

    def fetch_prices(self, instruments: Sequence[Instrument], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in PRICE_SCHEMA for the instruments on dates in [start, end), `source` = self.name.

        Returns whatever the source has; completeness (every expected session and ticker present) is
        checked by the caller, which knows the trading calendar. Raises SourceError when the source
        cannot answer at all (network down, unreadable files).
        """
        ...

    def fetch_macro(self, series: Sequence[MacroSeries], start: dt.date, end: dt.date) -> pl.DataFrame:
        """Rows in MACRO_SCHEMA for the series with release dates (`date`) in [start, end).

        Market series are the tickers' closes (`source` = self.name); FRED series are released with
        `release_sessions` (`source` = "fred" when fetched from FRED itself).
        """
        ...
