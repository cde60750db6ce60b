"""Tunable numbers of the signal stage, with their defaults (mirrored as Dagster Config in defs/)."""

from __future__ import annotations

from dataclasses import dataclass, field

DIMENSIONS = ("cycle", "rates", "inflation", "risk")

# Columns of the features table (signals/features.py), one row per (date, ticker), benchmark included.
FEATURE_COLUMNS = (
    "date", "ticker",
    "close_price",            # split-adjusted close (charting price: moving averages, RSI)
    "total_return_price",     # dividend-adjusted close (returns, relative strength)
    "volume_shares",
    "sessions_of_history",    # sessions since the ticker's first stored price, this one included (1 on day one)
    "return_1d", "return_5d", "return_20d", "return_60d", "return_126d", "return_252d", "return_ytd",
    "relative_strength",              # total_return_price / benchmark total_return_price
    "relative_strength_change_5d",    # relative_strength / its value 5 sessions earlier - 1
    "relative_strength_change_20d",
    "relative_strength_change_60d",
    "relative_strength_trend",        # relative_strength / its 50-session simple moving average - 1
    "sma_50", "sma_200",              # simple moving averages of close_price
    "distance_from_sma_50",           # close_price / sma_50 - 1
    "distance_from_sma_200",
    "rsi_14",                         # Wilder RSI (RMA smoothing, alpha = 1/14) of close_price
    "realized_vol_20d",               # annualised (sqrt 252) sample std (ddof 1) of 20 daily log total returns
    "relative_volume_20d",            # volume / mean volume of the 20 previous sessions
    "up_volume_ratio_20d",            # volume on up days / total volume, over the last 20 sessions
    "is_warming_up",                  # fewer sessions than the ranking windows need (see FeatureConfig)
    "is_total_return_estimated",      # the day's total return had no dividend information (price return only)
    # State of Wilder's smoothing, stored so a run continues the recursion from the last stored session
    # instead of replaying the ticker's whole history.
    "rsi_average_gain_14",
    "rsi_average_loss_14",
)


@dataclass(frozen=True)
class FeatureConfig:
    return_windows: tuple[int, ...] = (1, 5, 20, 60, 126, 252)
    relative_strength_windows: tuple[int, ...] = (5, 20, 60)
    relative_strength_trend_window: int = 50
    sma_windows: tuple[int, ...] = (50, 200)
    rsi_window: int = 14
    volatility_window: int = 20
    volume_window: int = 20
    trading_days_per_year: int = 252
    # A ticker is warming up until every ranking input (relative strength change over the longest
    # ranking window) exists: the first `warmup_sessions` sessions of its history.
    warmup_sessions: int = 60

    @property
    def lookback_rows(self) -> int:
        """Stored sessions of a ticker before the first recomputed date that every feature needs.

        The longest window (252-session return, 200-session average) and the year-to-date base: the last
        session of the previous year lies at most one year of sessions (< 260) back.
        """
        return max(*self.return_windows, *self.sma_windows, self.relative_strength_trend_window,
                   self.volatility_window + 1, self.volume_window + 1, 260)


@dataclass(frozen=True)
class RankingConfig:
    # Weights of the cross-sectional z-scores of relative-strength change over 5, 20 and 60 sessions.
    weights: dict[int, float] = field(default_factory=lambda: {5: 0.25, 20: 0.35, 60: 0.40})


@dataclass(frozen=True)
class SentimentConfig:
    band: float = 0.3               # |score| above this is a reading (seed 004)
    top_contributors: int = 3


@dataclass(frozen=True)
class AlertConfig:
    extreme: float = 0.6            # CRITICAL: |score| above this
    flight_to_safety: float = -0.6  # CRITICAL: risk appetite below this with defensives leading
    defensive_leaders: int = 2      # ... at least this many defensive sectors among the top 3 ranks
    regime_change: float = 0.4      # HIGH: |score(t) - score(t - regime_change_sessions)| above this
    regime_change_sessions: int = 20
    # A condition ends only once its value is back inside the threshold by this margin (hysteresis), so a
    # score hovering at a threshold raises one alert, not one every other day.
    hysteresis: float = 0.1
    # The regime-change delta compares moving averages of the score over this many sessions (1 = raw).
    smoothing_sessions: int = 3
    velocity_sessions: int = 5      # MEDIUM: mean |rank change| over this many sessions ...
    velocity_history: int = 252     # ... above its trailing percentile over this many sessions
    velocity_percentile: float = 0.9
    velocity_min_history: int = 126  # no MEDIUM alert before this many velocity observations
    velocity_quiet_sessions: int = 10  # a MEDIUM alert needs this many sessions without the condition before it


@dataclass(frozen=True)
class SriConfig:
    # Weights of the four 0-100 components; the seed sums them unweighted (total 0-400).
    weights: dict[str, float] = field(default_factory=lambda: {
        "economic": 1.0, "performance": 1.0, "sentiment": 1.0, "technical": 1.0})
    macro_zscore_window: int = 252   # trailing sessions to standardise each macro signal
    macro_change_window: int = 60    # sessions over which macro levels change


@dataclass(frozen=True)
class RotationConfig:
    daily_window: int = 63           # ~ a quarter of sessions for the daily RRG normalisation
    weekly_window: int = 14          # 14 weeks, the customary weekly RRG setting
