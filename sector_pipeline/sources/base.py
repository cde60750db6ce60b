"""The one interface every market-data source implements, and the canonical frames it returns."""

from __future__ import annotations

import datetime as dt
from typing import Protocol, Sequence

import polars as pl

from sector_pipeline.universe import Instrument, MacroSeries

# Canonical raw price frame: one row per (date, ticker). Prices are nullable here on purpose: raw data is
# stored as received and validation decides what is usable. `close` is the traded close adjusted for splits
# only (Yahoo's "Close"); `adj_close` also adjusts for dividends (Yahoo's "Adj Close").
PRICE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "ticker": pl.String(),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "adj_close": pl.Float64(),
    "volume": pl.Float64(),
    "source": pl.String(),
}

# Canonical raw macro frame: one row per (date, series); `value` is the series' daily close.
MACRO_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "series": pl.String(),
    "ticker": pl.String(),
    "value": pl.Float64(),
    "source": pl.String(),
}

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


def closes_as_macro(prices: pl.DataFrame, series: Sequence[MacroSeries]) -> pl.DataFrame:
    """Price rows of macro tickers as MACRO_SCHEMA rows: each series' value is its ticker's close."""
    if prices.is_empty():
        return empty_macro()
    names = pl.DataFrame({"ticker": [s.ticker for s in series], "series": [s.series for s in series]},
                         schema={"ticker": pl.String, "series": pl.String})
    return (
        prices.join(names, on="ticker", how="inner")
        .with_columns(pl.col("close").alias("value"))
        .select([pl.col(name).cast(dtype) for name, dtype in MACRO_SCHEMA.items()])
    )


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
        """Rows in MACRO_SCHEMA for the series on dates in [start, end), `source` = self.name."""
        ...
