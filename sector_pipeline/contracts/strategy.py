"""Contracts of the strategy tables (strategy.*): predictions, model runs, skill, allocations, backtest, performance.

Returns, weights, costs and drawdowns are fractions here (0.01 = 1 %); the marts restate them in percent and
basis points. The strategy modules take their column lists and Polars types from these models.
"""

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts.core import table_config
from sector_pipeline.contracts.signals import SECTOR, _SectorSession, _Session
from sector_pipeline.strategy.config import ALLOCATION_GROUPS, BOOKS, SIGNALS, STRATEGIES

_FRACTION = {"in_range": {"min_value": 0, "max_value": 1}}
_CORRELATION = {"in_range": {"min_value": -1, "max_value": 1}}


class Predictions(_SectorSession):
    """Walk-forward prediction of each sector's forward return relative to the benchmark (seed article 000)."""

    prediction_strength: float = pa.Field(description=(
        "Predicted total return relative to the benchmark over the next horizon_sessions (fraction, 0.01 = one "
        "point above the benchmark)"))
    prediction_rank: pl.Int32 = pa.Field(ge=1, description="1 = highest prediction_strength on the date")
    ranked_sectors: pl.Int32 = pa.Field(ge=1, description="Sectors predicted on the date")
    model_date: dt.date = pa.Field(description="The model that predicted: its training date (strategy.model_runs)")

    Config = table_config("strategy.predictions", "date", "ticker")


class ModelRuns(_Session):
    """One fitted model per period (month by default): what it was trained on and everything a prediction needs.

    date is the training date: the first session of the period the model predicts.
    """

    period: str = pa.Field(description="The period the model predicts, e.g. 2024-03 (monthly), 2024-Q1, 2024")
    horizon_sessions: pl.Int32 = pa.Field(ge=1, description="Sessions of the forward relative return predicted")
    training_first_date: dt.date = pa.Field(description="First sample date used")
    training_last_date: dt.date = pa.Field(description="Last sample date used (its label ends before date)")
    last_label_end_date: dt.date = pa.Field(description="Last session whose price entered a training label")
    training_dates: pl.Int32 = pa.Field(ge=1, description="Distinct sample dates")
    training_samples: pl.Int32 = pa.Field(ge=1, description="(sector, date) samples")
    ridge_alpha: float = pa.Field(ge=0, description="Ridge penalty: ridge_penalty x training_samples")
    intercept: float = pa.Field(description="Fitted intercept (fraction)")
    features: pl.List(pl.String) = pa.Field(description="The model's inputs, in the order of coefficients")
    coefficients: pl.List(pl.Float64) = pa.Field(description="Coefficients on the inputs' clipped z-scores")
    train_r2: float = pa.Field(le=1, description="In-sample R^2 (not a measure of skill: see strategy.skill)")
    zscore_clip: float = pa.Field(gt=0, description="Clip of the input z-scores")

    Config = table_config("strategy.model_runs", "date")


class Skill(_Session):
    """Out-of-sample skill of the model and two baselines: rank IC and hit rate, dated when the outcome is known.

    date = signal_date + horizon sessions; the running figures cover every signal date up to signal_date.
    """

    signal_date: dt.date = pa.Field(description="The session the signal was read")
    signal: str = pa.Field(isin=list(SIGNALS), description=(
        "model (prediction_strength), momentum (relative_strength_change_60d) or composite (composite_score)"))
    ic: Optional[float] = pa.Field(**_CORRELATION, nullable=True, description=(
        "Rank IC: Spearman correlation across sectors of the signal and the forward relative return"))
    hits: pl.Int32 = pa.Field(ge=0, description="Sectors on the right side of the cross-sectional mean")
    counted: pl.Int32 = pa.Field(ge=0, description="Sectors whose signal and outcome both differ from their means")
    hit_rate: Optional[float] = pa.Field(**_FRACTION, nullable=True, description="hits / counted")
    sectors: pl.Int32 = pa.Field(ge=0, description="Sectors with the signal and the outcome on signal_date")
    dates_evaluated: pl.Int32 = pa.Field(ge=0, description="Signal dates with an IC so far")
    ic_mean: Optional[float] = pa.Field(**_CORRELATION, nullable=True, description="Mean IC over those dates")
    ic_std: Optional[float] = pa.Field(ge=0, nullable=True, description="Sample std of those ICs")
    ic_t_stat: Optional[float] = pa.Field(nullable=True, description=(
        "ic_mean / (ic_std / sqrt(dates_evaluated)); overstated by about sqrt(horizon): daily ICs overlap"))
    non_overlapping_dates: pl.Int32 = pa.Field(ge=0, description="Every horizon-th evaluated date so far")
    ic_mean_non_overlapping: Optional[float] = pa.Field(**_CORRELATION, nullable=True,
                                                        description="Mean IC over the non-overlapping dates")
    ic_t_stat_non_overlapping: Optional[float] = pa.Field(nullable=True, description=(
        "t-statistic of the IC over non-overlapping dates: the one to read"))
    hit_rate_pooled: Optional[float] = pa.Field(**_FRACTION, nullable=True,
                                                description="All hits / all counted sector-dates so far")
    ic_sum: float = pa.Field(description="Running sum of the ICs (state of the next run)")
    ic_sum_squares: float = pa.Field(ge=0, description="Running sum of squared ICs (state)")
    ic_sum_non_overlapping: float = pa.Field(description="Running sum of the non-overlapping ICs (state)")
    ic_sum_squares_non_overlapping: float = pa.Field(ge=0, description="Running sum of their squares (state)")
    hits_total: int = pa.Field(ge=0, description="Running hits (state)")
    counted_total: int = pa.Field(ge=0, description="Running counted sector-dates (state)")
    sessions_since_first_ic: Optional[pl.Int32] = pa.Field(ge=0, nullable=True, description=(
        "Sessions from the first signal date with an IC (state; NULL before it)"))

    Config = table_config("strategy.skill", "date", "signal")


class Allocations(_Session):
    """Target weights of the four books, decided at the close of their rebalance sessions."""

    book: str = pa.Field(isin=list(BOOKS), description="model, composite, momentum_top3 or equal_weight")
    ticker: str = pa.Field(description=SECTOR)
    weight: float = pa.Field(**_FRACTION, description="Target weight (fraction; a decision sums to 1)")
    previous_weight: Optional[float] = pa.Field(**_FRACTION, nullable=True, description=(
        "The book's previous target for the sector; NULL on its first decision"))
    score: Optional[float] = pa.Field(nullable=True, description=(
        "The book's signal: prediction_strength, composite_score or relative_strength_change_60d; NULL for "
        "equal weight"))
    score_rank: Optional[pl.Int32] = pa.Field(ge=1, nullable=True, description="1 = highest score that day")
    group: str = pa.Field(isin=list(ALLOCATION_GROUPS), description=(
        "top, middle or bottom third (seed article 000's rule), top or out (momentum), equal (equal weight)"))

    Config = table_config("strategy.allocations", "date", "book", "ticker")


class Backtest(_Session):
    """Daily backtest of each book and the benchmark: returns, costs, equity, drawdown, and the state carried."""

    strategy: str = pa.Field(isin=list(STRATEGIES), description="One of the four books, or benchmark")
    gross_return: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Return of the weights held, before costs (fraction); NULL on the start row"))
    # A full switch sums to 2.0 and its floating-point sum can land one unit above (2.0000000000000004 on
    # 2013-04-01, real data): the bound allows the rounding, not a third of a book more.
    turnover: float = pa.Field(in_range={"min_value": 0, "max_value": 2 + 1e-9}, description=(
        "Sum of |target - drifted weight| on a trade session (fraction of the book; a full switch is 2.0)"))
    cost: float = pa.Field(ge=0, description="turnover x cost_bps / 1e4 (fraction of equity)")
    net_return: Optional[float] = pa.Field(gt=-1, nullable=True, description="(1 + gross) x (1 - cost) - 1")
    equity: float = pa.Field(gt=0, description="Growth of 1.0 invested at the common start")
    drawdown: float = pa.Field(in_range={"min_value": -1, "max_value": 0},
                               description="equity / its running peak - 1 (<= 0)")
    benchmark_return: Optional[float] = pa.Field(gt=-1, nullable=True,
                                                 description="The benchmark's total return that session")
    holdings: pl.Int32 = pa.Field(ge=0, description="Sectors (or the benchmark) held after the close")
    is_trade_day: bool = pa.Field(description="A decision was traded at this close")
    peak_equity: float = pa.Field(gt=0, description="Running peak of equity (state)")
    held_tickers: pl.List(pl.String) = pa.Field(description="Tickers held after the close, sorted (state)")
    held_weights: pl.List(pl.Float64) = pa.Field(description="Their weights after the close (state)")

    Config = table_config("strategy.backtest", "date", "strategy")


class Performance(_Session):
    """Performance of each book and the benchmark from the backtest start up to each date (nothing after it)."""

    strategy: str = pa.Field(isin=list(STRATEGIES), description="One of the four books, or benchmark")
    days: pl.Int32 = pa.Field(ge=1, description="Sessions since the start")
    total_return: float = pa.Field(gt=-1, description="equity - 1 (fraction)")
    cagr: float = pa.Field(gt=-1, description="Compound annual growth: equity ** (252 / days) - 1 (fraction)")
    annualised_volatility: Optional[float] = pa.Field(ge=0, nullable=True,
                                                      description="Sample std of net returns x sqrt(252)")
    sharpe: Optional[float] = pa.Field(nullable=True, description="Mean / std of net returns x sqrt(252), rf = 0")
    sortino: Optional[float] = pa.Field(nullable=True, description="Mean return over downside deviation, annualised")
    max_drawdown: float = pa.Field(in_range={"min_value": -1, "max_value": 0},
                                   description="Worst drawdown so far (<= 0)")
    average_annual_turnover: float = pa.Field(ge=0, description="Turnover per year (1.0 = the book traded once)")
    total_cost: float = pa.Field(ge=0, description="Sum of costs (fraction of equity)")
    hit_rate_vs_benchmark: Optional[float] = pa.Field(**_FRACTION, nullable=True, description=(
        "Share of sessions beating the benchmark; NULL for the benchmark"))
    sum_net_return: float = pa.Field(description="Running sum of net returns (state)")
    sum_squared_net_return: float = pa.Field(ge=0, description="Running sum of squared net returns (state)")
    sum_squared_downside_return: float = pa.Field(ge=0, description="Running sum of min(r, 0)^2 (state)")
    total_turnover: float = pa.Field(ge=0, description="Running sum of turnover (state)")
    sessions_beating_benchmark: pl.Int32 = pa.Field(ge=0, description="Running count (state)")
    peak_equity: float = pa.Field(gt=0, description="Running peak of equity (state)")

    Config = table_config("strategy.performance", "date", "strategy")


MODELS = (Predictions, ModelRuns, Skill, Allocations, Backtest, Performance)
