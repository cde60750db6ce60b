"""Heatmap assets: the marts pictured for their latest session, shown in the UI and saved as PNG.

They write no table and render once per run, only when the mart they picture changed. Each reads its mart
from the warehouse, renders one picture with the pure code of `sector_pipeline/report/`, attaches it to its
materialization as a markdown image (base64 PNG, ~60-140 KB at 90 dpi), and writes
`<directory>/<name>_<date>.png`.
"""

import os
import tempfile
from pathlib import Path

import dagster as dg

from sector_pipeline.defs.incremental import dirty_start, unchanged_metadata
from sector_pipeline.defs.partitions import single_run
from sector_pipeline.defs.resources import WarehouseResource
from sector_pipeline.report.marts import data_source
from sector_pipeline.report.pictures import Picture, render_picture

GROUP = "heatmaps"
# The marts' session calendar and the data source of each session: every heatmap reads it.
MARKET_OVERVIEW = dg.AssetKey(["marts", "market_overview"])


class HeatmapOutputResource(dg.ConfigurableResource):
    """Folder that receives every rendered heatmap as `<name>_<date>.png` (created when missing)."""

    directory: str = "data/reports/heatmaps"

    def write(self, picture: Picture) -> Path:
        folder = Path(self.directory)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / picture.file_name
        fd, tmp = tempfile.mkstemp(prefix=f".{picture.file_name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(picture.png)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)  # a viewer never opens half a PNG
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def _heatmap_asset(name: str, pictured: dg.AssetKey, description: str) -> dg.AssetsDefinition:
    consumer = f"{GROUP}.{name}"
    inputs = sorted({"marts.market_overview", ".".join(pictured.path)})

    @dg.asset(
        key=dg.AssetKey([GROUP, name]),
        deps=[pictured, MARKET_OVERVIEW],
        group_name=GROUP,
        description=description,
        backfill_policy=single_run,
        kinds={"matplotlib", "duckdb"},
    )
    def _materialize(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     heatmap_output: HeatmapOutputResource) -> dg.MaterializeResult:
        store = warehouse.get()
        with store.session():
            start, pending = dirty_start(store, consumer, inputs, [])
            date = store.max_date("marts.market_overview")
            if start is None or date is None:
                # Nothing new to picture (a holiday, a re-run): the UI keeps the last picture.
                return dg.MaterializeResult(metadata=unchanged_metadata(context, dg.AssetKey([GROUP, name])))
            source = data_source(store, date, date)
            picture = render_picture(name, store, date, source=source)
            path = heatmap_output.write(picture)
            store.mark_consumed(consumer, pending.seqs)
        context.log.info(f"{name} heatmap of {date} written to {path}")
        return dg.MaterializeResult(metadata={
            "status": "rendered",
            "heatmap": dg.MetadataValue.md(picture.markdown()),
            "pictured_date": date.isoformat(),
            "pictured_mart": picture.mart,
            "data_source": source or "unknown",
            "png_path": dg.MetadataValue.path(str(path.resolve())),
            "png_kb": round(len(picture.png) / 1024, 1),
        })

    return _materialize


sector_returns_heatmap = _heatmap_asset(
    "sector_returns", dg.AssetKey(["marts", "sector_returns"]),
    "Sector x window returns (1D..252D, YTD) of the latest session, in %, sectors sorted by 20D.")
relative_strength_heatmap = _heatmap_asset(
    "relative_strength_change_20d", dg.AssetKey(["marts", "sector_scores"]),
    "Sector x date 20-session change of relative strength vs SPY (%), last 60 sessions.")
composite_score_heatmap = _heatmap_asset(
    "composite_score", dg.AssetKey(["marts", "sector_scores"]),
    "Sector x date composite score (weighted z-score of relative performance), last 60 sessions.")
sri_total_heatmap = _heatmap_asset(
    "sri_total", dg.AssetKey(["marts", "sector_scores"]),
    "Sector x date Sector Rotation Index total (0-400, centred on 200), last 60 sessions.")
sentiment_heatmap = _heatmap_asset(
    "sentiment", dg.AssetKey(["marts", "sentiment"]),
    "Dimension x date sentiment scores on the fixed -1..+1 scale, last 120 sessions.")

HEATMAP_ASSETS = [sector_returns_heatmap, relative_strength_heatmap, composite_score_heatmap, sri_total_heatmap,
                  sentiment_heatmap]
