"""The last asset of every run: publish the marts atomically for BI tools and the MCP server."""

from pathlib import Path

import dagster as dg

from sector_pipeline.defs.contract_checks import contract_check_spec, contract_checked, table_schema
from sector_pipeline.defs.incremental import dirty_start, unchanged_metadata
from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run
from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.publish import MANIFEST, PUBLISHED_DB, publish_marts


class PublishedResource(dg.ConfigurableResource):
    """Where the published, read-only copies of the marts live (DuckDB file + Parquet folder)."""

    directory: str = "data/published"


PUBLISHED = dg.AssetKey(["published", "marts"])
MANIFEST_TABLE = f"marts.{MANIFEST}"   # what the published copy holds: its contract is the publication's


def build_publish_asset(mart_keys: list[dg.AssetKey], mart_tables: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PUBLISHED,
        deps=mart_keys,
        group_name="published",
        backfill_policy=single_run,
        kinds={"duckdb", "parquet"},
        metadata={"dagster/column_schema": table_schema(MANIFEST_TABLE)},
        check_specs=[contract_check_spec(MANIFEST_TABLE, asset=PUBLISHED)],
    )
    @contract_checked
    def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        published: PublishedResource) -> dg.MaterializeResult:
        """Read-only copy of the marts (DuckDB + Parquet), swapped in atomically after every run that changed them."""
        import polars as pl

        store = warehouse.get()
        with store.session():
            start, pending = dirty_start(store, "published.marts", mart_tables, [])
            if start is None and (Path(published.directory) / PUBLISHED_DB).exists():
                return dg.MaterializeResult(metadata=unchanged_metadata(context, PUBLISHED))
            publication = publish_marts(store, published.directory, run_id=context.run_id)
            store.mark_consumed("published.marts", pending.seqs)
        context.log.info(f"published {len(publication.tables)} marts and {len(publication.views)} views to "
                         f"{publication.path} and {publication.parquet_dir}")
        objects = pl.DataFrame(
            [{"object": k, "type": "table", "rows": v} for k, v in publication.tables.items()]
            + [{"object": k, "type": "view", "rows": v} for k, v in publication.views.items()])
        return dg.MaterializeResult(metadata={
            "published_duckdb": dg.MetadataValue.path(str(publication.path.resolve())),
            "published_parquet": dg.MetadataValue.path(str(publication.parquet_dir.resolve())),
            "published_at": publication.published_at.isoformat(),
            "objects": markdown_table(objects),
        })

    return published_marts
