"""Daily backtest of the allocation books and the benchmark, with transaction costs.

Timing. A book's weights decided at the close of session t (strategy.allocations, dated t) are traded at
the close of the next session t+1 (the first session after t in the returns), so the first return they earn
is that of session t+2 (close of t+1 to close of t+2). Nothing dated after t enters a decision dated t.

Per strategy and session d after the start, with w the weights held after the close of d-1 and r_i(d) the
total return of sector i on d (signals.features.return_1d):
  gross_return(d) = sum_i w_i * r_i(d)
  drifted_i(d)    = w_i * (1 + r_i(d)) / (1 + gross_return(d))      weights just before the close of d
  on a trade session (d = t+1 for a decision dated t), with target weights w*:
    turnover(d)   = sum_i |w*_i - drifted_i(d)|                    (a full switch of the book is 2.0)
    cost(d)       = turnover(d) * cost_bps / 1e4                   fraction of the equity paid at the close
  otherwise turnover = cost = 0
  net_return(d)   = (1 + gross_return(d)) * (1 - cost(d)) - 1
  equity(d)       = equity(d-1) * (1 + net_return(d)),  drawdown(d) = equity(d) / max(equity up to d) - 1
Sums over sectors are math.fsum (exactly rounded): the same bits whatever the order or the run.

Start. Every strategy starts on the same session, the trade session of the model book's first decision
(allocation.py: all books decide on t0), holding its first target at the close with equity 1.0; that row
has no return, and entering is free (turnover 0), so the five curves start together and only rebalancing
is charged. The benchmark (SPY) is bought and held. A sector held without a return on a session is an
error (validated data has every sector on every session once it trades).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Sequence

import polars as pl

from sector_pipeline.strategy.config import BENCHMARK, BOOKS, MODEL_BOOK, BacktestConfig

BACKTEST_COLUMNS = ("date", "strategy", "gross_return", "turnover", "cost", "net_return", "equity", "drawdown",
                    "benchmark_return", "holdings", "is_trade_day")
_SCHEMA = {"date": pl.Date, "strategy": pl.String, "gross_return": pl.Float64, "turnover": pl.Float64,
           "cost": pl.Float64, "net_return": pl.Float64, "equity": pl.Float64, "drawdown": pl.Float64,
           "benchmark_return": pl.Float64, "holdings": pl.Int32, "is_trade_day": pl.Boolean}


class BacktestError(ValueError):
    """The returns do not cover a held sector on a session."""


def _targets(allocations: pl.DataFrame, book: str) -> dict[dt.date, dict[str, float]]:
    targets: dict[dt.date, dict[str, float]] = {}
    for day, ticker, weight in (allocations.filter(pl.col("book") == book)
                                .select("date", "ticker", "weight").sort("date", "ticker").iter_rows()):
        targets.setdefault(day, {})[ticker] = weight
    return targets


def _simulate(name: str, targets: dict[dt.date, dict[str, float]], grid: Sequence[dt.date], start: int,
              returns: dict[dt.date, dict[str, float]], benchmark: str, cost_bps: float) -> list[dict[str, object]]:
    next_session = {grid[i]: grid[i + 1] for i in range(len(grid) - 1)}
    trades = {next_session[d]: w for d, w in targets.items() if d in next_session}
    holdings = {t: w for t, w in trades[grid[start]].items() if w != 0}
    equity = peak = 1.0
    rows: list[dict[str, object]] = [{
        "date": grid[start], "strategy": name, "gross_return": None, "turnover": 0.0, "cost": 0.0,
        "net_return": None, "equity": 1.0, "drawdown": 0.0, "benchmark_return": None,
        "holdings": len(holdings), "is_trade_day": True}]
    for day in grid[start + 1:]:
        today = returns.get(day, {})
        missing = sorted(t for t in holdings if today.get(t) is None)
        if missing:
            raise BacktestError(f"backtest {name}: no return on {day} for held {missing}")
        gross = math.fsum(w * today[t] for t, w in holdings.items())
        drifted = {t: w * (1.0 + today[t]) / (1.0 + gross) for t, w in holdings.items()}
        turnover = 0.0
        target = trades.get(day)
        if target is not None:
            turnover = math.fsum(abs(target.get(t, 0.0) - drifted.get(t, 0.0)) for t in sorted({*target, *drifted}))
            holdings = {t: w for t, w in target.items() if w != 0}
        else:
            holdings = drifted
        cost = turnover * cost_bps / 1e4
        net = gross - cost * (1.0 + gross)   # = (1 + gross) * (1 - cost) - 1, exactly gross when cost is 0
        equity *= 1.0 + net
        peak = max(peak, equity)
        rows.append({
            "date": day, "strategy": name, "gross_return": gross, "turnover": turnover, "cost": cost,
            "net_return": net, "equity": equity, "drawdown": equity / peak - 1.0,
            "benchmark_return": today.get(benchmark), "holdings": len(holdings), "is_trade_day": target is not None})
    return rows


def run_backtest(allocations: pl.DataFrame, returns: pl.DataFrame | pl.LazyFrame, *, benchmark: str,
                 config: BacktestConfig = BacktestConfig()) -> pl.DataFrame:
    """Rows BACKTEST_COLUMNS per (session, strategy) from the start session; empty without model decisions.

    `allocations`: strategy.allocations rows (date, book, ticker, weight); `returns`: (date, ticker, return_1d)
    of the sectors and the benchmark, e.g. signals.features.
    """
    if allocations.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    frame = returns.collect() if isinstance(returns, pl.LazyFrame) else returns
    grid = frame.filter(pl.col("ticker") == benchmark).get_column("date").unique().sort().to_list()
    model = _targets(allocations, MODEL_BOOK)
    if not model or not grid:
        return pl.DataFrame(schema=_SCHEMA)
    first_decision = min(model)
    later = [i for i, d in enumerate(grid) if d > first_decision]
    if not later:
        return pl.DataFrame(schema=_SCHEMA)
    start = later[0]
    by_date: dict[dt.date, dict[str, float]] = {}
    for day, ticker, value in frame.select("date", "ticker", "return_1d").drop_nulls().iter_rows():
        by_date.setdefault(day, {})[ticker] = value
    rows: list[dict[str, object]] = []
    for book in BOOKS:
        targets = {d: w for d, w in _targets(allocations, book).items() if d >= first_decision}
        if not targets:
            continue
        if first_decision not in targets:
            raise BacktestError(f"backtest: book {book} has no decision on the start date {first_decision}")
        rows += _simulate(book, targets, grid, start, by_date, benchmark, config.cost_bps)
    rows += _simulate(BENCHMARK, {first_decision: {benchmark: 1.0}}, grid, start, by_date, benchmark, 0.0)
    return pl.DataFrame(rows, schema=_SCHEMA).sort("date", "strategy")
