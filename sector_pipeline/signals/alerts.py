"""Three-tier alerts (seed 004), raised on the day their condition starts, not on every day it holds.

CRITICAL  extreme_reading    |score| > extreme (0.6) on a dimension
CRITICAL  flight_to_safety   risk score < flight_to_safety (-0.6) AND at least `defensive_leaders` (2) of the
                             3 best-ranked sectors are defensive (cycle characteristic < 0: XLV, XLP, XLU, XLRE)
HIGH      regime_change      |score(t) - score(t - 20 sessions)| > regime_change (0.4) on a dimension
MEDIUM    rotation_velocity  rotation velocity above its trailing 90th percentile

Rotation velocity (how fast the ranking reshuffles), per date t:
  velocity(t) = mean over sectors ranked at both t and t-5 sessions of |rank(t) - rank(t-5)|
  threshold(t) = 90th percentile (linear interpolation) of velocity over the 252 sessions before t
                 (t excluded), defined once at least 126 past values exist.
A condition "starts" at t when it holds at t and did not hold at the previous date of the same series
(a missing previous value counts as not holding). Past data only: a date's alerts never change when
later dates are computed.
"""

from __future__ import annotations

import polars as pl

from sector_pipeline.signals.config import AlertConfig

ALERT_SCHEMA = {
    "date": pl.Date(), "tier": pl.String(), "alert_type": pl.String(), "dimension": pl.String(),
    "value": pl.Float64(), "threshold": pl.Float64(), "message": pl.String(),
}
TIER_ORDER = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2}


def _over(expr: pl.Expr, over: str | None) -> pl.Expr:
    return expr.over(over) if over else expr


def _latched(on: pl.Expr, off: pl.Expr, over: str | None = None) -> pl.Expr:
    """True from a date where `on` holds until a date where `off` holds (hysteresis); False before any `on`."""
    signal = pl.when(on).then(True).when(off).then(False)
    return _over(signal.forward_fill(), over).fill_null(False)


def _starts(state: pl.Expr, over: str | None = None) -> pl.Expr:
    """True on the dates where `state` turns on."""
    return state & ~_over(state.shift(1), over).fill_null(False)


def rotation_velocity(rankings: pl.LazyFrame, *, config: AlertConfig = AlertConfig()) -> pl.LazyFrame:
    """Rows: date, velocity, velocity_threshold (see module docstring)."""
    lag = config.velocity_sessions
    dates = rankings.select("date").unique().sort("date").with_row_index("session")
    ranks = rankings.filter(pl.col("is_ranked")).select("date", "ticker", "rank").join(dates, on="date")
    earlier = ranks.select(pl.col("session") + lag, "ticker", pl.col("rank").alias("rank_before"))
    velocity = (
        ranks.join(earlier, on=["session", "ticker"], how="inner")
        .group_by("session")
        .agg(velocity=(pl.col("rank") - pl.col("rank_before")).abs().mean())
    )
    return (
        dates.join(velocity, on="session", how="left")
        .sort("session")
        .with_columns(
            velocity_threshold=pl.col("velocity").shift(1).rolling_quantile(
                config.velocity_percentile, interpolation="linear", window_size=config.velocity_history,
                min_samples=config.velocity_min_history,
            )
        )
        .select("date", "velocity", "velocity_threshold")
    )


def detect_alerts(scores: pl.LazyFrame, rankings: pl.LazyFrame, characteristics: pl.DataFrame, *,
                  config: AlertConfig = AlertConfig()) -> pl.LazyFrame:
    """All alerts over the history given: rows in ALERT_SCHEMA, sorted by date, tier, dimension."""
    scores = scores.select("date", "dimension", "label", "score").sort("dimension", "date")
    extreme = (
        scores.with_columns(on=_latched(pl.col("score").abs() > config.extreme,
                                        pl.col("score").abs() <= config.extreme - config.hysteresis, "dimension"))
        .filter(_starts(pl.col("on"), over="dimension"))
        .select(
            "date", pl.lit("CRITICAL").alias("tier"), pl.lit("extreme_reading").alias("alert_type"), "dimension",
            pl.col("score").alias("value"), pl.lit(config.extreme).alias("threshold"),
            pl.format("Extreme reading: {} at {} (beyond ±{})", pl.col("label"),
                      pl.col("score").round(2).cast(pl.String), pl.lit(config.extreme)).alias("message"),
        )
    )

    defensive = characteristics.filter(pl.col("cycle") < 0).get_column("ticker").to_list()
    leaders = (
        rankings.filter(pl.col("is_ranked") & (pl.col("rank") <= 3))
        .group_by("date")
        .agg(defensive_leaders=pl.col("ticker").is_in(defensive).sum(),
             leaders=pl.col("ticker").sort_by("rank").str.join(", "))
    )
    flight = (
        scores.filter(pl.col("dimension") == "risk")
        .join(leaders, on="date", how="left")
        .sort("date")
        .with_columns(on=_latched(
            (pl.col("score") < config.flight_to_safety) & (pl.col("defensive_leaders") >= config.defensive_leaders),
            (pl.col("score") >= config.flight_to_safety + config.hysteresis)
            | (pl.col("defensive_leaders").fill_null(0) < config.defensive_leaders)))
        .filter(_starts(pl.col("on")))
        .select(
            "date", pl.lit("CRITICAL").alias("tier"), pl.lit("flight_to_safety").alias("alert_type"), "dimension",
            pl.col("score").alias("value"), pl.lit(config.flight_to_safety).alias("threshold"),
            pl.format("Flight to safety: risk appetite {} with defensive leaders ({})",
                      pl.col("score").round(2).cast(pl.String), pl.col("leaders")).alias("message"),
        )
    )

    n = config.regime_change_sessions
    change = (
        scores.with_columns(
            smoothed=pl.col("score").rolling_mean(config.smoothing_sessions, min_samples=1).over("dimension"))
        .with_columns(delta=pl.col("smoothed") - pl.col("smoothed").shift(n).over("dimension"))
        .with_columns(on=_latched(pl.col("delta").abs() > config.regime_change,
                                  pl.col("delta").abs() <= config.regime_change - config.hysteresis, "dimension"))
        .filter(_starts(pl.col("on"), over="dimension"))
        .select(
            "date", pl.lit("HIGH").alias("tier"), pl.lit("regime_change").alias("alert_type"), "dimension",
            pl.col("delta").alias("value"), pl.lit(config.regime_change).alias("threshold"),
            pl.format("Regime change: {} moved {} in {} sessions (to {})", pl.col("label"),
                      pl.col("delta").round(2).cast(pl.String), pl.lit(n),
                      pl.col("score").round(2).cast(pl.String)).alias("message"),
        )
    )

    velocity = (
        rotation_velocity(rankings, config=config)
        .with_columns(above=(pl.col("velocity") > pl.col("velocity_threshold")).fill_null(False))
        .filter(pl.col("above") & ~pl.col("above").shift(1).rolling_max(config.velocity_quiet_sessions, min_samples=1)
                .fill_null(False))
        .select(
            "date", pl.lit("MEDIUM").alias("tier"), pl.lit("rotation_velocity").alias("alert_type"),
            pl.lit(None, dtype=pl.String).alias("dimension"),
            pl.col("velocity").alias("value"), pl.col("velocity_threshold").alias("threshold"),
            pl.format("High rotation velocity: ranks moved {} places on average in {} sessions "
                      "(90th percentile of the past year: {})", pl.col("velocity").round(2).cast(pl.String),
                      pl.lit(config.velocity_sessions), pl.col("velocity_threshold").round(2).cast(pl.String)
                      ).alias("message"),
        )
    )
    return (
        pl.concat([extreme, flight, change, velocity], how="vertical")
        .cast(ALERT_SCHEMA)  # type: ignore[arg-type]
        .sort([pl.col("date"), pl.col("tier").replace_strict(TIER_ORDER, return_dtype=pl.Int8),
               pl.col("alert_type"), pl.col("dimension")], nulls_last=True)
    )
