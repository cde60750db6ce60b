"""Performance statistics equal independent implementations (numpy/pandas formulas here; empyrical if installed)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.strategy.backtest import run_backtest
from sector_pipeline.strategy.metrics import latest_performance, performance

TOL = 1e-9


@pytest.fixture(scope="module")
def backtest() -> pl.DataFrame:
    """A model book re-drawn at random every 5 sessions over 1,200 sessions of random sector returns."""
    rng = np.random.default_rng(3)
    days = sessions(dt.date(2010, 1, 4), dt.date(2015, 1, 1))[:1200]
    tickers = ["A", "B", "C", "SPY"]
    returns = pl.DataFrame({
        "date": np.repeat(np.array(days, dtype="datetime64[D]"), 4), "ticker": tickers * len(days),
        "return_1d": rng.normal(0.0004, 0.012, 4 * len(days)),
    }).with_columns(pl.col("date").cast(pl.Date))
    decisions = []
    for day in days[::5]:
        weights = rng.dirichlet(np.ones(3))
        decisions += [{"date": day, "book": "model", "ticker": t, "weight": float(w)} for t, w in zip("ABC", weights)]
    return run_backtest(pl.DataFrame(decisions), returns, benchmark="SPY")


def independent(r: np.ndarray, bench: np.ndarray, turnover: np.ndarray, cost: np.ndarray) -> dict[str, float]:
    """The definitions of docs/strategy.md, written out with numpy and pandas."""
    n = len(r)
    equity = pd.Series(1 + r).cumprod()
    peak = pd.concat([pd.Series([1.0]), equity]).cummax().iloc[1:].reset_index(drop=True)
    return {
        "days": n,
        "total_return": equity.iloc[-1] - 1,
        "cagr": equity.iloc[-1] ** (252 / n) - 1,
        "annualised_volatility": np.std(r, ddof=1) * np.sqrt(252),
        "sharpe": np.mean(r) / np.std(r, ddof=1) * np.sqrt(252),
        "sortino": np.mean(r) * 252 / (np.sqrt(np.mean(np.minimum(r, 0) ** 2)) * np.sqrt(252)),
        "max_drawdown": (equity / peak - 1).min(),
        "average_annual_turnover": turnover.sum() / (n / 252),
        "total_cost": cost.sum(),
        "hit_rate_vs_benchmark": np.mean(r > bench),
    }


@pytest.mark.parametrize("rows", [250, 1199])
def test_metrics_up_to_each_date_equal_the_formulas(backtest, rows):
    metrics = performance(backtest)
    for strategy in ("model", "benchmark"):
        frame = backtest.filter(pl.col("strategy") == strategy).sort("date").head(rows + 1)
        expected = independent(frame.get_column("net_return").to_numpy()[1:],
                               frame.get_column("benchmark_return").to_numpy()[1:],
                               frame.get_column("turnover").to_numpy(), frame.get_column("cost").to_numpy())
        got = metrics.filter((pl.col("strategy") == strategy) & (pl.col("date") == frame.get_column("date")[-1]))
        assert got.height == 1
        for name, value in expected.items():
            if strategy == "benchmark" and name == "hit_rate_vs_benchmark":
                assert got.item(0, name) is None
                continue
            assert got.item(0, name) == pytest.approx(value, rel=TOL, abs=TOL), (strategy, name)


def test_turnover_and_costs_are_annualised_from_the_trades(backtest):
    model = latest_performance(performance(backtest)).filter(pl.col("strategy") == "model")
    trades = backtest.filter((pl.col("strategy") == "model") & (pl.col("turnover") > 0))
    assert trades.height == 239   # one trade per decision after the first, 1,200 / 5 - 1
    assert model.item(0, "total_cost") == pytest.approx(trades.get_column("turnover").sum() * 5e-4, rel=1e-12)


def test_metrics_equal_empyrical(backtest):
    empyrical = pytest.importorskip("empyrical")
    frame = backtest.filter(pl.col("strategy") == "model").sort("date")
    r = pd.Series(frame.get_column("net_return").to_numpy()[1:],
                  index=pd.DatetimeIndex(frame.get_column("date").to_list()[1:]))
    got = latest_performance(performance(backtest)).filter(pl.col("strategy") == "model").row(0, named=True)
    assert got["sharpe"] == pytest.approx(empyrical.sharpe_ratio(r), rel=TOL)
    assert got["sortino"] == pytest.approx(empyrical.sortino_ratio(r), rel=TOL)
    assert got["annualised_volatility"] == pytest.approx(empyrical.annual_volatility(r), rel=TOL)
    assert got["max_drawdown"] == pytest.approx(empyrical.max_drawdown(r), rel=TOL)
    assert got["cagr"] == pytest.approx(empyrical.cagr(r), rel=TOL)
    assert got["total_return"] == pytest.approx(empyrical.cum_returns_final(r), rel=TOL)
