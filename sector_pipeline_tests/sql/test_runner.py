import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from sector_pipeline.calendar import sessions, sessions_before
from sector_pipeline.settings import PROJECT_ROOT
from sector_pipeline.sql.runner import (
    SqlModelError,
    discover_models,
    referenced_tables,
    run_model,
)
from sector_pipeline.warehouse import Warehouse, WarehouseError, WindowWrite

D = dt.date


def write_model(root: Path, layer: str, name: str, body: str) -> Path:
    (root / layer).mkdir(parents=True, exist_ok=True)
    path = root / layer / f"{name}.sql"
    path.write_text(body)
    return path


def test_dependencies_come_from_the_sql_not_from_a_list():
    models = {m.table: m for m in discover_models(PROJECT_ROOT / "dbt_like_sql")}
    assert models["staging.stg_prices"].depends_on == ("validated.prices",)
    assert models["staging.stg_macro"].depends_on == ("validated.macro",)
    assert models["intermediate.int_macro_daily"].depends_on == ("staging.stg_macro", "staging.stg_prices")
    assert models["intermediate.int_macro_daily"].lookback_sessions == 130


def test_referenced_tables_ignore_ctes_and_see_joins_and_subqueries():
    sql = """
        with a as (select * from staging.x), b as (select * from a join marts.y using (k))
        select * from b where k in (select k from raw.z)
    """
    assert referenced_tables(sql) == ("marts.y", "raw.z", "staging.x")


@pytest.mark.parametrize("body, message", [
    ("select 1 as date", "first line must be a '-- description'"),
    ("-- d\nselect * from prices", "table 'prices' needs a schema"),
    ("-- d\nselect * from validated.prices where date >= $today", "unknown parameter(s) ['today']"),
    ("-- d\n-- lookback_sessions: 3\nselect * from validated.prices", "never reads $lookback_start"),
    ("-- d\nselect * from staging.nowhere", "reads staging.nowhere, which no model"),
    ("-- d\nselect from where", "does not parse"),
])
def test_malformed_models_are_configuration_errors(tmp_path, body, message):
    write_model(tmp_path, "staging", "bad", body)
    with pytest.raises(SqlModelError) as err:
        discover_models(tmp_path)
    assert message in str(err.value)


def test_cycles_are_rejected(tmp_path):
    write_model(tmp_path, "intermediate", "a", "-- a\nselect * from intermediate.b")
    write_model(tmp_path, "intermediate", "b", "-- b\nselect * from intermediate.a")
    with pytest.raises(SqlModelError, match="cycle"):
        discover_models(tmp_path)


def _closes(days: list[dt.date]) -> pl.DataFrame:
    return pl.DataFrame({"date": days, "ticker": ["XLK"] * len(days),
                         "close": [100.0 + i for i in range(len(days))]})


LAG_MODEL = """-- previous close from the lookback
-- lookback_sessions: 1
with src as (select * from validated.closes where date >= $lookback_start and date < $end_date),
final as (select date, ticker, close / lag(close) over (partition by ticker order by date) - 1 as r from src)
select * from final
"""


def test_lookback_is_read_but_only_the_window_is_written(tmp_path, warehouse_path):
    days = sessions(D(2024, 1, 2), D(2024, 1, 12))
    store = Warehouse(warehouse_path)
    store.replace_windows([WindowWrite("validated.closes", _closes(days))], days[0], days[-1] + dt.timedelta(1))
    write_model(tmp_path, "intermediate", "lagged", LAG_MODEL)
    (model,) = discover_models(tmp_path)
    start, end = days[3], days[6]
    written = run_model(store, model, start, end, sessions_before(start, 1))
    out = store.query("select date, r from intermediate.lagged order by date")
    assert written.rows == 3 and out.get_column("date").to_list() == days[3:6]
    assert written.changed_from == days[3]
    assert out.item(0, "r") == pytest.approx(103.0 / 102.0 - 1, rel=1e-12)  # used the lookback row


def test_range_equals_day_by_day_and_reruns_are_idempotent(tmp_path):
    days = sessions(D(2024, 1, 2), D(2024, 2, 1))
    write_model(tmp_path, "intermediate", "lagged", LAG_MODEL)
    (model,) = discover_models(tmp_path)
    results = []
    for batches in ([days], [[d] for d in days], [days, days]):
        store = Warehouse(tmp_path / f"w{len(results)}.duckdb")
        store.replace_windows([WindowWrite("validated.closes", _closes(days))], days[0], days[-1] + dt.timedelta(1))
        for batch in batches:
            run_model(store, model, batch[0], batch[-1] + dt.timedelta(1), sessions_before(batch[0], 1))
        results.append(store.query("select * from intermediate.lagged order by all"))
    assert results[0].height == len(days)
    assert results[0].equals(results[1]) and results[0].equals(results[2])


def test_a_changed_model_schema_is_a_clear_error(tmp_path, warehouse_path):
    store = Warehouse(warehouse_path)
    store.replace_windows([WindowWrite("validated.closes", _closes([D(2024, 1, 2)]))], D(2024, 1, 2), D(2024, 1, 3))
    path = write_model(tmp_path, "staging", "s", "-- s\nselect date, close from validated.closes")
    run_model(store, discover_models(tmp_path)[0], D(2024, 1, 2), D(2024, 1, 3))
    path.write_text("-- s\nselect date, close, ticker from validated.closes")
    with pytest.raises(WarehouseError, match="stores columns"):
        run_model(store, discover_models(tmp_path)[0], D(2024, 1, 2), D(2024, 1, 3))
    assert store.query("select * from staging.s").columns == ["date", "close"]
