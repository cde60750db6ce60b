"""Contracts of the tables the signal stage writes from Python (signals.* and intermediate.int_total_returns).

One pandera model per table: its Config names the table and its grain, its docstring describes it, each field
its column (the UI shows these descriptions; docs/glossary.md defines each quantity). The stage modules take
their column lists from here (`columns(...)`), so a column is added or renamed in exactly one place.
"""

import datetime as dt
from typing import Optional

import pandera.polars as pa
import polars as pl

from sector_pipeline.contracts.core import table_config
from sector_pipeline.ingest.total_return import AGGREGATE, METHODS
from sector_pipeline.vocabulary import (
    ALERT_TYPES,
    BANDS,
    DIMENSIONS,
    QUADRANTS,
    RRG_FREQUENCIES,
    RRG_REFERENCES,
    SENTIMENT_GROUPS,
    TIERS,
)

SESSION = "Trading session (NYSE, exchange local date)"
TICKER = "Instrument ticker as in the universe file"
SECTOR = "Sector ticker as in the universe file (the benchmark is not a sector)"
DIMENSION = "Sentiment dimension: cycle, rates, inflation or risk (seed article 004's four axes)"
SOURCE = "Data source of the prices behind the row: synthetic, yfinance or csv"


class _Session(pa.DataFrameModel):
    date: dt.date = pa.Field(description=SESSION)


class _TickerSession(_Session):
    ticker: str = pa.Field(description=TICKER)


class _SectorSession(_Session):
    ticker: str = pa.Field(description=SECTOR)


class TotalReturns(_TickerSession):
    """Daily total returns from closes, dividends and splits on one basis, and each ticker's total-return index.

    In a member universe, an aggregate sector's rows are computed from its members (signals/aggregates.py).
    """

    close_price: float = pa.Field(gt=0, description=(
        "Close, split-adjusted as of its download date (USD); an aggregate sector's index level"))
    volume_shares: Optional[float] = pa.Field(ge=0, nullable=True, description="Shares traded")
    total_return_1d: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Total return of the session (fraction; dividends reinvested, one split basis); NULL on a ticker's first "
        "row or after a missing close"))
    total_return_price: float = pa.Field(gt=0, description=(
        "Total-return index: starts at the ticker's first close and compounds total_return_1d (USD)"))
    is_total_return_estimated: bool = pa.Field(description=(
        "The day's return was computed from closes only (no dividend information): a price return"))
    total_return_method: Optional[str] = pa.Field(isin=[*METHODS, AGGREGATE], nullable=True, description=(
        "How total_return_1d was computed: dividends, adj_close or close_only (ingest/total_return.py), or "
        "aggregate (a sector from its members)"))
    source: str = pa.Field(description=SOURCE)
    members_held: Optional[pl.Int32] = pa.Field(ge=0, nullable=True, description=(
        "Members whose returns made an aggregate sector's return that session; NULL for a traded ticker"))

    Config = table_config("intermediate.int_total_returns", "date", "ticker")


class Features(_TickerSession):
    """Per ticker and session (benchmark included): returns, relative strength, trend, momentum, volatility, volume.

    Windows count the ticker's sessions; NULL, never NaN, where a value is not defined (docs/signals.md).
    """

    close_price: float = pa.Field(gt=0, description="Close, split-adjusted (the charting price: SMAs, RSI), USD")
    total_return_price: float = pa.Field(gt=0, description="Total-return index (returns, relative strength), USD")
    volume_shares: Optional[float] = pa.Field(ge=0, nullable=True, description="Shares traded")
    sessions_of_history: int = pa.Field(ge=1, description=(
        "Sessions since the ticker's first stored price, this one included (1 on its first day)"))
    return_1d: Optional[float] = pa.Field(gt=-1, nullable=True, description="Total return over 1 session (fraction)")
    return_5d: Optional[float] = pa.Field(gt=-1, nullable=True, description="Total return over 5 sessions (fraction)")
    return_20d: Optional[float] = pa.Field(gt=-1, nullable=True, description="Total return over 20 sessions (fraction)")
    return_60d: Optional[float] = pa.Field(gt=-1, nullable=True, description="Total return over 60 sessions (fraction)")
    return_126d: Optional[float] = pa.Field(gt=-1, nullable=True,
                                            description="Total return over 126 sessions (fraction)")
    return_252d: Optional[float] = pa.Field(gt=-1, nullable=True,
                                            description="Total return over 252 sessions (fraction)")
    return_ytd: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Total return since the previous calendar year's last session (fraction)"))
    relative_strength: Optional[float] = pa.Field(gt=0, nullable=True, description=(
        "Relative strength: total_return_price / the benchmark's on the same date (ratio; 1.0 for the benchmark)"))
    relative_strength_change_5d: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Relative strength / its value 5 sessions earlier - 1 (fraction): relative performance over 5 sessions"))
    relative_strength_change_20d: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Relative strength / its value 20 sessions earlier - 1 (fraction)"))
    relative_strength_change_60d: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Relative strength / its value 60 sessions earlier - 1 (fraction)"))
    relative_strength_trend: Optional[float] = pa.Field(gt=-1, nullable=True, description=(
        "Relative strength / its 50-session simple mean - 1 (fraction)"))
    sma_50: Optional[float] = pa.Field(gt=0, nullable=True, description="Simple mean of close_price, 50 sessions (USD)")
    sma_200: Optional[float] = pa.Field(gt=0, nullable=True,
                                        description="Simple mean of close_price, 200 sessions (USD)")
    distance_from_sma_50: Optional[float] = pa.Field(gt=-1, nullable=True,
                                                     description="close_price / sma_50 - 1 (fraction)")
    distance_from_sma_200: Optional[float] = pa.Field(gt=-1, nullable=True,
                                                      description="close_price / sma_200 - 1 (fraction)")
    rsi_14: Optional[float] = pa.Field(in_range={"min_value": 0, "max_value": 100}, nullable=True, description=(
        "Wilder's RSI of close_price over 14 sessions (RMA smoothing), 0-100; NULL for the first 14 sessions"))
    realized_vol_20d: Optional[float] = pa.Field(ge=0, nullable=True, description=(
        "Annualised realized volatility: sample std of 20 daily log total returns x sqrt(252) (fraction a year)"))
    relative_volume_20d: Optional[float] = pa.Field(ge=0, nullable=True, description=(
        "Volume / mean volume of the 20 previous sessions (ratio, 1.0 = normal)"))
    up_volume_ratio_20d: Optional[float] = pa.Field(in_range={"min_value": 0, "max_value": 1}, nullable=True,
                                                    description="Volume on up sessions / all volume, last 20 sessions")
    is_warming_up: bool = pa.Field(description="The ranking inputs do not exist yet: the ticker's first 60 sessions")
    is_total_return_estimated: bool = pa.Field(description=(
        "The session's total return had no dividend information: a price return (int_total_returns)"))
    rsi_average_gain_14: float = pa.Field(ge=0, description=(
        "Wilder's average gain behind rsi_14 (USD), stored so the next run continues the recursion"))
    rsi_average_loss_14: float = pa.Field(ge=0, description=(
        "Wilder's average loss behind rsi_14 (USD), stored so the next run continues the recursion"))
    source: str = pa.Field(description=SOURCE)

    Config = table_config("signals.features", "date", "ticker")


class SectorRankings(_SectorSession):
    """Composite score of 5/20/60-session relative performance and its rank among the sectors with enough history.

    The relative performance itself is signals.features.relative_strength_change_{5,20,60}d.
    """

    composite_score: Optional[float] = pa.Field(nullable=True, description=(
        "Weighted mean of the cross-sectional z-scores of relative_strength_change_{5,20,60}d (unitless, mean 0 "
        "across ranked sectors); NULL when not ranked"))
    rank: Optional[pl.Int32] = pa.Field(ge=1, nullable=True, description=(
        "Composite rank, 1 = highest composite_score, ties by ticker; NULL when not ranked"))
    ranked_sectors: pl.Int32 = pa.Field(ge=0, description="Sectors ranked on the date")
    is_ranked: bool = pa.Field(description="Past its warm-up and every ranking input exists")

    Config = table_config("signals.sector_rankings", "date", "ticker")


class _Dimension(_Session):
    dimension: str = pa.Field(isin=list(DIMENSIONS), description=DIMENSION)


class SentimentScores(_Dimension):
    """The four-dimension sentiment indicator of seed article 004: each dimension's score in [-1, +1], its reading."""

    label: str = pa.Field(description="The dimension's name for people, e.g. 'Risk appetite'")
    score: float = pa.Field(in_range={"min_value": -1, "max_value": 1}, description=(
        "Sentiment score in [-1, +1]: half the gap between the leaders' and the laggards' weighted characteristic"))
    band: str = pa.Field(isin=list(BANDS), description="positive above +0.3, negative below -0.3, else neutral")
    interpretation: str = pa.Field(description="The reading of the band (seed article 004's texts, corrected)")
    top_contributors: str = pa.Field(description="The sectors whose contributions weigh most, signed, e.g. 'XLU -0.25'")

    Config = table_config("signals.sentiment_scores", "date", "dimension")


class SentimentContributions(_Dimension):
    """Each leading and lagging sector's signed contribution to each sentiment score (they sum to the score)."""

    ticker: str = pa.Field(description=SECTOR)
    rank: pl.Int32 = pa.Field(ge=1, description="The sector's composite rank on the date")
    group: str = pa.Field(isin=list(SENTIMENT_GROUPS), description="leader (top third) or laggard (bottom third)")
    weight: float = pa.Field(ge=1, description="Rank weight within its group: k for the best leader or worst laggard")
    characteristic: float = pa.Field(in_range={"min_value": -1, "max_value": 1},
                                     description="The sector's characteristic on the dimension (universe file)")
    contribution: float = pa.Field(in_range={"min_value": -0.5, "max_value": 0.5}, description=(
        "Signed term of the score: +-weight x characteristic / (2 x sum of weights)"))

    Config = table_config("signals.sentiment_contributions", "date", "dimension", "ticker")


class Alerts(_Session):
    """CRITICAL / HIGH / MEDIUM alerts (seed article 004), each dated the session its condition started."""

    tier: str = pa.Field(isin=list(TIERS), description="CRITICAL, HIGH or MEDIUM")
    alert_type: str = pa.Field(isin=list(ALERT_TYPES), description=(
        "extreme_reading, flight_to_safety, regime_change (sentiment) or rotation_velocity (rankings)"))
    dimension: Optional[str] = pa.Field(isin=list(DIMENSIONS), nullable=True,
                                        description="The sentiment dimension; NULL for rotation velocity")
    value: float = pa.Field(description=(
        "What crossed the threshold: the 9-session mean score, its 20-session change, or the rotation velocity"))
    threshold: float = pa.Field(description="The level that was crossed, signed in the direction of the crossing")
    message: str = pa.Field(description="The alert in one sentence")

    Config = table_config("signals.alerts", "date", "alert_type", "dimension")


class AlertConditions(_Session):
    """Each score-based alert condition's daily state: what the next run continues from (latch, cool-down)."""

    alert_type: str = pa.Field(isin=[t for t in ALERT_TYPES if t != "rotation_velocity"],
                               description="extreme_reading, flight_to_safety or regime_change (the score-based types)")
    dimension: str = pa.Field(isin=list(DIMENSIONS), description=DIMENSION)
    reading: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "Mean of the dimension's daily score over the last 9 sessions (smoothing_sessions)"))
    value: Optional[float] = pa.Field(nullable=True, description=(
        "What the threshold applies to: the reading, or its change over 20 sessions (regime_change)"))
    threshold: float = pa.Field(description="Threshold of an upward start (a downward one is its mirror)")
    side: pl.Int8 = pa.Field(isin=[-1, 0, 1], description="+1 / -1 while the condition holds upward / downward, 0 off")
    is_on: bool = pa.Field(description="The condition holds (side != 0)")
    sessions_since_up: Optional[pl.Int32] = pa.Field(ge=0, nullable=True, description=(
        "Sessions since the condition last started upward (0 that day); NULL: never"))
    sessions_since_down: Optional[pl.Int32] = pa.Field(ge=0, nullable=True, description=(
        "Sessions since the condition last started downward; NULL: never"))

    Config = table_config("signals.alert_conditions", "date", "alert_type", "dimension")


class MacroRegime(_Dimension):
    """The macro backdrop on the sentiment dimensions, from market-implied and FRED series (seed article 003)."""

    macro_score: Optional[float] = pa.Field(in_range={"min_value": -1, "max_value": 1}, nullable=True, description=(
        "tanh(mean trailing z-score of the dimension's macro signals / 2), in (-1, 1); NULL with no signal. "
        "Not the sentiment score: same axes, read from macro data instead of the sector ranking"))
    signals_used: pl.Int32 = pa.Field(ge=0, description="Macro signals with a value on the date")
    detail: str = pa.Field(description="Each used signal and its z-score")
    is_stale_input: bool = pa.Field(description="A used series' value is older than its normal cadence")
    stale_series: str = pa.Field(description="Those series, comma-separated ('' when none)")

    Config = table_config("signals.macro_regime", "date", "dimension")


_COMPONENT = {"in_range": {"min_value": 0, "max_value": 100}, "nullable": True}


class SectorRotationIndex(_SectorSession):
    """Sector Rotation Index (seed article 003): four 0-100 component scores, their weighted total and its rank."""

    economic_score: Optional[float] = pa.Field(**_COMPONENT, description=(
        "0-100: fit of the sector's characteristics to the macro regime, 50 = no view"))
    performance_score: Optional[float] = pa.Field(**_COMPONENT, description=(
        "0-100: mean percentile of composite_score and of the risk-adjusted 60-session relative return"))
    flow_score: Optional[float] = pa.Field(**_COMPONENT, description=(
        "0-100: mean percentile of relative volume and up-volume ratio (seed article 003's 'market sentiment', "
        "measured from volume flows)"))
    technical_score: Optional[float] = pa.Field(**_COMPONENT, description=(
        "0-100: price vs its 50/200-session averages, their cross, the RSI sweet spot"))
    total_score: Optional[float] = pa.Field(ge=0, nullable=True, description=(
        "Weighted sum of the four components (0-400 with the default equal weights)"))
    sri_rank: Optional[pl.Int32] = pa.Field(ge=1, nullable=True,
                                            description="1 = highest total among the sectors scored on the date")
    is_scored: bool = pa.Field(description="Ranked, and every component's input exists")
    economic_dimensions: pl.Int32 = pa.Field(in_range={"min_value": 0, "max_value": len(DIMENSIONS)}, description=(
        "Dimensions of the macro regime the economic score could read (0-4)"))
    uses_stale_macro: bool = pa.Field(description="A macro series behind the economic score was stale on the date")

    Config = table_config("signals.sector_rotation_index", "date", "ticker")


class RelativeRotation(_SectorSession):
    """RRG-style relative rotation of each sector against the benchmark, daily and on completed ISO weeks."""

    frequency: str = pa.Field(isin=list(RRG_FREQUENCIES), description=(
        "daily (one row per session) or weekly (one row per ISO week, at its last session)"))
    rs_ratio: Optional[float] = pa.Field(nullable=True, description=(
        "RS-Ratio approximation: 100 + trailing z-score of 100 x price / benchmark price (63 sessions, 14 weeks)"))
    rs_momentum: Optional[float] = pa.Field(nullable=True, description=(
        "RS-Momentum approximation: 100 + trailing z-score of the rate of change of rs_ratio"))
    quadrant: Optional[str] = pa.Field(isin=list(QUADRANTS), nullable=True,
                                       description="leading, weakening, lagging or improving; NULL while warming up")
    rrg_speed: Optional[float] = pa.Field(ge=0, nullable=True, description=(
        "Distance moved on the (rs_ratio, rs_momentum) plane since the previous row (RRG units per observation)"))
    heading_deg: Optional[float] = pa.Field(ge=0, lt=360, nullable=True, description=(
        "Direction of that move in degrees, [0, 360): 0 = east (ratio rising), 90 = north (momentum rising)"))
    is_warming_up: bool = pa.Field(description="rs_ratio or rs_momentum is NULL (not enough history yet)")

    Config = table_config("signals.relative_rotation", "date", "ticker", "frequency")


class MemberRankings(_TickerSession):
    """Every member stock of a member universe ranked by the composite score, across the universe and within its
    sector (signals/members.py); the relative performance itself is signals.features.relative_strength_change_*."""

    ticker: str = pa.Field(description="Member stock ticker as in the universe file")
    sector: str = pa.Field(description="The member's sector ticker")
    composite_score: Optional[float] = pa.Field(nullable=True, description=(
        "The sectors' composite (signals.sector_rankings) with every ranked member as the cross-section"))
    rank: Optional[pl.Int32] = pa.Field(ge=1, nullable=True, description="1 = highest composite_score of the date")
    ranked_members: pl.Int32 = pa.Field(ge=0, description="Members ranked on the date")
    sector_composite_score: Optional[float] = pa.Field(nullable=True, description=(
        "The composite with the ranked members of the member's sector as the cross-section"))
    sector_rank: Optional[pl.Int32] = pa.Field(ge=1, nullable=True, description="1 = best member of its sector")
    sector_ranked_members: pl.Int32 = pa.Field(ge=0, description="Members of the sector ranked on the date")
    is_ranked: bool = pa.Field(description="Past its warm-up and every ranking input exists")

    Config = table_config("signals.member_rankings", "date", "ticker")


class MemberRotation(RelativeRotation):
    """RRG-style rotation of every member stock against the benchmark and against its own sector's series."""

    ticker: str = pa.Field(description="Member stock ticker as in the universe file")
    against: str = pa.Field(isin=list(RRG_REFERENCES), description="benchmark or sector")
    reference: str = pa.Field(description="The ticker the member is measured against: the benchmark or its sector")

    Config = table_config("signals.member_rotation", "date", "ticker", "against", "frequency")


MODELS = (TotalReturns, Features, SectorRankings, SentimentScores, SentimentContributions, Alerts, AlertConditions,
          MacroRegime, SectorRotationIndex, RelativeRotation, MemberRankings, MemberRotation)
