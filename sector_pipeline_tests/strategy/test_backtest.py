"""Backtest timing (decide at t, trade at t+1, earn from t+2), drift, turnover and costs, by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from sector_pipeline.strategy.backtest import BacktestError, run_backtest
from sector_pipeline.strategy.config import BacktestConfig

DAYS = [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4), dt.date(2024, 1, 5), dt.date(2024, 1, 8),
        dt.date(2024, 1, 9)]
RETURNS = {  # return_1d per session: A, B, SPY
    DAYS[1]: (0.01, -0.02, 0.0),
    DAYS[2]: (0.10, 0.00, 0.05),
    DAYS[3]: (-0.05, 0.02, -0.01),
    DAYS[4]: (0.03, 0.01, 0.02),
    DAYS[5]: (0.00, 0.04, 0.01),
}


def returns_frame(returns=RETURNS) -> pl.DataFrame:
    rows = [{"date": DAYS[0], "ticker": t, "return_1d": None} for t in ("A", "B", "SPY")]
    rows += [{"date": d, "ticker": t, "return_1d": r} for d, values in returns.items()
             for t, r in zip(("A", "B", "SPY"), values)]
    return pl.DataFrame(rows, schema={"date": pl.Date, "ticker": pl.String, "return_1d": pl.Float64})


def book(decisions: dict[dt.date, dict[str, float]], name: str = "model") -> pl.DataFrame:
    return pl.DataFrame([{"date": d, "book": name, "ticker": t, "weight": w} for d, ws in decisions.items()
                         for t, w in ws.items()], schema={"date": pl.Date, "book": pl.String, "ticker": pl.String,
                                                          "weight": pl.Float64})


DECISIONS = {DAYS[0]: {"A": 0.5, "B": 0.5}, DAYS[2]: {"A": 0.0, "B": 1.0}}


def model_rows(bps: float = 5.0, returns=RETURNS) -> pl.DataFrame:
    result = run_backtest(book(DECISIONS), returns_frame(returns), benchmark="SPY", config=BacktestConfig(cost_bps=bps))
    return result.filter(pl.col("strategy") == "model").sort("date")


def test_weights_decided_at_t_trade_at_t_plus_1_and_earn_from_t_plus_2_by_hand():
    rows = model_rows(bps=0.0)
    assert rows.get_column("date").to_list() == DAYS[1:]
    start = rows.row(0, named=True)       # decision of DAYS[0] traded at the close of DAYS[1]
    assert start["equity"] == 1.0 and start["net_return"] is None and start["turnover"] == 0.0
    # DAYS[2]: 0.5 * 10% + 0.5 * 0% = 5%; drifted A = 0.55 / 1.05, B = 0.5 / 1.05
    assert rows.item(1, "gross_return") == pytest.approx(0.05, abs=1e-15)
    # DAYS[3]: the decision of DAYS[2] is not traded yet: the drifted weights earn this session
    a, b = 0.55 / 1.05, 0.5 / 1.05
    day3 = a * -0.05 + b * 0.02
    assert rows.item(2, "gross_return") == pytest.approx(day3, abs=1e-15)
    # ... and at its close the book goes to B only: turnover = |0 - A drifted| + |1 - B drifted| = 2 * A drifted
    a3 = a * 0.95 / (1 + day3)
    assert rows.item(2, "turnover") == pytest.approx(2 * a3, abs=1e-15)
    assert rows.item(2, "is_trade_day") and not rows.item(1, "is_trade_day")
    # DAYS[4], DAYS[5]: B only
    assert rows.get_column("gross_return").to_list()[3:] == pytest.approx([0.01, 0.04], abs=1e-15)
    assert rows.item(4, "equity") == pytest.approx(1.05 * (1 + day3) * 1.01 * 1.04, abs=1e-14)


def test_returns_before_the_first_earned_session_do_not_matter():
    changed = dict(RETURNS)
    changed[DAYS[1]] = (0.5, -0.5, 0.3)   # the trade session of the first decision: held from its close on
    assert model_rows(returns=changed).equals(model_rows())


def test_cost_is_turnover_times_bps_exactly_and_scales_with_bps():
    rows = model_rows(bps=5.0)
    turnover, cost = rows.get_column("turnover").to_numpy(), rows.get_column("cost").to_numpy()
    assert (cost == turnover * 5.0 / 1e4).all()
    assert (cost[turnover == 0] == 0).all() and (turnover > 0).sum() == 1
    net = rows.get_column("net_return").to_numpy()[1:]
    gross = rows.get_column("gross_return").to_numpy()[1:]
    assert (net == gross - cost[1:] * (1 + gross)).all()
    assert np.allclose(net, (1 + gross) * (1 - cost[1:]) - 1, rtol=0, atol=1e-15)
    doubled = model_rows(bps=10.0)
    assert doubled.get_column("cost").sum() == 2 * rows.get_column("cost").sum()
    assert doubled.get_column("turnover").equals(rows.get_column("turnover"))   # costs do not move the weights
    free = model_rows(bps=0.0)
    assert free.get_column("cost").sum() == 0.0
    assert free.get_column("net_return").drop_nulls().equals(free.get_column("gross_return").drop_nulls())


def test_the_benchmark_is_bought_and_held_from_the_same_start():
    result = run_backtest(book(DECISIONS), returns_frame(), benchmark="SPY")
    spy = result.filter(pl.col("strategy") == "benchmark").sort("date")
    assert spy.get_column("date").to_list() == DAYS[1:]
    assert spy.get_column("net_return").drop_nulls().to_list() == pytest.approx([0.05, -0.01, 0.02, 0.01], abs=1e-15)
    assert spy.get_column("turnover").sum() == 0.0
    assert spy.item(4, "equity") == pytest.approx(1.05 * 0.99 * 1.02 * 1.01, abs=1e-15)
    # equity 1, 1.05, 1.0395 (peak 1.05), 1.0603 (new peak), 1.0709
    assert spy.get_column("drawdown").to_list() == pytest.approx([0, 0, 0.99 - 1, 0, 0], abs=1e-15)


def test_a_held_sector_without_a_return_is_an_error():
    frame = returns_frame().filter(~((pl.col("ticker") == "B") & (pl.col("date") == DAYS[4])))
    with pytest.raises(BacktestError, match=r"no return on 2024-01-08 for held \['B'\]"):
        run_backtest(book(DECISIONS), frame, benchmark="SPY")


def test_drift_between_rebalances_is_traded_back_and_charged():
    # the same target twice: the second trade only undoes the drift of DAYS[2]..DAYS[3]
    same = {DAYS[0]: {"A": 0.5, "B": 0.5}, DAYS[2]: {"A": 0.5, "B": 0.5}}
    rows = run_backtest(book(same), returns_frame(), benchmark="SPY").filter(pl.col("strategy") == "model").sort("date")
    a2, b2 = 0.55 / 1.05, 0.5 / 1.05
    g3 = a2 * -0.05 + b2 * 0.02
    a3, b3 = a2 * 0.95 / (1 + g3), b2 * 1.02 / (1 + g3)
    assert rows.item(2, "turnover") == pytest.approx(abs(0.5 - a3) + abs(0.5 - b3), abs=1e-15)
    assert rows.item(2, "cost") == rows.item(2, "turnover") * 5.0 / 1e4
    assert np.isclose(rows.item(2, "turnover"), 2 * (a3 - 0.5))
