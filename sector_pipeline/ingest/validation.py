"""Split raw rows into validated rows and quarantined rows with reasons; check completeness.

Reasons come from pandera's failure cases of the validated models, so every rule is declared once, in
`schemas.py`. A row that breaks several rules gets all of them in its reason.
"""

from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

import pandera.polars as pa
import polars as pl

from sector_pipeline.errors import MissingDataError
from sector_pipeline.ingest.schemas import (
    PriceMoveFrame,
    Quarantine,
    ValidatedMacro,
    ValidatedPrices,
)
from sector_pipeline.universe import Instrument, MacroSeries

_ROW_INDEX = "__row"
PRICE_COLUMNS = list(ValidatedPrices.to_schema().columns)
MACRO_COLUMNS = list(ValidatedMacro.to_schema().columns)
QUARANTINE_SCHEMA = {"date": pl.Date(), "dataset": pl.String(), "ticker": pl.String(), "reason": pl.String(),
                     "row": pl.String(), "source": pl.String()}


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


def validate_macro(raw: pl.DataFrame, series: Sequence[MacroSeries]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate raw macro rows; returns (validated rows with their kind, quarantined rows with reasons)."""
    kinds = pl.DataFrame({"series": [s.series for s in series], "kind": [s.kind for s in series]})
    frame = raw.join(kinds, on="series", how="left").with_columns(pl.col("kind").fill_null("unknown"))
    return _split(frame, ValidatedMacro.to_schema(), dataset="macro", key="series", keep=MACRO_COLUMNS)


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


def missing_required_series(frame: pl.DataFrame, series: Sequence[MacroSeries],
                            sessions: Sequence[dt.date]) -> dict[str, list[dt.date]]:
    """{series: [sessions]} for each required series with no row at all in a window it should cover.

    Single missing sessions are tolerated (futures and index calendars differ from NYSE's); a series
    that is entirely absent means the source dropped it.
    """
    present = set(frame.get_column("series").unique().to_list()) if frame.height else set()
    return {
        s.series: [d for d in sessions if d >= s.inception]
        for s in series
        if s.required and s.series not in present and any(d >= s.inception for d in sessions)
    }


def require_macro_series(frame: pl.DataFrame, series: Sequence[MacroSeries], sessions: Sequence[dt.date]) -> None:
    """Raise MissingDataError naming each required macro series the source left out entirely."""
    missing = missing_required_series(frame, series, sessions)
    if missing:
        raise MissingDataError(missing, "macro series")


__all__ = ["validate_prices", "validate_macro", "drop_before_inception", "expected_rows", "missing_rows",
           "require_complete", "require_macro_series", "missing_required_series", "QUARANTINE_SCHEMA", "Quarantine"]
