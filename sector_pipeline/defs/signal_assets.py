"""Signal assets: features, rankings, sentiment, alerts, macro regime, Sector Rotation Index, relative rotation.

Each is incremental (defs/incremental.py): it declares its inputs with the lookback it needs, recomputes only
the dates whose inputs changed, and continues from its own stored state, so a nightly run reads a bounded
number of rows and a range computed in one run equals the same dates computed night by night.
"""


import datetime as dt

import dagster as dg
import polars as pl

from sector_pipeline.calendar import week_end_sessions
from sector_pipeline.defs.incremental import (
    Input,
    Run,
    incremental_asset,
    outcome_metadata,
    run_incremental,
    table_multi_asset,
    table_spec,
)
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.resources import MarketDataResource, WarehouseResource
from sector_pipeline.defs.run_config import run_config_class
from sector_pipeline.ingest.total_return import daily_total_returns, total_return_index
from sector_pipeline.signals import alerts as alerts_mod
from sector_pipeline.signals.aggregates import sector_aggregates
from sector_pipeline.signals.alerts import alert_lookback_sessions
from sector_pipeline.signals.config import AlertConfig, FeatureConfig, RankingConfig, SentimentConfig
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.members import rank_members
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.rotation import member_rotation, relative_rotation, rotation_lookback_sessions
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores
from sector_pipeline.signals.sri import macro_lookback_dates, macro_regime, sector_rotation_index

STG_PRICES = "staging.stg_prices"
TOTAL_RETURNS = "intermediate.int_total_returns"
FEATURES = "signals.features"
RANKINGS = "signals.sector_rankings"
SCORES = "signals.sentiment_scores"
CONTRIBUTIONS = "signals.sentiment_contributions"
ALERTS = "signals.alerts"
MACRO_DAILY = "intermediate.int_macro_daily"
REGIME = "signals.macro_regime"
SRI = "signals.sector_rotation_index"
ROTATION = "signals.relative_rotation"


RankingWeights = run_config_class(
    RankingConfig, name="RankingWeights", key_names={"weights": lambda window: f"weight_{window}d"},
    description="Weights of the 5/20/60-session relative performance z-scores in the composite score.")
AlertThresholds = run_config_class(
    AlertConfig, name="AlertThresholds",
    description="Alert rules: the seed's thresholds, smoothing, band, hysteresis and cool-downs (docs/signals.md).")


TOTAL_RETURN_INPUTS = [Input(STG_PRICES, rows=1)]
TOTAL_RETURN_COLUMNS = ("date", "ticker", "close_price", "volume_shares", "total_return_1d", "total_return_price",
                        "is_total_return_estimated", "total_return_method", "source", "members_held")


@incremental_asset(TOTAL_RETURNS, inputs=TOTAL_RETURN_INPUTS, group="intermediate")
def total_returns(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                  warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily total returns from closes, dividends and splits on one basis, each ticker's total-return index, and
    the index of each sector computed from its member stocks (member universes)."""
    constituents = market_data.universe().members_frame(aggregates_only=True)

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        prices = run.inputs[STG_PRICES].rename({"close_price": "close", "adj_close_price": "adj_close",
                                                "dividend_per_share": "dividend"})
        # Every split ever stored: a split outside the read window still sets the basis of later downloads.
        splits = run.store.query(f"select ticker, date, split_ratio from {STG_PRICES} "
                                 "where split_ratio is not null and split_ratio <> 1")
        returns = daily_total_returns(prices, splits=splits.lazy())
        indexed = total_return_index(returns.filter(pl.col("date") >= run.start), previous=run.previous)
        traded = indexed.rename({"close": "close_price"}).with_columns(
            pl.lit(None, dtype=pl.Int32).alias("members_held")).select(TOTAL_RETURN_COLUMNS)
        if constituents.is_empty():
            return {TOTAL_RETURNS: traded}
        # Sectors of a member universe: the members' returns averaged (signals/aggregates.py), continuing
        # each aggregate's stored index; the rows join the traded ones so every later stage reads sectors alike.
        aggregates = sector_aggregates(traded, constituents, previous=run.previous, start=run.start)
        return {TOTAL_RETURNS: pl.concat([traded, aggregates.select(TOTAL_RETURN_COLUMNS)], how="vertical_relaxed")}

    outcome = run_incremental(warehouse.get(), outputs=[TOTAL_RETURNS], inputs=TOTAL_RETURN_INPUTS,
                              state=Input(TOTAL_RETURNS, rows=1), compute=compute, context=context)
    frame = outcome.frames.get(TOTAL_RETURNS)
    extra = {}
    if frame is not None and frame.height:
        extra["methods"] = markdown_table(frame.group_by("total_return_method", "is_total_return_estimated").len()
                                          .sort("total_return_method"))
    return dg.MaterializeResult(metadata=outcome_metadata(context, outcome, TOTAL_RETURNS, **extra))


FEATURE_INPUTS = [Input(TOTAL_RETURNS, rows=FeatureConfig().lookback_rows)]
FEATURE_STATE = Input(FEATURES, rows=1)


@incremental_asset(FEATURES, inputs=FEATURE_INPUTS)
def features(context: dg.AssetExecutionContext, market_data: MarketDataResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per ticker and date: returns, relative strength vs the benchmark, moving averages, RSI, volatility, volume."""
    benchmark = market_data.universe().benchmark.ticker

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        return {FEATURES: compute_features(run.inputs[TOTAL_RETURNS], benchmark=benchmark, previous=run.previous,
                                           start=run.start)}

    outcome = run_incremental(warehouse.get(), outputs=[FEATURES], inputs=FEATURE_INPUTS, state=FEATURE_STATE,
                              compute=compute, context=context)
    preview = outcome.frames.get(FEATURES)
    if preview is not None:
        preview = preview.select("date", "ticker", "return_5d", "return_20d", "return_60d",
                                 "relative_strength_change_20d", "rsi_14", "realized_vol_20d", "is_warming_up")
    return dg.MaterializeResult(metadata=outcome_metadata(context, outcome, FEATURES, preview=preview))


RANKING_INPUTS = [Input(FEATURES)]


@incremental_asset(RANKINGS, inputs=RANKING_INPUTS)
def sector_rankings(context: dg.AssetExecutionContext, config: RankingWeights, market_data: MarketDataResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Composite score of 5/20/60-session relative performance and its rank among sectors with enough history."""
    sectors = [s.ticker for s in market_data.universe().sectors]
    outcome = run_incremental(
        warehouse.get(), outputs=[RANKINGS], inputs=RANKING_INPUTS, state=None, context=context,
        compute=lambda run: {RANKINGS: rank_sectors(run.inputs[FEATURES], sectors=sectors,
                                                    config=config.to_config())})
    frame = outcome.frames.get(RANKINGS)
    return dg.MaterializeResult(metadata=outcome_metadata(
        context, outcome, RANKINGS, preview=frame.sort("date", "rank", nulls_last=True) if frame is not None else None))


SENTIMENT_INPUTS = [Input(RANKINGS)]


@table_multi_asset(
    table_spec(SCORES, inputs=SENTIMENT_INPUTS,
               description="Economic cycle, rates, inflation and risk appetite in [-1, +1] with their reading"),
    table_spec(CONTRIBUTIONS, inputs=SENTIMENT_INPUTS,
               description="Each leading and lagging sector's signed contribution to each sentiment score"),
)
def sentiment(context: dg.AssetExecutionContext, market_data: MarketDataResource, warehouse: WarehouseResource):
    """The four-dimension sentiment indicator of seed article 004 and the sectors behind each score."""
    universe = market_data.universe()
    tickers = [s.ticker for s in universe.sectors]

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        contributions = sentiment_contributions(run.inputs[RANKINGS], universe.characteristics())
        return {SCORES: sentiment_scores(contributions, tickers=tickers, config=SentimentConfig()),
                CONTRIBUTIONS: contributions}

    outcome = run_incremental(warehouse.get(), outputs=[SCORES, CONTRIBUTIONS], inputs=SENTIMENT_INPUTS, state=None,
                              compute=compute, context=context)
    for table in (SCORES, CONTRIBUTIONS):
        yield dg.MaterializeResult(asset_key=dg.AssetKey(table.split(".")),
                                   metadata=outcome_metadata(context, outcome, table))


CONDITIONS = "signals.alert_conditions"
ALERT_LOOKBACK = alert_lookback_sessions(AlertConfig())
ALERT_INPUTS = [Input(SCORES, rows=ALERT_LOOKBACK, key="dimension"), Input(RANKINGS, rows=ALERT_LOOKBACK)]


@table_multi_asset(
    table_spec(ALERTS, inputs=ALERT_INPUTS,
               description="CRITICAL / HIGH / MEDIUM alerts, each dated the session its condition started"),
    table_spec(CONDITIONS, inputs=ALERT_INPUTS,
               description="Each alert condition's daily state (smoothed reading, on/off, sessions since it "
                           "last started): what the next night continues from"),
)
def alerts(context: dg.AssetExecutionContext, config: AlertThresholds, market_data: MarketDataResource,
           warehouse: WarehouseResource):
    """CRITICAL / HIGH / MEDIUM alerts raised on the day their condition starts (rules: docs/signals.md)."""
    characteristics = market_data.universe().characteristics()
    alert_config = config.to_config()
    if alert_lookback_sessions(alert_config) > ALERT_LOOKBACK:
        raise dg.Failure(f"these alert settings need {alert_lookback_sessions(alert_config)} sessions of history "
                         f"before each run, more than the {ALERT_LOOKBACK} the asset reads")

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        found = alerts_mod.detect_alerts(run.inputs[SCORES], run.inputs[RANKINGS], characteristics,
                                         config=alert_config, previous=run.previous, start=run.start)
        return {ALERTS: found.alerts, CONDITIONS: found.conditions}

    outcome = run_incremental(warehouse.get(), outputs=[ALERTS, CONDITIONS], inputs=ALERT_INPUTS,
                              state=Input(CONDITIONS, rows=1, key="date"), compute=compute, context=context)
    frame = outcome.frames.get(ALERTS)
    extra = {}
    if frame is not None:
        extra = {"by_tier": markdown_table(frame.group_by("tier").len().sort("tier")),
                 "alerts": markdown_table(frame.sort("date", descending=True), max_rows=30)}
    yield dg.MaterializeResult(asset_key=dg.AssetKey(ALERTS.split(".")),
                               metadata=outcome_metadata(context, outcome, ALERTS, **extra))
    yield dg.MaterializeResult(asset_key=dg.AssetKey(CONDITIONS.split(".")),
                               metadata=outcome_metadata(context, outcome, CONDITIONS))


REGIME_INPUTS = [Input(MACRO_DAILY, rows=macro_lookback_dates(), key="date")]


@incremental_asset(REGIME, inputs=REGIME_INPUTS)
def macro_regime_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The macro backdrop mapped to the four sentiment dimensions, each in [-1, +1], from market-implied data."""
    outcome = run_incremental(warehouse.get(), outputs=[REGIME], inputs=REGIME_INPUTS, state=None, context=context,
                              compute=lambda run: {REGIME: macro_regime(run.inputs[MACRO_DAILY])})
    return dg.MaterializeResult(metadata=outcome_metadata(context, outcome, REGIME))


SRI_INPUTS = [Input(FEATURES), Input(RANKINGS), Input(REGIME, key="dimension")]


@incremental_asset(SRI, inputs=SRI_INPUTS)
def sector_rotation_index_asset(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                                warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Sector Rotation Index: economic, performance, flow and technical scores (0-100 each), total and rank."""
    characteristics = market_data.universe().characteristics()

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        return {SRI: sector_rotation_index(run.inputs[FEATURES], run.inputs[RANKINGS], run.inputs[REGIME],
                                           characteristics)}

    outcome = run_incremental(warehouse.get(), outputs=[SRI], inputs=SRI_INPUTS, state=None, compute=compute,
                              context=context)
    frame = outcome.frames.get(SRI)
    return dg.MaterializeResult(metadata=outcome_metadata(
        context, outcome, SRI, preview=frame.sort("date", "sri_rank", nulls_last=True) if frame is not None else None))


ROTATION_INPUTS = [Input(TOTAL_RETURNS, rows=rotation_lookback_sessions())]


@incremental_asset(ROTATION, inputs=ROTATION_INPUTS)
def relative_rotation_asset(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                            warehouse: WarehouseResource) -> dg.MaterializeResult:
    """RRG-style RS-Ratio, RS-Momentum, quadrant, RRG speed and heading of each sector, daily and weekly."""
    universe = market_data.universe()

    tickers = [universe.benchmark.ticker, *(s.ticker for s in universe.sectors)]

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        # sectors against the benchmark (members have their own asset, signals/member_rotation)
        prices = run.inputs[TOTAL_RETURNS].filter(pl.col("ticker").is_in(tickers))
        rotation = relative_rotation(prices, benchmark=universe.benchmark.ticker)
        last = prices.select(pl.col("date").max()).collect().item()
        # A weekly row dated before its week's last session is provisional (it moves when the week goes on):
        # storing it would leave a stale row behind after the next nightly run. Keep completed weeks only.
        week_ends = week_end_sessions(run.start, last + dt.timedelta(days=1), universe.calendar) if last else []
        return {ROTATION: rotation.filter((pl.col("frequency") == "daily") | pl.col("date").is_in(week_ends))}

    outcome = run_incremental(warehouse.get(), outputs=[ROTATION], inputs=ROTATION_INPUTS, state=None,
                              compute=compute, context=context)
    return dg.MaterializeResult(metadata=outcome_metadata(context, outcome, ROTATION))


SIGNAL_ASSETS = [total_returns, features, sector_rankings, sentiment, alerts, macro_regime_asset,
                 sector_rotation_index_asset, relative_rotation_asset]


MEMBER_RANKINGS = "signals.member_rankings"
MEMBER_ROTATION = "signals.member_rotation"
MEMBER_RANKING_INPUTS = [Input(FEATURES)]
MEMBER_ROTATION_INPUTS = [Input(TOTAL_RETURNS, rows=rotation_lookback_sessions())]


@incremental_asset(MEMBER_RANKINGS, inputs=MEMBER_RANKING_INPUTS)
def member_rankings(context: dg.AssetExecutionContext, config: RankingWeights, market_data: MarketDataResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every member stock ranked by the composite score, across the universe and within its sector."""
    members = market_data.universe().members_frame()
    outcome = run_incremental(
        warehouse.get(), outputs=[MEMBER_RANKINGS], inputs=MEMBER_RANKING_INPUTS, state=None, context=context,
        compute=lambda run: {MEMBER_RANKINGS: rank_members(run.inputs[FEATURES], members, config=config.to_config())})
    frame = outcome.frames.get(MEMBER_RANKINGS)
    return dg.MaterializeResult(metadata=outcome_metadata(
        context, outcome, MEMBER_RANKINGS, preview=frame.sort("date", "rank", nulls_last=True) if frame is not None
        else None))


@incremental_asset(MEMBER_ROTATION, inputs=MEMBER_ROTATION_INPUTS)
def member_rotation_asset(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                          warehouse: WarehouseResource) -> dg.MaterializeResult:
    """RRG-style rotation of every member against the benchmark and against its own sector, daily and weekly."""
    universe = market_data.universe()
    members = universe.members_frame()

    def compute(run: Run) -> dict[str, pl.LazyFrame]:
        prices = run.inputs[TOTAL_RETURNS]
        rotation = member_rotation(prices, members, benchmark=universe.benchmark.ticker)
        last = prices.select(pl.col("date").max()).collect().item()
        week_ends = week_end_sessions(run.start, last + dt.timedelta(days=1), universe.calendar) if last else []
        return {MEMBER_ROTATION: rotation.filter((pl.col("frequency") == "daily") | pl.col("date").is_in(week_ends))}

    outcome = run_incremental(warehouse.get(), outputs=[MEMBER_ROTATION], inputs=MEMBER_ROTATION_INPUTS, state=None,
                              compute=compute, context=context)
    return dg.MaterializeResult(metadata=outcome_metadata(context, outcome, MEMBER_ROTATION))


MEMBER_ASSETS = [member_rankings, member_rotation_asset]
