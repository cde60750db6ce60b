"""Per-ticker daily features (returns, relative strength, trend, momentum, volatility, volume) from stored prices.

``compute_features`` takes the full stored history of ``staging.stg_prices`` up to some date and returns one row
per input (date, ticker), benchmark included, with the columns of ``FEATURE_COLUMNS`` (``config.py``) followed by
``source``, sorted by date, ticker.

Conventions, for every feature:

- A window counts sessions, i.e. rows of the ticker in the stored history, not calendar days: "N sessions
  earlier" is the ticker's row N rows back. Tickers start on different dates, each has its own count.
- Past data only: the value at date t uses the ticker's rows dated <= t (and the benchmark's row dated t), so
  computing on the history up to t gives the same value at t as computing on any longer history.
- NULL, never NaN or infinity, where a value is not defined; each rule below says when.

Definitions (p = total_return_price, the dividend-adjusted close; c = close_price, split-adjusted only; v =
volume_shares; "the last N sessions" includes the current one):

- ``sessions_of_history``: 1-based row number of the date in the ticker's history (1 on its first stored price).
- ``return_Nd`` (N = 1, 5, 20, 60, 126, 252): p / p N sessions earlier - 1; NULL when the ticker has fewer than
  N earlier sessions (sessions_of_history <= N).
- ``return_ytd``: p / (p on the ticker's last session of the previous calendar year) - 1; NULL when the ticker
  has no price in the previous calendar year (e.g. throughout its first calendar year).
- ``relative_strength``: p / p of the benchmark on the same date (1.0 on the benchmark's own rows); NULL when
  the benchmark has no row on that date (validated data always has one).
- ``relative_strength_change_Nd`` (N = 5, 20, 60): relative_strength / relative_strength N sessions earlier - 1;
  NULL when either is NULL, so NULL while sessions_of_history <= N.
- ``relative_strength_trend``: relative_strength / its simple mean over the last 50 sessions - 1; NULL until the
  ticker has 50 non-NULL relative-strength values in that window (sessions_of_history < 50).
- ``sma_N`` (N = 50, 200): simple mean of c over the last N sessions; NULL while sessions_of_history < N.
  ``distance_from_sma_N`` = c / sma_N - 1, NULL when sma_N is.
- ``rsi_14``: Wilder's RSI of c with RMA smoothing, computed exactly as ``ta.momentum.RSIIndicator(c, 14)``:
  d = c - previous c; gain = d where d > 0 else 0, loss = -d where d < 0 else 0, both 0.0 on the first
  session (no previous close); avg_gain, avg_loss = exponential means with alpha = 1/14, no bias adjustment
  (y_1 = x_1, y_t = (1 - alpha) y_{t-1} + alpha x_t), so the first session seeds both averages with 0;
  RSI = 100 when avg_loss = 0, else 100 - 100 / (1 + avg_gain / avg_loss). Unlike ``ta``, which reports a
  value from the 14th session, it is NULL for sessions_of_history <= 14: only from the 15th close are 14
  real price changes available.
- ``realized_vol_20d``: sample standard deviation (ddof 1) of the last 20 daily log total returns
  ln(p) - ln(previous p), times sqrt(252); NULL until 20 such returns exist (sessions_of_history <= 20).
- ``relative_volume_20d``: v / mean of v over the 20 previous sessions (the current one excluded); NULL while
  sessions_of_history <= 20, when v or any of those 20 volumes is NULL, or when their mean is 0.
- ``up_volume_ratio_20d``: over the last 20 sessions, sum of v on sessions with return_1d > 0 divided by the sum
  of v; NULL until all 20 sessions have a return_1d (sessions_of_history <= 20), when a volume in the window is
  NULL, or when the total volume is 0. A flat session (return_1d = 0) counts in the total, not as up volume.
- ``is_warming_up``: sessions_of_history <= FeatureConfig.warmup_sessions (60), i.e. the ranking inputs (the
  relative-strength change over the longest ranking window) do not exist yet.

Window lengths come from ``FeatureConfig``; the column names carry them, so the defaults give FEATURE_COLUMNS.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl

from sector_pipeline.signals.config import FeatureConfig
from sector_pipeline.signals.windows import exact_ratio, position_in, rolling_mean, rolling_std, rolling_sum

_TICKER = "ticker"


def feature_columns(config: FeatureConfig = FeatureConfig()) -> tuple[str, ...]:
    """Output columns of ``compute_features`` under ``config`` (FEATURE_COLUMNS for the defaults), without source."""
    return (
        "date", "ticker", "close_price", "total_return_price", "volume_shares", "sessions_of_history",
        *(f"return_{n}d" for n in config.return_windows), "return_ytd",
        "relative_strength",
        *(f"relative_strength_change_{n}d" for n in config.relative_strength_windows),
        "relative_strength_trend",
        *(f"sma_{n}" for n in config.sma_windows),
        *(f"distance_from_sma_{n}" for n in config.sma_windows),
        f"rsi_{config.rsi_window}",
        f"realized_vol_{config.volatility_window}d",
        f"relative_volume_{config.volume_window}d",
        f"up_volume_ratio_{config.volume_window}d",
        "is_warming_up",
        "is_total_return_estimated",
        f"rsi_average_gain_{config.rsi_window}",
        f"rsi_average_loss_{config.rsi_window}",
    )


def _per_ticker(expr: pl.Expr) -> pl.Expr:
    return expr.over(_TICKER)


def _ratio_minus_one(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return exact_ratio(numerator, denominator) - 1


def _wilder_averages(frame: pl.LazyFrame, window: int, previous: pl.DataFrame | None, start: dt.date | None
                     ) -> pl.LazyFrame:
    """(date, ticker, average gain, average loss) of the rows >= start, continuing the stored averages.

    Wilder's smoothing is an EWM with alpha = 1/window and no bias adjustment: y_1 = x_1, y_t = (1 - alpha)
    y_{t-1} + alpha x_t. A ticker's stored averages of its last session before `start` are put in front of its
    new gains and losses as their first element, so the recursion continues with exactly the operations a run
    over the whole history performs (the first session's gain and loss are 0.0, as in ta's RSIIndicator).
    """
    gain_name, loss_name = f"rsi_average_gain_{window}", f"rsi_average_loss_{window}"
    change = _per_ticker(pl.col("close_price").diff())
    # A null condition (the first session has no change) falls to otherwise(0.0): ta's zero seed.
    moves = frame.select(
        "date", _TICKER, "_is_new",
        pl.when(change > 0).then(change).otherwise(0.0).alias("_gain"),
        pl.when(change < 0).then(-change).otherwise(0.0).alias("_loss"),
    ).filter("_is_new")
    if previous is not None and previous.height:
        seeds = previous.lazy().select("date", _TICKER, pl.lit(False).alias("_is_new"),
                                       pl.col(gain_name).alias("_gain"), pl.col(loss_name).alias("_loss"))
        moves = pl.concat([seeds, moves], how="vertical_relaxed")
    smoothed = moves.sort(_TICKER, "date").with_columns(
        _per_ticker(pl.col(c).ewm_mean(alpha=1 / window, adjust=False)).alias(c) for c in ("_gain", "_loss"))
    return smoothed.filter("_is_new").select("date", _TICKER, pl.col("_gain").alias(gain_name),
                                             pl.col("_loss").alias(loss_name))


def compute_features(prices: pl.LazyFrame, *, benchmark: str, config: FeatureConfig = FeatureConfig(),
                     previous: pl.DataFrame | None = None, start: dt.date | None = None) -> pl.LazyFrame:
    """Daily features of every ticker in ``prices`` (stg_prices columns), past data only; see the module docstring.

    Incremental use: ``prices`` holds each ticker's last ``config.lookback_rows`` sessions before ``start`` and
    every session from ``start`` on; ``previous`` holds each ticker's stored feature row of its last session
    before ``start`` (its session count and Wilder averages). Rows dated >= start are returned, bit-identical
    to a computation over the whole history. Without ``start`` every row is computed from scratch.
    """
    price = pl.col("total_return_price")
    close = pl.col("close_price")
    volume = pl.col("volume_shares")
    relative_strength = pl.col("relative_strength")
    year = pl.col("date").dt.year()
    position = pl.col("_position")
    is_new = pl.lit(True) if start is None else pl.col("date") >= start
    has_previous = previous is not None and previous.height > 0
    counts = (previous.lazy().select(_TICKER, pl.col("sessions_of_history").alias("_previous_sessions"))
              if has_previous else pl.LazyFrame(schema={_TICKER: pl.String, "_previous_sessions": pl.Int64}))

    # Per-ticker order first: every window below reads the ticker's rows in date order.
    if "is_total_return_estimated" not in prices.collect_schema().names():
        prices = prices.with_columns(pl.lit(False).alias("is_total_return_estimated"))
    base = (
        prices
        .select("date", "ticker", "close_price", "total_return_price", "volume_shares", "is_total_return_estimated",
                "source")
        .sort(_TICKER, "date")
        .with_columns(
            position_in(_TICKER).alias("_position"),
            is_new.alias("_is_new"),
            # One benchmark row per date; first() of an empty selection is NULL when the benchmark is missing.
            price.filter(pl.col(_TICKER) == benchmark).first().over("date").alias("_benchmark_price"),
            _per_ticker(price.shift(1)).alias("_previous_price"),
            _per_ticker(year.shift(1)).alias("_previous_year"),
            _per_ticker(price.log().diff()).alias("_log_return"),
        )
        .join(counts, on=_TICKER, how="left", maintain_order="left")  # the windows below read rows in order
        .with_columns(
            # Sessions counted from the ticker's first stored price: the stored count of the last session
            # before `start`, plus this row's place among the new rows.
            (pl.col("_previous_sessions").fill_null(0)
             + position - _per_ticker(pl.col("_is_new").not_().sum()) + 1).alias("sessions_of_history"),
        )
        .with_columns(
            exact_ratio(price, pl.col("_benchmark_price")).alias("relative_strength"),
            *(_ratio_minus_one(price, _per_ticker(price.shift(n))).alias(f"return_{n}d")
              for n in config.return_windows),
            _ratio_minus_one(price, pl.col("_previous_price")).alias("_return_1d"),
            # On the first session of a year the previous row is the last session of the previous year, if the
            # ticker traded then; first() over (ticker, year) spreads that price over the year.
            pl.when(pl.col("_previous_year") == year - 1).then(pl.col("_previous_price"))
            .first().over(_TICKER, year)
            .alias("_previous_year_end_price"),
        )
    )
    sessions = pl.col("sessions_of_history")

    window = config.volume_window
    return_1d = pl.col("_return_1d")
    up_volume = pl.when(return_1d > 0).then(volume).when(return_1d.is_not_null()).then(0.0)
    volume_with_return = pl.when(return_1d.is_not_null()).then(volume)
    up_volume_sum = rolling_sum(up_volume, window, position)
    volume_sum = rolling_sum(volume_with_return, window, position)
    previous_volume = pl.when(position >= 1).then(volume.shift(1))
    previous_mean_volume = rolling_mean(previous_volume, window, position)
    trend_window = config.relative_strength_trend_window
    rsi_window = config.rsi_window
    gain, loss = pl.col(f"rsi_average_gain_{rsi_window}"), pl.col(f"rsi_average_loss_{rsi_window}")
    rsi = pl.when(loss == 0).then(100.0).otherwise(100.0 - 100.0 / (1.0 + gain / loss))

    features = (
        base.with_columns(
            _ratio_minus_one(price, pl.col("_previous_year_end_price")).alias("return_ytd"),
            *(_ratio_minus_one(relative_strength, _per_ticker(relative_strength.shift(n)))
              .alias(f"relative_strength_change_{n}d") for n in config.relative_strength_windows),
            _ratio_minus_one(relative_strength, rolling_mean(relative_strength, trend_window, position))
            .alias("relative_strength_trend"),
            *(rolling_mean(close, n, position).alias(f"sma_{n}") for n in config.sma_windows),
            (rolling_std(pl.col("_log_return"), config.volatility_window, position)
             * math.sqrt(config.trading_days_per_year)).alias(f"realized_vol_{config.volatility_window}d"),
            pl.when(previous_mean_volume != 0).then(volume / previous_mean_volume)
            .alias(f"relative_volume_{window}d"),
            pl.when(volume_sum != 0).then(up_volume_sum / volume_sum).alias(f"up_volume_ratio_{window}d"),
            (sessions <= config.warmup_sessions).alias("is_warming_up"),
        )
        .with_columns(
            _ratio_minus_one(close, pl.col(f"sma_{n}")).alias(f"distance_from_sma_{n}") for n in config.sma_windows
        )
        .filter("_is_new")
        .join(_wilder_averages(base, rsi_window, previous if has_previous else None, start),
              on=["date", _TICKER], how="left")
        # Only from the (window + 1)-th close are `window` real price changes available.
        .with_columns(pl.when(sessions > rsi_window).then(rsi).alias(f"rsi_{rsi_window}"))
    )
    return features.select(*feature_columns(config), "source").sort("date", _TICKER)
