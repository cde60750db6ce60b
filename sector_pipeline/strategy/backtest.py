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

Continuation (`start=`, `previous=`). Each strategy continues from its last stored row, which carries the
state: equity, its running peak (`peak_equity`) and the weights held after that close (`held_tickers`,
`held_weights`: drifted, or the target traded that day). A decision dated on the session before `start` is
traded on the first session computed, so the allocations and the returns are read from one session before
start (BACKTEST_LOOKBACK_SESSIONS): the run loops over the window's sessions only.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Sequence

import polars as pl

from sector_pipeline.contracts import columns, schema_of
from sector_pipeline.contracts.strategy import Backtest
from sector_pipeline.strategy.config import BENCHMARK, BOOKS, MODEL_BOOK, BacktestConfig
from sector_pipeline.strategy.state import check_after, last_rows

# Columns and types of strategy.backtest: its contract (contracts/strategy.py) lists and describes them, the
# state of the next session included (peak_equity, and the weights held after the close: held_tickers sorted,
# held_weights in the same order).
BACKTEST_COLUMNS = columns(Backtest)
_SCHEMA = schema_of(Backtest)
# Sessions of the inputs (allocations, returns) read before `start`: the decision of the session before start
# is traded on start's session.
BACKTEST_LOOKBACK_SESSIONS = 1


class BacktestError(ValueError):
    """The returns do not cover a held sector on a session."""


def _targets(allocations: pl.DataFrame, book: str) -> dict[dt.date, dict[str, float]]:
    targets: dict[dt.date, dict[str, float]] = {}
    for day, ticker, weight in (allocations.filter(pl.col("book") == book)
                                .select("date", "ticker", "weight").sort("date", "ticker").iter_rows()):
        targets.setdefault(day, {})[ticker] = weight
    return targets


@dataclass
class _Position:
    """What a strategy carries from one close to the next."""

    holdings: dict[str, float]
    equity: float
    peak: float
    last_date: dt.date


def _row(day: dt.date, name: str, position: _Position, *, gross: float | None, turnover: float, cost: float,
         net: float | None, benchmark_return: float | None, is_trade_day: bool) -> dict[str, object]:
    held = sorted(position.holdings)
    return {
        "date": day, "strategy": name, "gross_return": gross, "turnover": turnover, "cost": cost,
        "net_return": net, "equity": position.equity, "drawdown": position.equity / position.peak - 1.0,
        "benchmark_return": benchmark_return, "holdings": len(position.holdings), "is_trade_day": is_trade_day,
        "peak_equity": position.peak, "held_tickers": held, "held_weights": [position.holdings[t] for t in held]}


def _simulate(name: str, position: _Position, trades: dict[dt.date, dict[str, float]], days: Sequence[dt.date],
              returns: dict[dt.date, dict[str, float]], benchmark: str, cost_bps: float) -> list[dict[str, object]]:
    """Rows of `days` (the sessions after position.last_date), trading `trades` (trade session -> target)."""
    holdings, equity, peak = position.holdings, position.equity, position.peak
    rows: list[dict[str, object]] = []
    for day in days:
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
        rows.append(_row(day, name, _Position(holdings, equity, peak, day), gross=gross, turnover=turnover,
                         cost=cost, net=net, benchmark_return=today.get(benchmark), is_trade_day=target is not None))
    return rows


def _stored_position(row: dict[str, object]) -> _Position:
    return _Position(dict(zip(row["held_tickers"], row["held_weights"])), row["equity"], row["peak_equity"],
                     row["date"])


def run_backtest(allocations: pl.DataFrame, returns: pl.DataFrame | pl.LazyFrame, *, benchmark: str,
                 config: BacktestConfig = BacktestConfig(), start: dt.date | None = None,
                 previous: pl.DataFrame | pl.LazyFrame | None = None) -> pl.DataFrame:
    """Rows BACKTEST_COLUMNS per (session, strategy) dated >= start (all when None); empty before model decisions.

    `allocations`: strategy.allocations rows (date, book, ticker, weight); `returns`: (date, ticker, return_1d)
    of the sectors and the benchmark, e.g. signals.features; both from BACKTEST_LOOKBACK_SESSIONS before start.
    `previous`: stored strategy.backtest rows dated before `start` (at least the last of each strategy).
    """
    frame = returns.collect() if isinstance(returns, pl.LazyFrame) else returns
    grid = frame.filter(pl.col("ticker") == benchmark).get_column("date").unique().sort().to_list()
    stored = last_rows(previous, ["strategy"], start)
    if (stored is None and allocations.is_empty()) or not grid:
        return pl.DataFrame(schema=_SCHEMA)
    by_date: dict[dt.date, dict[str, float]] = {}
    for day, ticker, value in frame.select("date", "ticker", "return_1d").drop_nulls().iter_rows():
        by_date.setdefault(day, {})[ticker] = value
    next_session = {grid[i]: grid[i + 1] for i in range(len(grid) - 1)}

    def trades(book: str, first: dt.date) -> dict[dt.date, dict[str, float]]:
        """Trade session -> target of the book's decisions dated >= first."""
        return {next_session[d]: w for d, w in _targets(allocations, book).items() if d >= first and d in next_session}

    rows: list[dict[str, object]] = []
    if stored is None:
        # The start: every strategy holds its first target from the close of the first model decision's trade
        # session on, with equity 1.0 (no return, no cost that day).
        model = _targets(allocations, MODEL_BOOK)
        if not model:
            return pl.DataFrame(schema=_SCHEMA)
        first_decision = min(model)
        later = [d for d in grid if d > first_decision]
        if not later:
            return pl.DataFrame(schema=_SCHEMA)
        first_day = later[0]
        for book in BOOKS:
            targets = {d for d in _targets(allocations, book) if d >= first_decision}
            if not targets:
                continue
            if first_decision not in targets:
                raise BacktestError(f"backtest: book {book} has no decision on the start date {first_decision}")
            book_trades = trades(book, first_decision)
            position = _Position({t: w for t, w in book_trades[first_day].items() if w != 0}, 1.0, 1.0, first_day)
            rows.append(_row(first_day, book, position, gross=None, turnover=0.0, cost=0.0, net=None,
                             benchmark_return=None, is_trade_day=True))
            rows += _simulate(book, position, book_trades, later[1:], by_date, benchmark, config.cost_bps)
        position = _Position({benchmark: 1.0}, 1.0, 1.0, first_day)
        rows.append(_row(first_day, BENCHMARK, position, gross=None, turnover=0.0, cost=0.0, net=None,
                         benchmark_return=None, is_trade_day=True))
        rows += _simulate(BENCHMARK, position, {}, later[1:], by_date, benchmark, 0.0)
    else:
        for row in stored.iter_rows(named=True):
            position = _stored_position(row)
            days = [d for d in grid if d > position.last_date]
            check_after(position.last_date, days[0] if days else None, start, f"backtest {row['strategy']}")
            # Decisions dated on or after the stored row's session trade on a session computed now.
            book_trades = {} if row["strategy"] == BENCHMARK else trades(row["strategy"], position.last_date)
            rows += _simulate(row["strategy"], position, book_trades, days, by_date, benchmark,
                              0.0 if row["strategy"] == BENCHMARK else config.cost_bps)
    result = pl.DataFrame(rows, schema=_SCHEMA).sort("date", "strategy")
    return result if start is None else result.filter(pl.col("date") >= start)
