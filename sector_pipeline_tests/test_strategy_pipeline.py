"""End-to-end strategy assets on the real Definitions.

The signal tables are written first by the same pure functions the signal assets call (two years of the
synthetic market), with the warehouse's change log, as the signal assets would; the strategy assets then
bring their tables up to date through Dagster: once over the whole history, and again with the last sessions
arriving night by night. The tables must be identical, bit for bit.
"""

from __future__ import annotations

import datetime as dt
import math

import dagster as dg
import numpy as np
import polars as pl
import pytest

from sector_pipeline.defs.strategy_assets import STRATEGY_ASSETS
from sector_pipeline.universe import load_universe
from sector_pipeline.warehouse import Warehouse, WindowWrite
from sector_pipeline_tests.dagster_helpers import definitions, run_range
from sector_pipeline_tests.strategy.markets import signal_tables, synthetic_prices

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
HISTORY_START, HISTORY_END = D(2022, 1, 3), D(2024, 3, 6)   # end exclusive
RUN_START, SPLIT, LAST = D(2024, 1, 2), D(2024, 2, 29), D(2024, 3, 5)
STRATEGY_TABLES = ["strategy.predictions", "strategy.model_runs", "strategy.skill", "strategy.allocations",
                   "strategy.backtest", "strategy.performance"]


def strategy_definitions(path) -> dg.Definitions:
    """The project's Definitions, plus the strategy assets unless build_definitions registers them already."""
    base = definitions(path)
    if dg.AssetKey(["strategy", "predictions"]) in base.resolve_asset_graph().get_all_asset_keys():
        return base
    return dg.Definitions.merge(base, dg.Definitions(assets=STRATEGY_ASSETS))


@pytest.fixture(scope="module")
def signals():
    """Two years of signals.features, sector_rankings, sentiment_scores and macro_regime (frames)."""
    universe = load_universe()
    prices, macro = synthetic_prices(universe, 42, HISTORY_START, HISTORY_END)
    tables = signal_tables(prices, universe.characteristics(), macro)
    return {"signals.features": tables.features, "signals.sector_rankings": tables.rankings,
            "signals.sentiment_scores": tables.sentiment, "signals.macro_regime": tables.macro}


def write_signals(path, signals, first: dt.date, end: dt.date) -> None:
    """Store the signal rows dated in [first, end), recording the change as the signal assets do."""
    Warehouse(path).replace_windows(
        [WindowWrite(t, f.filter((pl.col("date") >= first) & (pl.col("date") < end))) for t, f in signals.items()],
        first, end)


def strategy_run(path, day: dt.date) -> dg.ExecuteInProcessResult:
    result = run_range(strategy_definitions(path), day, day, selection="group:strategy")
    assert result.success
    return result


@pytest.fixture(scope="module")
def one_run(signals, tmp_path_factory):
    path = tmp_path_factory.mktemp("one") / "w.duckdb"
    write_signals(path, signals, HISTORY_START, HISTORY_END)
    return path, strategy_run(path, LAST)


def snapshot(path) -> dict[str, list[tuple]]:
    store = Warehouse(path)
    return {t: store.query(f"select * from {t} order by all").rows() for t in STRATEGY_TABLES}


def test_the_history_in_one_run_equals_its_last_dates_night_by_night(signals, one_run, tmp_path):
    path, _ = one_run
    other = tmp_path / "w.duckdb"
    write_signals(other, signals, HISTORY_START, SPLIT)
    strategy_run(other, SPLIT - dt.timedelta(days=1))
    day = SPLIT
    while day <= LAST:   # crosses a week end (Fri 2024-03-01) that is also a month's first session (new model)
        if day.weekday() < 5:
            write_signals(other, signals, day, day + dt.timedelta(days=1))
            result = strategy_run(other, day)
            meta = {e.asset_key.to_user_string(): e.materialization.metadata
                    for e in result.get_asset_materialization_events()}
            assert meta["strategy/backtest"]["recomputed_from"].value == day.isoformat()
        day += dt.timedelta(days=1)
    a, b = snapshot(path), snapshot(other)
    for table in STRATEGY_TABLES:
        assert len(a[table]) > 0, table
        assert a[table] == b[table], table


def test_tables_hold_sessions_of_the_window_and_a_new_model_each_month(one_run):
    path, _ = one_run
    store = Warehouse(path)
    runs = store.query("select date, period, last_label_end_date, training_last_date from strategy.model_runs "
                       "where date >= '2024-01-01' order by date").rows()
    assert [(r[0], r[1]) for r in runs] == [(D(2024, 1, 2), "2024-01"), (D(2024, 2, 1), "2024-02"),
                                            (D(2024, 3, 1), "2024-03")]
    assert all(label_end < trained for trained, _, label_end, _ in runs)
    holiday = D(2024, 2, 19)  # Presidents' Day: a partition without a session
    for table in STRATEGY_TABLES:
        dates = store.query(f"select distinct date from {table}").get_column("date").to_list()
        assert holiday not in dates and min(dates) >= HISTORY_START and max(dates) <= LAST, table
    sums = store.query("select date, book, sum(weight) as total, max(weight) as top, min(weight) as low "
                       "from strategy.allocations group by all")
    assert sums.height > 0
    assert np.allclose(sums.get_column("total").to_numpy(), 1.0, atol=1e-12)
    rule = sums.filter(pl.col("book").is_in(["model", "composite"]))
    assert rule.get_column("top").max() <= 0.2 + 1e-12 and rule.get_column("low").min() >= 0.01 - 1e-12
    # weekly decisions on the last session of each week: Fridays here (no Friday holiday in the window)
    decisions = store.query("select distinct date from strategy.allocations where book = 'model' "
                            "and date >= '2024-01-01'")
    assert {d.weekday() for d in decisions.get_column("date").to_list()} == {4}


def test_backtest_and_performance_numbers_match_the_tables_they_come_from(one_run):
    path, _ = one_run
    store = Warehouse(path)
    # The model book decided on Friday 2024-02-02 trades at Monday's close and earns Tuesday 2024-02-06 first.
    weights = dict(store.query("select ticker, weight from strategy.allocations where book = 'model' "
                               "and date = '2024-02-02'").rows())
    returns = dict(store.query("select ticker, return_1d from signals.features where date = '2024-02-06'").rows())
    gross = store.query("select gross_return, turnover from strategy.backtest where strategy = 'model' "
                        "and date = '2024-02-06'").row(0)
    assert gross[0] == pytest.approx(math.fsum(w * returns[t] for t, w in weights.items()), abs=1e-15)
    assert gross[1] == 0.0
    traded = store.query("select turnover, cost from strategy.backtest where strategy = 'model' "
                         "and date = '2024-02-05'").row(0)
    assert traded[0] > 0 and traded[1] == traded[0] * 5.0 / 1e4

    backtest = store.query("select net_return, equity from strategy.backtest where strategy = 'model' "
                           "and date <= '2024-03-05' order by date")
    r = backtest.get_column("net_return").drop_nulls().to_numpy()
    last = store.query("select * from strategy.performance where strategy = 'model' and date = '2024-03-05'")
    assert last.item(0, "days") == len(r)
    assert last.item(0, "sharpe") == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), rel=1e-9)
    assert last.item(0, "total_return") == pytest.approx(np.prod(1 + r) - 1, rel=1e-9)


def test_materializations_show_skill_weights_metrics_and_the_equity_plot(one_run):
    _, result = one_run
    events = {e.asset_key.to_user_string(): e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert "| signal | last_signal_date |" in events["strategy/skill"]["skill_to_date"].value
    assert "| ticker | model | composite | momentum_top3 | equal_weight |" in events[
        "strategy/allocations"]["latest_weights"].value
    assert "| strategy | date | days |" in events["strategy/performance"]["metrics_to_date"].value
    assert "| feature | coefficient |" in events["strategy/model_runs"]["latest_coefficients"].value
    checks = [c for c in result.get_asset_check_evaluations() if c.check_name != "matches_contract"]
    assert [(c.check_name, c.passed) for c in checks] == [("weights_within_rules", True)]
    image = events["strategy/backtest"]["equity_curves"].value
    assert image.startswith("![equity curves](data:image/png;base64,")
    assert len(image) < 60_000  # one small picture per run, not one per date
