"""Split raw rows into validated rows and quarantined rows with reasons; check completeness.

Reasons come from pandera's failure cases of the validated models, so every rule is declared once, in
`schemas.py`. A row that breaks several rules gets all of them in its reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Mapping, Sequence

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts import schema_of
from sector_pipeline.errors import MissingDataError
from sector_pipeline.ingest.schemas import (
    MacroRangeFrame,
    PriceMoveFrame,
    Quarantine,
    ValidatedMacro,
    ValidatedPrices,
)
from sector_pipeline.universe import Instrument, MacroSeries

_ROW_INDEX = "__row"


@dataclass(frozen=True)
class PriceRules:
    """Tunable validation rules of prices."""

    # Largest plausible close-to-close move of an ETF in one session (fraction); real sector SPDRs peaked at
    # 0.17 in 1999-2019 (XLF, 2008). A larger move needs a [[known_moves]] entry in the universe file.
    max_abs_one_day_move: float = 0.25
PRICE_COLUMNS = list(ValidatedPrices.to_schema().columns)
MACRO_COLUMNS = list(ValidatedMacro.to_schema().columns)
QUARANTINE_SCHEMA = schema_of(Quarantine)


def _failure_reasons(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """(row index, reason) for every row that fails `schema`; empty when all rows pass."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return pl.DataFrame(schema={_ROW_INDEX: pl.UInt32(), "reason": pl.String()})
    if cases.filter(pl.col("index").is_null()).height:
        # A failure without a row index is structural (missing column, wrong dtype): nothing to quarantine
        # row by row, the whole input is wrong.
        structural = cases.filter(pl.col("index").is_null())
        raise pa.errors.SchemaError(schema, frame, "; ".join(
            f"{c}: {k} ({f})" for c, k, f in structural.select("column", "check", "failure_case").iter_rows()))
    described = cases.with_columns(
        pl.when(pl.col("schema_context") == "Column")
        .then(pl.col("column") + pl.lit(": ") + pl.col("check").fill_null("failed"))
        .when(pl.col("check") == "multiple_fields_uniqueness")
        .then(pl.lit("duplicate (date, key) row"))
        .otherwise(pl.col("check"))
        .alias("reason")
    )
    return (
        described.group_by(pl.col("index").cast(pl.UInt32).alias(_ROW_INDEX))
        .agg(pl.col("reason").unique().sort().str.join("; "))
    )


def _split(frame: pl.DataFrame, schema: pa.DataFrameSchema, *, dataset: str, key: str,
           keep: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    indexed = frame.with_row_index(_ROW_INDEX)
    reasons = _failure_reasons(frame, schema)
    bad = indexed.join(reasons, on=_ROW_INDEX, how="inner")
    good = indexed.join(reasons, on=_ROW_INDEX, how="anti").select(keep)
    original = [c for c in frame.columns if c in keep or c == key]
    quarantined = bad.select(
        pl.col("date"),
        pl.lit(dataset).alias("dataset"),
        pl.col(key).alias("ticker"),
        pl.col("reason"),
        pl.struct(original).struct.json_encode().alias("row"),
        pl.col("source"),
    ).sort("date", "ticker", "reason")
    return good.sort("date", key), quarantined.cast(QUARANTINE_SCHEMA)  # type: ignore[arg-type]


def validate_prices(raw: pl.DataFrame, previous_close: pl.DataFrame, *, max_abs_move: float,
                    known_moves: pl.DataFrame | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate raw prices of a window; returns (validated rows, quarantined rows with reasons).

    `previous_close` (ticker, close) holds each ticker's last validated close before the window, so the
    one-day-move rule also covers the window's first session. `known_moves` (date, ticker, reason) lists
    real events that explain a larger move (e.g. a reverse split booked as a price jump).
    """
    # The reference is the last *usable* close, so one bad row does not also condemn the day after it.
    usable_close = pl.when((pl.col("close") > 0) & pl.col("close").is_not_nan()).then(pl.col("close"))
    frame = raw.sort("ticker", "date").with_columns(
        usable_close.forward_fill().shift(1).over("ticker").alias("previous_close"),
    )
    first = frame.group_by("ticker").agg(pl.col("date").min().alias("date"))
    carried = first.join(previous_close.rename({"close": "carried_close"}), on="ticker", how="inner")
    frame = frame.join(carried, on=["ticker", "date"], how="left").with_columns(
        pl.coalesce("previous_close", "carried_close").alias("previous_close"),
        pl.lit(max_abs_move).alias("move_limit"),
    ).drop("carried_close")
    moves = known_moves if known_moves is not None else pl.DataFrame(
        schema={"date": pl.Date(), "ticker": pl.String(), "reason": pl.String()})
    frame = frame.join(moves.rename({"reason": "move_reason"}), on=["date", "ticker"], how="left")
    return _split(frame, PriceMoveFrame.to_schema(), dataset="prices", key="ticker", keep=PRICE_COLUMNS)


_POLICY_COLUMNS = ("kind", "units", "frequency", "max_stale_sessions", "allow_negative", "allow_zero", "min_value",
                   "max_value")


def validate_macro(raw: pl.DataFrame, policies: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate raw macro rows against their series' range (universe file); (validated rows, quarantined rows).

    `policies`: Universe.macro_series_frame(). A series may be negative or zero only where its entry says so
    (WTI settled at -37.63 on 2020-04-20; bill yields sat at 0), and must lie within its bounds.
    """
    frame = raw.join(policies.select("series", *_POLICY_COLUMNS), on="series", how="left").with_columns(
        pl.col("kind").fill_null("unknown"), pl.col("units").fill_null(""), pl.col("frequency").fill_null("daily"),
        pl.col("max_stale_sessions").fill_null(0), pl.col("allow_negative").fill_null(False),
        pl.col("allow_zero").fill_null(False))
    return _split(frame, MacroRangeFrame.to_schema(), dataset="macro", key="series", keep=MACRO_COLUMNS)


def drop_before_inception(frame: pl.DataFrame, inception: Mapping[str, dt.date], key: str = "ticker") -> pl.DataFrame:
    """Rows dated before their instrument's inception are not data (a source may pad them): drop them."""
    table = pl.DataFrame({key: list(inception), "inception": list(inception.values())},
                         schema={key: pl.String(), "inception": pl.Date()})
    return (frame.join(table, on=key, how="left")
            .filter(pl.col("inception").is_null() | (pl.col("date") >= pl.col("inception")))
            .drop("inception"))


def expected_rows(instruments: Sequence[Instrument | MacroSeries], sessions: Sequence[dt.date],
                  key: str = "ticker") -> pl.DataFrame:
    """Every (date, key) the window must contain: each session on/after each instrument's inception."""
    ids = [getattr(i, key) for i in instruments]
    grid = pl.DataFrame({"date": list(sessions)}, schema={"date": pl.Date()}).join(
        pl.DataFrame({key: ids, "inception": [i.inception for i in instruments]},
                     schema={key: pl.String(), "inception": pl.Date()}),
        how="cross",
    )
    return grid.filter(pl.col("date") >= pl.col("inception")).select("date", key)


def missing_rows(frame: pl.DataFrame, expected: pl.DataFrame, key: str = "ticker") -> dict[str, list[dt.date]]:
    """{key: [sessions]} for every expected (date, key) pair absent from `frame`."""
    absent = expected.join(frame.select("date", key).unique(), on=["date", key], how="anti")
    grouped = absent.group_by(key).agg(pl.col("date").sort()).sort(key)
    return {k: v for k, v in grouped.iter_rows()}


def require_complete(frame: pl.DataFrame, instruments: Sequence[Instrument], sessions: Sequence[dt.date]) -> None:
    """Raise MissingDataError naming tickers and sessions when the source left any expected price out."""
    missing = missing_rows(frame, expected_rows(instruments, sessions))
    if missing:
        raise MissingDataError(missing, "prices")


STALENESS_SCHEMA = {"series": pl.String(), "blocks": pl.Boolean(), "max_stale_sessions": pl.Int64(),
                    "first_stale": pl.Date(), "last_stale": pl.Date(), "stale_sessions": pl.UInt32(),
                    "last_observed": pl.Date()}


def stale_series(valid: pl.DataFrame, stored_last: pl.DataFrame, series: Sequence[MacroSeries],
                 sessions: Sequence[dt.date], calendar_sessions: Sequence[dt.date]) -> pl.DataFrame:
    """Series whose latest value is older than their staleness bound on some session of the window.

    valid: the window's validated rows (date, series); stored_last: (series, date) of each series' last stored
    valid row before the window; calendar_sessions: every session from the oldest of those dates to the window's
    end, to count ages in sessions. A value observed on session o is still usable on session d while
    d - o <= max_stale_sessions (sessions); a series with no value since its inception is stale from its
    inception on. One row per stale series (STALENESS_SCHEMA), whatever the window's length: a one-session
    nightly and a year-long backfill judge each session the same way.
    """
    if not sessions or not series:
        return pl.DataFrame(schema=STALENESS_SCHEMA)
    policy = pl.DataFrame(
        [{"series": s.series, "blocks": s.blocks, "max_stale_sessions": s.max_stale_sessions,
          "inception": s.inception, "end": s.end} for s in series],
        schema={"series": pl.String, "blocks": pl.Boolean, "max_stale_sessions": pl.Int64, "inception": pl.Date,
                "end": pl.Date})
    index = pl.DataFrame({"date": list(calendar_sessions)}, schema={"date": pl.Date}).with_row_index("position")
    grid = (pl.DataFrame({"date": list(sessions)}, schema={"date": pl.Date}).join(policy, how="cross")
            .filter((pl.col("date") >= pl.col("inception"))
                    & (pl.col("end").is_null() | (pl.col("date") <= pl.col("end")))))
    observed = pl.concat([valid.select("series", pl.col("date").alias("observed")),
                          stored_last.select("series", pl.col("date").alias("observed"))]).unique().sort("observed")
    aged = (
        grid.sort("date")
        .join_asof(observed, left_on="date", right_on="observed", by="series", strategy="backward",
                   check_sortedness=False)  # both sides sorted just above
        .join(index.rename({"position": "at"}), on="date", how="left")
        .join(index.rename({"date": "observed", "position": "observed_at"}), on="observed", how="left")
        .with_columns(stale=pl.col("observed").is_null()
                      | ((pl.col("at") - pl.col("observed_at")).cast(pl.Int64) > pl.col("max_stale_sessions")))
    )
    return (
        aged.filter("stale")
        .group_by("series", "blocks", "max_stale_sessions")
        .agg(first_stale=pl.col("date").min(), last_stale=pl.col("date").max(),
             stale_sessions=pl.len(), last_observed=pl.col("observed").max())
        .sort("series")
        .cast(STALENESS_SCHEMA)  # type: ignore[arg-type]
        .select(list(STALENESS_SCHEMA))
    )


def describe_staleness(stale: pl.DataFrame) -> str:
    """One readable sentence per stale series, for errors and the UI."""
    parts = []
    for row in stale.iter_rows(named=True):
        since = f"last value {row['last_observed']}" if row["last_observed"] else "no value since its inception"
        parts.append(f"{row['series']}: {since}, stale on {row['stale_sessions']} session(s) "
                     f"{row['first_stale']} .. {row['last_stale']} (bound {row['max_stale_sessions']} sessions)")
    return "; ".join(parts)


__all__ = ["validate_prices", "validate_macro", "drop_before_inception", "expected_rows", "missing_rows",
           "require_complete", "stale_series", "describe_staleness", "QUARANTINE_SCHEMA", "Quarantine"]
