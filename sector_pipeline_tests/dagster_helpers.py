"""Run the real Definitions in-process on a temporary warehouse, as one run per partition range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from sector_pipeline.defs import build_definitions
from sector_pipeline.settings import Settings


def definitions(warehouse: Path, resources: dict[str, object] | None = None, **settings: object) -> dg.Definitions:
    settings.setdefault("published_dir", str(Path(warehouse).parent / "published"))
    settings.setdefault("reports_dir", str(Path(warehouse).parent / "reports"))
    return build_definitions(Settings(warehouse_path=str(warehouse), **settings), resources)  # type: ignore[arg-type]


# Run config that lets the walk-forward model train once 40 dates have a known label (default 252), so that a
# test range of under a year already has predictions, allocations, a backtest and skill to read.
FAST_MODEL = {"predictions": {"config": {"min_training_dates": 40}}}

# Stages a test needs, so it does not pay for pictures, marts and the backtest it never looks at.
THROUGH_INTERMEDIATE = dg.AssetSelection.groups("ingest", "staging", "intermediate")
THROUGH_SIGNALS = dg.AssetSelection.groups("ingest", "staging", "intermediate", "signals")


def run_range(defs: dg.Definitions, start: dt.date, last: dt.date, *, raise_on_error: bool = True,
              selection: str | dg.AssetSelection | None = None,
              instance: dg.DagsterInstance | None = None,
              ops: dict[str, object] | None = None) -> dg.ExecuteInProcessResult:
    """Ingest the sessions start..last (inclusive) in ONE run and bring every selected table up to date.

    The run covers the year partitions of the dates, narrowed to the dates by the `ingest_dates` resource,
    as `dagster asset materialize --partition-range 2024...2024` with that resource config would. `ops` is the
    run config of assets by op name, e.g. {"predictions": {"config": {"min_training_dates": 40}}}.
    """
    job = defs.resolve_job_def("daily_pipeline")
    if selection is not None:
        chosen = selection if isinstance(selection, dg.AssetSelection) else dg.AssetSelection.from_coercible(selection)
        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=set(chosen.resolve(defs.resolve_asset_graph())))
    return job.execute_in_process(
        tags={"dagster/asset_partition_range_start": str(start.year),
              "dagster/asset_partition_range_end": str(last.year)},
        run_config={"resources": {"ingest_dates": {"config": {"first_date": start.isoformat(),
                                                              "last_date": last.isoformat()}}},
                    **({"ops": ops} if ops else {})},
        instance=instance or dg.DagsterInstance.ephemeral(),
        raise_on_error=raise_on_error,
    )
