"""The last asset of every run: publish the marts atomically for BI tools and the MCP server."""

import dagster as dg

from sector_pipeline.defs.metadata import markdown_table
from sector_pipeline.defs.partitions import single_run, trading_day_partitions
from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.publish import publish_marts


class PublishedResource(dg.ConfigurableResource):
    """Where the published, read-only copies of the marts live (DuckDB file + Parquet folder)."""

    directory: str = "data/published"


def build_publish_asset(mart_keys: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=dg.AssetKey(["published", "marts"]),
        deps=mart_keys,
        group_name="published",
        partitions_def=trading_day_partitions,
        backfill_policy=single_run,
        kinds={"duckdb", "parquet"},
    )
    def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                        published: PublishedResource) -> dg.MaterializeResult:
        """Read-only copy of the marts (DuckDB + Parquet), swapped in atomically after every successful run."""
        import polars as pl

        publication = publish_marts(warehouse.get(), published.directory, run_id=context.run_id)
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
