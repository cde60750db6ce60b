"""Pandera models of the ingestion tables: their contracts (sector_pipeline/contracts) and validation rules.

Each model's Config names its table and grain; its field descriptions are what the Dagster UI shows. The
validated models are the single source of truth for what a usable row is: the quarantine reasons are
pandera's own failure cases (see `validation.py`), so a rule lives in exactly one place. The raw tables keep
rows as received (NaN, repeated (date, ticker) rows included): their contract checks types and keys only.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts.core import table_config
from sector_pipeline.sources.synthetic import REGIMES
from sector_pipeline.universe import FREQUENCIES, MACRO_KINDS
from sector_pipeline.vocabulary import DIMENSIONS


class RawPrices(pa.DataFrameModel):
    """Daily OHLCV as received from the source: values may be missing or wrong, nothing is dropped."""

    date: dt.date = pa.Field(description="Trading session (exchange local date)")
    ticker: str = pa.Field(description="Instrument ticker as in the universe file")
    open: Optional[float] = pa.Field(nullable=True, description="Opening price, split-adjusted")
    high: Optional[float] = pa.Field(nullable=True, description="Session high, split-adjusted")
    low: Optional[float] = pa.Field(nullable=True, description="Session low, split-adjusted")
    close: Optional[float] = pa.Field(nullable=True, description="Closing price, split-adjusted (Yahoo 'Close')")
    adj_close: Optional[float] = pa.Field(nullable=True, description="Close adjusted for splits and dividends")
    volume: Optional[float] = pa.Field(nullable=True, description="Shares traded")
    dividend: Optional[float] = pa.Field(nullable=True, description="Cash dividend per share going ex on this date")
    split_ratio: Optional[float] = pa.Field(nullable=True, description="New shares per old share on a split's ex-date")
    fetched_on: Optional[dt.date] = pa.Field(nullable=True,
                                             description="Download date (Yahoo's Close is split-adjusted as of it)")
    source: str = pa.Field(description="Data source that produced the row: yfinance, csv or synthetic")

    # As received: a source may send a row twice (validation quarantines both) or a NaN.
    Config = table_config("raw.prices", "date", "ticker", grain_unique=False, allows_nan=True)


class ValidatedPrices(pa.DataFrameModel):
    """Daily OHLCV that passed every rule; one row per (date, ticker)."""

    date: dt.date = pa.Field(description="Trading session (exchange local date)")
    ticker: str = pa.Field(description="Instrument ticker as in the universe file")
    open: float = pa.Field(gt=0, description="Opening price, split-adjusted, > 0")
    high: float = pa.Field(gt=0, description="Session high, split-adjusted, > 0")
    low: float = pa.Field(gt=0, description="Session low, split-adjusted, > 0")
    close: float = pa.Field(gt=0, description="Closing price, split-adjusted, > 0, never NaN")
    adj_close: Optional[float] = pa.Field(gt=0, nullable=True,
                                          description="Close adjusted for splits and dividends; null if the source "
                                                      "has none")
    volume: Optional[float] = pa.Field(ge=0, nullable=True,
                                       description="Shares traded, >= 0 (zero-volume days are real)")
    dividend: Optional[float] = pa.Field(ge=0, nullable=True,
                                         description="Cash dividend per share going ex on this date; 0 none, "
                                                     "null unknown")
    split_ratio: Optional[float] = pa.Field(gt=0, nullable=True,
                                            description="New shares per old share on a split's ex-date; 1 none, "
                                                        "null unknown")
    fetched_on: Optional[dt.date] = pa.Field(nullable=True,
                                             description="Download date: the basis of a split-adjusted close")
    source: str = pa.Field(description="Data source that produced the row")

    # pandera's polars backend reports NaN in a non-nullable float column as not_nullable, so a NaN close
    # cannot pass as a number (asserted in the tests).
    Config = table_config("validated.prices", "date", "ticker")

    # Check method names are the quarantine reasons: keep them readable.
    @pa.dataframe_check
    def high_at_least_low(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("high") >= pl.col("low"))

    @pa.dataframe_check
    def open_and_close_within_low_high(cls, data: pa.PolarsData) -> pl.LazyFrame:
        # A relative tolerance of 1e-6 absorbs the rounding of prices quoted to 4 decimals.
        lo, hi = pl.col("low") * (1 - 1e-6), pl.col("high") * (1 + 1e-6)
        return data.lazyframe.select(pl.col("open").is_between(lo, hi) & pl.col("close").is_between(lo, hi))


class PriceMoveFrame(ValidatedPrices):
    """Validated prices plus the helper columns of the one-day-move rule (dropped after validation)."""

    previous_close: Optional[float] = pa.Field(nullable=True, description="Last close before this session")
    move_limit: float = pa.Field(description="Largest plausible absolute one-day move (fraction)")
    move_reason: Optional[str] = pa.Field(nullable=True, description="Known event that explains a larger move")

    @pa.dataframe_check
    def one_day_move_within_limit(cls, data: pa.PolarsData) -> pl.LazyFrame:
        move = (pl.col("close") / pl.col("previous_close") - 1).abs()
        return data.lazyframe.select(
            pl.col("previous_close").is_null() | pl.col("move_reason").is_not_null()
            | (move <= pl.col("move_limit")).fill_null(True)
        )


class RawMacro(pa.DataFrameModel):
    """Macro series as received: one value per series and session it became public."""

    date: dt.date = pa.Field(description="Session the value became public (the observation date for market series)")
    series: str = pa.Field(description="Series name from the universe file, e.g. us10y_yield_pct")
    ticker: str = pa.Field(description="The provider's id of the series, e.g. ^TNX or CPIAUCSL")
    observation_date: dt.date = pa.Field(description="The period the value describes (FRED's observation date)")
    value: Optional[float] = pa.Field(nullable=True, description="The series' value (a market series' daily close)")
    source: str = pa.Field(description="Data source that produced the row")

    Config = table_config("raw.macro", "date", "series", grain_unique=False, allows_nan=True)


class ValidatedMacro(pa.DataFrameModel):
    """Macro values inside their series' valid range (universe file); one row per (date, series)."""

    date: dt.date = pa.Field(description="Session the value became public")
    series: str = pa.Field(description="Series name from the universe file")
    ticker: str = pa.Field(description="The provider's id of the series")
    kind: str = pa.Field(isin=list(MACRO_KINDS), description="price, yield_pct, index, rate_pct or level")
    units: str = pa.Field(description="Units of the value, from the universe file")
    frequency: str = pa.Field(isin=list(FREQUENCIES),
                              description="Publication cadence: daily, weekly, monthly, quarterly")
    observation_date: dt.date = pa.Field(description="The period the value describes")
    value: float = pa.Field(description="The value, never null or NaN, within the series' valid range")
    max_stale_sessions: int = pa.Field(ge=0, description="Sessions the value may be carried forward over gaps")
    source: str = pa.Field(description="Data source that produced the row")

    Config = table_config("validated.macro", "date", "series")


class MacroRangeFrame(ValidatedMacro):
    """Validated macro rows plus the series' range policy (dropped after validation)."""

    allow_negative: bool = pa.Field(description="The series may be negative (futures, yields, spreads)")
    allow_zero: bool = pa.Field(description="The series may be exactly zero")
    min_value: Optional[float] = pa.Field(nullable=True, description="Lowest plausible value")
    max_value: Optional[float] = pa.Field(nullable=True, description="Highest plausible value")

    # Check method names are the quarantine reasons: keep them readable.
    @pa.dataframe_check
    def negative_allowed_for_series(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("allow_negative") | (pl.col("value") >= 0))

    @pa.dataframe_check
    def zero_allowed_for_series(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("allow_zero") | (pl.col("value") != 0))

    @pa.dataframe_check
    def within_series_bounds(cls, data: pa.PolarsData) -> pl.LazyFrame:
        value = pl.col("value")
        return data.lazyframe.select(
            (pl.col("min_value").is_null() | (value >= pl.col("min_value")))
            & (pl.col("max_value").is_null() | (value <= pl.col("max_value"))))


class Quarantine(pa.DataFrameModel):
    """Rows rejected by validation, with every rule they broke; they never reach downstream assets."""

    date: dt.date = pa.Field(description="Session of the rejected row")
    dataset: str = pa.Field(isin=["prices", "macro"], description="Which table the row was meant for")
    ticker: str = pa.Field(description="Ticker (prices) or series name (macro)")
    reason: str = pa.Field(str_length={"min_value": 1},
                           description="Every failed rule, '; '-separated, e.g. 'close: greater_than(0)'")
    row: str = pa.Field(description="The rejected row as received, as JSON")
    source: str = pa.Field(description="Data source that produced the row")

    # A row the source sent twice is quarantined twice: one row per rejected copy.
    Config = table_config("validated.quarantine", "date", "dataset", "ticker", grain_unique=False)


class UniverseMembership(pa.DataFrameModel):
    """Point-in-time membership: one row per session and instrument already trading, with each sector's
    characteristics, so marts and BI tools label and explain sectors as of each date."""

    date: dt.date = pa.Field(description="Trading session (exchange local date)")
    ticker: str = pa.Field(description="Instrument ticker as in the universe file")
    name: str = pa.Field(description="Instrument name, e.g. 'Utilities' or 'S&P 500'")
    role: str = pa.Field(isin=["benchmark", "sector", "member"], description="benchmark, sector or member (a stock)")
    sector: Optional[str] = pa.Field(nullable=True, description="A member's sector ticker; NULL for the others")
    cycle: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "The sector's (or member's) characteristic on the economic-cycle axis, -1 (defensive) .. +1 (cyclical); "
        "NULL for the benchmark"))
    rates: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "Characteristic on the interest-rate axis: +1 gains from higher rates, -1 rate-sensitive"))
    inflation: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "Characteristic on the inflation axis: +1 an inflation hedge"))
    risk: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "Characteristic on the risk-appetite axis: +1 risk-on (growth), -1 risk-off (defensive)"))
    universe: str = pa.Field(description="Name of the universe file")

    Config = table_config("raw.universe_membership", "date", "ticker")


class SyntheticRegimes(pa.DataFrameModel):
    """The synthetic market's answer key: the regime planted on each session (empty for real sources)."""

    date: dt.date = pa.Field(description="Trading session")
    regime_id: int = pa.Field(ge=0, description="Number of the planted spell")
    regime: str = pa.Field(isin=list(REGIMES), description="The planted regime: " + ", ".join(REGIMES))
    source: str = pa.Field(description="Data source that produced the row (synthetic)")

    Config = table_config("raw.synthetic_regimes", "date")


# The characteristics' columns are the sentiment dimensions, in their order.
assert tuple(c for c in UniverseMembership.to_schema().columns if c in DIMENSIONS) == DIMENSIONS
