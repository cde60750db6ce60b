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

import math

import polars as pl

from sector_pipeline.signals.config import FeatureConfig

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
    )


def _per_ticker(expr: pl.Expr) -> pl.Expr:
    return expr.over(_TICKER)


def _ratio_minus_one(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return numerator / denominator - 1


def _wilder_rsi(close: pl.Expr, window: int, sessions: pl.Expr) -> pl.Expr:
    change = _per_ticker(close.diff())
    # A null condition (the first session has no change) falls to otherwise(0.0): the same zero seed as ta's
    # diff.where(diff > 0, 0.0), which turns the first NaN difference into 0.0.
    gain = pl.when(change > 0).then(change).otherwise(0.0)
    loss = pl.when(change < 0).then(-change).otherwise(0.0)

    def rma(x: pl.Expr) -> pl.Expr:
        return _per_ticker(x.ewm_mean(alpha=1 / window, adjust=False, min_samples=window))

    average_gain, average_loss = rma(gain), rma(loss)
    rsi = pl.when(average_loss == 0).then(100.0).otherwise(100.0 - 100.0 / (1.0 + average_gain / average_loss))
    return pl.when(sessions > window).then(rsi)


def compute_features(prices: pl.LazyFrame, *, benchmark: str, config: FeatureConfig = FeatureConfig()) -> pl.LazyFrame:
    """Daily features of every ticker in ``prices`` (stg_prices columns), past data only; see the module docstring."""
    price = pl.col("total_return_price")
    close = pl.col("close_price")
    volume = pl.col("volume_shares")
    sessions = pl.col("sessions_of_history")
    relative_strength = pl.col("relative_strength")
    year = pl.col("date").dt.year()

    # Per-ticker order first: every window below reads the ticker's rows in date order.
    base = (
        prices
        .select("date", "ticker", "close_price", "total_return_price", "volume_shares", "source")
        .sort(_TICKER, "date")
        .with_columns(
            _per_ticker(pl.int_range(1, pl.len() + 1, dtype=pl.Int64)).alias("sessions_of_history"),
            # One benchmark row per date; first() of an empty selection is NULL when the benchmark is missing.
            price.filter(pl.col(_TICKER) == benchmark).first().over("date").alias("_benchmark_price"),
            _per_ticker(price.shift(1)).alias("_previous_price"),
            _per_ticker(year.shift(1)).alias("_previous_year"),
            _per_ticker(price.log().diff()).alias("_log_return"),
        )
        .with_columns(
            (price / pl.col("_benchmark_price")).alias("relative_strength"),
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

    window = config.volume_window
    return_1d = pl.col("_return_1d")
    up_volume = pl.when(return_1d > 0).then(volume).when(return_1d.is_not_null()).then(0.0)
    volume_with_return = pl.when(return_1d.is_not_null()).then(volume)
    up_volume_sum = _per_ticker(up_volume.rolling_sum(window, min_samples=window))
    volume_sum = _per_ticker(volume_with_return.rolling_sum(window, min_samples=window))
    previous_mean_volume = _per_ticker(volume.shift(1).rolling_mean(window, min_samples=window))
    trend_window = config.relative_strength_trend_window

    features = base.with_columns(
        _ratio_minus_one(price, pl.col("_previous_year_end_price")).alias("return_ytd"),
        *(_ratio_minus_one(relative_strength, _per_ticker(relative_strength.shift(n)))
          .alias(f"relative_strength_change_{n}d") for n in config.relative_strength_windows),
        _ratio_minus_one(
            relative_strength,
            _per_ticker(relative_strength.rolling_mean(trend_window, min_samples=trend_window)),
        ).alias("relative_strength_trend"),
        *(_per_ticker(close.rolling_mean(n, min_samples=n)).alias(f"sma_{n}") for n in config.sma_windows),
        _wilder_rsi(close, config.rsi_window, sessions).alias(f"rsi_{config.rsi_window}"),
        (_per_ticker(pl.col("_log_return").rolling_std(
            config.volatility_window, min_samples=config.volatility_window, ddof=1))
         * math.sqrt(config.trading_days_per_year)).alias(f"realized_vol_{config.volatility_window}d"),
        pl.when(previous_mean_volume != 0).then(volume / previous_mean_volume)
        .alias(f"relative_volume_{window}d"),
        pl.when(volume_sum != 0).then(up_volume_sum / volume_sum).alias(f"up_volume_ratio_{window}d"),
        (sessions <= config.warmup_sessions).alias("is_warming_up"),
    ).with_columns(
        _ratio_minus_one(close, pl.col(f"sma_{n}")).alias(f"distance_from_sma_{n}") for n in config.sma_windows
    )
    return features.select(*feature_columns(config), "source").sort("date", _TICKER)
