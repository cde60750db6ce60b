"""One partition per weekday since 1999-01-04; market holidays are partitions that hold zero rows."""


import datetime as dt

import dagster as dg

from sector_pipeline.calendar import PARTITIONS_START

MARKET_TZ = "America/New_York"

# Weekdays, not exchange sessions: a cron cannot express NYSE holidays, and a holiday partition that
# succeeds with zero rows keeps the partition grid simple and gap-free in the UI. end_offset=1 makes
# today's partition exist so the evening schedule can run it after the close.
trading_day_partitions = dg.TimeWindowPartitionsDefinition(
    cron_schedule="0 0 * * 1-5",
    start=PARTITIONS_START.isoformat(),
    fmt="%Y-%m-%d",
    timezone=MARKET_TZ,
    end_offset=1,
)

# A range backfill of any length is ONE run: assets read and write their whole window at once.
single_run = dg.BackfillPolicy.single_run()


def partition_window(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """[start, end) dates of the partition or partition range being materialized."""
    window = context.partition_time_window
    return window.start.date(), window.end.date()
