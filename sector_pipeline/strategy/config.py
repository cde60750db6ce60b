"""Tunable numbers of the strategy stage (prediction, allocation, backtest), with their defaults.

Mirrored as Dagster Config on the strategy assets (defs/strategy_assets.py); docs/strategy.md explains each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sector_pipeline.errors import ConfigurationError

# Per-sector inputs of the model, all read from signals.features except the two "fit" columns, which
# project the market-wide sentiment scores and macro regime onto each sector's four characteristics.
MODEL_FEATURES = (
    "relative_strength_change_5d",
    "relative_strength_change_20d",
    "relative_strength_change_60d",
    "relative_strength_trend",
    "return_252d",
    "distance_from_sma_200",
    "rsi_14",
    "realized_vol_20d",
    "relative_volume_20d",
    "sentiment_fit",   # sum_d c_d * sentiment score_d / sum_d |c_d|  (signals.sentiment_scores)
    "macro_fit",       # sum_d c_d * macro_score_d / sum_d |c_d|      (signals.macro_regime)
)

RETRAIN_FREQUENCIES = ("monthly", "quarterly", "yearly")
REBALANCE_FREQUENCIES = ("daily", "weekly", "monthly")
RISK_TOLERANCES = ("low", "medium", "high")

# Books of strategy.allocations and strategies of strategy.backtest, in display order.
MODEL_BOOK = "model"
COMPOSITE_BOOK = "composite"
MOMENTUM_BOOK = "momentum_top3"
EQUAL_WEIGHT_BOOK = "equal_weight"
BENCHMARK = "benchmark"
BOOKS = (MODEL_BOOK, COMPOSITE_BOOK, MOMENTUM_BOOK, EQUAL_WEIGHT_BOOK)
STRATEGIES = (*BOOKS, BENCHMARK)
# What a sector is in a decision: the top, middle or bottom third of seed article 000's rule, top or out of the
# momentum book, equal in the equal-weight book.
ALLOCATION_GROUPS = ("top", "middle", "bottom", "out", "equal")

# Signals whose out-of-sample skill is measured (strategy.skill), with the column that carries each.
SIGNALS = {"model": "prediction_strength", "momentum": "relative_strength_change_60d",
           "composite": "composite_score"}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {list(choices)}, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    # Sessions of the forward relative return the model predicts; also the embargo between the end of a
    # training label and the training date.
    horizon: int = 20
    features: tuple[str, ...] = MODEL_FEATURES
    # The model used for the dates of a period (month by default) is trained on that period's first session.
    retrain: str = "monthly"
    # Ridge penalty per training sample: alpha = ridge_penalty * n_samples, so the shrinkage of a coefficient
    # on unit-variance inputs stays ~ ridge_penalty / (1 + ridge_penalty) whatever the training length.
    ridge_penalty: float = 0.1
    # No model before this many distinct sample dates with a known label exist (about a year).
    min_training_dates: int = 252
    # Trailing training window in sample dates; None = expanding (all past samples).
    training_dates: int | None = None
    # Cross-sectional z-scores are clipped to +-zscore_clip so one outlier cannot drive a fit.
    zscore_clip: float = 3.0

    def __post_init__(self) -> None:
        _check_choice("ModelConfig.retrain", self.retrain, RETRAIN_FREQUENCIES)
        if self.horizon < 1 or self.min_training_dates < 1 or self.ridge_penalty < 0 or not self.features:
            raise ConfigurationError(
                f"ModelConfig: horizon and min_training_dates must be >= 1, ridge_penalty >= 0 and features "
                f"non-empty, got {self.horizon}, {self.min_training_dates}, {self.ridge_penalty}, {self.features}")
        unknown = sorted(set(self.features) - set(MODEL_FEATURES))
        if unknown:
            raise ConfigurationError(f"ModelConfig.features: unknown {unknown}, expected some of {MODEL_FEATURES}")


@dataclass(frozen=True)
class AllocationConfig:
    risk_tolerance: str = "medium"
    rebalance: str = "weekly"              # decide on the last session of each week
    step: float = 0.05                     # weight moved per rebalance (seed: rebalanceAmount = 0.05)
    caps: dict[str, float] = field(default_factory=lambda: {"low": 0.20, "medium": 0.20, "high": 0.30})
    floor: float = 0.01                    # minimum weight of a sector in the book (seed: 1 %)
    # The middle third moves this fraction of the way toward 1/N per rebalance (seed: rebalanceAmount / 2).
    middle_decay: float = 0.025
    momentum_top_n: int = 3                # Faber (2010) rotation: equal weight of the top N ...
    momentum_rebalance: str = "monthly"    # ... by trailing relative momentum, rebalanced monthly
    momentum_column: str = "relative_strength_change_60d"
    calendar: str = "XNYS"

    def __post_init__(self) -> None:
        _check_choice("AllocationConfig.risk_tolerance", self.risk_tolerance, RISK_TOLERANCES)
        _check_choice("AllocationConfig.rebalance", self.rebalance, REBALANCE_FREQUENCIES)
        _check_choice("AllocationConfig.momentum_rebalance", self.momentum_rebalance, REBALANCE_FREQUENCIES)
        if not (0 <= self.floor < self.cap <= 1) or not (0 <= self.step <= 1) or not (0 <= self.middle_decay <= 1):
            raise ConfigurationError(
                f"AllocationConfig: need 0 <= floor < cap <= 1 and step, middle_decay in [0, 1], got floor "
                f"{self.floor}, cap {self.cap}, step {self.step}, middle_decay {self.middle_decay}")
        if self.momentum_top_n < 1:
            raise ConfigurationError(f"AllocationConfig.momentum_top_n must be >= 1, got {self.momentum_top_n}")

    @property
    def cap(self) -> float:
        return self.caps[self.risk_tolerance]


@dataclass(frozen=True)
class BacktestConfig:
    cost_bps: float = 5.0                  # cost of trading, basis points of turnover
    trading_days_per_year: int = 252

    def __post_init__(self) -> None:
        if self.cost_bps < 0:
            raise ConfigurationError(f"BacktestConfig.cost_bps must be >= 0, got {self.cost_bps}")
