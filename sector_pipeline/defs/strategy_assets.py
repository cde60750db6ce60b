"""Strategy assets: walk-forward predictions, their out-of-sample skill, allocations, backtest and performance.

Like the signal assets, each reads the stored history of its inputs up to the end of its window, calls the
pure functions of sector_pipeline/strategy/, and replaces only its window (tables in the DuckDB schema
`strategy`). Every row depends on rows dated up to its own date only, so a range computed in one run equals
the same dates computed night by night (sector_pipeline_tests/test_strategy_pipeline.py compares them).

Large metadata (the equity plot) is attached to the last partition of the window only: Dagster copies a
materialization's metadata into the event of every partition of the range, which for a 25-year backfill
would store the picture 7,000 times.
"""

import datetime as dt
from typing import Optional

import dagster as dg
import polars as pl

from sector_pipeline.defs.history import (
    BEGINNING,
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
from sector_pipeline.strategy.allocation import allocations as build_allocations
from sector_pipeline.strategy.allocation import weight_violations
from sector_pipeline.strategy.backtest import run_backtest
from sector_pipeline.strategy.config import (
    BOOKS,
    MODEL_FEATURES,
    AllocationConfig,
    BacktestConfig,
    ModelConfig,
)
from sector_pipeline.strategy.metrics import latest_performance
from sector_pipeline.strategy.metrics import performance as compute_performance
from sector_pipeline.strategy.model import empty_predictions, model_inputs, walk_forward
from sector_pipeline.strategy.plots import equity_curves_png, markdown_image
from sector_pipeline.strategy.skill import empty_skill, signal_skill, skill_summary
from sector_pipeline.warehouse import Warehouse

GROUP = "strategy"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


def signal_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["signals", name])


class PredictionSettings(dg.Config):
    """Walk-forward model: horizon (also the embargo), retraining period, Ridge penalty, training window."""

    horizon_sessions: int = 20
    retrain: str = "monthly"
    ridge_penalty: float = 0.1
    min_training_dates: int = 252
    training_dates: Optional[int] = None
    features: list[str] = list(MODEL_FEATURES)

    def to_config(self) -> ModelConfig:
        return ModelConfig(horizon=self.horizon_sessions, retrain=self.retrain, ridge_penalty=self.ridge_penalty,
                           min_training_dates=self.min_training_dates, training_dates=self.training_dates,
                           features=tuple(self.features))


class AllocationSettings(dg.Config):
    """Seed 000 allocation rule (risk tolerance, rebalance frequency, step, cap, floor) and the momentum book."""

    risk_tolerance: str = "medium"
    rebalance: str = "weekly"
    step: float = 0.05
    floor: float = 0.01
    cap_low: float = 0.20
    cap_medium: float = 0.20
    cap_high: float = 0.30
    middle_decay: float = 0.025
    momentum_top_n: int = 3
    momentum_rebalance: str = "monthly"

    def to_config(self, calendar: str) -> AllocationConfig:
        return AllocationConfig(
            risk_tolerance=self.risk_tolerance, rebalance=self.rebalance, step=self.step, floor=self.floor,
            caps={"low": self.cap_low, "medium": self.cap_medium, "high": self.cap_high},
            middle_decay=self.middle_decay, momentum_top_n=self.momentum_top_n,
            momentum_rebalance=self.momentum_rebalance, calendar=calendar)


class BacktestSettings(dg.Config):
    """Transaction costs of the backtest, in basis points of turnover."""

    cost_bps: float = 5.0

    def to_config(self) -> BacktestConfig:
        return BacktestConfig(cost_bps=self.cost_bps)


# Schemas of the inputs that may not exist yet (an upstream asset never materialized reads as no rows).
_SENTIMENT_SCHEMA = {"date": pl.Date, "dimension": pl.String, "score": pl.Float64}
_MACRO_SCHEMA = {"date": pl.Date, "dimension": pl.String, "macro_score": pl.Float64}
_PREDICTIONS_SCHEMA = dict(empty_predictions().schema)


def _table(name: str) -> dict[str, object]:
    return {"dagster/table_name": f"{GROUP}.{name}"}


def _last_partition(context: dg.AssetExecutionContext) -> str:
    return context.partition_keys[-1]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key("predictions"), group_name=GROUP, kinds={"scikitlearn", "duckdb"},
                     deps=[signal_key(n) for n in ("features", "sector_rankings", "sentiment_scores", "macro_regime")],
                     description="Walk-forward prediction of each sector's forward relative return vs the benchmark",
                     metadata=_table("predictions")),
        dg.AssetSpec(key("model_runs"), group_name=GROUP, kinds={"scikitlearn", "duckdb"},
                     deps=[signal_key(n) for n in ("features", "sector_rankings", "sentiment_scores", "macro_regime")],
                     description="One row per trained model: training window, embargo, features and coefficients",
                     metadata=_table("model_runs")),
    ],
    partitions_def=trading_day_partitions,
    backfill_policy=single_run,
)
def predictions(context: dg.AssetExecutionContext, config: PredictionSettings, market_data: MarketDataResource,
                warehouse: WarehouseResource):
    """Ridge model retrained monthly on data before each month (embargo = horizon), predicting every sector."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    model_config = config.to_config()
    inputs = model_inputs(
        read_history(store, "signals.features", end), read_history(store, "signals.sector_rankings", end),
        characteristics=universe.characteristics(),
        sentiment=read_history(store, "signals.sentiment_scores", end, ("date", "dimension", "score"), _SENTIMENT_SCHEMA),
        macro=read_history(store, "signals.macro_regime", end, ("date", "dimension", "macro_score"), _MACRO_SCHEMA),
        config=model_config)
    result = walk_forward(inputs, config=model_config, start=start)
    frames = write_windows(store, {"strategy.predictions": result.predictions.lazy(),
                            "strategy.model_runs": result.model_runs.lazy()}, start, end)
    runs = result.model_runs
    latest_model = runs.tail(1)
    coefficients = (pl.DataFrame({"feature": latest_model.item(0, "features"),
                                  "coefficient": latest_model.item(0, "coefficients")})
                    if runs.height else pl.DataFrame())
    yield dg.MaterializeResult(asset_key=key("predictions"), metadata=summary_metadata(
        frames["strategy.predictions"].sort("date", "prediction_rank"),
        models_used=runs.height))
    yield dg.MaterializeResult(asset_key=key("model_runs"), metadata={
        "dagster/row_count": frames["strategy.model_runs"].height,
        "latest_model": markdown_table(latest_model.drop("features", "coefficients")),
        "latest_coefficients": markdown_table(coefficients, max_rows=40),
    })


def _asset(name: str, deps: list[dg.AssetKey], **kwargs):
    return window_asset(GROUP, name, deps, **kwargs)


def _horizon(store: Warehouse, end: dt.date) -> int | None:
    """The horizon of the stored models (skill must measure what the model predicts)."""
    runs = store.read_window("strategy.model_runs", BEGINNING, end)
    if runs.is_empty():
        return None
    horizons = runs.get_column("horizon_sessions").unique().to_list()
    if len(horizons) > 1:
        raise dg.Failure(f"strategy.model_runs holds models of several horizons {sorted(horizons)}: "
                         "re-materialize strategy/predictions over the whole history with one horizon")
    return int(horizons[0])


@_asset("skill", [key("predictions"), signal_key("features"), signal_key("sector_rankings")])
def skill(context: dg.AssetExecutionContext, market_data: MarketDataResource,
          warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Out-of-sample rank IC and hit rate of the model, 60-session momentum and the composite, dated when known."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    horizon = _horizon(store, end)
    if horizon is None:
        rows = empty_skill()
    else:
        rows = signal_skill(read_history(store, "strategy.predictions", end), read_history(store, "signals.features", end),
                            read_history(store, "signals.sector_rankings", end), horizon=horizon,
                            sectors=[s.ticker for s in universe.sectors])
    frame = write_windows(store, {"strategy.skill": rows.lazy()}, start, end)["strategy.skill"]
    return dg.MaterializeResult(metadata={
        **summary_metadata(frame.select("date", "signal_date", "signal", "ic", "hit_rate", "ic_mean", "ic_t_stat",
                                "ic_t_stat_non_overlapping", "hit_rate_pooled")),
        "horizon_sessions": horizon or 0,
        "skill_to_date": markdown_table(skill_summary(rows, as_of=end - dt.timedelta(days=1))),
    })


@_asset("allocations", [key("predictions"), signal_key("sector_rankings"), signal_key("features")], check_specs=[
    dg.AssetCheckSpec("weights_within_rules", asset=key("allocations"), blocking=True,
                      description="Every decision sums to 1; rule books stay within the floor and the cap")])
def allocations(context: dg.AssetExecutionContext, config: AllocationSettings, market_data: MarketDataResource,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Target weights per rebalance: seed 000's rule on the model and on the composite, top-3 momentum, equal weight."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    allocation_config = config.to_config(universe.calendar)
    weights = build_allocations(read_history(store, "strategy.predictions", end, schema=_PREDICTIONS_SCHEMA),
                                read_history(store, "signals.sector_rankings", end), read_history(store, "signals.features", end),
                                config=allocation_config)
    frame = write_windows(store, {"strategy.allocations": weights.lazy()}, start, end)["strategy.allocations"]
    # each book's latest decision (the momentum book decides at month ends, the others weekly)
    latest = frame.filter(pl.col("date") == pl.col("date").max().over("book")) if frame.height else frame
    if latest.height:
        wide = latest.pivot(on="book", index="ticker", values="weight", aggregate_function=None).sort("ticker")
        wide = wide.select("ticker", *(b for b in BOOKS if b in wide.columns))
    else:
        wide = latest
    violations = weight_violations(frame, allocation_config)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "rebalances": frame.get_column("date").n_unique() if frame.height else 0,
            "latest_decisions": markdown_table(latest.group_by("book").agg(pl.col("date").max()).sort("book")
                                               if latest.height else latest),
            "latest_weights": markdown_table(wide, max_rows=30),
        },
        check_results=[dg.AssetCheckResult(
            asset_key=key("allocations"), check_name="weights_within_rules", passed=violations.is_empty(),
            metadata={"violations": violations.height, "failing_decisions": markdown_table(violations)})],
    )


@_asset("backtest", [key("allocations"), signal_key("features")])
def backtest(context: dg.AssetExecutionContext, config: BacktestSettings, market_data: MarketDataResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily returns, turnover, costs and equity of the four books and the benchmark (trade at t+1 close)."""
    start, end = partition_window(context)
    universe = market_data.universe()
    store = warehouse.get()
    rows = run_backtest(store.read_window("strategy.allocations", BEGINNING, end),
                        read_history(store, "signals.features", end, ("date", "ticker", "return_1d")),
                        benchmark=universe.benchmark.ticker, config=config.to_config())
    frame = write_windows(store, {"strategy.backtest": rows.lazy()}, start, end)["strategy.backtest"]
    if rows.height:
        context.add_asset_metadata({"equity_curves": dg.MetadataValue.md(markdown_image(equity_curves_png(rows)))},
                                   partition_key=_last_partition(context))
    return dg.MaterializeResult(metadata={**summary_metadata(frame), "cost_bps": config.cost_bps})


@_asset("performance", [key("backtest")])
def performance(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """CAGR, volatility, Sharpe, Sortino, max drawdown, turnover and hit rate of each strategy up to each date."""
    start, end = partition_window(context)
    store = warehouse.get()
    history = store.read_window("strategy.backtest", BEGINNING, end)
    rows = compute_performance(history)
    frame = write_windows(store, {"strategy.performance": rows.lazy()}, start, end)["strategy.performance"]
    if history.height:
        context.add_asset_metadata({"equity_curves": dg.MetadataValue.md(markdown_image(equity_curves_png(history)))},
                                   partition_key=_last_partition(context))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": frame.height,
        "latest_date": str(frame.get_column("date").max()) if frame.height else "none",
        "metrics_to_date": markdown_table(latest_performance(rows) if rows.height else rows),
    })


STRATEGY_ASSETS = [predictions, skill, allocations, backtest, performance]
