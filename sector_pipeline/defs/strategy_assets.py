"""Strategy assets: walk-forward predictions, their out-of-sample skill, allocations, backtest and performance.

Like the signal assets they are incremental (defs/incremental.py): each reads its inputs from the lookback
the pure functions of sector_pipeline/strategy/ declare, continues from its own stored state (the last model,
each book's last decision, equity, running sums), and replaces the dates from the first changed one on
(tables in the DuckDB schema `strategy`). A range computed in one run equals the same dates computed night by
night (sector_pipeline_tests/test_strategy_pipeline.py compares them), and a night reads a bounded number of
rows except on the first session of a month, when the model is refitted on its whole training history.
"""

import datetime as dt

import dagster as dg
import polars as pl

from sector_pipeline.calendar import sessions_before
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
from sector_pipeline.strategy.allocation import ALLOCATION_COLUMNS, weight_violations
from sector_pipeline.strategy.allocation import allocations as build_allocations
from sector_pipeline.strategy.backtest import run_backtest
from sector_pipeline.strategy.config import (
    BOOKS,
    AllocationConfig,
    BacktestConfig,
    ModelConfig,
)
from sector_pipeline.strategy.metrics import latest_performance
from sector_pipeline.strategy.metrics import performance as compute_performance
from sector_pipeline.strategy.model import model_inputs, prediction_history_start, walk_forward
from sector_pipeline.strategy.skill import empty_skill, signal_skill, skill_read_start, skill_summary
from sector_pipeline.warehouse import Warehouse

GROUP = "strategy"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey([GROUP, name])


PredictionSettings = run_config_class(
    ModelConfig, name="PredictionSettings",
    description="Walk-forward model: horizon (also the embargo), retraining period, Ridge penalty, training window.")
AllocationSettings = run_config_class(
    AllocationConfig, name="AllocationSettings", fixed=("momentum_column", "calendar"),
    key_names={"caps": lambda tolerance: f"cap_{tolerance}"},
    description="Seed 000 allocation rule (risk tolerance, rebalance, step, caps, floor) and the momentum book.")
BacktestSettings = run_config_class(
    BacktestConfig, name="BacktestSettings", description="Transaction costs of the backtest, in basis points.")


PREDICTIONS = "strategy.predictions"
MODEL_RUNS = "strategy.model_runs"
SKILL = "strategy.skill"
ALLOCATIONS = "strategy.allocations"
BACKTEST = "strategy.backtest"
PERFORMANCE = "strategy.performance"
FEATURES = "signals.features"
RANKINGS = "signals.sector_rankings"
SCORES = "signals.sentiment_scores"
REGIME = "signals.macro_regime"


def _model_read_start(config: ModelConfig, calendar: str):
    """Inputs of a prediction run: one session before start, or the training history when a period begins."""
    def since(start: dt.date, store: Warehouse) -> dt.date | None:
        last = store.max_date(FEATURES) or start
        return prediction_history_start(start, last + dt.timedelta(days=1), config=config, calendar=calendar)
    return since


def _horizon(store: Warehouse) -> int | None:
    """The horizon of the stored models (skill must measure what the model predicts)."""
    if not store.has_table(MODEL_RUNS):
        return None
    horizons = store.query(f"select distinct horizon_sessions from {MODEL_RUNS}").get_column("horizon_sessions")
    if horizons.len() > 1:
        raise dg.Failure(f"strategy.model_runs holds models of several horizons {sorted(horizons.to_list())}: "
                         "re-materialize strategy/predictions over the whole history with one horizon")
    return int(horizons.item()) if horizons.len() else None


def _skill_read_start(calendar: str):
    def since(start: dt.date, store: Warehouse) -> dt.date | None:
        horizon = _horizon(store) or ModelConfig().horizon
        previous = store.read_rows_before(SKILL, start, start, rows=1, key="signal") if store.has_table(SKILL) \
            else None
        return skill_read_start(start, previous, horizon=horizon, calendar=calendar)
    return since


def _last_decisions(start: dt.date, store: Warehouse) -> dt.date | None:
    """From the oldest of the books' last decisions before start: every book continues from its own."""
    if not store.has_table(ALLOCATIONS):
        return start
    first = store.query(f"select min(last) as d from (select max(date) as last from {ALLOCATIONS} "
                        "where date < $start group by book)", {"start": start}).item()
    return first or start


def _session_before(calendar: str):
    return lambda start, store: sessions_before(start, 1, calendar)


@table_multi_asset(
    table_spec(PREDICTIONS, inputs=[Input(t) for t in (FEATURES, RANKINGS, SCORES, REGIME)],
               kinds={"scikitlearn", "duckdb"},
               description="Walk-forward prediction of each sector's forward relative return vs the benchmark"),
    table_spec(MODEL_RUNS, inputs=[Input(t) for t in (FEATURES, RANKINGS, SCORES, REGIME)],
               kinds={"scikitlearn", "duckdb"},
               description="One row per trained model: training window, embargo, features and coefficients"),
)
def predictions(context: dg.AssetExecutionContext, config: PredictionSettings, market_data: MarketDataResource,
                warehouse: WarehouseResource):
    """Ridge model retrained monthly on data before each month (embargo = horizon), predicting every sector."""
    universe = market_data.universe()
    model_config = config.to_config()
    since = _model_read_start(model_config, universe.calendar)
    inputs = [Input(FEATURES, since=since), Input(RANKINGS, since=since), Input(SCORES, since=since),
              Input(REGIME, since=since)]

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        frame = model_inputs(
            run.inputs[FEATURES], run.inputs[RANKINGS], characteristics=universe.characteristics(),
            sentiment=run.inputs[SCORES].select("date", "dimension", "score"),
            macro=run.inputs[REGIME].select("date", "dimension", "macro_score"), config=model_config)
        result = walk_forward(frame, config=model_config, start=run.start, previous_runs=run.previous)
        return {PREDICTIONS: result.predictions, MODEL_RUNS: result.model_runs}

    outcome = run_incremental(warehouse.get(), outputs=[PREDICTIONS, MODEL_RUNS], inputs=inputs,
                              state=Input(MODEL_RUNS, rows=1, key=None), compute=compute, context=context)
    runs = outcome.frames.get(MODEL_RUNS)
    coefficients = (pl.DataFrame({"feature": runs.item(runs.height - 1, "features"),
                                  "coefficient": runs.item(runs.height - 1, "coefficients")})
                    if runs is not None and runs.height else None)
    frame = outcome.frames.get(PREDICTIONS)
    yield dg.MaterializeResult(asset_key=key("predictions"), metadata=outcome_metadata(
        context, outcome, PREDICTIONS, preview=frame.sort("date", "prediction_rank") if frame is not None else None,
        models_trained=runs.height if runs is not None else 0))
    model_meta = outcome_metadata(context, outcome, MODEL_RUNS,
                                  preview=runs.drop("features", "coefficients") if runs is not None else None)
    if coefficients is not None:
        model_meta["latest_coefficients"] = markdown_table(coefficients, max_rows=40)
    yield dg.MaterializeResult(asset_key=key("model_runs"), metadata=model_meta)


@incremental_asset(SKILL, inputs=[Input(PREDICTIONS), Input(FEATURES), Input(RANKINGS), Input(MODEL_RUNS)])
def skill(context: dg.AssetExecutionContext, market_data: MarketDataResource,
          warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Out-of-sample rank IC and hit rate of the model, 60-session momentum and the composite, dated when known."""
    universe = market_data.universe()
    store = warehouse.get()
    since = _skill_read_start(universe.calendar)
    inputs = [Input(PREDICTIONS, since=since), Input(FEATURES, since=since), Input(RANKINGS, since=since),
              Input(MODEL_RUNS, since=lambda start, store: start)]
    horizon = _horizon(store)

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        if horizon is None:
            return {SKILL: empty_skill()}
        return {SKILL: signal_skill(run.inputs[PREDICTIONS], run.inputs[FEATURES], run.inputs[RANKINGS],
                                    horizon=horizon, sectors=[s.ticker for s in universe.sectors], start=run.start,
                                    previous=run.previous)}

    outcome = run_incremental(store, outputs=[SKILL], inputs=inputs, state=Input(SKILL, rows=1, key="signal"),
                              compute=compute, context=context)
    frame = outcome.frames.get(SKILL)
    extra: dict[str, object] = {"horizon_sessions": horizon or 0}
    if frame is not None and frame.height:
        extra["skill_to_date"] = markdown_table(skill_summary(frame))
    return dg.MaterializeResult(metadata=outcome_metadata(
        context, outcome, SKILL, preview=frame.select(
            "date", "signal_date", "signal", "ic", "hit_rate", "ic_mean", "ic_t_stat", "ic_t_stat_non_overlapping",
            "hit_rate_pooled") if frame is not None else None, **extra))


ALLOCATION_INPUTS = [Input(PREDICTIONS), Input(RANKINGS), Input(FEATURES)]


@incremental_asset(ALLOCATIONS, inputs=ALLOCATION_INPUTS, check_specs=[
    dg.AssetCheckSpec("weights_within_rules", asset=key("allocations"), blocking=True,
                      description="Every decision sums to 1; rule books stay within the floor and the cap")])
def allocations(context: dg.AssetExecutionContext, config: AllocationSettings, market_data: MarketDataResource,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Target weights per rebalance: seed article 000's rule on the model and on the composite, top-3 momentum,
    equal weight."""
    universe = market_data.universe()
    allocation_config = config.to_config(calendar=universe.calendar)

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        return {ALLOCATIONS: build_allocations(run.inputs[PREDICTIONS], run.inputs[RANKINGS], run.inputs[FEATURES],
                                               config=allocation_config, start=run.start, previous=run.previous)}

    outcome = run_incremental(warehouse.get(), outputs=[ALLOCATIONS], inputs=ALLOCATION_INPUTS,
                              state=Input(ALLOCATIONS, since=_last_decisions), compute=compute, context=context)
    frame = outcome.frames.get(ALLOCATIONS, pl.DataFrame(schema={c: pl.Null for c in ALLOCATION_COLUMNS}))
    # each book's latest decision (the momentum book decides at month ends, the others weekly)
    latest = frame.filter(pl.col("date") == pl.col("date").max().over("book")) if frame.height else frame
    metadata = outcome_metadata(context, outcome, ALLOCATIONS)
    if latest.height:
        wide = latest.pivot(on="book", index="ticker", values="weight", aggregate_function=None).sort("ticker")
        metadata["latest_weights"] = markdown_table(wide.select("ticker", *(b for b in BOOKS if b in wide.columns)),
                                                    max_rows=30)
    violations = weight_violations(frame, allocation_config)
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[dg.AssetCheckResult(
            asset_key=key("allocations"), check_name="weights_within_rules", passed=violations.is_empty(),
            metadata={"violations": violations.height, "failing_decisions": markdown_table(violations)})],
    )


@incremental_asset(BACKTEST, inputs=[Input(ALLOCATIONS), Input(FEATURES)])
def backtest(context: dg.AssetExecutionContext, config: BacktestSettings, market_data: MarketDataResource,
             warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily returns, turnover, costs and equity of the four books and the benchmark (trade at t+1 close)."""
    universe = market_data.universe()
    since = _session_before(universe.calendar)
    inputs = [Input(ALLOCATIONS, since=since), Input(FEATURES, since=since)]

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        return {BACKTEST: run_backtest(run.inputs[ALLOCATIONS].collect(),
                                       run.inputs[FEATURES].select("date", "ticker", "return_1d"),
                                       benchmark=universe.benchmark.ticker, config=config.to_config(),
                                       start=run.start, previous=run.previous)}

    store = warehouse.get()
    outcome = run_incremental(store, outputs=[BACKTEST], inputs=inputs,
                              state=Input(BACKTEST, rows=1, key="strategy"), compute=compute, context=context)
    metadata = outcome_metadata(context, outcome, BACKTEST, cost_bps=config.cost_bps)
    if outcome.start is not None and store.has_table(BACKTEST):
        # One picture per run from the curves' week-end points: a few hundred rows, whatever the history.
        weekly = store.query(f"select date, strategy, equity from {BACKTEST} qualify date = max(date) over "
                             "(partition by strategy, yearweek(date)) order by all")
        if weekly.height:
            from sector_pipeline.strategy.plots import equity_curves_png, markdown_image  # matplotlib: lazily

            metadata["equity_curves"] = dg.MetadataValue.md(markdown_image(equity_curves_png(weekly)))
    return dg.MaterializeResult(metadata=metadata)


@incremental_asset(PERFORMANCE, inputs=[Input(BACKTEST)])
def performance(context: dg.AssetExecutionContext, market_data: MarketDataResource,
                warehouse: WarehouseResource) -> dg.MaterializeResult:
    """CAGR, volatility, Sharpe, Sortino, max drawdown, turnover and hit rate of each strategy up to each date."""
    inputs = [Input(BACKTEST, since=_session_before(market_data.universe().calendar))]

    def compute(run: Run) -> dict[str, pl.DataFrame]:
        return {PERFORMANCE: compute_performance(run.inputs[BACKTEST].collect(), start=run.start,
                                                 previous=run.previous)}

    outcome = run_incremental(warehouse.get(), outputs=[PERFORMANCE], inputs=inputs,
                              state=Input(PERFORMANCE, rows=1, key="strategy"), compute=compute, context=context)
    frame = outcome.frames.get(PERFORMANCE)
    metadata = outcome_metadata(context, outcome, PERFORMANCE)
    if frame is not None and frame.height:
        metadata["metrics_to_date"] = markdown_table(latest_performance(frame))
    return dg.MaterializeResult(metadata=metadata)


STRATEGY_ASSETS = [predictions, skill, allocations, backtest, performance]
