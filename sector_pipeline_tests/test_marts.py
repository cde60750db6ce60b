"""The marts (dbt_like_sql/marts) under the incremental contract: a range in one run equals its last sessions
arriving night by night, row for row, for every mart; and a few numbers of the new marts against their
sources in the warehouse."""

from __future__ import annotations

import datetime as dt

import pytest

from sector_pipeline.calendar import sessions
from sector_pipeline.warehouse import Warehouse
from sector_pipeline_tests.dagster_helpers import FAST_MODEL, definitions, run_range

pytestmark = pytest.mark.slow  # whole-lineage runs (pytest -m 'not slow' skips them)

D = dt.date
FIRST, SPLIT, LAST = D(2023, 6, 1), D(2024, 1, 29), D(2024, 1, 31)


def marts(path) -> dict[str, list[tuple]]:
    store = Warehouse(path)
    names = store.query("select table_name from duckdb_tables() where schema_name = 'marts' order by 1")
    return {n: store.query(f"select * from marts.{n} order by all").rows() for n in names.get_column("table_name")}


@pytest.fixture(scope="module")
def one_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("one") / "w.duckdb"
    assert run_range(definitions(path), FIRST, LAST, ops=FAST_MODEL).success
    return path


def test_a_range_in_one_run_equals_its_last_sessions_night_by_night(one_run, tmp_path):
    path = tmp_path / "w.duckdb"
    defs = definitions(path)
    assert run_range(defs, FIRST, SPLIT, ops=FAST_MODEL).success
    for day in sessions(SPLIT + dt.timedelta(days=1), LAST + dt.timedelta(days=1)):
        assert run_range(defs, day, day, ops=FAST_MODEL).success
    whole, nightly = marts(one_run), marts(path)
    assert set(whole) >= {"predictions", "allocations", "backtest", "strategy_performance", "skill",
                          "macro_indicators", "market_overview"}
    for table, rows in whole.items():
        assert nightly[table] == rows, table
    assert all(whole[t] for t in ("predictions", "allocations", "backtest", "strategy_performance", "skill"))


def test_strategy_marts_restate_the_strategy_tables_in_the_marts_units(one_run):
    store = Warehouse(one_run)
    # backtest: percent and basis points of the strategy table's fractions, the strategy named book
    differences = store.query("""
        select max(abs(m.net_return_pct - 100 * s.net_return)) as net,
               max(abs(m.drawdown_pct - 100 * s.drawdown)) as dd,
               max(abs(m.cost_bps - 1e4 * s.cost)) as cost, count(*) as n,
        from marts.backtest as m inner join strategy.backtest as s on s.date = m.date and s.strategy = m.book
    """).row(0, named=True)
    assert differences["n"] == store.query("select count(*) as n from strategy.backtest").item()
    assert max(differences["net"], differences["dd"], differences["cost"]) < 1e-9
    # each prediction carries the model's skill known that day: the latest skill row dated on or before it
    rows = store.query("""
        select p.date, p.skill_as_of, p.skill_ic_t_stat,
               (select max(date) from strategy.skill where signal = 'model' and date <= p.date) as expected_as_of,
        from marts.predictions as p
    """)
    assert rows.height == store.query("select count(*) as n from strategy.predictions").item()
    assert rows.filter(rows["skill_as_of"].ne_missing(rows["expected_as_of"])).is_empty()
    assert rows["skill_ic_t_stat"].drop_nulls().len() > 0


def test_macro_changes_are_over_sessions_and_yields_have_no_relative_change(one_run):
    store = Warehouse(one_run)
    check = store.query("""
        with numbered as (
            select *, dense_rank() over (order by date) as session from marts.macro_indicators
        )
        select today.series, today.series_kind, today.change_20d, today.value - before.value as expected,
               today.change_20d_pct,
        from numbered as today
        inner join numbered as before on before.series = today.series and before.session = today.session - 20
    """)
    assert check.height > 1000
    assert (check["change_20d"] - check["expected"]).abs().max() < 1e-9
    rates = check.filter(check["series_kind"].is_in(["yield_pct", "rate_pct"]))
    assert rates.height and rates["change_20d_pct"].null_count() == rates.height
