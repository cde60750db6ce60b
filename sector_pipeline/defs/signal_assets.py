"""Signal assets: features, rankings, sentiment, alerts, macro regime, Sector Rotation Index, relative rotation.

Each reads the stored history up to the end of its window (a few hundred thousand rows at most), calls one
pure function, and replaces only its window: values depend on past data only, so a range computed in one
run equals the same dates computed one by one.
"""

import datetime as dt
from typing import Optional

import dagster as dg
import polars as pl

from sector_pipeline.calendar import week_end_sessions
from sector_pipeline.defs.history import (
    read_history,
    summary_metadata,
    window_asset,
    write_windows,
)
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import (
    partition_window,
    single_run,
    trading_day_partitions,
)
from sector_pipeline.defs.resources import MarketDataResource, WarehouseResource
from sector_pipeline.notify import post_alerts
from sector_pipeline.signals import alerts as alerts_mod
from sector_pipeline.signals.config import AlertConfig, RankingConfig, SentimentConfig
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.rotation import relative_rotation
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores
from sector_pipeline.signals.sri import macro_regime, sector_rotation_index

GROUP = "signals"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


class RankingWeights(dg.Config):
    """Weights of the 5/20/60-session relative performance z-scores in the composite score."""

    weight_5d: float = 0.25
    weight_20d: float = 0.35
    weight_60d: float = 0.40

    def to_config(self) -> RankingConfig:
        return RankingConfig(weights={5: self.weight_5d, 20: self.weight_20d, 60: self.weight_60d})


class AlertThresholds(dg.Config):
    """Thresholds of the three alert tiers (seed 004 defaults)."""

    extreme: float = 0.6
    flight_to_safety: float = -0.6
    regime_change: float = 0.4
    regime_change_sessions: int = 20
    velocity_percentile: float = 0.9

    def to_config(self) -> AlertConfig:
        return AlertConfig(extreme=self.extreme, flight_to_safety=self.flight_to_safety,
                           regime_change=self.regime_change, regime_change_sessions=self.regime_change_sessions,
                           velocity_percentile=self.velocity_percentile)


class AlertWebhookResource(dg.ConfigurableResource):
    """Optional webhook that receives new alerts as a JSON POST; no URL, no POST."""

    url: Optional[str] = None
    timeout_seconds: float = 10.0
    max_age_days: int = 5
    """Only alerts dated within this many days of today are sent, so a history backfill does not flood the hook."""


def _result(frame: pl.DataFrame, **extra: object) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=summary_metadata(frame, **extra))


def _asset(name: str, deps: list[dg.AssetKey], **kwargs):
    return window_asset(GROUP, name, deps, **kwargs)


@_asset("features", [dg.AssetKey(["staging", "stg_prices"])])
def features(context: dg.AssetExecutionContext, market_data: MarketDataResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Per ticker and date: returns, relative strength vs the benchmark, moving averages, RSI, volatility, volume."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    history = read_history(store, "staging.stg_prices", end)
    frames = write_windows(store, {"signals.features": compute_features(history, benchmark=universe.benchmark.ticker)},
                    start, end)
    return _result(frames["signals.features"].select(
        "date", "ticker", "return_5d", "return_20d", "return_60d", "relative_strength_change_20d", "rsi_14",
        "realized_vol_20d", "is_warming_up"))


@_asset("sector_rankings", [key("features")])
def sector_rankings(context: dg.AssetExecutionContext, config: RankingWeights, market_data: MarketDataResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Composite score of 5/20/60-session relative performance and its rank among sectors with enough history."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    ranked = rank_sectors(read_history(store, "signals.features", end), sectors=[s.ticker for s in universe.sectors],
                          config=config.to_config())
    frame = write_windows(store, {"signals.sector_rankings": ranked}, start, end)["signals.sector_rankings"]
    return _result(frame.sort("date", "rank", nulls_last=True))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key("sentiment_scores"), deps=[key("sector_rankings")], group_name=GROUP,
                     description="Economic cycle, rates, inflation and risk appetite in [-1, +1] with their reading",
                     kinds={"polars", "duckdb"}, metadata={"dagster/table_name": "signals.sentiment_scores"}),
        dg.AssetSpec(key("sentiment_contributions"), deps=[key("sector_rankings")], group_name=GROUP,
                     description="Each leading and lagging sector's signed contribution to each sentiment score",
                     kinds={"polars", "duckdb"}, metadata={"dagster/table_name": "signals.sentiment_contributions"}),
    ],
    partitions_def=trading_day_partitions,
    backfill_policy=single_run,
)
def sentiment(context: dg.AssetExecutionContext, market_data: MarketDataResource, warehouse: WarehouseResource):
    """The four-dimension sentiment indicator of seed 004 and the sectors behind each score."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    contributions = sentiment_contributions(read_history(store, "signals.sector_rankings", end),
                                            universe.characteristics())
    scores = sentiment_scores(contributions, tickers=[s.ticker for s in universe.sectors],
                              config=SentimentConfig())
    frames = write_windows(store, {"signals.sentiment_scores": scores, "signals.sentiment_contributions": contributions},
                    start, end)
    for name in ("sentiment_scores", "sentiment_contributions"):
        result = _result(frames[f"signals.{name}"])
        yield dg.MaterializeResult(asset_key=key(name), metadata=result.metadata)


@_asset("alerts", [key("sentiment_scores"), key("sector_rankings")])
def alerts(context: dg.AssetExecutionContext, config: AlertThresholds, market_data: MarketDataResource,
           warehouse: WarehouseResource, alert_webhook: AlertWebhookResource) -> dg.MaterializeResult:
    """CRITICAL / HIGH / MEDIUM alerts raised on the day their condition starts; new ones go to the webhook."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    found = alerts_mod.detect_alerts(read_history(store, "signals.sentiment_scores", end),
                                     read_history(store, "signals.sector_rankings", end),
                                     universe.characteristics(), config=config.to_config())
    frame = write_windows(store, {"signals.alerts": found}, start, end)["signals.alerts"]
    posted = 0
    if alert_webhook.url:
        recent = frame.filter(pl.col("date") >= dt.date.today() - dt.timedelta(days=alert_webhook.max_age_days))
        if recent.height:
            post_alerts(alert_webhook.url, recent, source=market_data.source,
                        timeout_seconds=alert_webhook.timeout_seconds)
            posted = recent.height
    counts = frame.group_by("tier").len().sort("tier")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height,
        "by_tier": markdown_table(counts),
        "alerts": markdown_table(frame.sort("date", descending=True), max_rows=30),
        "sent_to_webhook": posted,
    })


@_asset("macro_regime", [dg.AssetKey(["intermediate", "int_macro_daily"])])
def macro_regime_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The macro backdrop mapped to the four sentiment dimensions, each in [-1, +1], from market-implied data."""
    start, end = partition_window(context)
    store = warehouse.get()
    regime = macro_regime(read_history(store, "intermediate.int_macro_daily", end))
    return _result(write_windows(store, {"signals.macro_regime": regime}, start, end)["signals.macro_regime"])


@_asset("sector_rotation_index", [key("features"), key("sector_rankings"), key("macro_regime")])
def sector_rotation_index_asset(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                                warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Sector Rotation Index: economic, performance, sentiment and technical scores (0-100 each), total and rank."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    index = sector_rotation_index(read_history(store, "signals.features", end),
                                  read_history(store, "signals.sector_rankings", end),
                                  read_history(store, "signals.macro_regime", end), universe.characteristics())
    frame = write_windows(store, {"signals.sector_rotation_index": index}, start, end)["signals.sector_rotation_index"]
    return _result(frame.sort("date", "sri_rank", nulls_last=True))


@_asset("relative_rotation", [dg.AssetKey(["staging", "stg_prices"])])
def relative_rotation_asset(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                            warehouse: WarehouseResource) -> dg.MaterializeResult:
    """RRG-style RS-Ratio, RS-Momentum, quadrant, velocity and heading of each sector, daily and weekly."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    rotation = relative_rotation(read_history(store, "staging.stg_prices", end), benchmark=universe.benchmark.ticker)
    # A weekly row dated before its week's last session is provisional (it moves when the week goes on):
    # storing it would leave a stale row behind after the next nightly run. Keep completed weeks only.
    week_ends = week_end_sessions(start, end, universe.calendar)
    rotation = rotation.filter((pl.col("frequency") == "daily") | pl.col("date").is_in(week_ends))
    return _result(write_windows(store, {"signals.relative_rotation": rotation}, start, end)["signals.relative_rotation"])


SIGNAL_ASSETS = [features, sector_rankings, sentiment, alerts, macro_regime_asset, sector_rotation_index_asset,
                 relative_rotation_asset]
