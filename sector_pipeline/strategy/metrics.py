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

Continuation (`start=`, `previous=`). Each strategy continues from its last stored row, whose state columns
hold the running sums (of r, r squared, min(r, 0) squared, turnover; total_cost and days already are), the
count of sessions beating the benchmark, the running peak of equity and max_drawdown (the running minimum).
The inputs are the backtest rows from the session before start (PERFORMANCE_LOOKBACK_SESSIONS = 1): a
strategy without a stored row starts in the window, or on the session before it, where its backtest start row
(no return, hence no performance row) opens the sums.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl

from sector_pipeline.contracts import columns, schema_of
from sector_pipeline.contracts.strategy import Performance
from sector_pipeline.strategy.config import BENCHMARK, STRATEGIES, BacktestConfig
from sector_pipeline.strategy.state import ContinuationError, last_rows, running_sum

# Columns and types of strategy.performance: its contract (contracts/strategy.py) lists and describes them, the
# state of the running figures included (with days, max_drawdown and total_cost), so that a run continues
# from the last stored row of each strategy.
PERFORMANCE_COLUMNS = columns(Performance)
_SCHEMA = schema_of(Performance)
# Sessions of strategy.backtest read before `start`: the backtest's start row may be on the session before it.
PERFORMANCE_LOOKBACK_SESSIONS = 1

# The state of a strategy before its first session after the start: nothing summed, the start as the peak.
_EMPTY_STATE = {"days": 0, "sum_net_return": 0.0, "sum_squared_net_return": 0.0, "sum_squared_downside_return": 0.0,
                "total_turnover": 0.0, "total_cost": 0.0, "sessions_beating_benchmark": 0, "peak_equity": 1.0,
                "max_drawdown": 0.0}


def _running(frame: pl.DataFrame, state: dict[str, object], year: int) -> dict[str, np.ndarray]:
    """The metrics of each row of `frame` (sessions after the start, in date order) continued from `state`."""
    r = frame.get_column("net_return").to_numpy().astype(float)
    equity = frame.get_column("equity").to_numpy().astype(float)
    bench = frame.get_column("benchmark_return").to_numpy().astype(float)
    n = state["days"] + np.arange(1, len(r) + 1, dtype=float)
    s1 = running_sum(state["sum_net_return"], r)
    s2 = running_sum(state["sum_squared_net_return"], r * r)
    downside_squares = running_sum(state["sum_squared_downside_return"], np.minimum(r, 0.0) ** 2)
    turnover = running_sum(state["total_turnover"], frame.get_column("turnover").to_numpy().astype(float))
    cost = running_sum(state["total_cost"], frame.get_column("cost").to_numpy().astype(float))
    beats = running_sum(state["sessions_beating_benchmark"], (r > bench).astype(np.int64))
    mean = s1 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(n > 1, np.sqrt(np.maximum(s2 - s1 * s1 / n, 0.0) / np.maximum(n - 1, 1)), np.nan)
        downside = np.sqrt(downside_squares / n)
        sharpe = np.where(std > 0, mean / std * math.sqrt(year), np.nan)
        sortino = np.where(downside > 0, mean * year / (downside * math.sqrt(year)), np.nan)
        cagr = equity ** (year / n) - 1.0
    peak = np.maximum.accumulate(np.concatenate([[state["peak_equity"]], equity]))[1:]
    max_drawdown = np.minimum.accumulate(np.concatenate([[state["max_drawdown"]], equity / peak - 1.0]))[1:]
    return {
        "days": n, "total_return": equity - 1.0, "cagr": cagr, "annualised_volatility": std * math.sqrt(year),
        "sharpe": sharpe, "sortino": sortino, "max_drawdown": max_drawdown,
        "average_annual_turnover": turnover / (n / year), "total_cost": cost, "hit_rate_vs_benchmark": beats / n,
        "sum_net_return": s1, "sum_squared_net_return": s2, "sum_squared_downside_return": downside_squares,
        "total_turnover": turnover, "sessions_beating_benchmark": beats, "peak_equity": peak,
    }


def performance(backtest: pl.DataFrame, *, config: BacktestConfig = BacktestConfig(), start: dt.date | None = None,
                previous: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Rows PERFORMANCE_COLUMNS per (session after the start, strategy) dated >= start (all when None).

    `backtest`: strategy.backtest rows from PERFORMANCE_LOOKBACK_SESSIONS before start; `previous`: stored
    strategy.performance rows dated before `start` (at least the last of each strategy).
    """
    stored = last_rows(previous, ["strategy"], start)
    state = {} if stored is None else {row["strategy"]: row for row in stored.iter_rows(named=True)}
    parts = []
    for name in STRATEGIES:
        frame = backtest.filter(pl.col("strategy") == name).sort("date")
        prior = state.get(name)
        if prior is not None:
            frame = frame.filter(pl.col("date") > prior["date"])
        elif frame.height:
            # The strategy starts in what was read: its first row is the start (no return), whose turnover and
            # cost (0: entering is free) open the running sums.
            if frame.item(0, "net_return") is not None:
                raise ContinuationError(
                    f"performance of {name}: no stored row before {start} and the first backtest row read "
                    f"({frame.item(0, 'date')}) is not the start of the backtest: pass the stored rows (previous)")
            prior = dict(_EMPTY_STATE, total_turnover=0.0 + frame.item(0, "turnover"),
                         total_cost=0.0 + frame.item(0, "cost"))
            frame = frame.slice(1)
        if start is not None and frame.height and frame.item(0, "date") < start:
            raise ContinuationError(
                f"performance of {name}: the backtest row of {frame.item(0, 'date')} (before start {start}) has no "
                "stored performance row: the table has a gap; recompute it from that date")
        if frame.is_empty():
            continue
        values = _running(frame, prior, config.trading_days_per_year)
        if name == BENCHMARK:
            values["hit_rate_vs_benchmark"] = np.full(frame.height, np.nan)
        parts.append(pl.DataFrame({"date": frame.get_column("date"), "strategy": name, **values},
                                  nan_to_null=True).cast(_SCHEMA))  # type: ignore[arg-type]
    if not parts:
        return pl.DataFrame(schema=_SCHEMA)
    return pl.concat(parts).select(PERFORMANCE_COLUMNS).sort("date", "strategy")


def latest_performance(performance_rows: pl.DataFrame) -> pl.DataFrame:
    """The last row of each strategy, in STRATEGIES order (the metrics over the whole backtest)."""
    order = {name: i for i, name in enumerate(STRATEGIES)}
    return (performance_rows.sort("date").group_by("strategy", maintain_order=True).last()
            .sort(pl.col("strategy").replace_strict(order, default=len(order))))
