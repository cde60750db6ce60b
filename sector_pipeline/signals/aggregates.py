"""Sector series built from their constituents: the daily total-return index of each aggregate sector.

A stock-level universe (universes/synthetic_500.toml) lists sectors without a tradable ticker
(``aggregate = true``); each such sector's series is computed here from its members' rows of
``intermediate.int_total_returns``, and has the same columns, so features, rankings, sentiment, the Sector
Rotation Index and relative rotation run on it unchanged. For an aggregate sector S and a session t:

  held_t  = the members of S with a total return on t. A member enters the session after its first close
            (its first row has no return: nothing to compound yet) and is left out of any session where it
            has no row or no return; it needs no other state.
  r_S,t   = sum_{i in held_t} w_i r_i,t / sum_{i in held_t} w_i, with w_i the member's weight of the universe
            file (1.0 when the file gives none: equal weight). Weights are reset every session (a daily
            rebalanced index), so a session's return needs that session's rows only. NULL when held_t is
            empty.
  I_S,t   = I_S,t-1 * (1 + r_S,t), from BASE_LEVEL before the sector's first row; a session with no held
            member keeps the level (factor 1).

Columns (AGGREGATE_COLUMNS) follow intermediate.int_total_returns: ``close_price`` is the index level (an
index has no other price: moving averages and RSI read it), ``volume_shares`` the summed share volume of
the held members (NULL when one of them has none), ``is_total_return_estimated`` whether any held member's
return was estimated, ``total_return_method`` = 'aggregate', ``source`` the sources of the sector's member
rows joined by '+' (e.g. 'synthetic'), and ``members_held`` = |held_t|.

Bit for bit, whatever the frame: sums run in ticker order inside each (date, sector) group (a sequential
cumulative sum after a sort: O(k log k) for k members, and the same additions whether the frame holds one
session or twenty-seven years), the division is a true one (exact_ratio), and the level continues from the
stored one: ``previous`` (each sector's last stored row before ``start``) is put in front of the new
factors, so the running product performs exactly the multiplications of one run over the whole history.
Incremental use: read int_total_returns from ``start`` (no lookback rows) and the aggregate's own last row
per sector before ``start``.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from sector_pipeline.signals.windows import exact_ratio

BASE_LEVEL = 100.0
METHOD = "aggregate"
AGGREGATE_COLUMNS = ("date", "ticker", "close_price", "volume_shares", "total_return_1d", "total_return_price",
                     "is_total_return_estimated", "total_return_method", "source", "members_held")


def _sorted_sum(column: str) -> pl.Expr:
    """The group's values added one by one in ticker order (the same additions in every run)."""
    return pl.col(column).sort_by("ticker").cum_sum().last()


def sector_aggregates(returns: pl.LazyFrame, members: pl.DataFrame, *, previous: pl.DataFrame | None = None,
                      start: dt.date | None = None) -> pl.LazyFrame:
    """AGGREGATE_COLUMNS rows, one per (date, aggregate sector) with at least one member row (module doc).

    returns:  int_total_returns rows (date, ticker, total_return_1d, volume_shares, is_total_return_estimated,
              source); tickers that are not in `members` are ignored, rows before `start` too.
    members:  ticker, sector (the aggregate's ticker) and optionally weight (null = 1.0), one row per member:
              ``Universe.members_frame(aggregates_only=True)``.
    previous: date, ticker, total_return_price of each aggregate's last stored row before `start`.
    Sorted by date, ticker.
    """
    weights = members.lazy().select(
        "ticker", "sector",
        (pl.col("weight") if "weight" in members.columns else pl.lit(None)).cast(pl.Float64).fill_null(1.0)
        .alias("__weight"))
    rows = returns if start is None else returns.filter(pl.col("date") >= start)
    rows = rows.select("date", "ticker", "total_return_1d", "volume_shares", "is_total_return_estimated",
                       "source").join(weights, on="ticker", how="inner")
    held = (
        rows.filter(pl.col("total_return_1d").is_not_null())
        .with_columns(__weighted=pl.col("__weight") * pl.col("total_return_1d"))
        .group_by("date", "sector")
        .agg(
            pl.len().cast(pl.Int32).alias("members_held"),
            _sorted_sum("__weighted").alias("__weighted_sum"),
            _sorted_sum("__weight").alias("__weight_sum"),
            pl.when(pl.col("volume_shares").is_not_null().all()).then(_sorted_sum("volume_shares"))
            .alias("volume_shares"),
            pl.col("is_total_return_estimated").fill_null(False).any().alias("is_total_return_estimated"),
        )
    )
    sessions = rows.group_by("date", "sector").agg(pl.col("source").unique().sort().str.join("+"))
    daily = (
        sessions.join(held, on=["date", "sector"], how="left")
        .select(
            "date", pl.col("sector").alias("ticker"), "volume_shares",
            exact_ratio(pl.col("__weighted_sum"), pl.col("__weight_sum")).alias("total_return_1d"),
            pl.col("is_total_return_estimated").fill_null(False),
            pl.lit(METHOD).alias("total_return_method"), "source",
            pl.col("members_held").fill_null(0),
            pl.lit(1, dtype=pl.Int8).alias("__order"),
        )
        .with_columns(pl.col("total_return_1d").fill_null(0.0).add(1.0).alias("__factor"))
    )
    # Each sector's level before its first new row: the stored one, else the base of a new index.
    stored = (previous.lazy().select("ticker", pl.col("total_return_price").alias("__stored"))
              if previous is not None and previous.height
              else pl.LazyFrame(schema={"ticker": pl.String, "__stored": pl.Float64}))
    seeds = (
        daily.group_by("ticker").agg(pl.col("date").min())
        .join(stored, on="ticker", how="left")
        .select("date", "ticker", pl.col("__stored").fill_null(BASE_LEVEL).alias("__factor"),
                pl.lit(0, dtype=pl.Int8).alias("__order"))
    )
    return (
        pl.concat([seeds, daily], how="diagonal")
        .sort("ticker", "__order", "date")
        .with_columns(pl.col("__factor").cum_prod().over("ticker").alias("total_return_price"))
        .filter(pl.col("__order") == 1)
        .with_columns(pl.col("total_return_price").alias("close_price"))
        .select(AGGREGATE_COLUMNS)
        .sort("date", "ticker")
    )
