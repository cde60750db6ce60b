"""Out-of-sample skill of the walk-forward model beside momentum and the composite, and the five backtests.

    python benchmarks/strategy_evaluation.py              # synthetic seeds 42 and 7, plus real data if present
    python benchmarks/strategy_evaluation.py 1 2 3        # other synthetic seeds
    python benchmarks/strategy_evaluation.py --noise 20   # also: 20 random-walk markets (calibrates the t-stats)

Runs the pure functions only (no Dagster, no DuckDB): prices -> features -> rankings -> sentiment (+ macro
regime) -> model inputs -> walk-forward predictions -> skill; allocations -> backtest -> performance, with
the defaults of sector_pipeline/strategy/config.py (horizon 20, monthly retraining, weekly rebalancing,
medium risk tolerance, 5 bps).

- synthetic: the SyntheticSource market 1999-01-04 .. 2026-11-20 (planted regimes: momentum persists).
- real: /work/shared/realdata (or $SECTOR_PIPELINE_REALDATA), prices.csv and market_proxies.csv read through
  the csv source, checked for completeness and validated with the pipeline's rules (ingest/), 1999-01-04 ..
  2019-12-31; macro series carried forward at most 5 sessions over gaps, as intermediate.int_macro_daily does.
- --noise N: N markets of i.i.d. sector returns (nothing predictable), 4,000 sessions each: the share of
  |t| > 2 should be ~5 % for an honest t-stat.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

from sector_pipeline.calendar import sessions
from sector_pipeline.ingest.load import Window, fetch_macro, fetch_prices
from sector_pipeline.ingest.validation import validate_macro, validate_prices
from sector_pipeline.signals.features import compute_features
from sector_pipeline.signals.rankings import rank_sectors
from sector_pipeline.signals.sentiment import sentiment_contributions, sentiment_scores
from sector_pipeline.signals.sri import macro_regime
from sector_pipeline.sources.csv_source import CsvDirectorySource
from sector_pipeline.sources.synthetic import SyntheticSource
from sector_pipeline.strategy.allocation import allocations
from sector_pipeline.strategy.backtest import run_backtest
from sector_pipeline.strategy.config import ModelConfig
from sector_pipeline.strategy.metrics import latest_performance, performance
from sector_pipeline.strategy.model import model_inputs, walk_forward
from sector_pipeline.strategy.skill import signal_skill, skill_summary
from sector_pipeline.universe import Universe, load_universe

REALDATA = Path(os.environ.get("SECTOR_PIPELINE_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"))
SYNTHETIC = (dt.date(1999, 1, 4), dt.date(2026, 11, 21))
REAL = (dt.date(1999, 1, 4), dt.date(2020, 1, 1))


def _stg_prices(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.select("date", "ticker", pl.col("close").alias("close_price"),
                      pl.col("adj_close").alias("total_return_price"), pl.col("volume").alias("volume_shares"),
                      "source")


def _macro_daily(macro: pl.DataFrame, days: list[dt.date]) -> pl.DataFrame:
    """Each series on every session, carried forward at most 5 sessions (intermediate.int_macro_daily)."""
    grid = pl.DataFrame({"date": days}, schema={"date": pl.Date}).join(macro.select("series").unique(), how="cross")
    return (grid.join(macro.select("date", "series", pl.col("value").alias("series_value")), on=["date", "series"],
                      how="left")
            .sort("series", "date")
            .with_columns(pl.col("series_value").fill_null(strategy="forward", limit=5).over("series"))
            .drop_nulls("series_value"))


def synthetic_market(universe: Universe, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    source = SyntheticSource(universe, seed=seed)
    prices = _stg_prices(source.fetch_prices(universe.instruments, *SYNTHETIC))
    macro = source.fetch_macro(universe.macro, *SYNTHETIC).select("date", "series", pl.col("value").alias(
        "series_value"))
    return prices, macro


def real_market(universe: Universe) -> tuple[pl.DataFrame, pl.DataFrame]:
    window = Window.of(*REAL)
    source = CsvDirectorySource(REALDATA)
    raw = fetch_prices(source, universe, window)   # raises if a session is missing
    valid, quarantined = validate_prices(raw, pl.DataFrame(schema={"ticker": pl.String(), "close": pl.Float64()}),
                                         max_abs_move=0.25)
    if quarantined.height:
        raise SystemExit(f"real prices: {quarantined.height} rows quarantined:\n{quarantined.head()}")
    macro_raw = fetch_macro(source, universe, window)
    macro_valid, _ = validate_macro(macro_raw, universe.macro)
    prices = _stg_prices(valid.with_columns(pl.lit("csv").alias("source")))
    return prices, _macro_daily(macro_valid, list(window.sessions))


def evaluate(prices: pl.DataFrame, macro: pl.DataFrame, universe: Universe) -> dict[str, pl.DataFrame]:
    sectors = [s.ticker for s in universe.sectors]
    characteristics = universe.characteristics()
    features = compute_features(prices.lazy(), benchmark=universe.benchmark.ticker).collect()
    rankings = rank_sectors(features.lazy(), sectors=sectors).collect()
    sentiment = sentiment_scores(sentiment_contributions(rankings.lazy(), characteristics), tickers=sectors)
    regime = macro_regime(macro.lazy())
    config = ModelConfig()
    inputs = model_inputs(features.lazy(), rankings.lazy(), characteristics=characteristics, sentiment=sentiment,
                          macro=regime, config=config)
    model = walk_forward(inputs, config=config)
    skill = signal_skill(model.predictions.lazy(), features.lazy(), rankings.lazy(), horizon=config.horizon,
                         sectors=sectors)
    weights = allocations(model.predictions.lazy(), rankings.lazy(), features.lazy())
    backtest = run_backtest(weights, features.lazy(), benchmark=universe.benchmark.ticker)
    return {"skill": skill_summary(skill), "performance": latest_performance(performance(backtest)),
            "model_runs": model.model_runs, "backtest": backtest}


def report(name: str, result: dict[str, pl.DataFrame], seconds: float) -> None:
    skill, perf, runs = result["skill"], result["performance"], result["model_runs"]
    backtest = result["backtest"]
    start = backtest.get_column("date").min()
    end = backtest.get_column("date").max()
    print(f"\n## {name}  (computed in {seconds:.1f} s; {runs.height} monthly models, first trained "
          f"{runs.get_column('date').min()}; backtest {start} .. {end})")
    print("\n| signal | signal dates | IC mean | t (overlapping, daily) | non-overlapping dates | IC mean (non-ovl.) "
          "| t (non-overlapping) | hit rate |")
    print("|---|---|---|---|---|---|---|---|")
    for r in skill.iter_rows(named=True):
        print(f"| {r['signal']} | {r['dates_evaluated']} | {r['ic_mean']:.3f} | {r['ic_t_stat']:.1f} | "
              f"{r['non_overlapping_dates']} | {r['ic_mean_non_overlapping']:.3f} | "
              f"{r['ic_t_stat_non_overlapping']:.2f} | {r['hit_rate_pooled']:.3f} |")
    print("\n| strategy | CAGR | volatility | Sharpe | Sortino | max drawdown | turnover / yr | total cost "
          "| days beating SPY |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in perf.iter_rows(named=True):
        hit = "-" if r["hit_rate_vs_benchmark"] is None else f"{r['hit_rate_vs_benchmark']:.3f}"
        print(f"| {r['strategy']} | {r['cagr']:.2%} | {r['annualised_volatility']:.2%} | {r['sharpe']:.2f} | "
              f"{r['sortino']:.2f} | {r['max_drawdown']:.2%} | {r['average_annual_turnover']:.2f} | "
              f"{r['total_cost']:.2%} | {hit} |")
    last = runs.tail(1).row(0, named=True)
    coefficients = ", ".join(f"{f} {c:+.4f}" for f, c in zip(last["features"], last["coefficients"]))
    print(f"\nlast model ({last['period']}, {last['training_samples']} samples, in-sample R2 "
          f"{last['train_r2']:.3f}): {coefficients}")


def noise_calibration(universe: Universe, count: int) -> None:
    from sector_pipeline_tests.strategy.markets import random_walk_prices, signal_tables

    characteristics = universe.characteristics().filter(pl.col("ticker") != "XLC")
    sectors = characteristics.get_column("ticker").to_list()
    t_daily: dict[str, list[float]] = {}
    t_sparse: dict[str, list[float]] = {}
    config = ModelConfig()
    for seed in range(count):
        tables = signal_tables(random_walk_prices(seed, sectors, 4000), characteristics)
        inputs = model_inputs(tables.features.lazy(), tables.rankings.lazy(), characteristics=characteristics,
                              sentiment=tables.sentiment.lazy(), config=config)
        model = walk_forward(inputs, config=config)
        summary = skill_summary(signal_skill(model.predictions.lazy(), tables.features.lazy(),
                                             tables.rankings.lazy(), horizon=config.horizon, sectors=sectors))
        for r in summary.iter_rows(named=True):
            t_daily.setdefault(r["signal"], []).append(r["ic_t_stat"])
            t_sparse.setdefault(r["signal"], []).append(r["ic_t_stat_non_overlapping"])
    print(f"\n## random-walk markets (seeds 0..{count - 1}, 4,000 sessions, nothing predictable)")
    print("\n| signal | share |t| > 2, overlapping | share |t| > 2, non-overlapping | std of t, overlapping "
          "| std of t, non-overlapping |")
    print("|---|---|---|---|---|")
    for signal in t_daily:
        daily, sparse = np.array(t_daily[signal]), np.array(t_sparse[signal])
        print(f"| {signal} | {np.mean(np.abs(daily) > 2):.2f} | {np.mean(np.abs(sparse) > 2):.2f} | "
              f"{daily.std(ddof=1):.2f} | {sparse.std(ddof=1):.2f} |")


def main() -> int:
    args = sys.argv[1:]
    noise = 0
    if "--noise" in args:
        at = args.index("--noise")
        noise = int(args[at + 1])
        args = args[:at] + args[at + 2:]
    seeds = [int(a) for a in args] or [42, 7]
    universe = load_universe()
    print(f"# strategy evaluation, computed {dt.date.today()}; sessions counted on the XNYS calendar "
          f"({len(sessions(*SYNTHETIC))} synthetic, {len(sessions(*REAL))} real)")
    for seed in seeds:
        started = time.perf_counter()
        prices, macro = synthetic_market(universe, seed)
        result = evaluate(prices, macro, universe)
        report(f"synthetic seed {seed}, {SYNTHETIC[0]} .. {SYNTHETIC[1] - dt.timedelta(days=1)}", result,
               time.perf_counter() - started)
    if (REALDATA / "prices.csv").exists():
        started = time.perf_counter()
        prices, macro = real_market(universe)
        result = evaluate(prices, macro, universe)
        report(f"real data ({REALDATA}), {REAL[0]} .. 2019-12-31", result, time.perf_counter() - started)
    else:
        print(f"\n(real data folder {REALDATA} absent: skipped)")
    if noise:
        noise_calibration(universe, noise)
    return 0


if __name__ == "__main__":
    sys.exit(main())
