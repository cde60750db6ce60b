"""One Dagster asset per SQL model in dbt_like_sql/, with upstream assets derived from the SQL itself."""

from pathlib import Path

import dagster as dg

from sector_pipeline.calendar import sessions_before
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import (
    partition_window,
    single_run,
    trading_day_partitions,
)
from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.sql.runner import SqlModel, discover_models, run_model


def asset_key(table: str) -> dg.AssetKey:
    """`staging.stg_prices` -> AssetKey(["staging", "stg_prices"]): table names and asset keys are one."""
    return dg.AssetKey(table.split("."))


def _sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    @dg.asset(
        key=asset_key(model.table),
        name=None,
        group_name=model.schema,
        description=model.description,
        deps=[asset_key(dep) for dep in model.depends_on],
        partitions_def=trading_day_partitions,
        backfill_policy=single_run,
        kinds={"duckdb", "sql"},
        metadata={
            "dagster/table_name": model.table,
            "sql_file": dg.MetadataValue.path(str(model.path)),
            "lookback_sessions": model.lookback_sessions,
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
    )
    def _materialize(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        start, end = partition_window(context)
        lookback_start = sessions_before(start, model.lookback_sessions) if model.lookback_sessions else start
        store = warehouse.get()
        rows = run_model(store, model, start, end, lookback_start)
        latest = store.query(
            f"select * from {model.table} where date = (select max(date) from {model.table} "
            "where date >= $start and date < $end) order by all limit 30",
            {"start": start, "end": end},
        )
        return dg.MaterializeResult(metadata={
            "dagster/row_count": rows,
            "window": f"{start} .. {end}",
            "lookback_from": str(lookback_start),
            "latest_date": markdown_table(latest),
        })

    return _materialize


def build_sql_assets(sql_dir: str | Path) -> list[dg.AssetsDefinition]:
    return [_sql_asset(model) for model in discover_models(Path(sql_dir))]
