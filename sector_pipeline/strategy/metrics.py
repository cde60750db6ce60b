"""Performance of each backtested strategy from the start up to every session (strategy.performance).

With r_1..r_n the net daily returns after the start session (n = `days`), E_n the equity (E_0 = 1 at the
start), Y = trading_days_per_year (252), rf = 0:
  total_return           = E_n - 1
  cagr                   = E_n ** (Y / n) - 1                     (years counted in sessions: n / 252)
  annualised_volatility  = std(r, ddof 1) * sqrt(Y)
  sharpe                 = mean(r) / std(r, ddof 1) * sqrt(Y)
  sortino                = mean(r) * Y / (sqrt(mean(min(r, 0) ** 2)) * sqrt(Y))   (target 0, empyrical's form)
  max_drawdown           = min over k <= n of E_k / max(E_0..E_k) - 1   (<= 0; the start counts as a peak)
  average_annual_turnover = sum of turnover / (n / Y)             (1.0 = the whole book traded once a year)
  total_cost             = sum of cost (fractions of equity)
  hit_rate_vs_benchmark  = share of the n sessions with r_k > the benchmark's return that session
                           (strictly; NULL for the benchmark itself)
A row dated d uses the sessions up to d only, so every row is partition-consistent; running sums are
cumulative sums from the start, the same sequence of operations in every run.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from sector_pipeline.strategy.config import BENCHMARK, STRATEGIES, BacktestConfig

PERFORMANCE_COLUMNS = ("date", "strategy", "days", "total_return", "cagr", "annualised_volatility", "sharpe",
                       "sortino", "max_drawdown", "average_annual_turnover", "total_cost", "hit_rate_vs_benchmark")


def _running(frame: pl.DataFrame, year: int) -> dict[str, np.ndarray]:
    r = frame.get_column("net_return").to_numpy()[1:].astype(float)
    equity = frame.get_column("equity").to_numpy()[1:].astype(float)
    turnover = frame.get_column("turnover").to_numpy().astype(float)
    cost = frame.get_column("cost").to_numpy().astype(float)
    bench = frame.get_column("benchmark_return").to_numpy()[1:].astype(float)
    n = np.arange(1, len(r) + 1, dtype=float)
    s1 = np.cumsum(r)
    s2 = np.cumsum(r * r)
    mean = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(n > 1, np.sqrt(np.maximum(s2 - s1 * s1 / n, 0.0) / np.maximum(n - 1, 1)), np.nan)
        downside = np.sqrt(np.cumsum(np.minimum(r, 0.0) ** 2) / n)
        sharpe = np.where(std > 0, mean / std * math.sqrt(year), np.nan)
        sortino = np.where(downside > 0, mean * year / (downside * math.sqrt(year)), np.nan)
        cagr = equity ** (year / n) - 1.0
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    max_drawdown = np.minimum.accumulate(equity / peak - 1.0)
    beats = np.cumsum((r > bench).astype(float)) / n
    return {
        "days": n, "total_return": equity - 1.0, "cagr": cagr, "annualised_volatility": std * math.sqrt(year),
        "sharpe": sharpe, "sortino": sortino, "max_drawdown": np.minimum(max_drawdown, 0.0),
        "average_annual_turnover": np.cumsum(turnover)[1:] / (n / year), "total_cost": np.cumsum(cost)[1:],
        "hit_rate_vs_benchmark": beats,
    }


def performance(backtest: pl.DataFrame, *, config: BacktestConfig = BacktestConfig()) -> pl.DataFrame:
    """Rows PERFORMANCE_COLUMNS per (session after the start, strategy) from strategy.backtest rows."""
    schema = {"date": pl.Date, "strategy": pl.String, "days": pl.Int32,
              **{c: pl.Float64 for c in PERFORMANCE_COLUMNS[3:]}}
    parts = []
    if backtest.is_empty():
        return pl.DataFrame(schema=schema)
    for name in STRATEGIES:
        frame = backtest.filter(pl.col("strategy") == name).sort("date")
        if frame.height < 2:
            continue
        values = _running(frame, config.trading_days_per_year)
        if name == BENCHMARK:
            values["hit_rate_vs_benchmark"] = np.full(frame.height - 1, np.nan)
        parts.append(pl.DataFrame({"date": frame.get_column("date")[1:], "strategy": name, **values},
                                  nan_to_null=True).cast(schema))  # type: ignore[arg-type]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).select(PERFORMANCE_COLUMNS).sort("date", "strategy")


def latest_performance(performance_rows: pl.DataFrame) -> pl.DataFrame:
    """The last row of each strategy, in STRATEGIES order (the metrics over the whole backtest)."""
    order = {name: i for i, name in enumerate(STRATEGIES)}
    return (performance_rows.sort("date").group_by("strategy", maintain_order=True).last()
            .sort(pl.col("strategy").replace_strict(order, default=len(order))))
