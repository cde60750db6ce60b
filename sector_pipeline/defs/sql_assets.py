"""One incremental Dagster asset per SQL model in dbt_like_sql/, with upstream assets derived from the SQL itself.

A model recomputes the dates its inputs changed since it last ran (defs/incremental.py): `$start_date` is the
first changed date, `$end_date` is open, `$lookback_start` lies `lookback_sessions` sessions earlier. A view
is recreated; its readers consume the changes of the tables it reads.
"""


import datetime as dt
from pathlib import Path

import dagster as dg

from sector_pipeline.calendar import sessions_before
from sector_pipeline.defs.contract_checks import contract_check_spec, contract_checked, table_metadata
from sector_pipeline.defs.incremental import asset_key, dirty_start, unchanged_metadata
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run
from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.sql.runner import OPEN_END, SqlModel, discover_models, run_model


def _tables_behind(table: str, models: dict[str, SqlModel]) -> list[str]:
    """The stored tables a model reads, looking through views to the tables they read."""
    model = models.get(table)
    if model is None or model.materialized != "view":
        return [table]
    return [t for dep in model.depends_on for t in _tables_behind(dep, models)]


def _sql_asset(model: SqlModel, models: dict[str, SqlModel], sql_dir: str) -> dg.AssetsDefinition:
    inputs = sorted({t for dep in model.depends_on for t in _tables_behind(dep, models)})

    @dg.asset(
        key=asset_key(model.table),
        name=None,
        group_name=model.schema,
        description=model.description,
        deps=[asset_key(dep) for dep in model.depends_on],
        backfill_policy=single_run,
        kinds={"duckdb", "sql"},
        check_specs=[contract_check_spec(model.table)],
        metadata={
            **table_metadata(model.table, sql_dir=sql_dir),
            "sql_file": dg.MetadataValue.path(str(model.path)),
            "lookback_sessions": model.lookback_sessions,
            "materialized": model.materialized,
            "sql": dg.MetadataValue.md(f"```sql\n{model.sql}\n```"),
        },
    )
    @contract_checked
    def _materialize(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        store = warehouse.get()
        with store.session():
            absent = [t for t in inputs if not store.has_table(t)]
            if absent:
                # An upstream table not created yet (its stage has produced nothing so far): nothing to read.
                return dg.MaterializeResult(metadata={"status": f"waiting for {', '.join(absent)}"})
            if model.materialized == "view":
                rows = run_model(store, model, dt.date.min, None).rows
                # a view stores nothing: its contract is checked on the rows it shows for the latest date
                store.verify_rows(model.table, store.query(
                    f"select * from {model.table} where date = (select max(date) from {model.table})"))
                return dg.MaterializeResult(metadata={"status": "view recreated", "dagster/row_count": rows})
            start, pending = dirty_start(store, model.table, inputs, [model.table])
            if start is None:
                if not store.has_table(model.table):
                    # Inputs without rows yet (e.g. scores still warming up): create the empty table, so the
                    # models and readers that query it find it.
                    run_model(store, model, OPEN_END, None, run_id=context.run_id, consumed=pending.seqs)
                return dg.MaterializeResult(metadata=unchanged_metadata(context, asset_key(model.table)))
            lookback_start = sessions_before(start, model.lookback_sessions) if model.lookback_sessions else start
            result = run_model(store, model, start, None, lookback_start, run_id=context.run_id,
                               consumed=pending.seqs)
            latest = store.query(
                f"select * from {model.table} where date = (select max(date) from {model.table}) "
                "order by all limit 30")
        return dg.MaterializeResult(metadata={
            "status": "recomputed",
            "recomputed_from": str(start),
            "lookback_from": str(lookback_start),
            "rows_written": result.rows,
            "changed_dates": f"{result.changed_from} .. {result.changed_through}" if result.changed_from
            else "none (identical rows)",
            "latest": markdown_table(latest),
        })

    return _materialize


def build_sql_assets(sql_dir: str | Path) -> list[dg.AssetsDefinition]:
    models = discover_models(Path(sql_dir))
    by_table = {m.table: m for m in models}
    return [_sql_asset(model, by_table, str(sql_dir)) for model in models]
