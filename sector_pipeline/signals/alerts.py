"""Three-tier alerts (seed article 004), raised on the day their condition starts, not on every day it holds.

Every score-based rule reads m(t), the mean of the dimension's daily score over the last S sessions
(`smoothing_sessions`, 9): the daily score jumps whenever two sectors swap places around the leader and
laggard groups, and the seed's rules applied to it fired 126 CRITICAL and HIGH alerts a year on real data.

CRITICAL  extreme_reading    m > +extreme (0.6), or m < -extreme, on a dimension
CRITICAL  flight_to_safety   risk m < flight_to_safety (-0.6) AND at least `defensive_leaders` (2) of the
                             leading sectors (the top third: 3 of 9 to 11, vocabulary.leader_count) are
                             defensive (cycle characteristic < 0)
HIGH      regime_change      d = m(t) - m(t - 20 sessions) beyond +-regime_change (0.4) AND m(t) beyond
                             +-regime_band (0.35) in the same direction: the change lands in a regime
MEDIUM    rotation_velocity  rotation velocity above its trailing 90th percentile

A condition (per alert type, dimension and direction) is a hysteresis latch: on when its test holds, off
once its value is back inside the threshold by `hysteresis` (0.1), held in between. It starts on the day the
latch turns on in a direction. The start raises an alert unless the same condition (same type, dimension and
direction) also started within the previous C sessions (cool-down: `critical_cooldown_sessions`, 120, for
CRITICAL, `high_cooldown_sessions`, 60, for HIGH); a condition that keeps switching on and off is one episode,
one alert.
A reversal (the other direction) is never muted.

Rotation velocity (how fast the ranking reshuffles), per date t:
  velocity(t) = mean over sectors ranked at both t and t-5 sessions of |rank(t) - rank(t-5)|
  threshold(t) = 90th percentile (linear interpolation) of velocity over the 252 sessions before t
                 (t excluded), defined once at least 126 past values exist.
A MEDIUM alert is raised when velocity exceeds its threshold after 10 sessions in which it did not.

Incremental continuation: `detect_alerts(..., previous=..., start=...)` reads scores and rankings from
`alert_lookback_sessions(config)` sessions before `start` and the stored `conditions` rows of the last
session before `start`, and returns exactly the rows of the full-history run dated >= start. The latch and
the counters since the last start are the only recursive state; they continue from `previous`. Means use
signals/windows.py (exact folds), so they do not depend on where the read window begins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from sector_pipeline.contracts import schema_of
from sector_pipeline.contracts.signals import AlertConditions, Alerts
from sector_pipeline.signals import windows
from sector_pipeline.signals.config import AlertConfig
from sector_pipeline.vocabulary import TIER_ORDER, leader_count_expr

# The alerts and, one row per (date, alert_type, dimension) of the score-based alerts, the daily state of each
# condition: their contracts (contracts/signals.py) list and describe the columns.
ALERT_SCHEMA = schema_of(Alerts)
CONDITION_SCHEMA = schema_of(AlertConditions)
_KEY = ["alert_type", "dimension"]


@dataclass(frozen=True)
class AlertFrames:
    alerts: pl.LazyFrame      # ALERT_SCHEMA rows dated >= start
    conditions: pl.LazyFrame  # CONDITION_SCHEMA rows dated >= start: the state to continue from


def alert_lookback_sessions(config: AlertConfig = AlertConfig()) -> int:
    """Sessions of sentiment scores and rankings before `start` that `detect_alerts` must read.

    m(t) needs S - 1 earlier scores and d(t) reads m 20 sessions back; a MEDIUM alert at t reads the
    velocity thresholds of the quiet sessions before t, each the percentile of the 252 velocities before it,
    each comparing ranks 5 sessions apart.
    """
    scores = config.smoothing_sessions - 1 + config.regime_change_sessions
    velocity = config.velocity_quiet_sessions + config.velocity_history + config.velocity_sessions
    return max(scores, velocity)


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


def _score_conditions(scores: pl.LazyFrame, rankings: pl.LazyFrame, characteristics: pl.DataFrame,
                      config: AlertConfig) -> pl.LazyFrame:
    """Per (date, alert_type, dimension): reading, value, threshold and the tests that turn a condition on or off."""
    position = windows.position_in("dimension")
    n = config.regime_change_sessions
    readings = (
        scores.select("date", "dimension", "label", "score")
        .sort("dimension", "date")
        .with_columns(reading=windows.rolling_mean(pl.col("score"), config.smoothing_sessions, position))
        .with_columns(change=pl.when(position >= n).then(pl.col("reading") - pl.col("reading").shift(n)))
    )
    defensive = characteristics.filter(pl.col("cycle") < 0).get_column("ticker").to_list()
    leaders = (
        rankings.filter(pl.col("is_ranked"))
        .filter(pl.col("rank") <= leader_count_expr(pl.len().over("date")))
        .group_by("date")
        .agg(defensive_leaders=pl.col("ticker").is_in(defensive).sum(),
             leaders=pl.col("ticker").sort_by("rank").str.join(", "))
    )
    m, change, h = pl.col("reading"), pl.col("change"), config.hysteresis
    extreme = readings.with_columns(
        alert_type=pl.lit("extreme_reading"), value=m, threshold=pl.lit(config.extreme),
        on_up=m > config.extreme, on_down=m < -config.extreme, off=m.abs() <= config.extreme - h,
    )
    defensives_lead = pl.col("defensive_leaders").fill_null(0) >= config.defensive_leaders
    flight = (
        readings.filter(pl.col("dimension") == "risk")
        .join(leaders, on="date", how="left")
        .with_columns(
            alert_type=pl.lit("flight_to_safety"), value=m, threshold=pl.lit(config.flight_to_safety),
            on_up=pl.lit(False), on_down=(m < config.flight_to_safety) & defensives_lead,
            off=(m >= config.flight_to_safety + h) | ~defensives_lead,
        )
    )
    band = config.regime_band
    regime = readings.with_columns(
        alert_type=pl.lit("regime_change"), value=change, threshold=pl.lit(config.regime_change),
        on_up=(change > config.regime_change) & (pl.lit(True) if band is None else m > band),
        on_down=(change < -config.regime_change) & (pl.lit(True) if band is None else m < -band),
        off=change.abs() <= config.regime_change - h,
    )
    columns = ["date", "alert_type", "dimension", "label", "reading", "value", "threshold",
               "on_up", "on_down", "off"]
    return pl.concat([
        extreme.select(*columns, pl.lit(None, dtype=pl.String).alias("leaders")),
        flight.select(*columns, "leaders"),
        regime.select(*columns, pl.lit(None, dtype=pl.String).alias("leaders")),
    ], how="vertical")


def _latched(conditions: pl.LazyFrame, previous: pl.LazyFrame | None, config: AlertConfig) -> pl.LazyFrame:
    """The latch, the counters since the last starts and the alerts' firing, continued from `previous`.

    `previous`'s last row per condition is prepended as a seed row, so the forward fills below run over
    the same sequence of states whether the history is computed at once or in chunks.
    """
    state = ["side", "sessions_since_up", "sessions_since_down"]
    live = conditions.with_columns(
        is_seed=pl.lit(False),
        signal=pl.when(pl.col("on_up").fill_null(False)).then(1)
        .when(pl.col("on_down").fill_null(False)).then(-1)
        .when(pl.col("off").fill_null(False)).then(0).cast(pl.Int8),
        **{c: pl.lit(None, dtype=CONDITION_SCHEMA[c]) for c in state},
    )
    frames = [live]
    if previous is not None:
        seeds = (
            previous.sort("date").group_by(_KEY, maintain_order=True).last()
            .select(*_KEY, *state, date=pl.col("date"), is_seed=pl.lit(True))
            .with_columns(signal=pl.col("side"))
        )
        frames.insert(0, seeds)
    frame = pl.concat(frames, how="diagonal_relaxed").sort(*_KEY, "date")

    index = pl.int_range(pl.len(), dtype=pl.Int64).over(_KEY)
    side = pl.col("signal").forward_fill().over(_KEY).fill_null(0)
    before = pl.col("side").shift(1).over(_KEY).fill_null(0)
    tier_cooldown = (pl.when(pl.col("alert_type") == "regime_change").then(config.high_cooldown_sessions)
                     .otherwise(config.critical_cooldown_sessions))

    def starts(direction: int) -> pl.Expr:
        return (pl.col("side") == direction) & (before != direction) & ~pl.col("is_seed")

    def since(direction: int, stored: str) -> pl.Expr:
        # Index of the last start in this direction (a seed row stands for a start `stored` sessions before it).
        anchor = pl.when(starts(direction)).then(index).when(pl.col("is_seed")).then(index - pl.col(stored))
        return (index - anchor.forward_fill().over(_KEY)).cast(pl.Int32)

    def fires(direction: int, counter: str) -> pl.Expr:
        gap = pl.col(counter).shift(1).over(_KEY) + 1  # sessions since the previous start in this direction
        return starts(direction) & (gap.is_null() | (gap > tier_cooldown))

    return (
        frame.with_columns(side=side.cast(pl.Int8))
        .with_columns(sessions_since_up=since(1, "sessions_since_up"),
                      sessions_since_down=since(-1, "sessions_since_down"))
        .with_columns(fires_up=fires(1, "sessions_since_up"), fires_down=fires(-1, "sessions_since_down"))
        .filter(~pl.col("is_seed"))
        .with_columns(is_on=pl.col("side") != 0)
    )


def _score_alerts(latched: pl.LazyFrame, config: AlertConfig) -> pl.LazyFrame:
    direction = pl.when(pl.col("fires_up")).then(1.0).otherwise(-1.0)
    reading = pl.col("reading").round(2).cast(pl.String)
    mean = f"{config.smoothing_sessions}-session mean"
    message = (
        pl.when(pl.col("alert_type") == "extreme_reading").then(pl.format(
            "Extreme reading: {} at {} ({} beyond ±{})", pl.col("label"), reading, pl.lit(mean),
            pl.lit(config.extreme)))
        .when(pl.col("alert_type") == "flight_to_safety").then(pl.format(
            "Flight to safety: risk appetite {} ({} below {}) with defensive leaders ({})", reading, pl.lit(mean),
            pl.lit(config.flight_to_safety), pl.col("leaders")))
        .otherwise(pl.format(
            "Regime change: {} moved {} in {} sessions, to {} ({})", pl.col("label"),
            pl.col("value").round(2).cast(pl.String), pl.lit(config.regime_change_sessions), reading, pl.lit(mean)))
    )
    return (
        latched.filter(pl.col("fires_up") | pl.col("fires_down"))
        .select(
            "date",
            pl.when(pl.col("alert_type") == "regime_change").then(pl.lit("HIGH")).otherwise(pl.lit("CRITICAL"))
            .alias("tier"),
            "alert_type", "dimension", "value",
            # the level that was crossed: flight_to_safety's is already negative
            pl.when(pl.col("alert_type") == "flight_to_safety").then(pl.col("threshold"))
            .otherwise(direction * pl.col("threshold")).alias("threshold"),
            message.alias("message"),
        )
    )


def _velocity_alerts(rankings: pl.LazyFrame, config: AlertConfig) -> pl.LazyFrame:
    above = (pl.col("velocity") > pl.col("velocity_threshold")).fill_null(False)
    quiet = ~above.shift(1).rolling_max(config.velocity_quiet_sessions, min_samples=1).fill_null(False)
    return (
        rotation_velocity(rankings, config=config)
        .filter(above & quiet)
        .select(
            "date", pl.lit("MEDIUM").alias("tier"), pl.lit("rotation_velocity").alias("alert_type"),
            pl.lit(None, dtype=pl.String).alias("dimension"),
            pl.col("velocity").alias("value"), pl.col("velocity_threshold").alias("threshold"),
            pl.format("High rotation velocity: ranks moved {} places on average in {} sessions "
                      "({}th percentile of the past year: {})", pl.col("velocity").round(2).cast(pl.String),
                      pl.lit(config.velocity_sessions), pl.lit(f"{config.velocity_percentile * 100:g}"),
                      pl.col("velocity_threshold").round(2).cast(pl.String)).alias("message"),
        )
    )


def detect_alerts(scores: pl.LazyFrame, rankings: pl.LazyFrame, characteristics: pl.DataFrame, *,
                  config: AlertConfig = AlertConfig(), previous: pl.LazyFrame | pl.DataFrame | None = None,
                  start: dt.date | None = None) -> AlertFrames:
    """Alerts and condition states dated >= start (all dates when start is None), sorted by date.

    `scores` and `rankings`: the stored rows from `alert_lookback_sessions(config)` sessions before `start`
    (or the whole history); `previous`: the stored conditions of the last session before `start` (None on a
    fresh start: every condition off, no earlier start).
    """
    if previous is not None and start is None:
        raise ValueError("detect_alerts: `previous` conditions need the `start` date they continue to")
    conditions = _score_conditions(scores, rankings, characteristics, config)
    if start is not None:
        conditions = conditions.filter(pl.col("date") >= start)
    if isinstance(previous, pl.DataFrame):
        previous = previous.lazy()
    if previous is not None and start is not None:
        previous = previous.filter(pl.col("date") < start)
    latched = _latched(conditions, previous, config)
    velocity = _velocity_alerts(rankings, config)
    if start is not None:
        velocity = velocity.filter(pl.col("date") >= start)
    alerts = (
        pl.concat([_score_alerts(latched, config), velocity], how="vertical")
        .cast(ALERT_SCHEMA)  # type: ignore[arg-type]
        .sort([pl.col("date"), pl.col("tier").replace_strict(TIER_ORDER, return_dtype=pl.Int8),
               pl.col("alert_type"), pl.col("dimension")], nulls_last=True)
    )
    states = latched.select(*CONDITION_SCHEMA).cast(CONDITION_SCHEMA).sort("date", *_KEY)  # type: ignore[arg-type]
    return AlertFrames(alerts=alerts, conditions=states)
