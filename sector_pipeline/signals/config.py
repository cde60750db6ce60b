"""Tunable numbers of the signal stage, with their defaults (mirrored as Dagster Config in defs/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sector_pipeline.vocabulary import DIMENSIONS  # noqa: F401  (re-exported: the stage modules import it here)

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
    """Alert rules (signals/alerts.py). The seed's thresholds are kept; smoothing, band and cool-downs were chosen
    on real 1999-2019 prices by `python benchmarks/alert_calibration.py`, whose rule and grid are in docs/signals.md
    (Alerts). Figures below: that benchmark, one setting changed from these defaults."""

    # Every score-based alert reads the mean of the daily score over this many sessions, not the daily score:
    # the daily score jumps by 0.1-0.2 whenever two sectors swap places around the leader and laggard groups,
    # and the seed's rules applied to it fired 31 CRITICAL and 95 HIGH a year. 9 sessions catch 9 of the 11
    # documented turns; 8 and 10 catch 7 (a turn is caught or missed by a session or two), 1 catches 5.
    smoothing_sessions: int = 9
    extreme: float = 0.6            # CRITICAL: |mean score| above this (seed 004)
    flight_to_safety: float = -0.6  # CRITICAL: mean risk appetite below this (seed 004) ...
    defensive_leaders: int = 2      # ... with at least this many defensive sectors among the leaders (the top
    #                                   third, vocabulary.leader_count; defensive: cycle characteristic < 0)
    regime_change: float = 0.4      # HIGH: |mean(t) - mean(t - regime_change_sessions)| above this (seed 004) ...
    regime_change_sessions: int = 20
    # ... and the mean lands in a regime: beyond this band in the direction of the change. A move from +0.2 to
    # -0.25 goes from one neutral reading to another. Without the test: 12.4 HIGH a year and 6 turns caught
    # (noise alerts start cool-downs that then mute real turns); the seed's reading band 0.3: 10.1 and 8; 0.4:
    # 8.1 and 8; 0.35: 9.1 and 9.
    regime_band: float | None = 0.35  # None: no band test (the seed's rule)
    # A condition ends only once its value is back inside the threshold by this margin (hysteresis), so a
    # value hovering at a threshold holds one condition, not one every other day.
    hysteresis: float = 0.1
    # Cool-down, per alert type, dimension and direction: a condition that starts again within this many
    # sessions of its previous start in the same direction raises no new alert (a condition that keeps
    # switching on and off is one episode); a reversal is never muted. CRITICAL without cool-down: 5.8 a year
    # (6.8 in 2010-2019, 11 in 2010); 60 sessions: 4.4 (5.3); 120 (about six months): 3.5 (3.8), at most 6 in
    # a year. HIGH without: 12.4 (13.9); 40: 11.0 (11.8) and 10 turns; 60: 9.1 (9.1); 80: 7.7 and 7 turns.
    critical_cooldown_sessions: int = 120
    high_cooldown_sessions: int = 60
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
