"""Dagster wiring (assets, checks, resources, schedules); the computation lives outside this package."""

import warnings
from typing import Any, Mapping

import dagster as dg

# Single-run backfill policies are marked beta in Dagster 1.13; we rely on them deliberately. The warning fires
# when the asset decorators run, so it is silenced before the asset modules below are imported.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from sector_pipeline.defs.delivery_assets import DELIVERY_ASSETS, webhook_resource  # noqa: E402
from sector_pipeline.defs.heatmap_assets import HEATMAP_ASSETS, HeatmapOutputResource  # noqa: E402
from sector_pipeline.defs.ingest_assets import INGEST_ASSETS  # noqa: E402
from sector_pipeline.defs.partitions import IngestDatesResource  # noqa: E402
from sector_pipeline.defs.publish_assets import PublishedResource, build_publish_asset  # noqa: E402
from sector_pipeline.defs.resources import WarehouseResource, market_data_resource  # noqa: E402
from sector_pipeline.defs.schedules import daily_pipeline_job, nightly_schedule  # noqa: E402
from sector_pipeline.defs.signal_assets import MEMBER_ASSETS, SIGNAL_ASSETS  # noqa: E402
from sector_pipeline.defs.sql_assets import build_sql_assets  # noqa: E402
from sector_pipeline.defs.strategy_assets import STRATEGY_ASSETS  # noqa: E402
from sector_pipeline.settings import Settings  # noqa: E402
from sector_pipeline.universe import load_universe  # noqa: E402


def build_definitions(settings: Settings, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """All assets, checks, jobs, schedules and resources for one set of settings.

    `resources` replaces resources by name (tests and embedding), e.g. a webhook with other limits.
    """
    sql_assets = build_sql_assets(settings.sql_dir)
    mart_keys = [key for asset in sql_assets for key in asset.keys if key.path[0] == "marts"]
    mart_tables = [".".join(key.path) for asset in sql_assets for key in asset.keys
                   if key.path[0] == "marts" and asset.metadata_by_key[key].get("materialized") == "table"]
    defaults = {
        "warehouse": WarehouseResource(path=settings.warehouse_path, sql_dir=settings.sql_dir),
        "market_data": market_data_resource(settings),
        "published": PublishedResource(directory=settings.published_dir),
        "heatmap_output": HeatmapOutputResource(directory=f"{settings.reports_dir}/heatmaps"),
        "ingest_dates": IngestDatesResource(),
        "webhook": webhook_resource(settings.alert_webhook_url is not None),
    }
    # member universes (stocks in sectors) add the member rankings and rotation (docs/scaling.md)
    members = MEMBER_ASSETS if load_universe(settings.universe_path).members else []
    return dg.Definitions(
        assets=[*INGEST_ASSETS, *sql_assets, *SIGNAL_ASSETS, *members, *STRATEGY_ASSETS, *DELIVERY_ASSETS,
                *HEATMAP_ASSETS, build_publish_asset(mart_keys, mart_tables)],
        jobs=[daily_pipeline_job],
        schedules=[nightly_schedule],
        resources={**defaults, **(resources or {})},
        # DuckDB allows one writing process per file: steps run one after another in the run's process.
        executor=dg.in_process_executor,
    )
